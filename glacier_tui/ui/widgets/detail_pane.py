"""Detail pane: Details (human readable), JSON (wire document) and Vault settings tabs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from glacier_tui.ui.formatting import (
    action_label,
    age,
    clean,
    expires_in,
    human_size,
    status_text,
    timestamp,
)

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job, Vault


def _kv(rows: list[tuple[str, str | Text]]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold dim", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else Text(clean(value)))
    return table


def _json_renderable(doc: dict[str, Any]) -> RenderableType:
    # Syntax escapes nothing as markup: the document is shown verbatim, highlighted.
    from rich.syntax import Syntax

    text = json.dumps(doc, indent=2, sort_keys=True, default=str, ensure_ascii=True)
    return Syntax(text, "json", theme="ansi_dark", word_wrap=True, background_color="default")


class _RenderOnce:
    """A rich Table drawn once per width, however often it is asked for.

    A new detail is measured (its height, for the layout) and then drawn: two renders of
    the same Table per key press in the job table. Table ignores the height it is
    offered, so a render at the same width is reused.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self._key: tuple[object, ...] | None = None
        self._segments: list[Segment] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        key = (options.max_width, options.min_width, options.justify, options.overflow,
               options.no_wrap, options.highlight, options.markup, options.is_terminal,
               options.encoding, options.legacy_windows)
        if key != self._key:
            self._segments = list(console.render(self.table, options))
            self._key = key
        yield from self._segments

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)


class DetailPane(Vertical):
    DEFAULT_CSS = """
    DetailPane { height: 1fr; border: round $primary 40%; }
    DetailPane:focus-within { border: round $primary; }
    DetailPane TabPane { padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(id="detail")
        self.now = datetime.now().astimezone()
        self._shown: object = None  # what is on screen, to skip identical re-renders
        self._copy: tuple[str, str] | None = None  # the id of what is shown, for ``y``
        self._pending: dict[str, RenderableType] = {}  # tab content not drawn yet (_set)

    @property
    def active(self) -> str:
        return self.query_one(TabbedContent).active

    @active.setter
    def active(self, tab_id: str) -> None:
        self.query_one(TabbedContent).active = tab_id

    TABS: tuple[str, ...] = ("tab-details", "tab-json", "tab-settings")

    def cycle_tab(self, step: int) -> None:
        """The next (``step`` 1) or previous (-1) tab, wrapping around."""
        current = self.active
        index = self.TABS.index(current) if current in self.TABS else 0
        self.active = self.TABS[(index + step) % len(self.TABS)]

    def show_tab(self, number: int) -> None:
        """Tab ``number`` (1-based), if there is one."""
        if 1 <= number <= len(self.TABS):
            self.active = self.TABS[number - 1]

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            with TabPane("Details", id="tab-details"), VerticalScroll():
                yield Static(Text("Select a vault or a job.", style="dim italic"), id="details")
            with TabPane("JSON", id="tab-json"), VerticalScroll():
                yield Static(Text(""), id="json")
            with TabPane("Vault settings", id="tab-settings"), VerticalScroll():
                yield Static(Text("Select a vault.", style="dim italic"), id="settings")

    def copy_value(self) -> tuple[str, str] | None:
        """What ``y`` copies from the pane (its tabs focused): the id of what it shows."""
        return self._copy

    def _set(self, widget_id: str, renderable: RenderableType) -> None:
        """Show ``renderable`` in a tab once the frame being prepared is on screen.

        The pane follows the cursor: drawing the cursor's move first and the detail a
        frame later keeps the detail's render (~5 ms, twice that on a loaded machine) out
        of a key press's latency; keys pressed in a row render only the last detail.
        """
        if not self._pending:
            self.call_after_refresh(self._apply_pending)
        self._pending[widget_id] = renderable

    def _apply_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for widget_id, renderable in pending.items():
            self._apply(widget_id, renderable)

    def _apply(self, widget_id: str, renderable: RenderableType) -> None:
        static = self.query_one(f"#{widget_id}", Static)
        if isinstance(renderable, Table):
            renderable = _RenderOnce(renderable)
        if not static.region:  # on a hidden tab: laid out when the tab is shown
            static.update(renderable, layout=False)
            return
        # A layout pass covers the whole screen (tens of ms next to a 1,000-row table):
        # only ask for one when the new text's height differs (most job-to-job moves).
        before = static.content_size
        static.update(renderable, layout=False)
        if static.get_content_height(before, before, before.width) != before.height:
            static.refresh(layout=True)

    def show_job(self, job: Job, name: str | None) -> None:
        # Ages and expiries are shown to the minute: re-render once a minute at most.
        key = (job.job_id, job.raw, name, self.now.replace(second=0, microsecond=0))
        if key == self._shown:
            return
        self._shown = key
        self._copy = ("job id", job.job_id) if job.job_id else None
        rows: list[tuple[str, str | Text]] = [
            ("Job", job.job_id),
            ("Vault", job.vault_name),
            ("Action", action_label(job.action)),
        ]
        if job.is_archive_retrieval:
            rows.append(("Archive", name or "(unknown name)"))
            rows.append(("Archive id", job.archive_id or "—"))
            if job.retrieval_byte_range:
                rows.append(("Range", job.retrieval_byte_range))
        rows += [
            ("Tier", job.tier or "—"),
            ("Status", status_text(job.status_code)),
            ("Message", job.status_message or "—"),
            ("Created", f"{timestamp(job.creation_date)} ({age(job.creation_date, self.now)})"),
            ("Completed", timestamp(job.completion_date)),
            ("Output size", human_size(job.output_size)),
            ("Output expires", expires_in(job.output_expires, self.now)),
            ("Description", job.description or "—"),
            ("SNS topic", job.sns_topic or "—"),
        ]
        if job.succeeded:
            rows.append(("", Text("press d to download", style="italic green")))
        self._set("details", _kv(rows))
        self._set("json", _json_renderable(job.raw))

    def show_vault(self, vault: Vault, inventory: list[tuple[str, str]]) -> None:
        key = (vault.raw, inventory, self.now.replace(second=0, microsecond=0))
        if key == self._shown:
            return
        self._shown = key
        self._copy = ("vault ARN", vault.arn) if vault.arn else ("vault name", vault.name)
        rows: list[tuple[str, str | Text]] = [
            ("Vault", vault.name),
            ("ARN", vault.arn),
            ("Created", timestamp(vault.creation_date)),
            ("Archives", str(vault.number_of_archives if vault.number_of_archives is not None
                             else "?")),
            ("Size", human_size(vault.size_in_bytes)),
            ("Last inventory", f"{timestamp(vault.last_inventory_date)} "
                               f"({age(vault.last_inventory_date, self.now)})"),
        ]
        rows += [(k, v) for k, v in inventory]
        self._set("details", _kv(rows))
        self._set("json", _json_renderable(vault.raw))

    def show_archive(self, rows: list[tuple[str, str]]) -> None:
        self._shown = None
        archive_id = dict(rows).get("Archive id", "")
        self._copy = ("archive id", archive_id) if archive_id else None
        self._set("details", _kv([(k, v) for k, v in rows]))
        self._set("json", _json_renderable(dict(rows)))

    def show_settings(self, vault: str, summary: list[tuple[str, str]]) -> None:
        rows: list[tuple[str, str | Text]] = [("Vault", vault)]
        rows += [(k, v) for k, v in summary]
        self._set("settings", _kv(rows))

    def settings_loading(self, vault: str) -> None:
        self._set("settings", Text(f"Loading settings of {clean(vault)}…", style="dim italic"))
