"""The archive browser: the archive list of one folder, with its sort, search and title.

It owns what the list shows (which vault and folder, the folder's totals, the sort
order, the search text, which vaults have a search index) and reads the store in its own
thread workers, which post messages back to it. The screen tells it which folder is
under the tree cursor (:meth:`ArchiveBrowser.show_folder`) and reads its state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from glacier_tui.ui.display_names import folder_path_label
from glacier_tui.ui.formatting import clean, human_size
from glacier_tui.ui.messages import OperationError
from glacier_tui.ui.widgets.archive_list import (
    ArchiveList,
    StateLookup,
    StoreArchiveSource,
    StoreSearchSource,
)

log = logging.getLogger("glacier_tui.ui")

# Sort orders, cycled with `o`: (store sort key, descending, title label).
SORTS: tuple[tuple[str, bool, str], ...] = (
    ("name", False, "name"), ("size", True, "size"), ("created", True, "date"))


class ArchiveBrowser(ArchiveList):
    """The archive list plus where it points: vault, folder, sort, search."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "sort", "Sort", id="sort"),
    ]

    class _Totals(Message, bubble=False):
        """A worker read a folder's direct archive count and bytes."""

        def __init__(self, vault: str, path: str, totals: tuple[int, int]) -> None:
            super().__init__()
            self.vault, self.path, self.totals = vault, path, totals

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.vault = ""  # the vault whose archives are shown ("" before the first folder)
        self.folder: str | None = None
        self.totals: tuple[int, int] = (0, 0)
        self.sort_index = 0
        self.search_text = ""
        self._indexed: set[str] = set()
        self._vault_key = ""
        # Set by the screen: the store (used in threads), the campaign-state lookup.
        self.store_of: Callable[[], Any] = lambda: None
        self.lookup_of: Callable[[str], StateLookup | None] = lambda vault: None

    # -- what is shown -------------------------------------------------------------------

    def show_folder(self, vault: str, vault_key: str, path: str, *, has_inventory: bool,
                    force: bool = False) -> None:
        """Point the list at ``path`` ("" for the root) of ``vault``."""
        if not force and (vault, path) == (self.vault, self.folder):
            return
        self.vault, self.folder, self._vault_key = vault, path, vault_key
        self.search_text = ""
        self.context = vault
        if not has_inventory:
            self.set_source(None)
            self.empty_text = "No cached inventory: press i to request one."
            self.border_title = "Archives"
            return
        self.empty_text = "Loading…"
        self._load_totals(vault, vault_key, path)

    def refresh_folder(self, *, has_inventory: bool = True) -> None:
        """Show the current folder again (after an import, a deletion, a new sort)."""
        if self.vault:
            self.show_folder(self.vault, self._vault_key, self.folder or "",
                             has_inventory=has_inventory, force=True)
        else:
            self._title()

    @work(thread=True, group="folder", exclusive=True, exit_on_error=False)
    def _load_totals(self, vault: str, vault_key: str, path: str) -> None:
        try:
            info = self.store_of().folder(vault_key, path)
        except Exception as exc:
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        totals = (info.direct_count, info.direct_bytes) if info is not None else (0, 0)
        self.post_message(self._Totals(vault, path, totals))

    def on_archive_browser__totals(self, message: _Totals) -> None:
        if not self.is_attached:  # read in a thread while the app was closing
            return
        if (message.vault, message.path) != (self.vault, self.folder) or self.search_text:
            return
        self.totals = message.totals
        sort, descending, _ = SORTS[self.sort_index]
        self.empty_text = "(no archives directly in this folder)"
        self.state_lookup = self.lookup_of(self.vault)
        self.set_source(StoreArchiveSource(self.store_of(), self._vault_key, message.path,
                                           sort=sort, descending=descending))
        self._title()

    def _title(self) -> None:
        # A Text title: a border title string is parsed as markup ("[/]" in a name).
        if self.search_text:
            self.border_title = Text(
                f"Search {clean(self.search_text)!r} in {clean(self.vault)}")
            return
        count, size = self.totals
        where = clean(folder_path_label(self.folder or "") or "/")
        self.border_title = Text(f"{where} · {count} · {human_size(size)} · "
                                 f"by {SORTS[self.sort_index][2]}")

    # -- sort and search -----------------------------------------------------------------

    def action_sort(self) -> None:
        if self.search_text:
            self.notify("Search results are in inventory order.", timeout=3)
            return
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.refresh_folder()

    def search(self, text: str) -> None:
        """Search the whole vault by name ("" goes back to the folder)."""
        if not self.vault or not self._vault_key:
            return
        self.search_text = text
        if not text:
            self.refresh_folder()
            return
        self.empty_text = "No archive name matches."
        self.state_lookup = self.lookup_of(self.vault)
        self.set_source(StoreSearchSource(self.store_of(), self._vault_key, text))
        self._title()

    def index_for_search(self, vault: str, vault_key: str) -> None:
        """Build the vault's search index once (in a thread) before the first search."""
        if vault in self._indexed:
            return
        self._indexed.add(vault)
        self._build_index(vault, vault_key)

    @work(thread=True, group="search-index", exit_on_error=False)
    def _build_index(self, vault: str, vault_key: str) -> None:
        try:
            self.store_of().ensure_search_index(vault_key)
        except Exception as exc:  # search still works (a LIKE scan) without the index
            log.warning("search index of %s: %s", vault, exc)
