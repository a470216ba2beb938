"""A close-out (purge) in the Restores pane: archives deleted of those proven, its state,
and the deferred DeleteVault stage (waiting for an inventory, expected around a time).

Rows are plain data (:class:`PurgeRow`), built from the service layer's ``PurgeInfo``
and updated from its ``PurgeProgress`` events by the main screen's close-out part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rich.text import Text

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.formatting import human_size
from glacier_tui.ui.widgets.progress_block import ProgressBlock

if TYPE_CHECKING:
    from glacier_tui.glacier.purge import PurgeInfo, PurgeProgress

# How each purge status reads in the pane, and how it looks.
STATUS_TEXT: dict[str, str] = {
    "planned": "planned", "running": "running", "paused": "stopped",
    "awaiting-inventory": "waiting for inventory", "vault-deleted": "vault deleted",
    "done": "done", "cancelled": "cancelled",
}
STATUS_STYLES: dict[str, str] = {
    "running": "bold", "paused": "yellow", "awaiting-inventory": "bold cyan",
    "vault-deleted": "bold green", "done": "bold green", "cancelled": "yellow",
}
FINISHED = frozenset({"vault-deleted", "done", "cancelled"})


def utc_text(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


@dataclass(frozen=True)
class PurgeRow:
    """What the pane shows of one close-out."""

    id: int
    vault: str
    status: str  # a PurgeStatus value
    deletable: int  # archives proven (and old enough) to delete
    deleted: int  # of those, no longer in the vault
    deleted_bytes: int = 0
    failed: int = 0
    refused: int = 0
    message: str = ""
    next_inventory_at: float | None = None

    @property
    def name(self) -> str:
        return f"Close-out {self.vault}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_info(cls, info: PurgeInfo) -> PurgeRow:
        from glacier_tui.glacier.purge import ItemState

        deleted_bytes = sum(info.states.get(s, (0, 0))[1]
                            for s in (ItemState.DELETED, ItemState.GONE))
        return cls(info.id, info.vault, str(info.status), info.deletable, info.removed,
                   deleted_bytes, info.in_state(ItemState.FAILED),
                   info.in_state(ItemState.REFUSED), info.message, info.next_inventory_at)

    @classmethod
    def from_progress(cls, p: PurgeProgress) -> PurgeRow:
        return cls(p.purge_id, p.vault, "", 0, 0).with_progress(p)

    def with_progress(self, p: PurgeProgress) -> PurgeRow:
        # A progress event carries the expected inventory only when it changes: keep it.
        expected = p.next_inventory_at if p.next_inventory_at is not None else (
            self.next_inventory_at if str(p.status) == "awaiting-inventory" else None)
        return replace(self, vault=p.vault or self.vault, status=str(p.status),
                       deletable=p.deletable, deleted=p.deleted,
                       deleted_bytes=p.deleted_bytes, failed=p.failed, refused=p.refused,
                       message=p.message if p.message or str(p.status) != self.status
                       else self.message, next_inventory_at=expected)


def stage_text(row: PurgeRow) -> Text:
    """The line under the bar: the DeleteVault stage when it waits, else the last word."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if row.status == "awaiting-inventory":
        when = utc_text(row.next_inventory_at) if row.next_inventory_at is not None else \
            "once Glacier has taken one"
        text.append("DeleteVault: waiting for inventory, expected around ", style="cyan")
        text.append(when, style="bold cyan")
    elif row.message:
        text.append(inert(row.message), style="dim")
    return text


class PurgeBlock(ProgressBlock[PurgeRow]):
    """One close-out: title and state, bar and figures, its stage."""

    LINE_CLASS = "stage"

    def __init__(self, row: PurgeRow) -> None:
        super().__init__(row, id=f"purge-{row.id}")

    def draw(self, row: PurgeRow) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("close-out ", style="bold")
        title.append(inert(row.vault))
        status = Text(f" {STATUS_TEXT.get(row.status, row.status)}",
                      style=STATUS_STYLES.get(row.status, ""))
        parts = [f"{row.deleted:,}/{row.deletable:,} deleted", human_size(row.deleted_bytes)]
        if row.failed:
            parts.append(f"{row.failed:,} failed")
        if row.refused:
            parts.append(f"{row.refused:,} refused")
        stats = Text("  ".join(parts), no_wrap=True, overflow="ellipsis")
        self.show(title, status, row.deletable, row.deleted, stats, stage_text(row),
                  hide_empty_line=True)
