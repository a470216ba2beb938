"""Navigation: the filter bar (vaults, jobs, archive search), back (escape) and jump (``:``)."""

from __future__ import annotations

from textual import on, work
from textual.widgets import Input

from glacier_tui.ui.formatting import clean
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.filter_bar import FilterBar
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import VaultTree


class NavigationMixin(MainScreenBase):
    """Filter, go back a step, jump to a vault or job."""

    def action_filter(self) -> None:
        focused = self.focused
        bar = self.query_one(FilterBar)
        if isinstance(focused, JobTable):
            bar.open("jobs", "jobs", focused.filter_text)
        elif isinstance(focused, ArchiveList):
            if not self.query_one(VaultTree).has_inventory.get(self._list_vault):
                self.notify("No cached inventory to search.", severity="warning")
                return
            self._index_for_search(self._list_vault)
            bar.open("archives", f"all archives of {self._list_vault}", self._search_text)
        else:
            tree = self.query_one(VaultTree)
            bar.open("vaults", "vaults", tree.filter_text)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        bar = self.query_one(FilterBar)
        if bar.target_id == "jobs":
            self.query_one(JobTable).set_filter(event.value)
        elif bar.target_id == "archives":
            self._set_search(event.value)
        else:
            self.query_one(VaultTree).set_filter(event.value)

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        bar = self.query_one(FilterBar)
        if bar.target_id == "archives":
            if message.clear:
                self._set_search("")
            self.query_one(ArchiveList).focus()
            return
        target = self.query_one(JobTable) if bar.target_id == "jobs" else \
            self.query_one(VaultTree)
        if message.clear:
            target.set_filter("")
        target.focus()

    def action_back(self) -> None:
        tree = self.query_one(VaultTree)
        if tree.marks or self.query_one(ArchiveList).marked:
            self._clear_marks()
            return
        if self._search_text:
            self._set_search("")
            return
        if tree.filter_text:
            tree.set_filter("")
            return
        table = self.query_one(JobTable)
        if table.filter_text:
            table.set_filter("")
            return
        if self.campaigns.clear_filter():
            return
        node = tree.cursor_node
        if self.focused is tree and node is not None:
            if node.is_expanded:
                node.collapse()
            elif node.parent is not None and node.parent is not tree.root:
                tree.move_cursor(node.parent)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def action_jump(self) -> None:
        from glacier_tui.ui.screens.jump import JumpScreen

        text = await self.app.push_screen_wait(JumpScreen())
        if text:
            self.jump_to(text)

    def jump_to(self, text: str) -> bool:
        tree = self.query_one(VaultTree)
        lowered = text.lower()
        names = sorted(self.vaults)
        match = next((n for n in names if n.lower() == lowered), None) or \
            next((n for n in names if n.lower().startswith(lowered)), None)
        if match is not None:
            if tree.filter_text and not tree.select_vault(match):
                tree.set_filter("")
            tree.select_vault(match)
            tree.focus()
            return True
        table = self.query_one(JobTable)
        job_id = table.find_prefix(text)
        if job_id is not None:
            if not table.select_job(job_id):
                table.set_filter("")
                table.select_job(job_id)
            table.focus()
            return True
        self.notify(f"No vault or job matches {clean(text)!r}.", markup=False, severity="warning")
        return False
