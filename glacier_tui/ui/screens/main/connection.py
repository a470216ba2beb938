"""Connecting (at start-up, on retry) and the vault list, with its inventory flags."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from glacier_tui.ui.formatting import user_message
from glacier_tui.ui.messages import (
    Connected,
    ConnectFailed,
    Info,
    InventoryFlags,
    OperationError,
    VaultsChanged,
    VaultsLoaded,
)
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.vault_tree import VaultTree, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Vault

log = logging.getLogger("glacier_tui.ui")


class ConnectionMixin(MainScreenBase):
    """Connect in a worker, then keep the vault list (and which have an inventory) current."""

    def start_connect(self) -> None:
        self.query_one(VaultTree).set_status("Connecting…")
        self.run_worker(self._connect(), group="connect", exclusive=True, exit_on_error=False)

    async def _connect(self) -> None:
        gapp = self.gapp
        try:
            if gapp.demo and gapp.demo_backend is None:
                self.post_message(Info("starting the demo emulator…"))
                from glacier_tui.demo import start_demo

                gapp.demo_backend = await asyncio.to_thread(start_demo, None)
            client = await gapp.open_client()
            vaults = await client.list_vaults()
        except Exception as exc:
            log.warning("connect failed: %s", exc)
            self.post_message(ConnectFailed(exc))
            return
        self.post_message(Connected(client.endpoint_url, client.region))
        await self._post_vaults(vaults)
        await self._load_jobs([v.name for v in vaults], complete=True)

    async def _post_vaults(self, vaults: list[Vault]) -> None:
        flags = await asyncio.to_thread(self._inventory_flags, vaults)
        self.post_message(VaultsLoaded(vaults))
        self.post_message(InventoryFlags(flags))

    def _inventory_flags(self, vaults: list[Vault]) -> dict[str, bool]:
        store = self.gapp.store
        return {v.name: store.current_snapshot_id(vault_key(v)) is not None for v in vaults}

    def on_connected(self, message: Connected) -> None:
        self.connected = True
        self.query_one(GlacierHeader).set_info(endpoint=message.endpoint, region=message.region,
                                               status="")
        self.refresh_bindings()
        self._arm_poll(self.gapp.poll_interval)
        self.campaigns.find()

    def on_connect_failed(self, message: ConnectFailed) -> None:
        from glacier_tui.ui.screens.error import ErrorScreen, describe_error

        title, text, hint = describe_error(message.error)
        self.query_one(VaultTree).set_status(f"{title}. Press R to retry.")
        self.query_one(GlacierHeader).set_info(status="not connected")

        def retry(result: str | None) -> None:
            if result == "retry":
                self.start_connect()

        self.app.push_screen(ErrorScreen(title, text, hint), retry)

    def on_vaults_loaded(self, message: VaultsLoaded) -> None:
        self.vaults = {v.name: v for v in message.vaults}
        tree = self.query_one(VaultTree)
        tree.now = self.gapp.clock()
        tree.set_vaults(message.vaults, tree.has_inventory)
        tree.border_title = f"Vaults ({len(message.vaults)})"
        self._show_current_detail()

    def on_inventory_flags(self, message: InventoryFlags) -> None:
        tree = self.query_one(VaultTree)
        changed = [n for n, f in message.flags.items() if tree.has_inventory.get(n) != f]
        tree.has_inventory.update(message.flags)
        for name in changed:
            tree.reset_vault(name)
        for name in changed:
            self._refresh_list(name)

    def on_vaults_changed(self, _: VaultsChanged) -> None:
        self.run_worker(self._reload_vaults(), group="vaults", exclusive=True,
                        exit_on_error=False)

    async def _reload_vaults(self) -> None:
        client = self.gapp.client
        if client is None:
            return
        try:
            vaults = await client.list_vaults()
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Listing vaults failed"))
            return
        await self._post_vaults(vaults)
