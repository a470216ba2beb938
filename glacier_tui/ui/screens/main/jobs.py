"""The job table: listing jobs, names for them, and what follows a finished job.

A finished inventory requested here is downloaded and imported; a finished restore
started here is downloaded when the settings ask for it (``auto_download``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from glacier_tui.ui.formatting import clean
from glacier_tui.ui.messages import JobsLoaded, JobStarted
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import VaultTree, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job

# How the campaign engine describes its jobs ("glacier-tui campaign 3 item 12").
CAMPAIGN_JOB_PREFIX = "glacier-tui campaign "


class JobsMixin(MainScreenBase):
    """List jobs, show them, and follow up the ones started here."""

    async def _load_jobs(self, vault_names: list[str], *, complete: bool) -> None:
        """List jobs of the given vaults (the service's load_jobs) and post them as one message."""
        from glacier_tui.glacier.operations import job_archive_names, load_jobs

        client = self.gapp.client
        if client is None or not vault_names:
            return
        # On the backend thread: parsing pages never blocks the UI loop.
        listing = await load_jobs(
            lambda name: self.gapp.poll_call(lambda c: c.list_jobs(name)), vault_names)
        # Names already shown need no store lookup (a poll lists every live job again).
        shown = self.query_one(JobTable).names
        keys = {name: vault_key(v) for name, v in self.vaults.items()}
        names = await asyncio.to_thread(
            job_archive_names, self.gapp.store, [j for j in listing.jobs if j.job_id not in shown],
            keys, dict(self.gapp.archive_names))
        self.post_message(JobsLoaded(listing.jobs, listing.listed, names, complete=complete))
        if listing.errors:
            raise listing.errors[0]

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        table = self.query_one(JobTable)
        table.now = self.gapp.clock()
        changes = table.upsert(message.jobs, message.names)
        if message.complete:
            by_vault: dict[str, set[str]] = {v: set() for v in message.vaults}
            for job in message.jobs:
                by_vault.setdefault(job.vault_name, set()).add(job.job_id)
            table.remove_missing(by_vault, keep=self.started_here)
        for old, new in changes:
            was_open = old is not None and not old.completed
            ours = old is None and new.job_id in self.started_here
            if new.completed and (was_open or ours):
                self._job_finished(new)
        self._follow_up()
        self._jobs_title()
        self._show_current_detail()

    def _jobs_title(self) -> None:
        table = self.query_one(JobTable)
        cid = self._jobs_campaign
        table.border_title = f"Jobs ({len(table.jobs)})" if cid is None else \
            f"Jobs of restore #{cid} ({table.row_count}) · Esc: all"

    def _job_finished(self, job: Job) -> None:
        if job.job_id in self.campaign_jobs or (job.description or "").startswith(
                CAMPAIGN_JOB_PREFIX):
            return  # a campaign's job: its campaign tells its milestones, not each job
        name = "inventory" if job.is_inventory_retrieval else \
            self.query_one(JobTable).names.get(job.job_id, job.job_id[:8])
        if job.succeeded:
            self.notify(f"{clean(job.vault_name)}: {clean(name)} is ready", markup=False,
                        title="Job succeeded", timeout=6)
        else:
            self.notify(f"{clean(job.vault_name)}: {clean(name)} — {clean(job.status_message)}",
                        markup=False,
                        title="Job failed", severity="error", timeout=10)

    def _follow_up(self) -> None:
        """Download finished inventories (and, optionally, restores) started here."""
        table = self.query_one(JobTable)
        for job_id, job in table.jobs.items():
            if job_id in self.handled or not job.completed:
                continue
            if job_id in self.inventory_jobs:
                self.handled.add(job_id)
                vault = self.inventory_jobs[job_id]
                if job.succeeded:
                    self._start_download(job, inventory_for=vault)
                else:
                    tree = self.query_one(VaultTree)
                    tree.pending_inventory.pop(vault, None)
                    tree.reset_vault(vault)
            elif job_id in self.index_jobs:  # a Synology index: download and import it
                self.handled.add(job_id)
                if job.succeeded:
                    self._fetch_index(job, self.index_jobs[job_id])
            elif job_id in self.started_here and self.gapp.settings.auto_download \
                    and job.succeeded:
                self.handled.add(job_id)
                self._start_download(job)

    def on_job_started(self, message: JobStarted) -> None:
        job = message.job
        self.started_here.add(job.job_id)
        if job.is_inventory_retrieval:
            self.inventory_jobs[job.job_id] = job.vault_name
        table = self.query_one(JobTable)
        table.upsert([job], {job.job_id: message.name} if message.name else {})
        self._jobs_title()
        self._follow_up()
