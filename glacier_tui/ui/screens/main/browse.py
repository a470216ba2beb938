"""Browsing a vault: the archive list follows the tree's highlighted folder.

The tree (``VaultTree``) loads its own folders and the archive browser
(``ArchiveBrowser``) its own rows, sort and search, each in its own thread workers.
Archives and folders can be marked for restore or delete. The duplicates view lists
archives stored more than once.
"""

from __future__ import annotations

import asyncio

from textual import work

from glacier_tui.ui.messages import OperationError
from glacier_tui.ui.screens.main.base import row_path
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key


class Browse(Part):
    """Tell the archive browser which folder is under the tree cursor; marks; duplicates.

    The browser (``ArchiveBrowser``) owns the list's vault, folder, totals, sort and
    search; the properties below only read them for the other parts of the screen.
    """

    @property
    def list_vault(self) -> str:
        return self.main.archives.vault

    @property
    def list_folder(self) -> str | None:
        return self.main.archives.folder

    @property
    def search_text(self) -> str:
        return self.main.archives.search_text

    def show_folder(self, data: NodeData | None, *, force: bool = False) -> None:
        """Point the archive list at the folder (or vault root) under the tree cursor."""
        if data is None or not data.vault or data.kind not in ("vault", "folder"):
            return
        main = self.main
        vault = main.connection.vaults.get(data.vault)
        if vault is None:
            return
        path = data.path if data.kind == "folder" else ""
        main.archives.show_folder(
            data.vault, vault_key(vault), path,
            has_inventory=bool(main.vault_tree.has_inventory.get(data.vault)),
            force=force)

    def refresh_list(self, vault_name: str) -> None:
        """Show the list again if it shows ``vault_name`` (its inventory changed)."""
        if self.list_vault == vault_name:
            self.show_folder(NodeData("folder", vault_name, path=self.list_folder or ""),
                             force=True)

    def sort(self) -> None:
        self.main.archives.action_sort()

    def set_search(self, text: str) -> None:
        main = self.main
        vault = main.connection.vaults.get(self.list_vault)
        if vault is None or not main.vault_tree.has_inventory.get(vault.name):
            return
        main.archives.search(text)

    def index_for_search(self, vault_name: str) -> None:
        vault = self.main.connection.vaults.get(vault_name)
        if vault is not None:
            self.main.archives.index_for_search(vault_name, vault_key(vault))

    def selection(self) -> list[NodeData]:
        """Marked folders (tree) and archives (list); else what is under the cursor."""
        main = self.main
        tree = main.vault_tree
        lst = main.archives
        picked = [NodeData("archive", vault, path=row_path(row), archive_id=aid, size=row.size)
                  for aid, (vault, row) in lst.marked_rows.items()]
        if tree.marks or picked:
            return list(tree.marks.values()) + picked
        if isinstance(main.focused, ArchiveList):
            row = lst.current_row()
            if row is None or not lst.context:
                return []
            return [NodeData("archive", lst.context, path=row_path(row),
                             archive_id=row.archive_id, size=row.size)]
        return tree.selection()

    def clear_marks(self) -> None:
        tree = self.main.vault_tree
        lst = self.main.archives
        if tree.marks:
            tree.clear_marks()
        if lst.marked:
            lst.clear_marks()

    def duplicates(self) -> None:
        tree = self.main.vault_tree
        vault = self.list_vault or tree.current_vault()
        if not vault or not tree.has_inventory.get(vault):
            self.notify("Select a vault with a cached inventory first.", severity="warning")
            return
        self._open_duplicates(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _open_duplicates(self, vault_name: str) -> None:
        from glacier_tui.ui.screens.duplicates import DuplicatesScreen

        vault = self.main.connection.vaults.get(vault_name)
        if vault is None:
            return
        try:
            groups = await asyncio.to_thread(self.gapp.store.duplicates, vault_key(vault))
        except Exception as exc:
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        await self.app.push_screen_wait(DuplicatesScreen(vault_name, groups))
