"""Browsing a vault: the tree's folders and the archive list of the highlighted folder.

Both read the cached inventory (the store) in threads. The archive list is virtual, sorted
(``o``) or searched (``/``); archives and folders can be marked for restore or delete.
The duplicates view lists archives stored more than once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rich.text import Text
from textual import work

from glacier_tui.ui.formatting import clean, human_size
from glacier_tui.ui.messages import FoldersLoaded, FolderTotals, OperationError
from glacier_tui.ui.screens.main.base import MainScreenBase, row_path
from glacier_tui.ui.widgets.archive_list import ArchiveList, StoreArchiveSource, StoreSearchSource
from glacier_tui.ui.widgets.vault_tree import FolderEntry, NodeData, VaultTree, vault_key

log = logging.getLogger("glacier_tui.ui")

# Archive list sort orders, cycled with `o`: (store sort key, descending, title label).
SORTS: tuple[tuple[str, bool, str], ...] = (
    ("name", False, "name"), ("size", True, "size"), ("created", True, "date"))


class BrowseMixin(MainScreenBase):
    """The tree's children, the archive list (sort, search), marks and duplicates."""

    def on_vault_tree_load_children(self, message: VaultTree.LoadChildren) -> None:
        self._load_children(message.node, message.offset)

    @work(thread=True, group="tree", exit_on_error=False)
    def _load_children(self, node: Any, offset: int) -> None:
        data: NodeData = node.data
        vault = self.vaults.get(data.vault)
        if vault is None:
            return
        key = vault_key(vault)
        store = self.gapp.store
        try:
            folders = [FolderEntry(f.path, f.name, f.count, f.bytes, f.direct_count)
                       for f in store.subfolders(key, data.path, limit=100_000)]
        except Exception as exc:  # a missing snapshot or a bad database: show, don't crash
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        self.post_message(FoldersLoaded(node, folders))

    def on_folders_loaded(self, message: FoldersLoaded) -> None:
        self.query_one(VaultTree).fill(message.node, message.folders)

    def _show_folder(self, data: NodeData | None, *, force: bool = False) -> None:
        """Point the archive list at the folder (or vault root) under the tree cursor."""
        if data is None or not data.vault or data.kind not in ("vault", "folder"):
            return
        path = data.path if data.kind == "folder" else ""
        if not force and (data.vault, path) == (self._list_vault, self._list_folder):
            return
        self._list_vault, self._list_folder = data.vault, path
        self._search_text = ""
        lst = self.query_one(ArchiveList)
        lst.context = data.vault
        if not self.query_one(VaultTree).has_inventory.get(data.vault):
            lst.set_source(None)
            lst.empty_text = "No cached inventory: press i to request one."
            lst.border_title = "Archives"
            return
        lst.empty_text = "Loading…"
        self._load_folder(data.vault, path)

    @work(thread=True, group="folder", exclusive=True, exit_on_error=False)
    def _load_folder(self, vault_name: str, path: str) -> None:
        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        try:
            info = self.gapp.store.folder(vault_key(vault), path)
        except Exception as exc:
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        totals = (info.direct_count, info.direct_bytes) if info is not None else (0, 0)
        self.post_message(FolderTotals(vault_name, path, totals))

    def on_folder_totals(self, message: FolderTotals) -> None:
        vault_name, path, totals = message.vault, message.path, message.totals
        if (vault_name, path) != (self._list_vault, self._list_folder) or self._search_text:
            return
        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        self._list_totals = totals
        sort, descending, _ = SORTS[self._sort]
        lst = self.query_one(ArchiveList)
        lst.empty_text = "(no archives directly in this folder)"
        lst.state_lookup = self._state_lookup(vault_name)
        lst.set_source(StoreArchiveSource(self.gapp.store, vault_key(vault), path, sort=sort,
                                          descending=descending))
        self._list_title()

    def _list_title(self) -> None:
        lst = self.query_one(ArchiveList)
        # A Text title: a border title string is parsed as markup ("[/]" in a name).
        if self._search_text:
            lst.border_title = Text(
                f"Search {clean(self._search_text)!r} in {clean(self._list_vault)}")
            return
        count, size = self._list_totals
        where = clean(self._list_folder or "/")
        lst.border_title = Text(f"{where} · {count} · {human_size(size)} · "
                                f"by {SORTS[self._sort][2]}")

    def action_sort(self) -> None:
        if self._search_text:
            self.notify("Search results are in inventory order.", timeout=3)
            return
        self._sort = (self._sort + 1) % len(SORTS)
        data = NodeData("folder", self._list_vault, path=self._list_folder or "")
        if self._list_vault:
            self._show_folder(data, force=True)
        else:
            self._list_title()

    def _set_search(self, text: str) -> None:
        vault = self.vaults.get(self._list_vault)
        if vault is None or not self.query_one(VaultTree).has_inventory.get(vault.name):
            return
        self._search_text = text
        if not text:
            self._show_folder(NodeData("folder", self._list_vault,
                                       path=self._list_folder or ""), force=True)
            return
        lst = self.query_one(ArchiveList)
        lst.empty_text = "No archive name matches."
        lst.state_lookup = self._state_lookup(vault.name)
        lst.set_source(StoreSearchSource(self.gapp.store, vault_key(vault), text))
        self._list_title()

    def _index_for_search(self, vault_name: str) -> None:
        if vault_name in self._search_indexed:
            return
        self._search_indexed.add(vault_name)
        self._build_search_index(vault_name)

    @work(thread=True, group="search-index", exit_on_error=False)
    def _build_search_index(self, vault_name: str) -> None:
        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        try:
            self.gapp.store.ensure_search_index(vault_key(vault))
        except Exception as exc:  # search still works (a LIKE scan) without the index
            log.warning("search index of %s: %s", vault_name, exc)

    def on_archive_list_highlighted(self, message: ArchiveList.Highlighted) -> None:
        if isinstance(self.focused, ArchiveList):
            self._show_archive_detail(message.row)

    def on_archive_list_marked(self, _: ArchiveList.Marked) -> None:
        self._update_bindings()

    def _selection(self) -> list[NodeData]:
        """Marked folders (tree) and archives (list); else what is under the cursor."""
        tree = self.query_one(VaultTree)
        lst = self.query_one(ArchiveList)
        picked = [NodeData("archive", vault, path=row_path(row), archive_id=aid, size=row.size)
                  for aid, (vault, row) in lst.marked_rows.items()]
        if tree.marks or picked:
            return list(tree.marks.values()) + picked
        if isinstance(self.focused, ArchiveList):
            row = lst.current_row()
            if row is None or not lst.context:
                return []
            return [NodeData("archive", lst.context, path=row_path(row),
                             archive_id=row.archive_id, size=row.size)]
        return tree.selection()

    def _clear_marks(self) -> None:
        tree = self.query_one(VaultTree)
        lst = self.query_one(ArchiveList)
        if tree.marks:
            tree.clear_marks()
        if lst.marked:
            lst.clear_marks()

    def action_duplicates(self) -> None:
        vault = self._list_vault or self.query_one(VaultTree).current_vault()
        if not vault or not self.query_one(VaultTree).has_inventory.get(vault):
            self.notify("Select a vault with a cached inventory first.", severity="warning")
            return
        self._open_duplicates(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _open_duplicates(self, vault_name: str) -> None:
        from glacier_tui.ui.screens.duplicates import DuplicatesScreen

        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        try:
            groups = await asyncio.to_thread(self.gapp.store.duplicates, vault_key(vault))
        except Exception as exc:
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        await self.app.push_screen_wait(DuplicatesScreen(vault_name, groups))
