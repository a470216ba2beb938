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

from glacier_tui.glacier import errors
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.descriptions import decode_description
from glacier_tui.glacier.journal import DownloadJournal, atomic_write_json, remove_quietly
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.paths import sanitize_relative_name
from glacier_tui.glacier.transfer_common import (
    DEFAULT_CONCURRENCY,
    DiskFull,
    ProgressCallback,
    TargetExists,
    TransferError,
    TransferKind,
    TransferState,
    VerificationFailed,
    _check_concurrency,
    _check_segment_size,
    _Mismatch,
    _retrying,
    _run_pool,
    _Tracker,
)
from glacier_tui.glacier.transfer_files import _file_tree_hash, _fsync_dir, _hash_and_write
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


def _parse_content_range(value: str) -> tuple[int, int, int | None] | None:
    """``bytes S-E/T`` (T may be ``*``) → (S, E, T or None)."""
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    rng, _, total = spec.partition("/")
    first, _, last = rng.partition("-")
    try:
        return int(first), int(last), (None if total.strip() in ("", "*") else int(total))
    except ValueError:
        return None


def _part_paths(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.journal")


def _check_target(dest: Path, overwrite: bool) -> None:
    if dest.is_dir():
        raise TargetExists(f"{dest} is a directory", hint="Give a file name with -o.")
    if (dest.exists() or dest.is_symlink()) and not overwrite:
        raise TargetExists(str(dest))


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
        info = stream.info
    parsed = _parse_content_range(info.content_range or "")
    if parsed is None or parsed[2] is None:
        raise TransferError(
            "the size of the job output is unknown (no InventorySizeInBytes and no "
            "Content-Range total)",
            hint="Describe the job again once it has Succeeded and retry.",
        )
    return parsed[2]


def _prepare_part_file(
    part_path: Path, journal_path: Path, fresh: DownloadJournal
) -> tuple[int, DownloadJournal, int]:
    """Open ``.part``; keep the journal's segments only if they still hash right on disk.

    Returns (fd, journal, reused bytes). Runs in a thread: it may read a lot.
    """
    part_path.parent.mkdir(parents=True, exist_ok=True)
    journal = DownloadJournal.load(journal_path)
    fd = os.open(part_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if journal is None or not journal.matches(fresh):
            os.ftruncate(fd, 0)
            journal = DownloadJournal(
                fresh.job_id, fresh.vault, fresh.total, fresh.segment_size, fresh.expected_hash
            )
            atomic_write_json(journal_path, journal.to_json())
            return fd, journal, 0
        size = os.fstat(fd).st_size
        reused = 0
        for index, recorded in sorted(journal.segments.items()):
            start = index * journal.segment_size
            length = min(journal.segment_size, journal.total - start)
            ok = start + length <= size and length > 0
            if ok:
                try:
                    ok = _file_tree_hash(fd, start, length) == recorded
                except _Mismatch:
                    ok = False
            if ok:
                reused += length
            else:  # damaged or never flushed: fetch it again
                del journal.segments[index]
        return fd, journal, reused
    except BaseException:
        os.close(fd)
        raise


def _free_space(path: Path) -> int:
    return shutil.disk_usage(path).free


def _disk_full(exc: OSError, part_path: Path, done: int) -> DiskFull:
    return DiskFull(
        f"the disk filled up while writing {part_path} ({exc.strerror or exc})",
        hint=f"Free some space and run again: the {done:,} verified bytes in "
        f"{part_path.name} are kept and will not be fetched again.",
    )


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
) -> DownloadResult:
    """Download a job's output to ``dest``, verified, in parallel, resumable.

    Raises ``GlacierError`` subclasses: :class:`TargetExists`, :class:`DiskFull`,
    :class:`VerificationFailed`, ``JobOutputExpired``, ``JobOutputNotReady``, ...
    On failure or cancellation ``<dest>.part`` and its journal stay consistent.
    """
    _check_segment_size(segment_size)
    _check_concurrency(concurrency)
    dest = Path(dest)
    tracker = _Tracker(TransferKind.DOWNLOAD, dest.name, job.output_size or 0, on_progress,
                       transfer_id)
    tracker.set_state(TransferState.QUEUED)
    try:
        result = await _download(
            client, vault, job, dest, tracker, segment_size=segment_size,
            concurrency=concurrency, overwrite=overwrite, free_space=free_space,
            max_retries=max_retries, retry_delay=retry_delay,
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
    tracker.set_state(TransferState.DONE)
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
) -> DownloadResult:
    if not job.succeeded:
        raise _output_not_ready(job)
    await asyncio.to_thread(_check_target, dest, overwrite)
    part_path, journal_path = _part_paths(dest)

    total = job.output_size
    if total is None:
        total = await _retrying(lambda: _probe_total(client, vault, job.job_id),
                                max_retries=max_retries, base_delay=retry_delay)
    tracker.total = total
    expected = job.expected_tree_hash if job.is_archive_retrieval else None
    if expected is not None:
        expected = expected.lower()
    n_segments = -(-total // segment_size)
    fresh = DownloadJournal(job.job_id, vault, total, segment_size, expected)

    tracker.set_state(TransferState.VERIFYING, "checking data from an earlier run")
    fd, journal, reused_bytes = await asyncio.to_thread(
        _prepare_part_file, part_path, journal_path, fresh
    )
    reused = len(journal.segments)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="download")
    loop = asyncio.get_running_loop()
    journal_lock = asyncio.Lock()
    fetched = 0
    spare: list[bytearray] = []  # at most 2 × concurrency blocks of WRITE_BLOCK
    try:
        needed = total - reused_bytes
        free = free_space(part_path.parent)
        if free < needed:
            raise DiskFull(
                f"{needed:,} bytes are needed in {part_path.parent} but only {free:,} are free"
            )
        tracker.baseline(reused_bytes)
        tracker.set_state(TransferState.RUNNING)
        pending: deque[int] = deque(i for i in range(n_segments) if i not in journal.segments)

        async def fetch_segment(index: int) -> str:
            start = index * segment_size
            end = min(start + segment_size, total) - 1
            length = end - start + 1
            counted = 0

            async def attempt() -> str:
                nonlocal counted
                tracker.add(-counted)  # a retry starts the segment over
                counted = 0
                leaves: list[bytes] = []
                async with client.job_output(vault, job.job_id, byte_range=(start, end)) as stream:
                    stream.widen_read_buffer(2 * WRITE_BLOCK)
                    info = stream.info
                    if info.content_length is not None and info.content_length != length:
                        raise _Mismatch(f"Content-Length {info.content_length} != {length}")
                    if info.content_range:
                        parsed = _parse_content_range(info.content_range)
                        if parsed is None or parsed[:2] != (start, end) or (
                            parsed[2] is not None and parsed[2] != total
                        ):
                            raise _Mismatch(f"unexpected Content-Range {info.content_range!r}")
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
                        async for piece in stream.pieces():
                            if pos + filled + len(piece) > end + 1:
                                raise _Mismatch("more bytes than requested")
                            view = memoryview(piece)
                            while view:
                                block = blocks[current]
                                take = min(len(view), len(block) - filled)
                                block[filled : filled + take] = view[:take]
                                filled += take
                                view = view[take:]
                                if filled == len(block):
                                    await flush()
                        await flush()
                        await flush()  # collect the last block's leaves
                    finally:
                        if pending is not None:  # cancelled or failed: let the thread finish
                            with contextlib.suppress(BaseException):
                                await asyncio.shield(pending)
                        if pending is None or pending.done():  # no thread uses them now
                            spare.extend(blocks)
                if pos != end + 1:
                    raise _Mismatch(f"got {pos - start} of {length} bytes")
                digest = fold(leaves).hex()
                if info.checksum and info.checksum.lower() != digest:
                    raise _Mismatch(
                        f"tree hash {digest} != x-amz-sha256-tree-hash {info.checksum}"
                    )
                return digest

            def note_retry(attempt_no: int, exc: BaseException) -> None:
                tracker.message = f"segment {index}: retry {attempt_no} ({exc})"

            try:
                return await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay,
                                       on_retry=note_retry)
            except _Mismatch as exc:
                tracker.add(-counted)
                raise VerificationFailed(
                    f"segment {index} (bytes {start}-{end}) still failed after "
                    f"{max_retries + 1} attempts: {exc}",
                    hint=f"Verified segments are kept in {part_path.name}; run again to "
                    "resume. If it keeps failing, initiate the retrieval job again.",
                ) from None
            except errors.GlacierError:
                tracker.add(-counted)
                raise

        async def fetch_and_record(index: int) -> None:
            nonlocal fetched
            digest = await fetch_segment(index)
            # Only now, with the bytes written and verified, is the segment done.
            journal.segments[index] = digest
            fetched += 1
            async with journal_lock:
                await asyncio.to_thread(atomic_write_json, journal_path, journal.to_json())

        await _run_pool(pending, concurrency, fetch_and_record)

        tracker.set_state(TransferState.VERIFYING, "checking the whole-file tree hash")
        digest = combine_hex(journal.segments[i] for i in range(n_segments)) if n_segments else (
            hashlib.sha256(b"").hexdigest()
        )
        if expected is not None and digest != expected:
            # Every segment matched its header, yet the whole is wrong: start over next time.
            journal.segments.clear()
            await asyncio.to_thread(atomic_write_json, journal_path, journal.to_json())
            raise VerificationFailed(
                f"the tree hash of the whole output is {digest}, the job says {expected}",
                hint="Run again to download it afresh; if that fails too, initiate the "
                "retrieval job again.",
            )
        size = (await asyncio.to_thread(os.fstat, fd)).st_size
        if size != total:
            raise VerificationFailed(f"{part_path} holds {size:,} bytes, expected {total:,}")
        await asyncio.to_thread(os.fsync, fd)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _disk_full(exc, part_path, tracker.done) from None
        raise TransferError(f"cannot write {part_path}: {exc}") from None
    finally:
        # Writer threads may still be running after a cancel: let them finish
        # before the descriptor is closed (its number could be reused).
        pool.shutdown(wait=True)
        os.close(fd)

    def finish() -> None:
        if (dest.exists() or dest.is_symlink()) and not overwrite:
            raise TargetExists(f"{dest} appeared while downloading",
                               hint=f"The verified download is kept as {part_path}.")
        os.replace(part_path, dest)
        _fsync_dir(dest.parent)
        remove_quietly(journal_path)

    await asyncio.to_thread(finish)
    return DownloadResult(dest, total, digest, fetched, reused)


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
