"""What follows a finished job, decided without Textual.

:class:`JobFollowUp` remembers the jobs this app started (restores, inventories, Synology
index retrievals) and which finished jobs were already followed up. Given the job table's
jobs, it says what is due: import an inventory, fetch an index, download a restore (with
``auto_download``), or forget a failed inventory request. The main screen carries out
what it is told; the decision is tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job

# How the campaign engine describes its jobs ("glacier-tui campaign 3 item 12").
CAMPAIGN_JOB_PREFIX = "glacier-tui campaign "

Step = Literal["import_inventory", "inventory_failed", "fetch_index", "download"]


@dataclass(frozen=True)
class Due:
    """One follow-up to carry out: ``vault`` is the inventory's or the index's vault."""

    step: Step
    job: Job
    vault: str = ""


@dataclass
class JobFollowUp:
    started_here: set[str] = field(default_factory=set)
    inventory_jobs: dict[str, str] = field(default_factory=dict)  # job id -> vault
    index_jobs: dict[str, str] = field(default_factory=dict)  # job id -> its data vault
    handled: set[str] = field(default_factory=set)  # finished jobs already followed up

    def started(self, job: Job) -> None:
        self.started_here.add(job.job_id)
        if job.is_inventory_retrieval:
            self.inventory_jobs[job.job_id] = job.vault_name

    def to_announce(self, changes: Iterable[tuple[Job | None, Job]],
                    campaign_jobs: set[str]) -> list[Job]:
        """Jobs whose end to tell: seen running, or started here; not a campaign's."""
        out = []
        for old, new in changes:
            was_open = old is not None and not old.completed
            ours = old is None and new.job_id in self.started_here
            if not new.completed or not (was_open or ours):
                continue
            if new.job_id in campaign_jobs or \
                    (new.description or "").startswith(CAMPAIGN_JOB_PREFIX):
                continue  # a campaign tells its milestones, not each job
            out.append(new)
        return out

    def due(self, jobs: Mapping[str, Job], *, auto_download: bool) -> list[Due]:
        """The follow-ups now due (each once): finished jobs that this app started."""
        out: list[Due] = []
        # Only the jobs followed up here are looked up (a poll has thousands of others).
        watched = dict.fromkeys([*self.inventory_jobs, *self.index_jobs,
                                 *sorted(j for j in self.started_here if j not in self.handled)])
        for job_id in watched:
            job = jobs.get(job_id)
            if job is None or job_id in self.handled or not job.completed:
                continue
            if job_id in self.inventory_jobs:
                self.handled.add(job_id)
                vault = self.inventory_jobs[job_id]
                out.append(Due("import_inventory" if job.succeeded else "inventory_failed",
                               job, vault))
            elif job_id in self.index_jobs:
                self.handled.add(job_id)
                if job.succeeded:
                    out.append(Due("fetch_index", job, self.index_jobs[job_id]))
            elif job_id in self.started_here and auto_download and job.succeeded:
                self.handled.add(job_id)
                out.append(Due("download", job))
        return out
