"""Names from a Synology index: the detail pane's note and ``X`` (retrieve and import it).

A data vault with a ``<vault>_mapping`` companion gets a "Synology index" row; ``X``
starts the index's archive retrieval (its archive id comes from the mapping vault's
cached inventory), and once the job has succeeded (``jobs``) the output is downloaded
and imported by the service layer (``appliance_fetch``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.formatting import user_message
from glacier_tui.ui.messages import JobStarted, OperationError
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job


class ApplianceNamesImported(Message):
    def __init__(self, vault: str, text: str) -> None:
        super().__init__()
        self.vault = vault
        self.text = text


class Appliance(Part):
    """Offer, retrieve and import a Synology index for a data vault."""

    def _pair_of(self, vault: str) -> tuple[str, str] | None:
        """(data vault, mapping vault) for either vault of a Synology pair."""
        from glacier_tui.glacier.appliance_index import data_vault_for, mapping_vault_for

        vaults = self.main.connection.vaults
        mapping = mapping_vault_for(vault, vaults)
        if mapping is not None:
            return vault, mapping
        data = data_vault_for(vault, vaults)
        return (data, vault) if data is not None else None

    def rows(self, vault: str) -> list[tuple[str, str]]:
        """The detail pane's "Synology index" row for a vault of a pair (else nothing)."""
        pair = self._pair_of(vault)
        if pair is None:
            return []
        data, mapping = pair
        v = self.main.connection.vaults.get(data)
        info = self.gapp.store.name_overlay_info(vault_key(v)) if v is not None else None
        if info is None:
            return [("Synology index", f"found in {mapping}: press X to retrieve it")]
        return [("Synology index", f"version {inert(info.version or '?')}, {info.entries:,} "
                 f"names from {inert(info.origin or mapping)}")]

    def request(self) -> None:
        """X: retrieve and import the Synology index of the vault under the cursor."""
        vault = self.main.vault_tree.current_vault()
        pair = self._pair_of(vault) if vault is not None else None
        if pair is None:
            self.notify("Select a vault that has a <vault>_mapping companion.",
                        severity="warning")
            return
        if not self.main.writable("retrieving the Synology index"):
            return
        self.run_worker(self._request_index(*pair), group="appliance", exit_on_error=False)

    async def _request_index(self, data: str, mapping: str) -> None:
        import asyncio

        from glacier_tui.glacier.appliance_fetch import (
            find_index_job,
            index_archive,
            start_index_retrieval,
        )

        client = self.gapp.client
        mv = self.main.connection.vaults.get(mapping)
        if client is None or mv is None:
            return
        try:
            row = await asyncio.to_thread(index_archive, self.gapp.store, vault_key(mv))
            if row is None:
                self.post_message(OperationError(
                    f"No cached inventory of {mapping} yet: select it and press i; once it "
                    "is loaded, press X again.", title="Synology index", severity="warning"))
                return
            job = await find_index_job(client, mapping, row.archive_id)
            if job is None:
                job = await start_index_retrieval(client, mapping, row.archive_id)
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Synology index"))
            return
        if job.succeeded:  # its output is still there: import it (again) now
            self.fetch_index(job, data)
            return
        self.main.jobs.followup.index_jobs[job.job_id] = data
        self.post_message(JobStarted(job, f"Synology index of {data}", auto=True))

    def fetch_index(self, job: Job, data: str) -> None:
        """Download the index job's output and import its names (a transfer)."""
        self.main.transfers.transfer_workers[job.job_id] = self.run_worker(
            self._download_index(job, data), group="transfers", exit_on_error=False)

    async def _download_index(self, job: Job, data: str) -> None:
        from glacier_tui.glacier.appliance_fetch import download_and_import_index

        client = self.gapp.client
        v = self.main.connection.vaults.get(data)
        if client is None or v is None:
            return
        name = f"Synology index of {data}"
        try:
            res = await download_and_import_index(
                client, self.gapp.store, job, vault_key(v), self.gapp.paths.appliance_index,
                on_progress=self.main.transfers.progress(job.job_id, name, "download"),
                transfer_id=job.job_id)
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Synology index"))
            return
        self.post_message(ApplianceNamesImported(
            data, f"Synology index version {res.version}: {res.renamed:,} archives named"))

    def on_appliance_names_imported(self, message: ApplianceNamesImported) -> None:
        main = self.main
        main.vault_tree.reset_vault(message.vault)
        if main.browse.list_vault == message.vault:
            main.browse.show_folder(NodeData("folder", message.vault, path=""), force=True)
        main.detail.show_current()
        self.notify(message.text, title=message.vault, markup=False)
