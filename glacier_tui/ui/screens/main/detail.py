"""The detail pane: the vault, folder, archive or job under the cursor; vault settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual import work

from glacier_tui.ui.formatting import human_size, user_message
from glacier_tui.ui.messages import VaultSettingsLoaded
from glacier_tui.ui.screens.main.base import row_path
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.archive_list import ArchiveList, Row
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import NodeData


class Detail(Part):
    """Show the focused item in the detail pane; load a vault's settings summary (debounced)."""

    def __init__(self) -> None:
        super().__init__()
        self._settings_vault = ""  # the vault whose settings are shown (or loading)

    def show_current(self) -> None:
        """Show what has the focus: the job, the archive, or the tree's node."""
        main = self.main
        focused = main.focused
        if isinstance(focused, JobTable):
            self.show_job()
        elif isinstance(focused, ArchiveList):
            row = focused.current_row()
            if row is not None:
                self.show_archive(row)
        else:
            node = main.vault_tree.cursor_node
            self.show_tree(node.data if node is not None else None)

    def show_job(self) -> None:
        table = self.main.job_table
        job = table.current_job()
        if job is not None:
            pane = self.main.detail_pane
            pane.now = self.gapp.clock()
            pane.show_job(job, table.names.get(job.job_id))

    def show_tree(self, data: NodeData | None) -> None:
        if data is None or not data.vault:
            return
        main = self.main
        pane = main.detail_pane
        pane.now = self.gapp.clock()
        if data.kind == "archive":
            pane.show_archive([("Vault", data.vault), ("Archive", data.path),
                               ("Archive id", data.archive_id), ("Size", human_size(data.size))])
            return
        if data.kind == "folder":
            pane.show_archive([("Vault", data.vault), ("Folder", data.path + "/"),
                               ("Archives", str(data.count)), ("Size", human_size(data.size))])
            return
        vault = main.connection.vaults.get(data.vault)
        if vault is None:
            return
        inv = [("Cached inventory", "yes" if main.vault_tree.has_inventory.get(vault.name) else
                "none — press i to request one")]
        inv += main.appliance.rows(vault.name)
        pane.show_vault(vault, inv)
        if self.gapp.client is not None and self._settings_vault != vault.name:
            self._settings_vault = vault.name
            pane.settings_loading(vault.name)
            self._load_settings(vault.name)

    def forget_settings(self) -> None:
        """The shown vault's settings may have changed: read them again when shown."""
        self._settings_vault = ""

    def show_archive(self, row: Row) -> None:
        main = self.main
        size = human_size(row.size) + (f" ({row.size:,} bytes)" if row.size is not None else "")
        main.detail_pane.show_archive([
            ("Vault", main.archives.context),
            ("Path", row_path(row)),
            ("Description", str(getattr(row, "description", "")) or "—"),
            ("Size", size),
            ("Created", row.created or "—"),
            ("Tree hash", str(getattr(row, "tree_hash", None) or "—")),
            ("Archive id", row.archive_id),
        ])

    # @work defers the call, so a load cancelled before it starts leaves no coroutine
    # un-awaited behind it.
    @work(group="settings", exclusive=True, exit_on_error=False)
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
        self.main.detail_pane.show_settings(message.vault, message.summary)
