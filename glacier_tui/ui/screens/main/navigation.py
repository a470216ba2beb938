"""Navigation: the filter bar (vaults, jobs, archive search), back (escape) and jump (``:``)."""

from __future__ import annotations

from textual import work

from glacier_tui.ui.formatting import clean
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.job_table import JobTable


class Navigation(Part):
    """Filter, go back a step, jump to a vault or job."""

    def open_filter(self) -> None:
        """/: filter the focused pane (the vaults, the jobs, or search the archives)."""
        main = self.main
        focused = main.focused
        bar = main.filter_bar
        if isinstance(focused, JobTable):
            bar.open("jobs", "jobs", focused.filter_text)
        elif isinstance(focused, ArchiveList):
            browse = main.browse
            if not main.vault_tree.has_inventory.get(browse.list_vault):
                self.notify("No cached inventory to search.", severity="warning")
                return
            browse.index_for_search(browse.list_vault)
            bar.open("archives", f"all archives of {browse.list_vault}", browse.search_text)
        else:
            bar.open("vaults", "vaults", main.vault_tree.filter_text)

    def filter_changed(self, value: str) -> None:
        main = self.main
        target = main.filter_bar.target_id
        if target == "jobs":
            main.job_table.set_filter(value)
        elif target == "archives":
            main.browse.set_search(value)
        else:
            main.vault_tree.set_filter(value)

    def filter_closed(self, *, clear: bool) -> None:
        main = self.main
        target_id = main.filter_bar.target_id
        if target_id == "archives":
            if clear:
                main.browse.set_search("")
            main.archives.focus()
            return
        target = main.job_table if target_id == "jobs" else main.vault_tree
        if clear:
            target.set_filter("")
        target.focus()

    def back(self) -> None:
        """Escape: undo the nearest thing (marks, search, filters), else go up the tree."""
        main = self.main
        tree = main.vault_tree
        if tree.marks or main.archives.marked:
            main.browse.clear_marks()
            return
        if main.browse.search_text:
            main.browse.set_search("")
            return
        if tree.filter_text:
            tree.set_filter("")
            return
        table = main.job_table
        if table.filter_text:
            table.set_filter("")
            return
        if main.campaigns.clear_filter():
            return
        node = tree.cursor_node
        if main.focused is tree and node is not None:
            if node.is_expanded:
                node.collapse()
            elif node.parent is not None and node.parent is not tree.root:
                tree.move_cursor(node.parent)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def jump(self) -> None:
        """: asks a vault name or job id and goes there."""
        from glacier_tui.ui.screens.jump import JumpScreen

        text = await self.app.push_screen_wait(JumpScreen())
        if text:
            self.jump_to(text)

    def jump_to(self, text: str) -> bool:
        main = self.main
        tree = main.vault_tree
        lowered = text.lower()
        names = sorted(main.connection.vaults)
        match = next((n for n in names if n.lower() == lowered), None) or \
            next((n for n in names if n.lower().startswith(lowered)), None)
        if match is not None:
            if tree.filter_text and not tree.select_vault(match):
                tree.set_filter("")
            tree.select_vault(match)
            tree.focus()
            return True
        table = main.job_table
        job_id = table.find_prefix(text)
        if job_id is not None:
            if not table.select_job(job_id):
                table.set_filter("")
                table.select_job(job_id)
            table.focus()
            return True
        self.notify(f"No vault or job matches {clean(text)!r}.", markup=False, severity="warning")
        return False
