"""The detail pane: the vault, folder, archive or job under the cursor; vault settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual import on
from textual.widgets import DataTable, Tree

from glacier_tui.ui.formatting import human_size, user_message
from glacier_tui.ui.messages import VaultSettingsLoaded
from glacier_tui.ui.screens.main.base import MainScreenBase, row_path
from glacier_tui.ui.widgets.archive_list import ArchiveList, Row
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import NodeData, VaultTree


class DetailMixin(MainScreenBase):
    """Show the focused item in the detail pane; load a vault's settings summary (debounced)."""

    @on(Tree.NodeHighlighted, "#vaults")
    def _tree_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        self._show_tree_detail(event.node.data)
        self._show_folder(event.node.data)
        self._update_bindings()

    @on(DataTable.RowHighlighted, "#jobs")
    def _job_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(self.focused, JobTable):
            self._show_job_detail()
        self._update_bindings()

    def on_descendant_focus(self) -> None:
        self._show_current_detail()
        self.refresh_bindings()

    def _show_current_detail(self) -> None:
        if isinstance(self.focused, JobTable):
            self._show_job_detail()
        elif isinstance(self.focused, ArchiveList):
            row = self.focused.current_row()
            if row is not None:
                self._show_archive_detail(row)
        else:
            node = self.query_one(VaultTree).cursor_node
            self._show_tree_detail(node.data if node is not None else None)

    def _show_job_detail(self) -> None:
        table = self.query_one(JobTable)
        job = table.current_job()
        if job is not None:
            pane = self.query_one(DetailPane)
            pane.now = self.gapp.clock()
            pane.show_job(job, table.names.get(job.job_id))

    def _show_tree_detail(self, data: NodeData | None) -> None:
        if data is None or not data.vault:
            return
        pane = self.query_one(DetailPane)
        pane.now = self.gapp.clock()
        if data.kind == "archive":
            pane.show_archive([("Vault", data.vault), ("Archive", data.path),
                               ("Archive id", data.archive_id), ("Size", human_size(data.size))])
            return
        if data.kind == "folder":
            pane.show_archive([("Vault", data.vault), ("Folder", data.path + "/"),
                               ("Archives", str(data.count)), ("Size", human_size(data.size))])
            return
        vault = self.vaults.get(data.vault)
        if vault is None:
            return
        tree = self.query_one(VaultTree)
        inv = [("Cached inventory", "yes" if tree.has_inventory.get(vault.name) else
                "none — press i to request one")]
        inv += self._appliance_rows(vault.name)
        pane.show_vault(vault, inv)
        if self.gapp.client is not None and self._settings_vault != vault.name:
            self._settings_vault = vault.name
            pane.settings_loading(vault.name)
            self.run_worker(self._load_settings(vault.name), group="settings", exclusive=True,
                            exit_on_error=False)

    def _show_archive_detail(self, row: Row) -> None:
        pane = self.query_one(DetailPane)
        size = human_size(row.size) + (f" ({row.size:,} bytes)" if row.size is not None else "")
        pane.show_archive([
            ("Vault", self.query_one(ArchiveList).context),
            ("Path", row_path(row)),
            ("Description", str(getattr(row, "description", "")) or "—"),
            ("Size", size),
            ("Created", row.created or "—"),
            ("Tree hash", str(getattr(row, "tree_hash", None) or "—")),
            ("Archive id", row.archive_id),
        ])

    async def _load_settings(self, vault: str) -> None:
        await asyncio.sleep(0.2)  # debounce: moving through the tree cancels earlier loads
        client = self.gapp.client
        if client is None:
            return
        summary: list[tuple[str, str]] = []

        async def row(label: str, call: Callable[[], Awaitable[Any]],
                      fmt: Callable[[Any], str]) -> None:
            try:
                summary.append((label, fmt(await call())))
            except Exception as exc:
                summary.append((label, f"error: {user_message(exc)}"))

        await row("Notifications", lambda: client.get_vault_notifications(vault),
                  lambda n: "none" if n is None else f"{n.sns_topic} ({', '.join(n.events)})")
        await row("Tags", lambda: client.list_tags(vault),
                  lambda t: ", ".join(f"{k}={v}" for k, v in sorted(t.items())) or "none")
        await row("Access policy", lambda: client.get_vault_access_policy(vault),
                  lambda p: "none" if not p else f"set ({len(p)} bytes)")
        await row("Vault lock", lambda: client.get_vault_lock(vault),
                  lambda lk: "none" if lk is None else lk.state)
        self.post_message(VaultSettingsLoaded(vault, summary))

    def on_vault_settings_loaded(self, message: VaultSettingsLoaded) -> None:
        self.query_one(DetailPane).show_settings(message.vault, message.summary)
