"""Inventories: requesting one (``i``), marking it pending, importing it once downloaded.

The download itself is a transfer (``transfers``), started when the job finishes (``jobs``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from glacier_tui.ui.formatting import clean, user_message
from glacier_tui.ui.messages import InventoryImported, InventoryPending, JobStarted, OperationError
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import vault_key


class Inventory(Part):
    """Request a vault's inventory and load it into the store."""

    def request(self) -> None:
        """i: request the inventory of the vault under the cursor."""
        vault = self.main.vault_tree.current_vault()
        if vault is None:
            self.notify("Select a vault first.", severity="warning")
            return
        if not self.main.writable("requesting an inventory"):
            return
        self.run_worker(self._request_inventory(vault), group="inventory", exit_on_error=False)

    async def _request_inventory(self, vault: str) -> None:
        client = self.gapp.client
        assert client is not None
        try:
            job_id = await client.initiate_inventory_retrieval(vault, format="JSON")
            job = await client.describe_job(vault, job_id)
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Inventory request failed"))
            return
        self.post_message(JobStarted(job, "inventory", auto=True))
        self.post_message(InventoryPending(vault))

    def on_inventory_pending(self, message: InventoryPending) -> None:
        tree = self.main.vault_tree
        tree.pending_inventory[message.vault] = self.gapp.clock()
        tree.reset_vault(message.vault)
        self.notify(f"Inventory of {clean(message.vault)} requested. Glacier takes hours on AWS.",
                    markup=False,
                    title="Inventory")

    def imported(self, message: InventoryImported) -> None:
        """An inventory was downloaded and imported (by the transfers' worker)."""
        main = self.main
        tree = main.vault_tree
        tree.has_inventory[message.vault] = True
        tree.pending_inventory.pop(message.vault, None)
        tree.reset_vault(message.vault)
        node = tree.vault_node(message.vault)
        if node is not None and not node.is_expanded:
            node.expand()
        main.browse.index_for_search(message.vault)
        main.browse.refresh_list(message.vault)
        self.notify(f"{clean(message.vault)}: {message.count} archives in the inventory",
                    markup=False, title="Inventory loaded")

    async def import_file(self, vault: str, path: Path) -> int:
        """Import a downloaded inventory into the store (in a thread); how many archives."""
        from glacier_tui.glacier.inventory import import_inventory

        v = self.main.connection.vaults.get(vault)  # read here, on the UI loop
        key = vault_key(v) if v is not None else vault
        result = await asyncio.to_thread(
            import_inventory, self.gapp.store, key, path,
            expected_vault_arn=v.arn if v is not None else None)
        return result.archives
