"""The campaign runner: ListJobs cycles, batched InitiateJob, downloads as outputs are ready.

See :mod:`glacier_tui.glacier.campaigns` for the model and the crash-safety rules.
The runner's database work is small transactions on the event loop's thread (one
per batch or per finished archive); hashing files and writing manifests run in
worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from glacier_tui.glacier import campaign_store as db
from glacier_tui.glacier import errors
from glacier_tui.glacier.campaign_types import (
    CampaignError,
    CampaignInfo,
    CampaignItem,
    CampaignItemCallback,
    CampaignProgress,
    CampaignProgressCallback,
    CampaignStatus,
    EngineOptions,
    ItemState,
    SinkRefused,
    SinkResult,
)
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.downloads import DownloadResult, download_job_output
from glacier_tui.glacier.manifest import write_manifest
from glacier_tui.glacier.models import Job, JobStatus, RetrievalStrategy
from glacier_tui.glacier.paths import UnsafePathError, safe_download_path
from glacier_tui.glacier.pricing import TIER_HOURS
from glacier_tui.glacier.safe_files import ExclusiveLock, LockedError, UnsafeFileError
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.transfer_common import (
    DiskFull,
    TargetExists,
    TransferProgress,
    VerificationFailed,
)
from glacier_tui.glacier.treehash import tree_hash_file

__all__ = ["CampaignRunner", "campaign_active", "job_marker", "run_campaign"]

# Errors after which no archive of the campaign can make progress: stop and say why.
_FATAL: Final = (
    errors.AccessDenied, errors.NoCredentials, errors.ExpiredToken, errors.NoLongerSupported,
    errors.ConfigurationError, DiskFull,
)
# Refusals that mean "not now": pace the requests and try again later.
_PACE: Final = (
    errors.PolicyEnforced, errors.InsufficientCapacity, errors.LimitExceeded, errors.Throttling,
)
# Consecutive transient failures of downloads before the run gives up (and pauses).
_MAX_TRANSIENT: Final = 8
# Jobs kept in memory before the ones of archives no longer in flight are dropped.
_JOBS_CAP: Final = 5000
# Expedited jobs one provisioned capacity unit allows per five minutes.
_EXPEDITED_PER_UNIT: Final = 3


def job_marker(campaign_id: int, item_id: int) -> str:
    """The JobDescription that ties a retrieval job to one campaign item."""
    return f"glacier-tui campaign {int(campaign_id)} item {int(item_id)}"


def _lock_path(store: Store, campaign_id: int) -> Path:
    base = Path(store.path)
    if str(base) == ":memory:":
        import platformdirs

        folder = Path(platformdirs.user_state_dir("glacier-tui"))
    else:
        folder = base.parent
    return folder / "campaign-locks" / f"campaign-{int(campaign_id)}.lock"


def campaign_active(store: Store, campaign_id: int) -> bool:
    """True while a runner (in any process) holds the campaign: a ``running`` campaign
    nobody holds was interrupted (killed, rebooted) and waits for ``resume``."""
    lock = ExclusiveLock(_lock_path(store, campaign_id))
    try:
        lock.acquire()
    except LockedError:
        return True
    lock.release()
    return False


def _rank(job: Job) -> tuple[bool, float]:
    """Finished before running, then newest first (a date may be missing)."""
    return job.succeeded, job.creation_date.timestamp() if job.creation_date else 0.0


def _definite_refusal(exc: errors.GlacierError) -> bool:
    """True when the service answered "no" (so no job was created); False when the
    request may have reached it (network failure, 5xx) and a job may exist."""
    if isinstance(exc, errors.InsufficientCapacity):
        return True
    status = exc.status
    return status is not None and 400 <= status < 500


F = TypeVar("F", bound=Callable[..., Any])


def _scheduler_work(method: F) -> F:
    """Count the method's CPU time (this thread) as scheduler work; see ``scheduler_cpu``."""

    @functools.wraps(method)
    def wrapper(self: CampaignRunner, *args: Any, **kwargs: Any) -> Any:
        with self._cpu():
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


class CampaignRunner:
    """Runs one campaign to its end (or until stopped, cancelled, paused by its budget).

    Only one runner per campaign at a time, across processes: :meth:`run` takes an
    exclusive lock file next to the store and raises ``LockedError`` naming the other
    process's pid. Progress goes to ``on_progress`` (throttled), every item state change
    to ``on_item``; both are called on the event loop's thread and must not block.
    """

    def __init__(
        self,
        client: GlacierClient,
        store: Store,
        campaign_id: int,
        *,
        options: EngineOptions | None = None,
        on_progress: CampaignProgressCallback | None = None,
        on_item: CampaignItemCallback | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.campaign_id = campaign_id
        self.options = options or EngineOptions()
        self.on_progress = on_progress
        self.on_item = on_item
        self.list_calls = 0  # job listings (each the pages of ListJobs from a start) by this runner
        self.cycles = 0
        # CPU seconds spent in the runner's own bookkeeping (SQLite, reconciling, choosing),
        # excluding HTTP calls and downloads: the scheduler's cost, for benchmarks.
        self.scheduler_cpu = 0.0
        self._cpu_depth = 0
        self._stop = False
        self._counts: dict[ItemState, int] = {}
        self._verified_bytes = 0
        # The jobs of archives in flight (and, after a whole listing, every job listed).
        self._jobs: dict[str, Job] = {}
        # Where listings start: a listing covers every job initiated since the oldest one
        # still awaited (jobs are listed in initiation order); the pages before it only
        # hold jobs already settled, or followed through ``_jobs``. The page start markers
        # of the last listing, and the page each job listed was on:
        self._page_starts: list[str | None] = [None]
        self._page_of: dict[str, int] = {}
        # A whole listing is due: at the start (adopting jobs left by a killed run), after
        # an InitiateJob that may have reached Glacier, or when a job older than the
        # listing's start is followed again.
        self._whole_due = True
        self._adoptable: dict[str, Job] = {}  # live jobs per archive, from a whole listing
        # Jobs whose output failed verification or expired: never adopted again, or an
        # archive would fetch the same bad output every cycle until the job expires.
        self._spent: set[str] = set()
        self._jobs_cap = _JOBS_CAP  # ``_jobs`` is pruned when it grows past this
        self._downloads: dict[int, asyncio.Task[None]] = {}
        self._download_done: dict[int, int] = {}
        self._downloaded_run = 0  # bytes fetched and verified in this run
        self._samples: deque[tuple[float, int]] = deque()
        self._paced_until: float | None = None
        self._backoff = self.options.policy_backoff
        self._budget_blocked = False
        self._transient = 0
        self._message = ""
        self._last_emit = 0.0
        self._recent: deque[tuple[float, int]] = deque()  # (requested at, bytes) this hour
        self._expedited: deque[float] = deque()  # Expedited requests in the last 5 minutes
        self._capacity_units = 0
        self._policy_bytes_per_hour: int | None = None
        self._cost = [0, 0, 0]  # requests made, bytes requested, bytes downloaded
        self._info: CampaignInfo | None = None

    @contextlib.contextmanager
    def _cpu(self) -> Iterator[None]:
        self._cpu_depth += 1
        start = time.thread_time() if self._cpu_depth == 1 else 0.0
        try:
            yield
        finally:
            if self._cpu_depth == 1:
                self.scheduler_cpu += time.thread_time() - start
            self._cpu_depth -= 1

    # -- public -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Pause at the next safe point (status ``paused``); ``run`` then returns."""
        self._stop = True

    @property
    def stopping(self) -> bool:
        """A pause was asked for and ``run`` has not returned yet."""
        return self._stop

    async def run(self) -> CampaignInfo:
        """Run until every archive is settled, or the campaign is paused or cancelled.

        Returns the final :class:`CampaignInfo` (status ``done``, ``incomplete``,
        ``paused`` or ``cancelled``) after writing the manifest. Errors that stop every
        archive (no credentials, vault gone, disk full) leave the campaign ``paused``
        with the message and are raised as ``GlacierError``.
        """
        lock = ExclusiveLock(_lock_path(self.store, self.campaign_id),
                             what=f"restore campaign {self.campaign_id} is being run")
        await asyncio.to_thread(lock.acquire)
        try:
            return await self._run()
        finally:
            lock.release()

    def _refuse_migration(self, cid: int) -> None:
        """A migration's archives go to S3: resuming it as a restore would download them to
        disk instead, so only a runner with the migration's sink may run it."""
        from glacier_tui.glacier import migrate_store

        if migrate_store.migration(self.store, cid) is not None:
            raise CampaignError(
                f"campaign {cid} is a migration to S3, not a restore to disk",
                hint="Resume it with `glacier-tui migrate run` (same options) or from the "
                "Migrate screen.",
            )

    # -- the loop -----------------------------------------------------------------------

    @property
    def info(self) -> CampaignInfo:
        assert self._info is not None
        return self._info

    async def _run(self) -> CampaignInfo:
        cid = self.campaign_id
        info = db.get(self.store, cid)
        if info.status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
            return info
        if self.options.sink is None:
            self._refuse_migration(cid)
        if info.status == CampaignStatus.INCOMPLETE:  # resume retries what failed
            self._retry_failed()
        self._info = info
        self._cost = [info.requests_made, info.bytes_requested, info.bytes_downloaded]
        db.set_status(self.store, cid, CampaignStatus.RUNNING, "")
        since = self.options.clock() - 3600
        with contextlib.suppress(Exception):
            nbytes, first = db.bytes_requested_since(self.store, cid, since)
            if nbytes:
                self._recent.append((first or since, nbytes))
        self._message = "checking files already on disk"
        self._sync_counts()
        self._emit(force=True)
        if self.options.sink is not None:
            await self.options.sink.check_present(self.store, cid)
        else:
            await asyncio.to_thread(self._check_present)
        self._message = ""
        self._sync_counts()
        await self._read_limits()
        list_due = True
        last_listed = self.options.clock()
        try:
            while True:
                if self._stop:
                    return await self._finish(CampaignStatus.PAUSED, "stopped; resume it later")
                with self._cpu():
                    cancelled = db.status_of(self.store, cid) == CampaignStatus.CANCELLED
                if cancelled:
                    return await self._finish(CampaignStatus.CANCELLED, "cancelled by the user")
                # While outputs stream in, the listing is still due every poll interval:
                # jobs keep finishing and free slots want new requests.
                if list_due or self.options.clock() - last_listed >= self.options.poll_interval:
                    last_listed = self.options.clock()
                    await self._cycle()
                    list_due = False
                self._start_downloads()
                self._emit()
                if db.unsettled(self._counts) == 0 and not self._downloads:
                    return await self._finish(None, "")
                if self._budget_blocked and not self._in_flight() and not self._downloads:
                    left = self._counts.get(ItemState.PLANNED, 0)
                    return await self._finish(
                        CampaignStatus.PAUSED,
                        f"budget of ${self.info.limits.budget_usd:,.2f} reached; {left:,} "
                        "archive(s) not requested (raise --budget-usd and resume)",
                    )
                if self._downloads:
                    done, _ = await asyncio.wait(
                        set(self._downloads.values()), timeout=self.options.poll_interval,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for task in done:
                        task.result()  # re-raise fatal errors
                    if not done:
                        list_due = True
                    continue
                await self.options.sleep(self._idle_seconds())
                list_due = True
        except BaseException as exc:
            await self._cancel_downloads()
            message = "interrupted; run `glacier-tui restore resume` to go on"
            if isinstance(exc, errors.GlacierError):
                message = exc.user_message()
            with contextlib.suppress(Exception):
                db.set_status(self.store, cid, CampaignStatus.PAUSED, inert(message))
                await asyncio.to_thread(self._write_manifest)
            raise

    def _idle_seconds(self) -> float:
        wait = self.options.poll_interval
        if self._paced_until is not None and not self._in_flight():
            wait = max(0.0, min(wait, self._paced_until - self.options.clock()))
        return max(wait, 0.0)

    async def _finish(self, status: CampaignStatus | None, message: str) -> CampaignInfo:
        await self._cancel_downloads()
        self._sync_counts()
        if status is None:
            failed = self._counts.get(ItemState.FAILED, 0)
            skipped = self._counts.get(ItemState.SKIPPED, 0)
            if failed or skipped:
                status = CampaignStatus.INCOMPLETE
                message = f"{failed:,} failed, {skipped:,} skipped"
            else:
                status = CampaignStatus.DONE
                message = "every archive verified"
        db.set_status(self.store, self.campaign_id, status, message)
        self._message = message
        await asyncio.to_thread(self._write_manifest)
        self._emit(force=True, status=status)
        return db.get(self.store, self.campaign_id)

    def _write_manifest(self) -> None:
        if self.options.sink is not None:
            self.options.sink.write_manifest(self.store, self.campaign_id)
        else:
            write_manifest(self.store, self.campaign_id)

    async def _cancel_downloads(self) -> None:
        tasks = list(self._downloads.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._downloads.clear()

    # -- counts and progress ------------------------------------------------------------

    @_scheduler_work
    def _sync_counts(self) -> None:
        self._counts, self._verified_bytes = db.counts(self.store, self.campaign_id)

    def _in_flight(self) -> int:
        return sum(self._counts.get(s, 0) for s in db.IN_FLIGHT)

    @_scheduler_work
    def _moved(self, item: CampaignItem, new: ItemState, reason: str | None = None,
               job_id: str | None = None, verified_at: float | None = None) -> None:
        self._counts[item.state] = self._counts.get(item.state, 0) - 1
        self._counts[new] = self._counts.get(new, 0) + 1
        if new == ItemState.VERIFIED:
            self._verified_bytes += item.size or 0
        if self.on_item is not None:
            self.on_item(CampaignItem(
                item.item_id, item.archive_id, item.path, item.size, item.tree_hash, new,
                item.reason if reason is None else reason, job_id or item.job_id,
                verified_at if verified_at is not None else item.verified_at, item.attempts,
            ))

    @_scheduler_work
    def _set(self, item: CampaignItem, new: ItemState, *, reason: str | None = None,
             job_id: str | None = None, clear_job: bool = False,
             verified_at: float | None = None) -> None:
        db.set_item(self.store, item.item_id, new, reason=reason, job_id=job_id,
                    clear_job=clear_job, verified_at=verified_at)
        self._moved(item, new, reason, job_id, verified_at)

    def _cost_so_far(self) -> float:
        prices = self.options.prices
        try:
            data, requests = prices.retrieval_cost(self.info.tier, self._cost[1], self._cost[0])
        except KeyError:
            data = requests = 0.0
        egress = self.options.machine_region != self.client.region or not (
            self.options.machine_region
        )
        return data + requests + (prices.egress_cost(self._cost[2]) if egress else 0.0)

    def _on_transfer(self, p: TransferProgress) -> None:
        with contextlib.suppress(ValueError):
            self._download_done[int(p.transfer_id)] = p.done
        self._emit()

    @_scheduler_work
    def _emit(self, force: bool = False, status: CampaignStatus | None = None) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_emit < self.options.progress_interval:
            return
        self._last_emit = now
        moving = sum(self._download_done.values())
        seen = self._downloaded_run + moving
        self._samples.append((now, seen))
        while len(self._samples) > 2 and now - self._samples[0][0] > 10.0:
            self._samples.popleft()
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        rate = (d1 - d0) / (t1 - t0) if t1 > t0 and d1 >= d0 else 0.0
        remaining = max(0, self.info.total_bytes - self._verified_bytes - moving)
        waiting = self._counts.get(ItemState.PLANNED, 0) + self._counts.get(
            ItemState.REQUESTED, 0)
        eta: float | None
        if remaining == 0:
            eta = 0.0
        elif waiting:
            eta = TIER_HOURS.get(self.info.tier, (4.0, 4.0))[1] * 3600 if rate == 0 else None
        else:
            eta = remaining / rate if rate > 0 else None
        self.on_progress(CampaignProgress(
            campaign_id=self.campaign_id, status=status or CampaignStatus.RUNNING,
            counts=dict(self._counts), total_items=self.info.total_items,
            total_bytes=self.info.total_bytes, verified_bytes=self._verified_bytes,
            downloading_bytes=moving, rate_bps=rate, eta_seconds=eta,
            cost_so_far_usd=self._cost_so_far(), jobs_in_flight=self._in_flight(),
            paced_until=self._paced_until, message=self._message,
        ))

    # -- start of a run -----------------------------------------------------------------

    def _retry_failed(self) -> None:
        with db.tx(self.store) as c:
            c.execute(
                "UPDATE campaign_items SET state='planned', attempts=0, job_id=NULL WHERE"
                " campaign=? AND state='failed'",
                (self.campaign_id,),
            )

    def _check_present(self) -> None:
        """Mark planned archives whose file is already on disk with the right tree hash
        as verified ("already verified"); a different file there skips the archive."""
        root = Path(self.info.destination).expanduser()
        if not root.is_dir():
            return
        ranged = self.info.byte_range is not None
        after = 0
        while True:
            page = db.planned_batch(self.store, self.campaign_id, after, 2000)
            if not page:
                return
            after = page[-1].item_id
            present: list[tuple[int, float]] = []
            for item in page:
                if item.attempts or ranged:
                    continue
                try:
                    st = os.lstat(root.joinpath(*item.path.split("/")))
                    # Only an existing file is checked further, through the same path
                    # rules as a download (never through a symlink out of the folder).
                    path = safe_download_path(root, item.path)
                except (OSError, UnsafePathError):
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if item.tree_hash and (item.size is None or item.size == st.st_size):
                    try:
                        same = tree_hash_file(path, threads=1) == item.tree_hash.lower()
                    except OSError:
                        continue
                else:
                    same = False
                if same:
                    present.append((item.item_id, time.time()))
                else:
                    reason = ("a different file is already there" if item.tree_hash else
                              "a file is already there (no tree hash in the inventory to "
                              "compare it with)")
                    db.set_item(self.store, item.item_id, ItemState.SKIPPED, reason=reason)
            db.set_items_verified_present(self.store, self.campaign_id, present)

    async def _read_limits(self) -> None:
        """The vault's retrieval policy (Standard) and provisioned capacity (Expedited)."""
        tier = self.info.tier
        with contextlib.suppress(errors.GlacierError):
            if tier == "Standard":
                policy = await self.client.get_data_retrieval_policy()
                if policy.strategy == RetrievalStrategy.BYTES_PER_HOUR and policy.bytes_per_hour:
                    self._policy_bytes_per_hour = policy.bytes_per_hour
            elif tier == "Expedited":
                self._capacity_units = len(await self.client.list_provisioned_capacity())

    # -- one cycle ----------------------------------------------------------------------

    async def _cycle(self) -> None:
        self.cycles += 1
        self._sync_counts()
        whole = self._whole_due
        if not whole and not self._counts.get(ItemState.REQUESTED):
            # Nothing awaited (no archive has a job still running): nothing to list or
            # reconcile; the archives ready to fetch have their jobs in ``_jobs``.
            await self._initiate(self._adoptable, {})
            return
        with self._cpu():
            # A whole listing reconciles every archive in flight (a killed run's leftovers,
            # outputs expired before they were fetched); otherwise only the awaited ones.
            followed = (db.followed if whole else db.awaited)(self.store, self.campaign_id)
            start = None if whole else self._listing_start(followed)
        listed = await self._list_jobs(start)
        with self._cpu():
            by_archive = self._live_by_archive(listed.values())
            if start is None:
                self._jobs = dict(listed)
                self._adoptable = by_archive
            else:
                by_archive = {**self._adoptable, **by_archive}
            self._reconcile(followed, listed, by_archive)
            self._prune_jobs()
        await self._initiate(by_archive, listed)

    def _listing_start(self, awaited: list[tuple[CampaignItem, bool, float | None]]
                       ) -> str | None:
        """The start of the last listing's page holding the oldest awaited job (a job
        requested since that listing comes after its last page)."""
        last = len(self._page_starts) - 1
        return self._page_starts[min(
            (self._page_of.get(item.job_id or "", last) for item, _i, _r in awaited),
            default=last)]

    def _prune_jobs(self) -> None:
        """Forget the jobs of archives no longer in flight, now and then (a whole listing
        brings every job of the vault; fetched archives leave theirs behind)."""
        if len(self._jobs) <= self._jobs_cap:
            return
        keep = {item.job_id for item, _i, _r in db.followed(self.store, self.campaign_id)}
        self._jobs = {k: j for k, j in self._jobs.items() if k in keep}
        self._jobs_cap = max(_JOBS_CAP, 2 * len(self._jobs))

    async def _list_jobs(self, start: str | None) -> dict[str, Job]:
        """One listing of the vault's jobs, from ``start`` to the last page: the only way
        jobs are followed. A start marker the service no longer takes (its job is gone)
        gives a whole listing instead."""
        self.list_calls += 1
        jobs: dict[str, Job] = {}
        starts: list[str | None] = []
        page_of: dict[str, int] = {}
        try:
            async for marker, page in self.client.iter_job_pages(self.info.vault, start=start):
                starts.append(marker)
                for job in page:
                    if job.job_id:
                        jobs[job.job_id] = job
                        page_of[job.job_id] = len(starts) - 1
        except errors.InvalidParameterValue:
            if start is None:
                raise
            self._whole_due = True
            return await self._list_jobs(None)
        self._page_starts = starts or [start]
        self._page_of = page_of
        if start is None:
            self._whole_due = False
        return jobs

    def _usable(self, job: Job) -> bool:
        """A live archive retrieval of the range this campaign wants."""
        if not job.is_archive_retrieval or job.failed or job.job_id in self._spent:
            return False
        wanted = self.info.byte_range
        if wanted is None:
            return job.is_full_archive
        return job.byte_range == wanted

    def _live(self, by_archive: dict[str, Job], archive_id: str) -> Job | None:
        """The archive's live job, unless it was spent since ``by_archive`` was built
        (``_adoptable`` is kept from the last whole listing)."""
        job = by_archive.get(archive_id)
        return None if job is None or job.job_id in self._spent else job

    def _live_by_archive(self, jobs: Iterable[Job]) -> dict[str, Job]:
        out: dict[str, Job] = {}
        for job in jobs:
            if job.archive_id and self._usable(job):
                best = out.get(job.archive_id)
                # Prefer a finished job (its output can be fetched now), then the newest.
                if best is None or _rank(job) > _rank(best):
                    out[job.archive_id] = job
        return out

    @_scheduler_work
    def _reconcile(self, followed: list[tuple[CampaignItem, bool, float | None]],
                   jobs: dict[str, Job], by_archive: dict[str, Job]) -> None:
        """Move the followed archives by what the listing says of their jobs. An awaited
        job is always in the listing (it starts before the oldest); the job of an archive
        ready to fetch may be older, and is then taken from ``_jobs`` (if its output
        expired since, the download says so)."""
        cid = self.campaign_id
        now = self.options.clock()
        grace = max(2 * self.options.poll_interval, 600.0)
        adopted: list[tuple[int, str, float, int, bool, bool]] = []
        cleared: list[int] = []
        for item, initiating, requested_at in followed:
            if item.item_id in self._downloads:
                continue
            if initiating:
                marker = job_marker(cid, item.item_id)
                mine = next((j for j in jobs.values() if j.archive_id == item.archive_id
                             and j.description == marker and not j.failed), None)
                job = mine or self._live(by_archive, item.archive_id)
                if job is not None:
                    adopted.append((item.item_id, job.job_id, now, item.size or 0,
                                    mine is not None, item.attempts > 0))
                    self._moved(item, ItemState.REQUESTED, job_id=job.job_id)
                    if mine is not None:
                        self._cost[0] += 1
                        self._cost[1] += item.size or 0
                else:
                    cleared.append(item.item_id)
                continue
            job = jobs.get(item.job_id or "")
            if job is not None:
                self._jobs[job.job_id] = job  # for the download
            elif item.state != ItemState.REQUESTED:
                job = self._jobs.get(item.job_id or "")
            if job is None:
                young = requested_at is not None and now - requested_at < grace
                if item.state == ItemState.REQUESTED and young:
                    continue  # a new job may not be listed yet
                self._again(item, "the job's output expired before it was fetched")
            elif job.status_code == JobStatus.SUCCEEDED:
                if item.state != ItemState.READY:
                    self._set(item, ItemState.READY)
            elif job.status_code == JobStatus.FAILED:
                self._again(item, f"the retrieval job failed ({job.status_message or 'no reason'})")
            elif item.state != ItemState.REQUESTED:
                self._set(item, ItemState.REQUESTED)
        db.record_requested(self.store, cid, adopted)
        db.clear_initiating(self.store, cleared)

    @_scheduler_work
    def _again(self, item: CampaignItem, reason: str, *, spent: bool = True) -> None:
        """Request an archive again, unless it has used up its attempts. A ``spent``
        job (its output expired, failed, or failed verification) is never adopted again."""
        if spent and item.job_id:
            self._spent.add(item.job_id)
        if item.attempts >= self.options.max_job_attempts:
            self._set(item, ItemState.FAILED, reason=f"{reason}; gave up after "
                      f"{item.attempts} job(s)", clear_job=True)
        else:
            self._set(item, ItemState.PLANNED, reason=reason, clear_job=True)

    # -- requests -----------------------------------------------------------------------

    def _bytes_per_hour(self) -> int | None:
        limits = [v for v in (self.info.limits.bytes_per_hour, self._policy_bytes_per_hour) if v]
        return min(limits) if limits else None

    def _request_cost(self, size: int) -> float:
        try:
            data, requests = self.options.prices.retrieval_cost(self.info.tier, size, 1)
        except KeyError:
            return 0.0
        return data + requests

    async def _initiate(self, by_archive: dict[str, Job], listed: dict[str, Job]) -> None:
        if self._stop or self._budget_blocked:
            return
        now = self.options.clock()
        chosen = self._choose(by_archive, listed, now)
        if chosen:
            await self._send(chosen, now)

    @_scheduler_work
    def _choose(self, by_archive: dict[str, Job], listed: dict[str, Job],
                now: float) -> list[CampaignItem]:
        """The next batch to request, within every limit; archives with a live job
        (found in the listing) are adopted instead of requested."""
        if self._paced_until is not None:
            if now < self._paced_until:
                return []
            self._paced_until = None
        limits = self.info.limits
        capacity = min(limits.batch_size, limits.max_jobs_in_flight - self._in_flight())
        if capacity <= 0:
            return []
        while self._recent and self._recent[0][0] <= now - 3600:
            self._recent.popleft()
        while self._expedited and self._expedited[0] <= now - 300:
            self._expedited.popleft()
        per_hour = self._bytes_per_hour()
        hour_bytes = sum(n for _, n in self._recent)
        expedited = len(self._expedited)
        spent = self._cost_so_far()
        chosen: list[CampaignItem] = []
        adopted: list[tuple[int, str, float, int, bool, bool]] = []
        after = 0
        while len(chosen) < capacity:
            page = db.planned_batch(self.store, self.campaign_id, after, capacity)
            if not page:
                break
            after = page[-1].item_id
            for item in page:
                if len(chosen) >= capacity:
                    break
                live = self._live(by_archive, item.archive_id)
                if live is not None:  # a live job for this archive exists: never start another
                    if live.job_id not in listed:  # older than the listing: follow it whole
                        self._whole_due = True
                    adopted.append((item.item_id, live.job_id, now, item.size or 0, False, False))
                    self._moved(item, ItemState.REQUESTED, job_id=live.job_id)
                    continue
                size = item.size or 0
                if limits.budget_usd is not None and spent + self._request_cost(size) > (
                    limits.budget_usd
                ):
                    self._budget_blocked = True
                    self._message = f"budget of ${limits.budget_usd:,.2f} reached"
                    break
                if per_hour is not None and hour_bytes and hour_bytes + size > per_hour:
                    first = self._recent[0][0] if self._recent else now
                    self._paced_until = first + 3600
                    self._message = "pacing requests: bytes-per-hour limit reached"
                    break
                if self._capacity_units and self.info.tier == "Expedited" and (
                    expedited >= _EXPEDITED_PER_UNIT * self._capacity_units
                ):
                    self._paced_until = (self._expedited[0] if self._expedited else now) + 300
                    self._message = "pacing requests: provisioned capacity in use"
                    break
                chosen.append(item)
                spent += self._request_cost(size)
                hour_bytes += size
                expedited += 1
            else:
                continue
            break
        db.record_requested(self.store, self.campaign_id, adopted)
        return chosen

    async def _send(self, chosen: list[CampaignItem], now: float) -> None:
        """InitiateJob for each chosen archive; the job id is stored as each returns."""
        cid = self.campaign_id
        # Marked first, durably: a kill from here on is resolved by the next listing.
        with self._cpu():
            db.mark_initiating(self.store, (i.item_id for i in chosen))
        gate = asyncio.Semaphore(self.options.initiate_concurrency)
        paced: list[errors.GlacierError] = []
        done: list[tuple[int, str, float, int, bool, bool]] = []
        cleared: list[int] = []
        fatal: list[errors.GlacierError] = []
        rng = self.info.byte_range

        async def one(item: CampaignItem) -> None:
            async with gate:
                if paced or fatal or self._stop:
                    cleared.append(item.item_id)
                    return
                try:
                    job_id = await self.client.initiate_archive_retrieval(
                        self.info.vault, item.archive_id, tier=self.info.tier, byte_range=rng,
                        description=job_marker(cid, item.item_id),
                    )
                except errors.GlacierError as exc:
                    self._refused(item, exc, paced, fatal, cleared)
                    return
                size = (rng[1] - rng[0] + 1) if rng else (item.size or 0)
                done.append((item.item_id, job_id, now, size, True, item.attempts > 0))
                self._cost[0] += 1
                self._cost[1] += size
                # Only jobs Glacier accepted count against the hourly and capacity limits.
                self._recent.append((now, size))
                self._expedited.append(now)
                self._moved(item, ItemState.REQUESTED, job_id=job_id)

        try:
            await asyncio.gather(*(one(i) for i in chosen))
        finally:
            with self._cpu():
                db.record_requested(self.store, cid, done)
                db.clear_initiating(self.store, cleared)
        if done:
            self._backoff = self.options.policy_backoff
        if paced:
            self._paced_until = self.options.clock() + self._backoff
            self._message = (f"{paced[0].summary} Pausing new requests for "
                             f"{self._backoff / 60:.0f} min, then retrying.")
            self._backoff = min(self._backoff * 2, self.options.max_backoff)
        if fatal:
            raise fatal[0]

    def _refused(self, item: CampaignItem, exc: errors.GlacierError,
                 paced: list[errors.GlacierError], fatal: list[errors.GlacierError],
                 cleared: list[int]) -> None:
        if isinstance(exc, _PACE):
            paced.append(exc)
            cleared.append(item.item_id)
        elif isinstance(exc, _FATAL) or (
            isinstance(exc, errors.ResourceNotFound) and "Vault not found" in exc.detail
        ):
            fatal.append(exc)
            cleared.append(item.item_id)
        elif isinstance(exc, errors.ResourceNotFound | errors.InvalidParameterValue):
            db.clear_initiating(self.store, [item.item_id])
            self._set(item, ItemState.FAILED, reason=inert(exc.user_message()))
        elif _definite_refusal(exc):
            cleared.append(item.item_id)
            self._message = inert(exc.user_message())
        else:
            # The request may have reached Glacier: leave the mark, the next listing
            # (a whole one) adopts the job if it exists, and clears the mark if not.
            self._whole_due = True
            self._message = inert(exc.user_message())

    # -- downloads ----------------------------------------------------------------------

    @_scheduler_work
    def _start_downloads(self) -> None:
        free = self.options.download_parallel - len(self._downloads)
        if free <= 0 or self._stop:
            return
        ready = db.items(self.store, self.campaign_id, states=[ItemState.READY],
                         limit=free + len(self._downloads))
        for item in ready:
            if free <= 0:
                break
            if item.item_id in self._downloads:
                continue
            job = self._jobs.get(item.job_id or "")
            if job is None or not job.succeeded:
                continue
            self._set(item, ItemState.DOWNLOADING)
            moving = CampaignItem(item.item_id, item.archive_id, item.path, item.size,
                                  item.tree_hash, ItemState.DOWNLOADING, item.reason,
                                  item.job_id, item.verified_at, item.attempts)
            task = asyncio.create_task(self._download(moving, job))
            self._downloads[item.item_id] = task
            task.add_done_callback(functools.partial(self._download_ended, item.item_id))
            free -= 1

    def _download_ended(self, item_id: int, _task: object) -> None:
        self._downloads.pop(item_id, None)
        self._download_done.pop(item_id, None)

    async def _download(self, item: CampaignItem, job: Job) -> None:
        opts = self.options
        full = self.info.byte_range is None
        expected = (item.tree_hash if full and item.tree_hash else job.expected_tree_hash)
        dest = Path()
        try:
            if opts.sink is None:
                dest = await asyncio.to_thread(self._target, item.path)
        except (UnsafePathError, OSError) as exc:
            self._set(item, ItemState.FAILED, reason=inert(str(exc)))
            return
        result: DownloadResult | SinkResult
        try:
            if opts.sink is not None:
                result = await opts.sink.deliver(self.info, item, job, self._on_transfer)
            else:
                result = await download_job_output(
                    self.client, self.info.vault, job, dest, segment_size=opts.segment_size,
                    concurrency=opts.segment_concurrency, on_progress=self._on_transfer,
                    transfer_id=str(item.item_id),
                )
        except TargetExists:
            await self._compare_existing(item, dest, expected)
            return
        except errors.JobOutputExpired:
            self._again(item, "the job's output expired before it was fetched")
            return
        except errors.JobOutputNotReady:
            self._set(item, ItemState.REQUESTED)
            self._whole_due = True  # awaited again, and its job may be older than the listing
            return
        except VerificationFailed as exc:
            self._again(item, inert(exc.user_message()), spent=exc.output_at_fault)
            return
        except (UnsafeFileError, UnsafePathError) as exc:
            self._set(item, ItemState.FAILED, reason=inert(exc.user_message()))
            return
        except SinkRefused as exc:
            self._set(item, ItemState.SKIPPED, reason=inert(exc.detail))
            return
        except _FATAL:
            self._set(item, ItemState.READY)
            raise
        except errors.GlacierError as exc:
            self._transient += 1
            self._set(item, ItemState.READY, reason=inert(exc.user_message()))
            if self._transient >= _MAX_TRANSIENT:
                raise
            return
        self._transient = 0
        self._downloaded_run += result.bytes
        self._cost[2] += result.bytes
        db.add_downloaded(self.store, self.campaign_id, result.bytes)
        if expected and result.tree_hash != expected.lower():
            self._set(item, ItemState.FAILED,
                      reason=f"downloaded tree hash {result.tree_hash} differs from the "
                      f"inventory's {expected}")
            return
        reason = result.reason if isinstance(result, SinkResult) else ""
        self._set(item, ItemState.VERIFIED, reason=reason, verified_at=time.time())

    def _target(self, relative: str) -> Path:
        return safe_download_path(Path(self.info.destination).expanduser(), relative)

    async def _compare_existing(self, item: CampaignItem, dest: Path,
                                expected: str | None) -> None:
        try:
            digest = await asyncio.to_thread(tree_hash_file, dest, threads=1)
        except OSError as exc:
            self._set(item, ItemState.SKIPPED, reason=f"cannot read the file there: {exc}")
            return
        if expected and digest == expected.lower():
            self._set(item, ItemState.VERIFIED, reason="already verified",
                      verified_at=time.time())
        else:
            self._set(item, ItemState.SKIPPED, reason="a different file is already there")


async def run_campaign(
    client: GlacierClient,
    store: Store,
    campaign_id: int,
    *,
    options: EngineOptions | None = None,
    on_progress: CampaignProgressCallback | None = None,
    on_item: CampaignItemCallback | None = None,
) -> CampaignInfo:
    """``CampaignRunner(...).run()`` in one call."""
    return await CampaignRunner(client, store, campaign_id, options=options,
                                on_progress=on_progress, on_item=on_item).run()

