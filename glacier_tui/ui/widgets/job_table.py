"""The job table: one keyed row per job, updated in place so the cursor never jumps."""

from __future__ import annotations

import heapq
import math
from datetime import datetime
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist, RowKey

from glacier_tui.ui.formatting import (
    action_label,
    clean,
    countdown_text_lasts,
    expires_in,
    human_size,
    short_id,
    status_text,
    timestamp,
)

if TYPE_CHECKING:
    from rich.style import Style
    from textual._types import SegmentLines

    from glacier_tui.glacier.models import Job

# Fixed widths: live updates never make the columns jump around.
COLUMNS: list[tuple[str, str, int]] = [
    ("id", "Job", 8),
    ("status", "Status", 10),  # first after the id: it must stay visible at 80 columns
    ("action", "Action", 9),
    ("archive", "Archive", 24),
    ("tier", "Tier", 9),
    ("vault", "Vault", 14),
    ("created", "Created", 16),
    ("completed", "Completed", 16),
    ("size", "Size", 9),
    ("expires", "Expires in", 10),
]

ARCHIVE_WIDTH = next(w for key, _, w in COLUMNS if key == "archive")
# Below this width (cells) the table is compact: no Action, Tier or Vault column (the
# detail pane shows them), short dates, no cell padding (each width holds its own gap),
# and the archive column takes what is left. Created, Completed, Size and Expires in
# stay on screen: a horizontal scrollbar hid them (and looked like a progress bar).
FULL_WIDTH = sum(w + 2 for _, _, w in COLUMNS) + 2
COMPACT_COLUMNS: list[tuple[str, str, int]] = [
    ("id", "Job", 9),
    ("status", "Status", 11),
    ("archive", "Archive", 0),  # elastic
    ("created", "Created", 12),
    ("completed", "Completed", 12),
    ("size", "Size", 10),
    ("expires", "Expires in", 10),
]
COMPACT_ARCHIVE_MIN = 10
COMPACT_DROP = ("id", "completed")  # in this order, when even the compact set is too wide

Cells = tuple[str | Text, ...]
Cell = str | Text
# Due "expires in" cells updated per call of refresh_times; the rest in later turns of the
# event loop, so a key pressed meanwhile waits for one batch, not for thousands of rows.
EXPIRY_BATCH = 500
# A cursor position on no row (the header is row -1): what rows away from the cursor pass
# to DataTable's row renderer, so their cached render stays valid as the cursor moves.
_NOWHERE = Coordinate(-2, -2)


def _fit_start(text: str, width: int) -> str:
    """The longest start of ``text`` that takes at most ``width`` cells."""
    out, used = [], 0
    for ch in text:
        used += cell_len(ch)
        if used > width:
            break
        out.append(ch)
    return "".join(out)


def _fit_end(text: str, width: int) -> str:
    """The longest end of ``text`` that takes at most ``width`` cells."""
    return _fit_start(text[::-1], width)[::-1]


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` in ``width`` cells, cut in the middle so its distinguishing end stays.

    The file name (after the last ``/``) is kept whole when it fits with a little of the
    start: ``photos/2021/scans/scan-0012.tif`` in 24 cells is ``photos/20…/scan-0012.tif``.
    Archives of one folder differ by their names, not by their shared start.
    """
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head, slash, name = text.rpartition("/")
    tail = slash + name
    if head and cell_len(tail) + 2 <= width:  # at least one char of the start, then …
        return _fit_start(text, width - 1 - cell_len(tail)) + "…" + tail
    keep = width - 1
    front = keep // 3
    return _fit_start(text, front) + "…" + _fit_end(text, keep - front)


def _text_of(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


class JobTable(DataTable[str | Text]):
    DEFAULT_CSS = """
    JobTable { border: round $primary 40%; height: 1fr; overflow-x: hidden; }
    JobTable:focus { border: round $primary; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", id="vi_down", show=False),
        Binding("k", "cursor_up", "Up", id="vi_up", show=False),
        Binding("home,g", "scroll_top", "First", id="cursor_first", show=False),
        Binding("end,G", "scroll_bottom", "Last", id="cursor_last", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="jobs", cursor_type="row", zebra_stripes=True)
        self.border_title = "Jobs"
        self.jobs: dict[str, Job] = {}
        self.names: dict[str, str] = {}
        self._cells: dict[str, Cells] = {}
        # When each shown row's "expires in" text next changes (a heap, plus the current
        # due time per job so superseded heap entries are skipped): a poll re-renders
        # just those rows instead of checking all of them.
        self._expiry_heap: list[tuple[float, str]] = []
        self._expiry_due: dict[str, float] = {}
        # Job ids per vault, and the vault of each unfinished job: a poll touches the jobs
        # of the vaults it listed, not all of them (5,000 jobs at 1,000 vaults).
        self._by_vault: dict[str, set[str]] = {}
        self._open: dict[str, str] = {}
        # Cell changes not yet handed to the DataTable (see _flush_cells).
        self._pending: list[tuple[str, str, Cell]] = []
        self.filter_text = ""
        # Only these jobs (one restore campaign's), or every job when None.
        self.only_jobs: frozenset[str] | None = None
        self.now = datetime.now().astimezone()
        self.columns_shown: list[tuple[str, str, int]] = list(COLUMNS)
        self._archive_width = ARCHIVE_WIDTH

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for key, label, width in self.columns_shown:
            self.add_column(label, key=key, width=width)

    def on_resize(self) -> None:
        self._fit_columns(self.size.width)

    def _fit_columns(self, width: int) -> None:
        """Full columns when they fit, else the compact set sized to ``width``."""
        if width <= 0:
            return
        if width >= FULL_WIDTH:
            columns, padding, archive = list(COLUMNS), 1, ARCHIVE_WIDTH
        else:
            compact = list(COMPACT_COLUMNS)
            for drop in COMPACT_DROP:  # very narrow: these go before the archive name
                if sum(w for _, _, w in compact) + 3 + COMPACT_ARCHIVE_MIN <= width:
                    break
                compact = [c for c in compact if c[0] != drop]
            fixed = sum(w for _, _, w in compact) + 3  # borders, scrollbar gutter
            archive = max(COMPACT_ARCHIVE_MIN, width - fixed)
            columns = [(k, label, w or archive) for k, label, w in compact]
            padding, archive = 0, archive - 1  # the last cell of a column is its gap
        if columns == self.columns_shown and padding == self.cell_padding:
            return
        self.columns_shown, self._archive_width = columns, archive
        self.cell_padding = padding
        self.clear(columns=True)
        self._add_columns()
        self._refilter()

    @property
    def compact(self) -> bool:
        return self.cell_padding == 0

    def cells_for(self, job: Job) -> Cells:
        if job.is_inventory_retrieval:
            name: str | Text = Text("inventory", style="italic")
        else:
            # Text, not str: a str cell is parsed as markup by DataTable ("[/]" in a name).
            name = Text(middle_ellipsis(clean(self.names.get(job.job_id) or job.description or
                                              short_id(job.archive_id or "", 12)),
                                        self._archive_width))
        if self.compact:
            # Jobs live for days, not years: month-day and time sort right and fit.
            cells: dict[str, str | Text] = {
                "id": Text(clean(short_id(job.job_id))),
                "status": status_text(job.status_code),
                "archive": name,
                "created": timestamp(job.creation_date)[5:] if job.creation_date else "—",
                "completed": timestamp(job.completion_date)[5:] if job.completion_date
                else "—",
                "size": human_size(job.output_size).rjust(9),
                "expires": expires_in(job.output_expires, self.now),
            }
            return tuple(cells[key] for key, _, _ in self.columns_shown)
        return (
            Text(clean(short_id(job.job_id))),
            status_text(job.status_code),
            Text(action_label(job.action)),
            name,
            Text(clean(job.tier or "—")),
            Text(clean(job.vault_name)),
            timestamp(job.creation_date),
            timestamp(job.completion_date),
            human_size(job.output_size),
            expires_in(job.output_expires, self.now),
        )

    def _render_line_in_row(self, row_key: RowKey, line_no: int, base_style: Style,
                            cursor_location: Coordinate, hover_location: Coordinate,
                            ) -> tuple[SegmentLines, SegmentLines]:
        """DataTable's row render, cached for rows that hold neither cursor nor hover.

        DataTable keys its row cache on the cursor position, so each move that scrolled
        re-rendered every visible row (most of a key press's frame at 1,000 rows). With a
        row cursor, a row without it renders the same wherever the cursor is.
        """
        if self.cursor_type == "row":
            index = self._row_locations.get(row_key)
            row = -1 if index is None else index
            if cursor_location.row != row:
                cursor_location = _NOWHERE
            if hover_location.row != row:
                hover_location = _NOWHERE
        return super()._render_line_in_row(row_key, line_no, base_style, cursor_location,
                                           hover_location)

    def _matches(self, cells: Cells, job_id: str) -> bool:
        if self.only_jobs is not None and job_id not in self.only_jobs:
            return False
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in _text_of(c).lower() for c in cells)

    def upsert(self, jobs: list[Job], names: dict[str, str]) -> list[tuple[Job | None, Job]]:
        """Add or update jobs; returns (old, new) pairs for jobs whose status changed."""
        # Names that differ from what is shown (a poll re-sends every known name).
        renamed = {k for k, v in names.items() if self.names.get(k) != v}
        self.names.update(names)
        changes: list[tuple[Job | None, Job]] = []
        added = False
        for job in jobs:
            job_id = job.job_id
            old = self.jobs.get(job_id)
            if old is not None and old.raw == job.raw and job_id not in renamed:
                continue  # unchanged: nothing to render (time cells: refresh_times)
            self.jobs[job_id] = job
            self._index(job)
            if old is None or old.status_code != job.status_code:
                changes.append((old, job))
            added |= self._render_row(job_id)
        self._flush_cells()
        if added:
            self._resort()
        return changes

    def _index(self, job: Job) -> None:
        vault = job.vault_name
        self._by_vault.setdefault(vault, set()).add(job.job_id)
        if job.completed:
            self._open.pop(job.job_id, None)
        else:
            self._open[job.job_id] = vault

    def _forget(self, job_id: str) -> None:
        job = self.jobs.pop(job_id)
        self._open.pop(job_id, None)
        ids = self._by_vault.get(job.vault_name)
        if ids is not None:
            ids.discard(job_id)
            if not ids:
                del self._by_vault[job.vault_name]

    def live_vaults(self) -> set[str]:
        """The vaults with unfinished jobs (what a partial poll lists)."""
        return set(self._open.values())

    def remove_missing(self, present: dict[str, set[str]], keep: set[str]) -> None:
        """Drop rows of the listed vaults absent from their complete listing (expired jobs).

        ``present`` maps each listed vault to the job ids it returned; one pass over the
        table whatever the number of vaults (a pass per vault cost ~0.6 s of UI time per
        full refresh at 1,000 vaults x 5,000 jobs); only the listed vaults' jobs are looked at.
        """
        for vault, listed in present.items():
            for job_id in [j for j in self._by_vault.get(vault, ()) if j not in listed]:
                if job_id in keep:
                    continue
                self._forget(job_id)
                if job_id in self._cells:
                    del self._cells[job_id]
                    self.remove_row(job_id)

    def _render_row(self, job_id: str) -> bool:
        """Render one job; update only changed cells. True when a row was added."""
        cells = self.cells_for(self.jobs[job_id])
        old = self._cells.get(job_id)
        visible = self._matches(cells, job_id)
        if old is None:
            if not visible:
                return False
            self._cells[job_id] = cells
            self.add_row(*cells, key=job_id)
            self._schedule_expiry(job_id)
            return True
        if not visible:
            del self._cells[job_id]
            self.remove_row(job_id)
            return False
        for (col, _, _), before, after in zip(self.columns_shown, old, cells, strict=True):
            if _text_of(before) != _text_of(after) or (
                isinstance(before, Text) and isinstance(after, Text) and before.style != after.style
            ):
                self._pending.append((job_id, col, after))
        self._cells[job_id] = cells
        self._schedule_expiry(job_id)
        return False

    def _flush_cells(self) -> None:
        """Hand the pending cell changes to the DataTable with at most one repaint.

        ``update_cell`` repaints the whole table and invalidates its row caches per call
        (4,500 "expires in" cells turning over in the same minute cost ~0.3 s of UI time).
        Here: the cells are set in DataTable's store as ``update_cell`` does (textual is
        pinned), its caches invalidated once, and the table repainted only when a changed
        row is on screen (others are drawn from the new data when scrolled to).
        """
        pending, self._pending = self._pending, []
        if not pending:
            return
        data, rows = self._data, self._row_locations
        top = self.scroll_offset.y
        bottom = top + max(self.size.height, 1)
        shown = False
        for job_id, col, value in pending:
            key = RowKey(job_id)
            cells = data.get(key)
            if cells is None:
                continue  # removed since (filtered out)
            cells[ColumnKey(col)] = value
            if not shown:
                index = rows.get(key)
                shown = index is not None and top <= index < bottom
        self._update_count += 1
        if shown:
            self.refresh()

    def _resort(self) -> None:
        """Newest first, keeping the cursor on the same job."""
        current = self.current_job_id()
        keys = [k for k in ("created", "id") if any(c[0] == k for c in self.columns_shown)]
        self.sort(
            *keys,
            key=lambda row: tuple(_text_of(c) for c in row) if len(keys) > 1
            else _text_of(row),
            reverse=True,
        )
        if current is not None:
            self.select_job(current)

    def refresh_times(self, now: datetime) -> None:
        """Re-render the "expires in" cells whose text has changed since they were drawn.

        Only rows that are due (see ``_schedule_expiry``): checking every succeeded job on
        each poll cost 25-50 ms of UI time at 5,000 jobs, felt as key-press lag. Jobs that
        finished together turn over together: ``EXPIRY_BATCH`` rows now, the rest in later
        turns of the event loop (keys are handled in between).
        """
        if now == self.now:
            return
        self.now = now
        self._drain_expiry()

    def _drain_expiry(self) -> None:
        t = self.now.timestamp()
        heap = self._expiry_heap
        budget = EXPIRY_BATCH
        while heap and heap[0][0] <= t:
            if budget <= 0:
                self.call_later(self._drain_expiry)
                break
            due, job_id = heapq.heappop(heap)
            if self._expiry_due.get(job_id) == due:  # else superseded by a later render
                del self._expiry_due[job_id]
                if job_id in self._cells:
                    self._update_expiry(job_id)
                    budget -= 1
        self._flush_cells()

    def _update_expiry(self, job_id: str) -> None:
        """Only the "expires in" cell (the row's other cells do not depend on the time)."""
        if self.filter_text:  # the filter may match the old or the new text: whole row
            self._render_row(job_id)
            return
        keys = [key for key, _, _ in self.columns_shown]
        if "expires" not in keys:
            self._schedule_expiry(job_id)
            return
        col = keys.index("expires")
        old = self._cells[job_id]
        text = expires_in(self.jobs[job_id].output_expires, self.now)
        if _text_of(old[col]) != text:
            self._cells[job_id] = (*old[:col], text, *old[col + 1:])
            self._pending.append((job_id, "expires", text))
        self._schedule_expiry(job_id)

    def _schedule_expiry(self, job_id: str) -> None:
        expires = self.jobs[job_id].output_expires
        if expires is None:
            self._expiry_due.pop(job_id, None)
            return
        lasts = countdown_text_lasts((expires - self.now).total_seconds())
        if lasts == math.inf:
            self._expiry_due.pop(job_id, None)
            return
        due = self.now.timestamp() + lasts + 1e-6
        if abs(self._expiry_due.get(job_id, -1.0) - due) < 1e-3:
            return  # already queued (a re-render of an unchanged row)
        self._expiry_due[job_id] = due
        heapq.heappush(self._expiry_heap, (due, job_id))

    def set_filter(self, text: str) -> None:
        if text == self.filter_text:
            return
        self.filter_text = text
        self._refilter()

    def set_job_filter(self, job_ids: frozenset[str] | None) -> None:
        """Show only these jobs (e.g. one restore campaign's), or all again with None."""
        if job_ids == self.only_jobs:
            return
        self.only_jobs = job_ids
        self._refilter()

    def _refilter(self) -> None:
        current = self.current_job_id()
        self.clear()
        self._cells.clear()
        for job_id in self.jobs:
            cells = self.cells_for(self.jobs[job_id])
            if self._matches(cells, job_id):
                self._cells[job_id] = cells
                self.add_row(*cells, key=job_id)
                self._schedule_expiry(job_id)
        self._resort()
        if current is not None:
            self.select_job(current)

    def current_job_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return None if key.value is None else str(key.value)

    def copy_value(self) -> tuple[str, str] | None:
        """What ``y`` copies: the job id under the cursor."""
        job_id = self.current_job_id()
        return ("job id", job_id) if job_id else None

    def current_job(self) -> Job | None:
        job_id = self.current_job_id()
        return self.jobs.get(job_id) if job_id else None

    def select_job(self, job_id: str) -> bool:
        try:
            index = self.get_row_index(job_id)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=index, animate=False)
        return True

    def find_prefix(self, prefix: str) -> str | None:
        prefix = prefix.strip()
        for job_id in self.jobs:
            if job_id.startswith(prefix):
                return job_id
        return None
