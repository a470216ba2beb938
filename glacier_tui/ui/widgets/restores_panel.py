"""The Restores pane: one block per campaign (restore or migration to S3) and per vault
close-out; a progress bar, counts, bytes, ETA, cost.

Rows are plain data (:class:`CampaignRow`, :class:`~.close_out_row.PurgeRow`), built
from the service layer's infos and updated from its progress events by the main screen's
handlers. Close-outs are listed first, then campaigns, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.formatting import human_duration, human_size
from glacier_tui.ui.widgets.close_out_row import PurgeBlock, PurgeRow
from glacier_tui.ui.widgets.progress_block import ProgressBlock

if TYPE_CHECKING:
    from glacier_tui.glacier.campaigns import CampaignInfo, CampaignProgress
    from glacier_tui.glacier.migrate_store import MigrationRow
    from glacier_tui.glacier.pricing import PriceTable

# The order states are listed in, and how they look.
STATE_ORDER: tuple[str, ...] = (
    "verified", "downloading", "ready", "requested", "planned", "failed", "skipped")
STATE_STYLES: dict[str, str] = {
    "verified": "green", "downloading": "cyan", "ready": "bold cyan", "requested": "",
    "planned": "dim", "failed": "red", "skipped": "yellow",
}
STATUS_STYLES: dict[str, str] = {
    "running": "bold", "done": "bold green", "incomplete": "bold red", "paused": "yellow",
    "cancelled": "yellow", "planned": "dim",
}


@dataclass(frozen=True)
class CampaignRow:
    """What the pane shows of one campaign."""

    id: int
    vault: str
    what: str  # the selection, for humans
    tier: str
    status: str
    counts: dict[str, int]
    total_items: int
    total_bytes: int
    verified_bytes: int
    eta_seconds: float | None = None
    cost_usd: float = 0.0
    message: str = ""
    manifest: str = ""  # the CSV manifest's path (written when the campaign stops)
    kind: str = "restore"  # or "migrate": from the store's records, never guessed
    where: str = ""  # where verified copies go: a folder, or s3://bucket/prefix/

    @property
    def settled(self) -> bool:
        return self.status in ("done", "incomplete", "cancelled")

    @property
    def has_manifest(self) -> bool:
        """The manifest is written when the campaign settles or pauses."""
        return bool(self.manifest) and (self.settled or self.status == "paused")

    @property
    def name(self) -> str:
        """How toasts and dialogs name it: "Restore #3", "Migration #4"."""
        return f"{'Migration' if self.kind == 'migrate' else 'Restore'} #{self.id}"

    @classmethod
    def from_info(cls, info: CampaignInfo, prices: PriceTable, *, egress: bool = True,
                  migration: MigrationRow | None = None) -> CampaignRow:
        from glacier_tui.glacier.manifest import manifest_paths

        what, kind, where = info.selection.describe(), "restore", str(info.destination)
        if migration is not None:
            from glacier_tui.glacier.migrate_store import describe_migration

            what, kind = describe_migration(info, migration), "migrate"
            where = f"s3://{migration.bucket}/{migration.prefix}"
        return cls(
            id=info.id, vault=info.vault, what=what, tier=info.tier,
            status=str(info.status), counts={str(k): v for k, v in info.counts.items() if v},
            total_items=info.total_items, total_bytes=info.total_bytes,
            verified_bytes=info.verified_bytes, cost_usd=info.cost_so_far(prices, egress=egress),
            message=info.message, kind=kind, where=where,
            manifest=str(manifest_paths(info.destination, info.id)[0]))

    def with_progress(self, p: CampaignProgress) -> CampaignRow:
        return replace(
            self, status=str(p.status), counts={str(k): v for k, v in p.counts.items() if v},
            total_items=p.total_items, total_bytes=p.total_bytes,
            verified_bytes=p.verified_bytes, eta_seconds=p.eta_seconds,
            cost_usd=p.cost_so_far_usd, message=p.message)


def format_usd(usd: float) -> str:
    return "<$0.01" if 0 < usd < 0.005 else f"${usd:,.2f}"


def counts_text(row: CampaignRow) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    shown = [s for s in STATE_ORDER if row.counts.get(s)]
    for i, state in enumerate(shown):
        if i:
            text.append(" · ")
        text.append(f"{row.counts[state]} {state}", style=STATE_STYLES.get(state, ""))
    if not shown:
        text.append("no archives", style="dim")
    return text


def stats_text(row: CampaignRow) -> Text:
    verified = row.counts.get("verified", 0)
    parts = [f"{verified}/{row.total_items} files",
             f"{human_size(row.verified_bytes)} of {human_size(row.total_bytes)}"]
    if not row.settled:
        parts.append("ETA " + (human_duration(row.eta_seconds)
                               if row.eta_seconds is not None else "—"))
    parts.append(format_usd(row.cost_usd))
    return Text("  ".join(parts), no_wrap=True, overflow="ellipsis")


class CampaignBlock(ProgressBlock[CampaignRow]):
    """One campaign: title and status, bar and figures, counts per state."""

    LINE_CLASS = "counts"

    def __init__(self, row: CampaignRow) -> None:
        super().__init__(row, id=f"campaign-{row.id}")

    def draw(self, row: CampaignRow) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"#{row.id} ", style="bold")
        title.append(f"{inert(row.vault)} · {inert(row.what)} · {inert(row.tier)}")
        status = Text(f" {row.status}", style=STATUS_STYLES.get(row.status, ""))
        if row.message and row.status in ("paused", "incomplete"):
            status.append(f": {inert(row.message)}", style="dim")
        # Bytes when known (what takes time), else files.
        total, done = (row.total_bytes, row.verified_bytes) if row.total_bytes else \
            (row.total_items, row.counts.get("verified", 0))
        self.show(title, status, total, done, stats_text(row), counts_text(row))


class RestoresPanel(VerticalScroll):
    """Every campaign, newest first; Enter on one asks to show its jobs."""

    DEFAULT_CSS = """
    RestoresPanel { border: round $primary; height: 1fr; }
    RestoresPanel > #restores-empty { color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "focus_next_block", "Down", id="campaign_next", show=False),
        Binding("k,up", "focus_previous_block", "Up", id="campaign_previous", show=False),
        Binding("enter", "show_jobs", "Show jobs", id="campaign_jobs"),
    ]

    class ShowJobs(Message):
        """Show the job table filtered to this campaign's jobs."""

        def __init__(self, campaign_id: int) -> None:
            super().__init__()
            self.campaign_id = campaign_id

    def __init__(self, rows: Sequence[CampaignRow | PurgeRow] | None = None) -> None:
        super().__init__(id="restores")
        self.border_title = "Restores"
        self.blocks: dict[int, CampaignBlock] = {}
        self.purges: dict[int, PurgeBlock] = {}
        self._initial = list(rows or [])

    def compose(self) -> ComposeResult:
        yield Static("No restore campaigns yet: mark archives or a folder and press r.",
                     id="restores-empty")

    def on_mount(self) -> None:
        for row in sorted(self._initial, key=order):
            self.update_row(row)

    def update_row(self, row: CampaignRow | PurgeRow) -> None:
        block: CampaignBlock | PurgeBlock | None
        if isinstance(row, PurgeRow):
            block = self.purges.get(row.id)
            if block is not None:
                block.update_row(row)
                return
            block = self.purges[row.id] = PurgeBlock(row)
        else:
            block = self.blocks.get(row.id)
            if block is not None:
                block.update_row(row)
                return
            block = self.blocks[row.id] = CampaignBlock(row)
        key = order(row)
        later = [b for b in self._ordered() if b is not block and order(b.row) > key]
        if later:
            self.mount(block, before=later[0])
        else:
            self.mount(block)
        self.query_one("#restores-empty").display = False

    def _ordered(self) -> list[CampaignBlock | PurgeBlock]:
        return [b for b in self.children if isinstance(b, CampaignBlock | PurgeBlock)]

    def current_row(self) -> CampaignRow | PurgeRow | None:
        """The focused block's row, else the first one."""
        focused = self.app.focused
        if isinstance(focused, CampaignBlock | PurgeBlock):
            return focused.row
        blocks = self._ordered()
        return blocks[0].row if blocks else None

    def current_campaign(self) -> int | None:
        focused = self.app.focused
        if isinstance(focused, CampaignBlock):
            return focused.row.id
        if isinstance(focused, PurgeBlock):
            return None
        return max(self.blocks) if self.blocks else None

    def copy_value(self) -> tuple[str, str] | None:
        """What ``y`` copies: the campaign's manifest once written, else its id."""
        cid = self.current_campaign()
        block = self.blocks.get(cid) if cid is not None else None
        if block is None:
            return None
        if block.row.has_manifest:
            return "manifest path", block.row.manifest
        return "campaign id", str(block.row.id)

    def _move(self, step: int) -> None:
        blocks = self._ordered()
        if not blocks:
            return
        focused = self.app.focused
        index = blocks.index(focused) if focused in blocks else -step
        blocks[max(0, min(len(blocks) - 1, index + step))].focus()

    def action_focus_next_block(self) -> None:
        self._move(1)

    def action_focus_previous_block(self) -> None:
        self._move(-1)

    def action_show_jobs(self) -> None:
        cid = self.current_campaign()
        if cid is not None:
            self.post_message(self.ShowJobs(cid))


def order(row: CampaignRow | PurgeRow) -> tuple[int, int]:
    """Where a row is listed: close-outs first, then campaigns, newest first."""
    return (0 if isinstance(row, PurgeRow) else 1, -row.id)
