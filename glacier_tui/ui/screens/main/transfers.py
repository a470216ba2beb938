"""Transfers: downloading a job's output, uploading files, showing and cancelling them.

Each transfer is a worker in the ``transfers`` group, kept by id in this part's
``transfer_workers`` so that ``x`` (or the panel) can cancel it; deletes, Synology index
downloads and close-outs are kept there too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import Worker

from glacier_tui.ui.formatting import clean, user_message
from glacier_tui.ui.messages import (
    Info,
    InventoryImported,
    Notice,
    OperationError,
    ReadyFound,
    TransferRow,
    TransferState,
    TransferUpdate,
)
from glacier_tui.ui.screens.main.base import mark_written
from glacier_tui.ui.screens.main.campaigns import ENGINE_OWNED
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job

log = logging.getLogger("glacier_tui.ui")


class Transfers(Part):
    """Downloads and uploads in the Transfers panel."""

    def __init__(self) -> None:
        super().__init__()
        # Every running transfer (download, upload, delete, close-out) by its id.
        self.transfer_workers: dict[str, Worker[Any]] = {}

    # -- downloads -------------------------------------------------------------------------

    def download(self) -> None:
        """d: the ready archives of the selection, or the succeeded job under the cursor."""
        main = self.main
        if not isinstance(main.focused, JobTable):
            selection = main.browse.selection()  # marks, or the folder / archive under the cursor
            if selection:
                running = bool(main.campaigns.board.active)
                main.browse.clear_marks()
                self._find_ready(selection, list(main.job_table.jobs.values()), running)
                return
        job = main.job_table.current_job()
        if job is None or not job.succeeded:
            self.notify("Select a succeeded job to download.", severity="warning")
            return
        self.start_download(job, inventory_for=job.vault_name
                            if job.is_inventory_retrieval else None)

    @work(group="download-ready", exclusive=True, exit_on_error=False)
    async def _find_ready(self, selection: list[NodeData], jobs: list[Job],
                          campaigns_running: bool) -> None:
        """Which archives of the selection can be downloaded now (posts ReadyFound)."""
        from glacier_tui.glacier.campaign_view import archive_states
        from glacier_tui.glacier.operations import ready_retrievals

        targets = await asyncio.to_thread(self.main.restore.resolve_archives, selection)
        store = self.gapp.store
        keys = {name: vault_key(v) for name, v in self.main.connection.vaults.items()}

        def campaign_states() -> dict[str, str]:
            states: dict[str, str] = {}
            for vault in {t.vault for t in targets}:
                ids = [t.archive_id for t in targets if t.vault == vault]
                states.update(archive_states(store, keys[vault], ids))
            return states

        states = await asyncio.to_thread(campaign_states)
        # Fetched by a campaign runner of this app, or verified on disk already.
        owned = {a for a, s in states.items() if campaigns_running and s in ENGINE_OWNED}
        restored = {a for a, s in states.items() if s == "verified"}
        ready = ready_retrievals(
            jobs, [t.archive_id for t in targets if t.archive_id not in owned | restored],
            self.gapp.clock())
        self.post_message(ReadyFound(list(ready.values()), len(targets), len(owned),
                                     len(restored)))

    def on_ready_found(self, message: ReadyFound) -> None:
        if not message.selected:
            self.notify("Nothing to download in the selection.", severity="warning")
            return
        for job in message.jobs:
            self.start_download(job)
        ready, owned, restored = len(message.jobs), message.owned, message.restored
        waiting = message.selected - ready - owned - restored
        parts = [f"{ready} ready archive(s) downloading"]
        if owned:
            parts.append(f"{owned} fetched by their restore campaign")
        if restored:
            parts.append(f"{restored} already restored and verified")
        if waiting:
            parts.append(f"{waiting} not ready (restore them with r)")
        self.notify("; ".join(parts) + ".", title="Download",
                    severity="information" if ready or owned or restored else "warning",
                    timeout=6)

    def start_download(self, job: Job, inventory_for: str | None = None) -> None:
        """Download a succeeded job's output (an inventory is imported for its vault)."""
        if job.job_id in self.transfer_workers and \
                self.transfer_workers[job.job_id].is_running:
            self.notify("That job is already downloading.")
            return
        worker = self.run_worker(self._download(job, inventory_for), group="transfers",
                                 exit_on_error=False)
        self.transfer_workers[job.job_id] = worker

    def progress(self, tid: str, name: str, kind: str) -> Callable[[Any], None]:
        """A service progress callback that posts the transfer's row (any thread)."""
        def on_progress(p: Any) -> None:
            self.post_message(TransferUpdate(TransferRow.from_progress(tid, name, kind, p)))
        return on_progress

    async def _download(self, job: Job, inventory_for: str | None) -> None:
        from glacier_tui.glacier.operations import download_output, download_target

        gapp = self.gapp
        client = gapp.client
        assert client is not None
        settings = gapp.settings
        vault = job.vault_name
        tid = job.job_id
        name = "inventory"
        try:
            if inventory_for is not None:
                from glacier_tui.glacier.transfers import default_output_name

                dest = gapp.paths.inventories / default_output_name(job, vault, None)
                name = f"inventory of {vault}"
            else:
                name, dest = await download_target(
                    client, vault, job, gapp.download_dir,
                    self.main.job_table.names.get(job.job_id))
            self.post_message(TransferUpdate(TransferRow(tid, "download", name,
                                                           total=job.output_size,
                                                           target=str(dest))))
            result = await download_output(
                client, vault, job, dest,
                segment_size=settings.segment_size_mib * 1024 * 1024,
                concurrency=settings.transfer_concurrency,
                overwrite=inventory_for is not None,
                on_progress=self.progress(tid, name, "download"),
                transfer_id=tid,
            )
        except asyncio.CancelledError:
            self.post_message(TransferUpdate(TransferRow(tid, "download", name,
                                                           state="cancelled")))
            raise
        except Exception as exc:
            msg = user_message(exc)
            self.post_message(TransferUpdate(TransferRow(tid, "download", name, state="failed",
                                                           message=msg)))
            self.post_message(OperationError(msg, title=f"Download of {clean(name)} failed"))
            return
        if inventory_for is None:
            self.post_message(Info(f"downloaded {clean(name)}"))
            self.post_message(Notice(f"{clean(name)} → {clean(result.path)}", title="Downloaded"))
            return
        try:
            count = await self.main.inventory.import_file(inventory_for, result.path)
        except Exception as exc:
            self.post_message(OperationError(user_message(exc), title="Inventory import failed"))
            return
        self.post_message(InventoryImported(inventory_for, count))

    def update(self, state: TransferState) -> None:
        """Show a transfer's row (posted by the workers of several parts)."""
        self.main.transfers_panel.update_transfer(state)
        self.main.update_bindings()

    def cancel_focused(self) -> None:
        """x: cancel the transfer focused in the panel."""
        tid = self.main.transfers_panel.focused_transfer()
        if tid:
            self.cancel(tid)

    def cancel(self, tid: str) -> None:
        worker = self.transfer_workers.get(tid)
        if worker is not None and worker.is_running:
            worker.cancel()
            if tid.startswith("delete:"):
                self.notify("Deleting stopped; the archives deleted so far are recorded.",
                            timeout=4)
            else:
                self.notify("Transfer cancelled; press d again to resume.", timeout=4)

    # -- uploads ---------------------------------------------------------------------------

    def upload(self) -> None:
        """u: upload files or folders to the vault under the cursor."""
        vault = self.main.vault_tree.current_vault()
        if vault is None:
            self.notify("Select a vault first.", severity="warning")
            return
        if not self.main.writable("upload"):
            return
        self._upload(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _upload(self, vault: str) -> None:
        from glacier_tui.ui.screens.upload import UploadScreen

        paths = await self.app.push_screen_wait(UploadScreen(vault=vault))
        if not paths:
            return
        from glacier_tui.glacier.upload_sources import SkippedSource, UploadSource, iter_sources

        def sources_of(path: Path) -> list[UploadSource | SkippedSource]:
            return list(iter_sources([path]))

        for path in paths:
            # A folder's files go one after another in one worker (not one worker each);
            # what is not a plain file (symlink, FIFO, non-UTF-8 name...) is reported.
            entries = await asyncio.to_thread(sources_of, Path(path))
            skipped = [e for e in entries if isinstance(e, SkippedSource)]
            if skipped:
                shown = "; ".join(f"{e.shown}: {e.reason}" for e in skipped[:5])
                more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
                self.post_message(OperationError(shown + more, severity="warning",
                                                 title=f"{len(skipped)} not uploaded"))
            files = [e for e in entries if isinstance(e, UploadSource)]
            if files:
                tids = [f"upload:{vault}:{f.path}" for f in files]
                worker = self.run_worker(self._upload_many(vault, files, tids),
                                         group="transfers", exit_on_error=False)
                for tid in tids:
                    self.transfer_workers[tid] = worker

    async def _upload_many(self, vault: str, files: list[Any], tids: list[str]) -> None:
        for source, tid in zip(files, tids, strict=True):
            await self._upload_one(vault, source.path, tid, source.name)

    async def _upload_one(self, vault: str, path: Path, tid: str,
                          name: str | None = None) -> None:
        from glacier_tui.glacier import transfers

        client = self.gapp.client
        settings = self.gapp.settings
        if client is None or settings.readonly:
            return
        self.post_message(TransferUpdate(TransferRow(tid, "upload", path.name,
                                                     total=None, target=str(path))))
        try:
            result = await transfers.upload_file(
                client, vault, path, relative_name=name,
                concurrency=settings.transfer_concurrency,
                min_part_size=settings.part_size_mib * 1024 * 1024,
                threshold=settings.upload_threshold_mib * 1024 * 1024,
                on_progress=self.progress(tid, path.name, "upload"),
                journal_dir=self.gapp.paths.uploads, transfer_id=tid)
        except asyncio.CancelledError:
            self.post_message(TransferUpdate(TransferRow(tid, "upload", path.name,
                                                           state="cancelled")))
            raise
        except Exception as exc:
            self.post_message(OperationError(user_message(exc),
                                             title=f"Upload of {path.name} failed"))
            return
        v = self.main.connection.vaults.get(vault)
        if v is not None:
            try:
                await asyncio.to_thread(mark_written, self.gapp, v)
            except Exception as exc:
                log.warning("recording the upload to %s: %s", vault, exc)
        self.post_message(Notice(
            f"{clean(path.name)} → archive {clean(result.archive_id[:16])}… "
            "(in the next inventory)", title="Uploaded"))
