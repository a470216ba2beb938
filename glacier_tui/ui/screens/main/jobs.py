"""The job table: listing jobs, names for them, and what follows a finished job.

A finished inventory requested here is downloaded and imported; a finished restore
started here is downloaded when the settings ask for it (``auto_download``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from glacier_tui.ui.formatting import clean
from glacier_tui.ui.job_followup import JobFollowUp
from glacier_tui.ui.messages import JobsLoaded, JobStarted
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job


class Jobs(Part):
    """List jobs, show them, and follow up the ones started here."""

    def __init__(self) -> None:
        super().__init__()
        # The jobs started here and what follows them (ui/job_followup.py).
        self.followup = JobFollowUp()

    async def load(self, vault_names: list[str], *, complete: bool) -> None:
        """List jobs of the given vaults (the service's load_jobs) and post them as one message.

        Awaited by the connection's and the poll's workers; the message comes back here.
        """
        from glacier_tui.glacier.operations import job_archive_names, load_jobs

        gapp = self.gapp
        client = gapp.client
        if client is None or not vault_names:
            return
        # On the backend thread: parsing pages never blocks the UI loop.
        listing = await load_jobs(
            lambda name: gapp.poll_call(lambda c: c.list_jobs(name)), vault_names)
        # Names already shown need no store lookup (a poll lists every live job again).
        shown = self.main.job_table.names  # read on the UI loop (an async worker)
        keys = {name: vault_key(v) for name, v in self.main.connection.vaults.items()}
        names = await asyncio.to_thread(
            job_archive_names, gapp.store, [j for j in listing.jobs if j.job_id not in shown],
            keys, dict(gapp.archive_names))
        self.post_message(JobsLoaded(listing.jobs, listing.listed, names, complete=complete))
        if listing.errors:
            raise listing.errors[0]

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        table = self.main.job_table
        table.now = self.gapp.clock()
        changes = table.upsert(message.jobs, message.names)
        if message.complete:
            by_vault: dict[str, set[str]] = {v: set() for v in message.vaults}
            for job in message.jobs:
                by_vault.setdefault(job.vault_name, set()).add(job.job_id)
            table.remove_missing(by_vault, keep=self.followup.started_here)
        for job in self.followup.to_announce(changes, self.main.campaigns.board.jobs):
            self._job_finished(job)
        self._follow_up()
        self.title()
        self.main.detail.show_current()

    def title(self) -> None:
        """The job table's title: how many jobs, or which campaign's jobs it shows."""
        table = self.main.job_table
        board = self.main.campaigns.board
        cid = board.jobs_of
        row = board.rows.get(cid) if cid is not None else None
        name = row.name.lower() if row is not None else f"restore #{cid}"
        table.border_title = f"Jobs ({len(table.jobs)})" if cid is None else \
            f"Jobs of {name} ({table.row_count}) · Esc: all"

    def _job_finished(self, job: Job) -> None:
        name = "inventory" if job.is_inventory_retrieval else \
            self.main.job_table.names.get(job.job_id, job.job_id[:8])
        if job.succeeded:
            self.notify(f"{clean(job.vault_name)}: {clean(name)} is ready", markup=False,
                        title="Job succeeded", timeout=6)
        else:
            self.notify(f"{clean(job.vault_name)}: {clean(name)} — {clean(job.status_message)}",
                        markup=False,
                        title="Job failed", severity="error", timeout=10)

    def _follow_up(self) -> None:
        """Carry out what the follow-up says is due (ui/job_followup.py)."""
        main = self.main
        due = self.followup.due(main.job_table.jobs,
                                auto_download=self.gapp.settings.auto_download)
        for item in due:
            if item.step == "import_inventory":
                main.transfers.start_download(item.job, inventory_for=item.vault)
            elif item.step == "inventory_failed":
                tree = main.vault_tree
                tree.pending_inventory.pop(item.vault, None)
                tree.reset_vault(item.vault)
            elif item.step == "fetch_index":
                main.appliance.fetch_index(item.job, item.vault)
            else:
                main.transfers.start_download(item.job)

    def started(self, message: JobStarted) -> None:
        """A job was started here (restore, inventory, Synology index): show and follow it."""
        job = message.job
        self.followup.started(job)
        self.main.job_table.upsert([job], {job.job_id: message.name} if message.name else {})
        self.title()
        self._follow_up()
