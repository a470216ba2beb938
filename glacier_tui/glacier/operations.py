"""Operations the CLI and the TUI both run, with typed progress callbacks.

- :func:`delete_archives`: DeleteArchive for many archives, a few at a time;
- :func:`resolve_archives`: marked archives and folders expanded to archives (the store);
- :func:`initiate_retrievals`: one archive-retrieval job per archive, gently paced;
- :func:`load_jobs`: the jobs of several vaults, listed a few vaults at a time;
- :func:`job_archive_names`: names for archive-retrieval jobs from the cached inventory;
- :func:`download_target` / :func:`download_output`: where a job's output goes, and
  the verified download itself.

No Textual here: callers render the progress (the TUI posts messages, the CLI prints).
Blocking store reads are plain functions; callers run them in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.downloads import (
    DEFAULT_SEGMENT_SIZE,
    DownloadResult,
    default_output_name,
    download_job_output,
    fetch_archive_description,
)
from glacier_tui.glacier.errors import GlacierError, ResourceNotFound
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.paths import safe_download_path
from glacier_tui.glacier.safe_files import ensure_dir
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.transfer_common import (
    DEFAULT_CONCURRENCY,
    DEFAULT_STALL_TIMEOUT,
    ProgressCallback,
)

__all__ = [
    "ArchiveTarget",
    "DeleteOutcome",
    "DeleteProgress",
    "RetrievalOutcome",
    "RetrievalRequest",
    "Selected",
    "delete_archives",
    "download_output",
    "download_target",
    "error_text",
    "initiate_retrievals",
    "job_archive_names",
    "load_jobs",
    "ready_retrievals",
    "resolve_archives",
]

log = logging.getLogger("glacier_tui.glacier.operations")

DELETE_CONCURRENCY = 4  # DeleteArchive requests in flight at once
RETRIEVAL_CONCURRENCY = 4  # InitiateJob requests in flight at once
RETRIEVAL_SPACING = 0.05  # seconds between InitiateJob starts: be gentle with the API
LIST_JOBS_CONCURRENCY = 4  # vaults whose jobs are listed at once


def error_text(exc: BaseException) -> str:
    """One safe line for a failure: a GlacierError's own message with its hint, else its type."""
    if isinstance(exc, GlacierError):
        return exc.user_message()
    return inert(f"{type(exc).__name__}: {exc}")


def _failure(path: str, exc: BaseException) -> str:
    return f"{inert(path)}: {error_text(exc)}"


@dataclass(frozen=True)
class ArchiveTarget:
    """One archive to act on: its vault, id, decoded path and size (None: unknown)."""

    vault: str
    archive_id: str
    path: str
    size: int | None = None

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


# -- deleting ------------------------------------------------------------------------------

DeleteState = Literal["running", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class DeleteProgress:
    """Where a :func:`delete_archives` run is; the last report has a final ``state``."""

    total: int
    deleted: int
    deleted_bytes: int
    failed: int
    state: DeleteState = "running"


@dataclass
class DeleteOutcome:
    """What a finished :func:`delete_archives` run did."""

    total: int
    deleted: list[str] = field(default_factory=list)  # archive ids (gone already counts)
    deleted_bytes: int = 0
    failures: list[str] = field(default_factory=list)  # "path: reason", safe to show


async def delete_archives(
    client: GlacierClient,
    vault: str,
    targets: Sequence[ArchiveTarget],
    *,
    concurrency: int = DELETE_CONCURRENCY,
    on_progress: Callable[[DeleteProgress], None] | None = None,
    record: Callable[[list[str]], None] | None = None,
) -> DeleteOutcome:
    """DeleteArchive for each target, at most ``concurrency`` at once.

    An archive already gone (ResourceNotFound) counts as deleted. Whatever happens
    (failures, cancellation), ``record`` is called once, in a thread, with the ids
    deleted (callers drop them from the cached inventory), and the last progress
    report carries the final state.
    """
    outcome = DeleteOutcome(total=len(targets))
    pending = iter(targets)
    every = max(1, min(25, len(targets) // 20))

    def report(state: DeleteState = "running") -> None:
        if on_progress is not None:
            on_progress(DeleteProgress(outcome.total, len(outcome.deleted),
                                       outcome.deleted_bytes, len(outcome.failures), state))

    async def one_by_one() -> None:
        for target in pending:
            try:
                await client.delete_archive(vault, target.archive_id)
            except ResourceNotFound:
                pass  # deleted already (here or elsewhere): done
            except Exception as exc:
                outcome.failures.append(_failure(target.path, exc))
                continue
            outcome.deleted.append(target.archive_id)
            outcome.deleted_bytes += target.size or 0
            if len(outcome.deleted) % every == 0:
                report()

    state: DeleteState = "done"
    try:
        await asyncio.gather(*(one_by_one() for _ in range(min(concurrency, len(targets)))))
    except asyncio.CancelledError:
        state = "cancelled"
        raise
    finally:
        if outcome.failures and state == "done":
            state = "failed"
        report(state)
        if outcome.deleted and record is not None:
            try:
                await asyncio.to_thread(record, list(outcome.deleted))
            except Exception as exc:  # the deletions happened; only the cache is stale
                log.warning("recording deleted archives of %s: %s", vault, exc)
    return outcome


def forget_archives(store: Store, vault_key: str, archive_ids: Iterable[str]) -> int:
    """Drop deleted archives from a vault's cached inventory, if it has one (blocking)."""
    if store.current_snapshot_id(vault_key) is None:
        return 0
    return store.remove_archives(vault_key, archive_ids)


# -- restoring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Selected:
    """A marked archive or folder (``path`` "" is the vault's root)."""

    kind: Literal["archive", "folder"]
    vault: str
    path: str
    archive_id: str = ""
    size: int | None = None


def resolve_archives(
    store: Store, selection: Iterable[Selected], vault_keys: Mapping[str, str]
) -> list[ArchiveTarget]:
    """Marked archives, and every archive in (or below) the marked folders, once each.

    ``vault_keys`` maps a vault name to its store key; vaults not in it are skipped.
    Blocking (reads the store): run it in a thread.
    """
    out: list[ArchiveTarget] = []
    seen: set[str] = set()
    for item in selection:
        key = vault_keys.get(item.vault)
        if key is None:
            continue
        if item.kind == "archive":
            if item.archive_id not in seen:
                seen.add(item.archive_id)
                out.append(ArchiveTarget(item.vault, item.archive_id, item.path, item.size))
            continue
        prefix = item.path
        for row in store.iter_archives(key):
            if prefix and row.folder != prefix and not row.folder.startswith(prefix + "/"):
                continue
            if row.archive_id not in seen:
                seen.add(row.archive_id)
                out.append(ArchiveTarget(item.vault, row.archive_id, row.path, row.size))
    return out


@dataclass(frozen=True)
class RetrievalRequest:
    """The options of an archive retrieval (tier, optional range, topic, description)."""

    tier: str
    byte_range: tuple[int, int] | None = None  # inclusive, MiB-aligned
    sns_topic: str | None = None
    description: str | None = None


@dataclass
class RetrievalOutcome:
    started: list[tuple[ArchiveTarget, Job]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "path: reason", safe to show


async def initiate_retrievals(
    client: GlacierClient,
    targets: Sequence[ArchiveTarget],
    request: RetrievalRequest,
    *,
    concurrency: int = RETRIEVAL_CONCURRENCY,
    spacing: float = RETRIEVAL_SPACING,
    on_started: Callable[[ArchiveTarget, Job], None] | None = None,
) -> RetrievalOutcome:
    """Initiate one archive-retrieval job per target; report each job as it starts.

    Starts are spaced (``spacing`` seconds per ``concurrency`` requests) so that a large
    selection does not burst the API; a failure is recorded and the rest go on.
    """
    outcome = RetrievalOutcome()
    sem = asyncio.Semaphore(concurrency)

    async def one(index: int, target: ArchiveTarget) -> None:
        await asyncio.sleep(spacing * index / concurrency)
        async with sem:
            try:
                job_id = await client.initiate_archive_retrieval(
                    target.vault, target.archive_id, tier=request.tier,
                    byte_range=request.byte_range, sns_topic=request.sns_topic,
                    description=request.description)
                job = await client.describe_job(target.vault, job_id)
            except Exception as exc:
                outcome.failures.append(_failure(target.path, exc))
                return
            outcome.started.append((target, job))
            if on_started is not None:
                on_started(target, job)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))
    return outcome


# -- jobs ----------------------------------------------------------------------------------


@dataclass
class JobListing:
    """Jobs of the vaults listed whole (``listed``); ``errors`` for the others."""

    jobs: list[Job] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


async def load_jobs(
    list_jobs: Callable[[str], Awaitable[list[Job]]],
    vault_names: Sequence[str],
    *,
    concurrency: int = LIST_JOBS_CONCURRENCY,
) -> JobListing:
    """List the jobs of each vault (``concurrency`` vaults at once) with ``list_jobs``.

    A vault whose listing fails is left out of ``listed`` (its jobs are not known to be
    gone) and its error kept; the other vaults' jobs are still returned.
    """
    sem = asyncio.Semaphore(concurrency)
    listing = JobListing()

    async def one(name: str) -> None:
        async with sem:
            listing.jobs.extend(await list_jobs(name))
            listing.listed.append(name)

    results = await asyncio.gather(*(one(n) for n in vault_names), return_exceptions=True)
    listing.errors = [r for r in results if isinstance(r, BaseException)]
    return listing


def job_archive_names(
    store: Store, jobs: Iterable[Job], vault_keys: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Job id -> archive path for archive-retrieval jobs, from ``known`` or the store.

    Blocking (reads the store): run it in a thread.
    """
    names: dict[str, str] = {}
    known = known or {}
    for job in jobs:
        if not job.archive_id:
            continue
        if job.archive_id in known:
            names[job.job_id] = known[job.archive_id]
            continue
        key = vault_keys.get(job.vault_name)
        if key is None:
            continue
        try:
            row = store.get_archive(key, job.archive_id)
        except KeyError:  # no cached inventory for the vault
            continue
        if row is not None:
            names[job.job_id] = row.path
    return names


# -- downloading ---------------------------------------------------------------------------


def ready_retrievals(
    jobs: Iterable[Job], archive_ids: Iterable[str], now: datetime
) -> dict[str, Job]:
    """archive id -> the job whose output can be downloaded now: succeeded, whole archive,
    output not yet expired; the most recently completed one when there are several."""
    wanted = set(archive_ids)
    out: dict[str, Job] = {}
    for job in jobs:
        if not (job.is_archive_retrieval and job.succeeded and job.archive_id in wanted):
            continue
        expires = job.output_expires
        if not job.is_full_archive or expires is None or expires <= now:
            continue
        best = out.get(job.archive_id)
        if best is None or (best.completion_date or now) < (job.completion_date or now):
            out[job.archive_id] = job
    return out


async def download_target(
    client: GlacierClient, vault: str, job: Job, directory: Path, known_name: str | None = None
) -> tuple[str, Path]:
    """The name to show and the path to write for a job's output inside ``directory``.

    The name is ``known_name`` (an archive path from the inventory) or else comes from
    the archive's description (fetched); the path never leaves ``directory``.
    """
    name = known_name
    if not name:
        description = await fetch_archive_description(client, vault, job)
        name = default_output_name(job, vault, description)
    return name, await asyncio.to_thread(safe_download_path, directory, name)


async def download_output(
    client: GlacierClient,
    vault: str,
    job: Job,
    dest: Path,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    transfer_id: str | None = None,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
) -> DownloadResult:
    """Download a job's output to ``dest`` (its folder made if missing), verified, resumable."""
    await asyncio.to_thread(ensure_dir, dest.parent, private=False)
    return await download_job_output(
        client, vault, job, dest, segment_size=segment_size, concurrency=concurrency,
        overwrite=overwrite, on_progress=on_progress, transfer_id=transfer_id,
        stall_timeout=stall_timeout)
