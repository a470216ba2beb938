"""Parallel, verified, resumable downloads of job output.

The output is split into tree-hash-aligned segments fetched with ranged GetJobOutput
requests; each is verified against ``x-amz-sha256-tree-hash`` and the combined hash
against the job's, and its bytes go into ``<final>.part`` at their offsets.
``<final>.part.journal`` records verified segments, so a killed run resumes with only
the missing ones. The final file appears (atomic rename) only after the whole-file
hash matches. Also here: naming a job's output (:func:`default_output_name`) and
reading an archive's description from its retrieval job.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import shutil
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from glacier_tui.glacier import errors, safe_files
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.descriptions import decode_description
from glacier_tui.glacier.download_checks import (
    check_segment_response,
    parse_content_range,
    total_from_probe,
)
from glacier_tui.glacier.download_files import (
    DownloadPaths,
    check_part_unchanged,
    check_target,
    lock_download,
    prepare_part_file,
    rename_into_place,
)
from glacier_tui.glacier.journal import DownloadJournal, atomic_write_json, remove_quietly
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.paths import sanitize_relative_name
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.transfer_common import (
    DEFAULT_CONCURRENCY,
    DEFAULT_STALL_TIMEOUT,
    STALL_MIN_BYTES,
    DiskFull,
    InvalidTransferSettings,
    OutputChanged,
    ProgressCallback,
    Stalled,
    TransferError,
    TransferKind,
    TransferState,
    VerificationFailed,
    _check_concurrency,
    _check_segment_size,
    _Mismatch,
    _retrying,
    _run_pool,
    _Stalled,
    _Tracker,
)
from glacier_tui.glacier.transfer_files import _hash_and_write
from glacier_tui.glacier.treehash import MIB, combine_hex, fold

DEFAULT_SEGMENT_SIZE = 32 * MIB
# Bytes handed to a writer thread at once: a multiple of the 1 MiB leaf so each
# block hashes into whole leaves (segments start on MiB boundaries).
WRITE_BLOCK = 4 * MIB


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    bytes: int
    tree_hash: str
    segments_fetched: int
    segments_reused: int
    # True only when the bytes renamed into place were checked against a tree hash
    # (the job's, for the whole output, or the endpoint's, for every segment).
    verified: bool = True
    verification: str = ""  # one sentence: what was checked, or why nothing was


# Kept importable under the old names.
_parse_content_range = parse_content_range


def _part_paths(dest: Path) -> tuple[Path, Path]:
    paths = DownloadPaths.of(dest)
    return paths.part, paths.journal


def _output_not_ready(job: Job) -> errors.JobOutputNotReady:
    if job.failed:
        return errors.JobOutputNotReady(
            f"job {job.job_id} failed ({job.status_message or 'no reason given'})",
            hint="A Failed job has no output: initiate the retrieval job again.",
        )
    return errors.JobOutputNotReady(
        f"job {job.job_id} is {job.status_code or 'not finished'}",
        hint="Wait until the job has Succeeded (archive retrievals take hours), then "
        "download it; its output stays available for about 24 hours.",
    )


def _expired(exc: errors.GlacierError, job: Job) -> errors.GlacierError:
    if isinstance(exc, errors.JobOutputExpired):
        return errors.JobOutputExpired(
            f"job {job.job_id} and its output are gone",
            code=exc.code, status=exc.status, operation=exc.operation,
            hint="Job outputs live about 24 hours after the job completes: initiate the "
            "retrieval job again and download it within that window. Downloaded data "
            "is kept only for this job id.",
        )
    return exc


async def _probe_total(client: GlacierClient, vault: str, job_id: str) -> int:
    """Learn the output size from ``Content-Range`` of a one-byte request."""
    async with client.job_output(vault, job_id, byte_range=(0, 0)) as stream:
        total = total_from_probe(stream.info)
    if total is None:
        raise TransferError(
            "the size of the job output is unknown (no InventorySizeInBytes and no "
            "Content-Range total)",
            hint="Describe the job again once it has Succeeded and retry.",
        )
    return total


def _free_space(path: Path) -> int:
    return shutil.disk_usage(path).free


def _kept(journal: DownloadJournal, part_path: Path) -> str:
    """What a failed run leaves for the next one, in words."""
    done = sum(min(journal.segment_size, journal.total - i * journal.segment_size)
               for i in journal.segments)
    if not journal.segments:
        return f"nothing downloaded is kept in {part_path.name}"
    return (f"{len(journal.segments)} complete segment(s), {done:,} bytes, are kept in "
            f"{part_path.name} and are hashed again before they are reused")


def _verification(journal: DownloadJournal, n_segments: int,
                  expected: str | None) -> tuple[bool, str]:
    unchecked = len(journal.unchecked & set(range(n_segments)))
    if expected is not None:
        return True, "verified: the whole output matches the job's tree hash"
    if not unchecked:
        return True, ("verified: every segment matches the x-amz-sha256-tree-hash the "
                      "endpoint sent (the job gives no hash for the whole output)")
    return False, (f"not verified: the endpoint sent no x-amz-sha256-tree-hash for "
                   f"{unchecked} of {n_segments} segment(s) and the job gives no tree hash "
                   "for the whole output")


async def download_job_output(
    client: GlacierClient,
    vault: str,
    job: Job,
    dest: Path,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    free_space: Callable[[Path], int] = _free_space,
    max_retries: int = 5,
    retry_delay: float = 0.5,
    transfer_id: str | None = None,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
) -> DownloadResult:
    """Download a job's output to ``dest``, verified, in parallel, resumable.

    Raises ``GlacierError`` subclasses: :class:`TargetExists`, :class:`DiskFull`,
    :class:`VerificationFailed`, :class:`Stalled`, :class:`NotGlacierResponse`,
    :class:`OutputChanged`, ``LockedError`` (another run downloads the same target),
    ``UnsafeFileError``, ``JobOutputExpired``, ``JobOutputNotReady``, ...
    On failure or cancellation ``<dest>.part`` and its journal stay consistent.
    ``stall_timeout``: seconds a segment's body may go without bringing
    ``STALL_MIN_BYTES`` before the segment is dropped and fetched again.
    """
    _check_segment_size(segment_size)
    _check_concurrency(concurrency)
    if not stall_timeout > 0:
        raise InvalidTransferSettings(f"stall timeout {stall_timeout} must be above 0 s")
    dest = Path(dest)
    tracker = _Tracker(TransferKind.DOWNLOAD, dest.name, job.output_size or 0, on_progress,
                       transfer_id)
    tracker.set_state(TransferState.QUEUED)
    try:
        result = await _download(
            client, vault, job, dest, tracker, segment_size=segment_size,
            concurrency=concurrency, overwrite=overwrite, free_space=free_space,
            max_retries=max_retries, retry_delay=retry_delay, stall_timeout=stall_timeout,
        )
    except (asyncio.CancelledError, KeyboardInterrupt):
        tracker.set_state(TransferState.CANCELLED, "cancelled; run again to resume")
        raise
    except errors.GlacierError as exc:
        final = _expired(exc, job)
        tracker.set_state(TransferState.FAILED, final.user_message())
        if final is exc:
            raise
        raise final from None
    tracker.set_state(TransferState.DONE, result.verification)
    return result


async def _download(
    client: GlacierClient,
    vault: str,
    job: Job,
    dest: Path,
    tracker: _Tracker,
    *,
    segment_size: int,
    concurrency: int,
    overwrite: bool,
    free_space: Callable[[Path], int],
    max_retries: int,
    retry_delay: float,
    stall_timeout: float,
) -> DownloadResult:
    if not job.succeeded:
        raise _output_not_ready(job)
    paths = DownloadPaths.of(dest)
    # Before anything is created: a refused target leaves no trace.
    await asyncio.to_thread(check_target, dest, overwrite)

    total = job.output_size
    if total is None:
        total = await _retrying(lambda: _probe_total(client, vault, job.job_id),
                                max_retries=max_retries, base_delay=retry_delay)
    tracker.total = total
    expected = job.expected_tree_hash if job.is_archive_retrieval else None
    if expected is not None:
        expected = expected.lower()
    fresh = DownloadJournal(job.job_id, vault, total, segment_size, expected)

    # Held to the end, rename included: a second run stops here, naming our pid.
    lock = await asyncio.to_thread(lock_download, paths)
    try:
        with safe_files.dir_fd(dest.parent) as dfd:
            return await _download_locked(
                client, vault, job, paths, dfd, fresh, tracker, concurrency=concurrency,
                overwrite=overwrite, free_space=free_space, max_retries=max_retries,
                retry_delay=retry_delay, stall_timeout=stall_timeout,
            )
    finally:
        lock.release(remove=True)  # a few syscalls; must run even when cancelled


async def _download_locked(
    client: GlacierClient,
    vault: str,
    job: Job,
    paths: DownloadPaths,
    dfd: int,
    fresh: DownloadJournal,
    tracker: _Tracker,
    *,
    concurrency: int,
    overwrite: bool,
    free_space: Callable[[Path], int],
    max_retries: int,
    retry_delay: float,
    stall_timeout: float,
) -> DownloadResult:
    part_path, journal_path = paths.part, paths.journal
    total, segment_size, expected = fresh.total, fresh.segment_size, fresh.expected_hash
    n_segments = -(-total // segment_size)
    tracker.set_state(TransferState.VERIFYING, "checking data from an earlier run")
    fd, journal, reused_bytes, note = await asyncio.to_thread(
        prepare_part_file, dfd, paths, fresh
    )
    reused = len(journal.segments)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="download")
    loop = asyncio.get_running_loop()
    journal_lock = asyncio.Lock()
    fetched = 0
    spare: list[bytearray] = []  # at most 2 × concurrency blocks of WRITE_BLOCK

    async def save_journal() -> None:
        async with journal_lock:
            await asyncio.to_thread(atomic_write_json, journal_path, journal.to_json())

    async def discard_all() -> None:
        journal.segments.clear()
        journal.unchecked.clear()
        await save_journal()

    try:
        needed = total - reused_bytes
        free = free_space(part_path.parent)
        if free < needed:
            raise DiskFull(
                f"{needed:,} bytes are needed in {part_path.parent} but only {free:,} are free"
            )
        tracker.baseline(reused_bytes)
        tracker.set_state(TransferState.RUNNING, note)
        pending: deque[int] = deque(i for i in range(n_segments) if i not in journal.segments)

        async def fetch_segment(index: int) -> tuple[str, bool]:
            """(tree hash, whether the endpoint's x-amz-sha256-tree-hash confirmed it)."""
            start = index * segment_size
            end = min(start + segment_size, total) - 1
            length = end - start + 1
            counted = 0

            async def attempt() -> tuple[str, bool]:
                nonlocal counted
                tracker.add(-counted)  # a retry starts the segment over
                counted = 0
                leaves: list[bytes] = []
                async with client.job_output(vault, job.job_id, byte_range=(start, end)) as stream:
                    info = stream.info
                    # Before a byte is written: the answer must be this range of this output.
                    check_segment_response(info, start, end, total)
                    stream.widen_read_buffer(2 * WRITE_BLOCK)
                    # Pieces are copied once into one of two blocks; a worker thread
                    # hashes and writes a full block while the other one fills.
                    # Blocks are reused across segments: touching fresh memory costs more
                    # than copying into warm memory.
                    blocks = [spare.pop() if spare else bytearray(WRITE_BLOCK) for _ in range(2)]
                    current, filled = 0, 0
                    pos = start  # file offset of the current block
                    pending: asyncio.Future[list[bytes]] | None = None

                    async def flush() -> None:
                        nonlocal pending, current, filled, pos, counted
                        if pending is not None:
                            leaves.extend(await pending)
                            pending = None
                        if filled:
                            view = memoryview(blocks[current])[:filled]
                            pending = loop.run_in_executor(pool, _hash_and_write, fd, view, pos)
                            pos += filled
                            counted += filled
                            tracker.add(filled)
                            current, filled = 1 - current, 0

                    try:
                        # The stall deadline: each window of stall_timeout seconds spent
                        # waiting on the network must bring STALL_MIN_BYTES (or the rest).
                        async with asyncio.timeout(stall_timeout) as deadline:
                            window = 0
                            async for piece in stream.pieces():
                                if pos + filled + len(piece) > end + 1:
                                    raise _Mismatch(
                                        f"the body runs past the {length:,} bytes asked for"
                                    )
                                window += len(piece)
                                if window >= min(STALL_MIN_BYTES, end + 1 - pos - filled):
                                    deadline.reschedule(loop.time() + stall_timeout)
                                    window = 0
                                view = memoryview(piece)
                                while view:
                                    block = blocks[current]
                                    take = min(len(view), len(block) - filled)
                                    block[filled : filled + take] = view[:take]
                                    filled += take
                                    view = view[take:]
                                    if filled == len(block):
                                        deadline.reschedule(None)  # disk time is not a stall
                                        await flush()
                                        deadline.reschedule(loop.time() + stall_timeout)
                            deadline.reschedule(None)
                            await flush()
                            await flush()  # collect the last block's leaves
                    except TimeoutError:
                        if deadline.expired():
                            raise _Stalled(
                                f"less than {STALL_MIN_BYTES:,} bytes arrived in "
                                f"{stall_timeout:g} s"
                            ) from None
                        raise
                    finally:
                        if pending is not None:  # cancelled or failed: let the thread finish
                            with contextlib.suppress(BaseException):
                                await asyncio.shield(pending)
                        if pending is None or pending.done():  # no thread uses them now
                            spare.extend(blocks)
                if pos != end + 1:
                    raise _Mismatch(f"the body ended after {pos - start:,} of {length:,} bytes")
                digest = fold(leaves).hex()
                if info.checksum and info.checksum.lower() != digest:
                    raise _Mismatch(
                        f"tree hash {digest} != x-amz-sha256-tree-hash "
                        f"{inert(info.checksum)[:80]}"
                    )
                return digest, bool(info.checksum)

            def note_retry(attempt_no: int, exc: BaseException) -> None:
                tracker.message = f"segment {index}: retry {attempt_no} ({exc})"

            try:
                return await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay,
                                       on_retry=note_retry)
            except _Stalled as exc:
                tracker.add(-counted)
                raise Stalled(
                    f"segment {index} (bytes {start}-{end}) stalled in each of "
                    f"{max_retries + 1} attempts: {exc}; {_kept(journal, part_path)}",
                    hint="Run the same command again to resume; if the endpoint stays this "
                    "slow, check the network path to it.",
                ) from None
            except _Mismatch as exc:
                tracker.add(-counted)
                raise VerificationFailed(
                    f"segment {index} (bytes {start}-{end}) still failed after "
                    f"{max_retries + 1} attempts: {exc}; {_kept(journal, part_path)}",
                    hint="Run again to resume. If it keeps failing, initiate the retrieval "
                    "job again.",
                ) from None
            except errors.GlacierError:
                tracker.add(-counted)
                raise

        async def fetch_and_record(index: int) -> None:
            nonlocal fetched
            digest, checked = await fetch_segment(index)
            # Only now, with the bytes written (and verified if the endpoint sent a
            # tree hash), is the segment done.
            journal.segments[index] = digest
            if checked:
                journal.unchecked.discard(index)
            else:
                journal.unchecked.add(index)
            fetched += 1
            await save_journal()

        try:
            await _run_pool(pending, concurrency, fetch_and_record)
        except OutputChanged as exc:
            await discard_all()  # the kept segments may belong to the other output
            raise OutputChanged(f"{exc.detail}; nothing downloaded so far is kept") from None

        tracker.set_state(TransferState.VERIFYING, "checking the whole-file tree hash")
        digest = combine_hex(journal.segments[i] for i in range(n_segments)) if n_segments else (
            hashlib.sha256(b"").hexdigest()
        )
        if expected is not None and digest != expected:
            # Every segment passed its own checks, yet the whole is wrong: start over.
            unchecked = len(journal.unchecked & set(range(n_segments)))
            await discard_all()
            why = (f" ({unchecked} segment(s) came without a tree hash, so which bytes "
                   "are wrong is unknown)" if unchecked else "")
            raise VerificationFailed(
                f"the tree hash of the whole output is {digest}, the job says {expected}"
                f"{why}; nothing downloaded is kept",
                hint="Run again to download it afresh; if that fails too, initiate the "
                "retrieval job again.",
            )
        verified, verification = _verification(journal, n_segments, expected)

        def finish() -> None:
            # With the lock held: the bytes renamed are the ones written and hashed.
            check_part_unchanged(fd, dfd, paths, total)
            os.fsync(fd)
            rename_into_place(dfd, paths, overwrite)
            remove_quietly(journal_path)

        await asyncio.to_thread(finish)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                f"the disk filled up while writing {part_path} ({exc.strerror or exc}); "
                f"{_kept(journal, part_path)}",
                hint="Free some space and run the same command again.",
            ) from None
        raise TransferError(f"cannot write {part_path}: {exc.strerror or exc}") from None
    finally:
        # Writer threads may still be running after a cancel: let them finish
        # before the descriptor is closed (its number could be reused).
        pool.shutdown(wait=True)
        os.close(fd)
    return DownloadResult(paths.final, total, digest, fetched, reused, verified, verification)


async def fetch_archive_description(client: GlacierClient, vault: str, job: Job) -> str | None:
    """The archive description of an archive-retrieval job, read from a one-byte request."""
    if not job.is_archive_retrieval or not job.succeeded:
        return None

    async def probe() -> str | None:
        async with client.job_output(vault, job.job_id, byte_range=(0, 0)) as stream:
            return stream.info.archive_description

    try:
        return await _retrying(probe, max_retries=5, base_delay=0.5)
    except errors.GlacierError as exc:
        raise _expired(exc, job) from None


def default_output_name(job: Job, vault: str, description: str | None) -> str:
    """A relative file name for a job's output: from the description, else a fallback."""
    if job.is_inventory_retrieval:
        fmt = (job.inventory_parameters.format if job.inventory_parameters else "JSON").lower()
        when = job.completion_date or job.creation_date or datetime.now(UTC)
        ext = "csv" if fmt == "csv" else "json"
        return sanitize_relative_name(f"inventory-{vault}-{when:%Y%m%dT%H%M%SZ}.{ext}") or (
            f"inventory.{ext}"
        )
    if description:
        decoded = decode_description(description, job.archive_id or job.job_id)
        if decoded.source not in ("empty", "error"):
            name = sanitize_relative_name(decoded.path)
            if name:
                return name
    return sanitize_relative_name(f"{job.job_id}.bin") or "archive.bin"
