"""Vault administration: creating a vault, deleting one (or all its archives), settings."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from glacier_tui.ui.formatting import clean, human_size, user_message
from glacier_tui.ui.messages import OperationError, VaultsChanged
from glacier_tui.ui.screens.main.base import recently_written
from glacier_tui.ui.screens.main.deletion import DeleteTarget
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Vault


class VaultAdmin(Part):
    """Create and delete vaults; open the vault settings screen."""

    def create_vault(self) -> None:
        """n: create a vault (a dialog asks its name)."""
        if not self.main.writable("creating a vault"):
            return
        self._create_vault()

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _create_vault(self) -> None:
        from glacier_tui.ui.screens.create_vault import CreateVaultScreen

        name = await self.app.push_screen_wait(CreateVaultScreen(set(self.main.connection.vaults)))
        if not name or self.gapp.client is None or self.gapp.settings.readonly:
            return
        try:
            await self.gapp.client.create_vault(str(name))
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Create vault failed"))
            return
        self.notify(f"Vault {clean(name)} created.", markup=False)
        self.post_message(VaultsChanged())

    def delete_vault(self) -> None:
        """D: delete the vault under the cursor, or all its archives (a dialog asks)."""
        vault = self.main.vault_tree.current_vault()
        if vault is None or not self.main.writable("deleting a vault"):
            return
        self._delete_vault(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _delete_vault(self, vault: str) -> None:
        from glacier_tui.ui.screens.confirm import ConfirmScreen
        from glacier_tui.ui.screens.delete_vault import DeleteVaultChoice, DeleteVaultScreen

        v = self.main.connection.vaults.get(vault)
        if v is None:
            return
        info = await asyncio.to_thread(self._snapshot_info, v)
        written = await asyncio.to_thread(recently_written, self.gapp, v)
        choice = await self.app.push_screen_wait(
            DeleteVaultScreen(v, info[0] if info else None, v.last_inventory_date,
                              recently_written=written))
        client = self.gapp.client
        if choice is None or client is None or self.gapp.settings.readonly:
            return
        if choice == DeleteVaultChoice.DELETE_ALL_ARCHIVES:
            from glacier_tui.glacier.operations import DELETE_CONCURRENCY

            targets = await asyncio.to_thread(self._all_archives, v)
            if not targets:
                self.notify("The cached inventory lists no archives.", severity="warning")
                return
            size = sum(t[2] or 0 for t in targets)
            ok = await self.app.push_screen_wait(ConfirmScreen(
                f"Delete all {len(targets)} archives ({human_size(size)}) of vault {vault}? "
                "This cannot be undone.",
                [f"Every archive of the last inventory is deleted ({DELETE_CONCURRENCY} at a "
                 "time; progress in the Transfers panel, x stops).",
                 "The vault itself can be deleted after Glacier's next inventory (about a "
                 "day) shows it empty."],
                confirm_label="Delete all"))
            if not ok or self.gapp.settings.readonly:
                return
            self.main.deletion.start(vault, targets,
                                     f"all {len(targets)} archives of {vault}", emptying=True)
            return
        try:
            await client.delete_vault(vault)
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Delete vault failed"))
            return
        self.notify(f"Vault {clean(vault)} deleted.", markup=False)
        self.post_message(VaultsChanged())

    def _all_archives(self, vault: Vault) -> list[DeleteTarget]:
        """Every archive of the vault's cached inventory (thread)."""
        key = vault_key(vault)
        store = self.gapp.store
        if store.current_snapshot_id(key) is None:
            return []
        return [(r.archive_id, r.path, r.size) for r in store.iter_archives(key)]

    def _snapshot_info(self, vault: Vault) -> tuple[int] | None:
        info = self.gapp.store.snapshot_info(vault_key(vault))
        return None if info is None else (info.archive_count or 0,)

    def settings(self) -> None:
        """s: the vault settings screen of the vault under the cursor."""
        vault = self.main.vault_tree.current_vault()
        client = self.gapp.client
        if vault is None or client is None:
            self.notify("Select a vault first.", severity="warning")
            return
        from glacier_tui.ui.screens.vault_settings import VaultSettingsScreen

        def reload(_: object) -> None:
            self.main.detail.forget_settings()  # settings may have changed: read them again
            self.main.detail.show_current()

        self.app.push_screen(
            VaultSettingsScreen(client, vault, readonly=self.gapp.settings.readonly), reload)
