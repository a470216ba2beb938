"""A virtual archive list: millions of rows, only the visible window is ever fetched.

Line API widget (``ScrollView`` + ``render_line``). Rows come from an
:class:`ArchiveSource` in pages of ``page_size`` rows, fetched in a thread
worker so a store-backed source never blocks the event loop; a small LRU page
cache keeps scrolling smooth. Rows are rendered as plain segments — names are
never interpreted as markup, and control characters are stripped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from glacier_tui.glacier.descriptions import safe_text
from glacier_tui.ui.display_names import row_label
from glacier_tui.ui.formatting import human_size
from glacier_tui.ui.worker_errors import ReportsWorkerErrors

__all__ = ["ArchiveList", "ArchiveSource", "Row", "StoreArchiveSource", "StoreSearchSource"]

# A restore campaign's item states as the state column shows them.
STATE_LABELS: dict[str, str] = {
    "planned": "restoring", "requested": "restoring", "ready": "ready",
    "downloading": "downloading", "verified": "verified", "failed": "failed",
    "skipped": "skipped",
}
STATE_WIDTH = 11  # "downloading"
MARK = "● "  # the vault tree marks folders with the same dot
# Reads the campaign states of some archive ids (called in the page-loading thread).
StateLookup = Callable[[list[str]], Mapping[str, str]]


class Row(Protocol):
    """What the list needs of a row (``store.ArchiveRow`` satisfies it)."""

    @property
    def archive_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int | None: ...
    @property
    def created(self) -> str | None: ...


class ArchiveSource(Protocol):
    """A data source with a known row count. Both methods may block (called in threads)."""

    def count(self) -> int: ...
    def rows(self, offset: int, limit: int) -> Sequence[Row]: ...


class StoreArchiveSource:
    """The archives directly in one folder of a vault's current inventory."""

    def __init__(self, store: Any, vault_key: str, folder: str = "", *,
                 sort: str = "name", descending: bool = False) -> None:
        self.store, self.vault_key, self.folder = store, vault_key, folder
        self.sort, self.descending = sort, descending

    def count(self) -> int:
        return int(self.store.count_archives(self.vault_key, self.folder))

    def rows(self, offset: int, limit: int) -> Sequence[Row]:
        rows: Sequence[Row] = self.store.archives(
            self.vault_key, self.folder, sort=self.sort, descending=self.descending,
            offset=offset, limit=limit,
        )
        return rows


class StoreSearchSource:
    """Name-substring matches across the whole vault (count is found lazily, capped)."""

    def __init__(self, store: Any, vault_key: str, text: str, cap: int = 100_000) -> None:
        self.store, self.vault_key, self.text, self.cap = store, vault_key, text, cap

    def count(self) -> int:
        return int(self.store.search_count(self.vault_key, self.text, cap=self.cap))

    def rows(self, offset: int, limit: int) -> Sequence[Row]:
        rows: Sequence[Row] = self.store.search(
            self.vault_key, self.text, offset=offset, limit=limit
        )
        return rows


class ArchiveList(ReportsWorkerErrors, ScrollView, can_focus=True):
    """Virtual list of archives: name, size, created; cursor, marks (by archive id)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", id="cursor_up", show=False),
        Binding("down", "cursor_down", "Down", id="cursor_down", show=False),
        Binding("pageup", "page_up", "Page up", id="page_up", show=False),
        Binding("pagedown", "page_down", "Page down", id="page_down", show=False),
        Binding("home,g", "first", "First", id="cursor_first", show=False),
        Binding("end,G", "last", "Last", id="cursor_last", show=False),
        Binding("j", "cursor_down", "Down", id="vi_down", show=False),
        Binding("k", "cursor_up", "Up", id="vi_up", show=False),
        # The same ids as the tree's and the screen's: one keymap entry rebinds both.
        Binding("space", "toggle_mark", "Mark", id="mark"),
        Binding("o", "screen.sort", "Sort", id="sort"),
        # In the help, not the footer: at 80 columns the footer keeps Help and Quit.
        Binding("D", "screen.duplicates", "Duplicates", id="duplicates", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "archive-list--cursor", "archive-list--marked", "archive-list--loading"
    }
    DEFAULT_CSS = """
    ArchiveList { height: 1fr; overflow-x: hidden; }
    ArchiveList > .archive-list--cursor { background: $accent 40%; text-style: bold; }
    ArchiveList:focus > .archive-list--cursor { background: $accent; }
    ArchiveList > .archive-list--marked { color: magenta; text-style: bold; }
    ArchiveList > .archive-list--loading { color: $text-muted; }
    """

    cursor: reactive[int] = reactive(0, always_update=False, repaint=False)

    class Highlighted(Message):
        """The cursor moved onto ``row`` (at ``index``)."""

        def __init__(self, archive_list: ArchiveList, index: int, row: Row) -> None:
            super().__init__()
            self.archive_list, self.index, self.row = archive_list, index, row

        @property
        def control(self) -> ArchiveList:
            return self.archive_list

    class Marked(Message):
        """The set of marked archive ids changed."""

        def __init__(self, archive_list: ArchiveList, ids: frozenset[str]) -> None:
            super().__init__()
            self.archive_list, self.ids = archive_list, ids

        @property
        def control(self) -> ArchiveList:
            return self.archive_list

    class _CountLoaded(Message, bubble=False):
        """A thread worker read the source's row count (workers never touch widgets)."""

        def __init__(self, n: int, gen: int) -> None:
            super().__init__()
            self.n, self.gen = n, gen

    class _PageLoaded(Message, bubble=False):
        """A thread worker read one page of rows (and their campaign states)."""

        def __init__(self, page: int, rows: Sequence[Row], gen: int,
                     states: Mapping[str, str]) -> None:
            super().__init__()
            self.page, self.rows, self.gen, self.states = page, rows, gen, states

    def __init__(
        self,
        source: ArchiveSource | None = None,
        *,
        page_size: int = 100,
        max_pages: int = 16,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.page_size = page_size
        self.max_pages = max_pages
        self.marked: set[str] = set()
        # archive id -> (context, row) of every marked row: the context (e.g. the vault
        # name) is what ``context`` was when the row was marked.
        self.marked_rows: dict[str, tuple[str, Row]] = {}
        self.context = ""
        self.empty_text = ""
        self._source: ArchiveSource | None = None
        self._count = 0
        self._pages: OrderedDict[int, Sequence[Row]] = OrderedDict()
        self._pending: set[int] = set()
        self._generation = 0
        self._highlight_pending = False
        self._initial_source = source
        # The restore-campaign state column: shown once any campaign exists.
        self.show_states = False
        self.state_lookup: StateLookup | None = None
        self.states: dict[str, str] = {}

    # -- data ----------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return self._count

    def on_mount(self) -> None:
        if self._initial_source is not None:
            self.set_source(self._initial_source)

    def set_source(self, source: ArchiveSource | None) -> None:
        """Show another source (cursor to the top; marks are kept, they are archive ids)."""
        self._generation += 1
        self._source = source
        self.states = {}
        self._pages.clear()
        self._pending.clear()
        self._set_count(0)
        self.cursor = 0
        if source is not None:
            gen = self._generation
            self.run_worker(
                lambda: self._load_count(source, gen), thread=True, group="archive-list-count"
            )

    def reload(self) -> None:
        self.set_source(self._source)

    def _load_count(self, source: ArchiveSource, gen: int) -> None:
        self.post_message(self._CountLoaded(source.count(), gen))

    def on_archive_list__count_loaded(self, message: _CountLoaded) -> None:
        n, gen = message.n, message.gen
        if gen != self._generation:
            return
        self._set_count(n)
        self._highlight_pending = True
        self._request(self.cursor // self.page_size)

    def _set_count(self, n: int) -> None:
        self._count = n
        self.virtual_size = Size(self.size.width, n)
        self.refresh()

    def row_at(self, index: int) -> Row | None:
        """The row at ``index`` if its page is loaded (never fetches)."""
        page = self._pages.get(index // self.page_size)
        if page is None:
            return None
        i = index % self.page_size
        return page[i] if i < len(page) else None

    def _request(self, page: int) -> None:
        if page in self._pages or page in self._pending or self._source is None:
            return
        if page < 0 or page * self.page_size >= self._count:
            return
        self._pending.add(page)
        source, gen = self._source, self._generation
        lookup = self.state_lookup if self.show_states else None
        self.run_worker(
            lambda: self._load_page(source, page, gen, lookup), thread=True,
            group="archive-list-page"
        )

    def _load_page(self, source: ArchiveSource, page: int, gen: int,
                   lookup: StateLookup | None) -> None:
        rows = source.rows(page * self.page_size, self.page_size)
        states = lookup([r.archive_id for r in rows]) if lookup is not None and rows else {}
        self.post_message(self._PageLoaded(page, rows, gen, states))

    def on_archive_list__page_loaded(self, message: _PageLoaded) -> None:
        page, rows, gen = message.page, message.rows, message.gen
        if gen != self._generation:
            return
        self.states.update(message.states)
        self._pending.discard(page)
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        if self._highlight_pending and self.cursor // self.page_size == page:
            self._post_highlight()
        self.refresh()

    # -- cursor and marks ----------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self._highlight_pending = True
        if self.row_at(new) is not None:
            self._post_highlight()
        else:
            self._request(new // self.page_size)
        self.refresh()

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self._count - 1)) if self._count else 0

    def _post_highlight(self) -> None:
        row = self.row_at(self.cursor)
        if row is not None:
            self._highlight_pending = False
            self.post_message(self.Highlighted(self, self.cursor, row))

    def _scroll_cursor_into_view(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_page_up(self) -> None:
        self.cursor -= self._page_height()

    def action_page_down(self) -> None:
        self.cursor += self._page_height()

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = self._count - 1

    def action_toggle_mark(self) -> None:
        row = self.row_at(self.cursor)
        if row is None:
            return
        if row.archive_id in self.marked:
            self.marked.discard(row.archive_id)
            self.marked_rows.pop(row.archive_id, None)
        else:
            self.marked.add(row.archive_id)
            self.marked_rows[row.archive_id] = (self.context, row)
        self.post_message(self.Marked(self, frozenset(self.marked)))
        self.refresh()
        self.cursor += 1  # as in the tree: space, space, space marks a run

    def current_row(self) -> Row | None:
        return self.row_at(self.cursor) if self._count else None

    def copy_value(self) -> tuple[str, str] | None:
        """What ``y`` copies: the archive id under the cursor."""
        row = self.current_row()
        return ("archive id", row.archive_id) if row is not None and row.archive_id else None

    def set_state(self, archive_id: str, state: str) -> None:
        """A campaign item changed state (the row repaints if it is shown)."""
        if self.states.get(archive_id) != state:
            self.states[archive_id] = state
            self.refresh()

    def clear_marks(self) -> None:
        self.marked.clear()
        self.marked_rows.clear()
        self.post_message(self.Marked(self, frozenset()))
        self.refresh()

    # -- rendering -----------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self._count)

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if index >= self._count:
            if index == 0 and self.empty_text:
                style = base + self.get_component_rich_style("archive-list--loading")
                return Strip([Segment(set_cell_size(safe_text(self.empty_text), width),
                                      style)], width)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._request(index // self.page_size)
            style = base + self.get_component_rich_style("archive-list--loading")
            return Strip([Segment(set_cell_size("  …", width), style)], width)
        style = base
        marked = row.archive_id in self.marked
        if marked:
            style += self.get_component_rich_style("archive-list--marked")
        if index == self.cursor:
            style += self.get_component_rich_style("archive-list--cursor")
        state = STATE_LABELS.get(self.states.get(row.archive_id, ""), "") \
            if self.show_states else None
        return Strip([Segment(self._format(row, marked, width, state), style)], width)

    @staticmethod
    def _format(row: Row, marked: bool, width: int, state: str | None = None) -> str:
        """One row as plain text: mark, name (elastic), size, [campaign state], created."""
        size = human_size(row.size).rjust(11 if width >= 60 else 10)
        # Narrow panes keep the name readable: the date shrinks, then goes.
        date_width = 20 if width >= 80 else 10 if width >= 44 else 0
        if state is not None and width < 60:
            date_width = 0  # the restore state matters more than the date
        created = (row.created or "")[:date_width].ljust(date_width)
        state_width = 2 + STATE_WIDTH if state is not None and width >= 36 else 0
        fixed = 2 + 1 + cell_len(size) + state_width + (2 + date_width if date_width else 0)
        name_width = max(1, width - fixed)
        name = set_cell_size(safe_text(row_label(row)), name_width)
        text = f"{MARK if marked else '  '}{name} {size}"
        if state_width:
            text += "  " + (state or "").ljust(STATE_WIDTH)
        if date_width:
            text += f"  {created}"
        return set_cell_size(text, width)

    def line_text(self, y: int) -> str:
        """Plain text of visible line ``y`` (for tests and accessibility)."""
        return self.render_line(y).text
