"""Parallel, verified, resumable downloads (job output) and uploads (archives).

Downloads split the job output into tree-hash-aligned segments fetched with
ranged GetJobOutput requests, verify each against ``x-amz-sha256-tree-hash``
and the combined hash against the job's, and stream bytes into
``<final>.part`` at their offsets. ``<final>.part.journal`` records verified
segments, so a killed run resumes with only the missing ones. The final file
appears (atomic rename) only after the whole-file hash matches.

Uploads below a threshold go through UploadArchive, larger files through
multipart with parts in parallel; each part is hashed once in a worker thread
and both hashes are passed to botocore. A journal in the state directory keeps
the upload id so a killed upload resumes via ListParts.

All blocking work (file reads/writes, hashing, journal writes) runs in threads.
No Textual imports: the UI and the CLI consume :class:`TransferProgress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import os
import random
import shutil
import stat
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TypeVar, cast

from glacier_tui.glacier import errors
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.descriptions import (
    DescriptionTooLongError,
    decode_description,
    encode_mt2,
)
from glacier_tui.glacier.journal import (
    DownloadJournal,
    UploadJournal,
    atomic_write_json,
    default_journal_dir,
    remove_quietly,
    upload_journal_path,
)
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.paths import UnsafePathError, safe_download_path, sanitize_relative_name
from glacier_tui.glacier.treehash import CHUNK, MIB, combine_hex, fold

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MIN_PART_SIZE",
    "DEFAULT_SEGMENT_SIZE",
    "DEFAULT_UPLOAD_THRESHOLD",
    "MAX_CONCURRENCY",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "DescriptionError",
    "DiskFull",
    "DownloadResult",
    "FileTooLarge",
    "TargetExists",
    "TransferError",
    "TransferKind",
    "TransferProgress",
    "TransferState",
    "UnsafePathError",
    "UploadResult",
    "VerificationFailed",
    "abort_saved_upload",
    "archive_description_for",
    "choose_part_size",
    "default_output_name",
    "download_job_output",
    "fetch_archive_description",
    "safe_download_path",
    "upload_file",
]

T = TypeVar("T")

DEFAULT_SEGMENT_SIZE = 32 * MIB
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32
DEFAULT_UPLOAD_THRESHOLD = 64 * MIB
DEFAULT_MIN_PART_SIZE = 8 * MIB
MAX_PARTS = 10_000
MAX_PART_SIZE = 4096 * MIB
MAX_SINGLE_UPLOAD = 4 * 1000**3  # UploadArchive takes at most 4 GB in one request
MAX_BACKOFF = 20.0
# Bytes handed to a writer thread at once: a multiple of the 1 MiB leaf so each
# block hashes into whole leaves (segments start on MiB boundaries).
WRITE_BLOCK = 4 * MIB
# Upload parts up to this size are read into memory once and sent from there.
IN_MEMORY_PART = 16 * MIB


# -- errors -------------------------------------------------------------------


class TransferError(errors.LocalError):
    summary = "The transfer failed."
    default_hint = "Partial data is kept: run the same command again to resume."


class VerificationFailed(TransferError):
    summary = "Downloaded data failed tree-hash verification."


class TargetExists(TransferError):
    summary = "The target file already exists."
    default_hint = "Choose another name with -o, or pass --force to overwrite it."


class DiskFull(TransferError):
    summary = "Not enough disk space."
    default_hint = "Free some space and run the same command again; verified data is kept."


class DescriptionError(TransferError):
    summary = "The file name cannot be stored as an archive description."
    default_hint = (
        "Archive descriptions hold at most 1024 ASCII bytes: shorten the path, or upload "
        "from a folder closer to the file. Nothing was sent."
    )


class FileTooLarge(TransferError):
    summary = "The file is too large for a Glacier archive."
    default_hint = "A multipart archive holds at most 10,000 parts of 4 GiB (about 40 TiB)."


class InvalidTransferSettings(TransferError):
    summary = "Invalid transfer settings."
    default_hint = "Fix the option and try again; nothing was sent."


class _Mismatch(Exception):
    """Bytes arrived but are wrong (short, wrong range, bad hash): worth another try."""


# -- progress -------------------------------------------------------------------


class TransferKind(StrEnum):
    DOWNLOAD = "download"
    UPLOAD = "upload"


class TransferState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TransferProgress:
    transfer_id: str
    kind: TransferKind
    name: str
    total: int
    done: int
    rate_bps: float
    eta_s: float | None
    state: TransferState
    message: str = ""


ProgressCallback = Callable[[TransferProgress], None]


class _Tracker:
    """Bytes done, a sliding-window rate and the ETA; reports at most every ``interval``."""

    WINDOW = 5.0

    def __init__(
        self,
        kind: TransferKind,
        name: str,
        total: int,
        callback: ProgressCallback | None,
        transfer_id: str | None = None,
        interval: float = 0.1,
    ) -> None:
        self.id = transfer_id or uuid.uuid4().hex[:12]
        self.kind = kind
        self.name = name
        self.total = total
        self.done = 0
        self.state = TransferState.QUEUED
        self.message = ""
        self._callback = callback
        self._interval = interval
        self._last_emit = 0.0
        self._samples: deque[tuple[float, int]] = deque()

    def snapshot(self) -> TransferProgress:
        rate = self.rate()
        remaining = max(0, self.total - self.done)
        eta = remaining / rate if rate > 0 else (0.0 if remaining == 0 else None)
        return TransferProgress(
            self.id, self.kind, self.name, self.total, self.done, rate, eta, self.state,
            self.message,
        )

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return max(0.0, (d1 - d0) / (t1 - t0)) if t1 > t0 else 0.0

    def _emit(self, force: bool) -> None:
        now = time.monotonic()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.WINDOW:
            self._samples.popleft()
        if self._callback is None or (not force and now - self._last_emit < self._interval):
            return
        self._last_emit = now
        self._callback(self.snapshot())

    def baseline(self, done: int) -> None:
        """Bytes already there (resumed): they count as done but not towards the rate."""
        self.done = done
        self._samples.clear()
        self._samples.append((time.monotonic(), done))

    def add(self, n: int) -> None:
        self.done += n
        self._emit(force=False)

    def set_state(self, state: TransferState, message: str = "") -> None:
        self.state = state
        self.message = message
        self._emit(force=True)


# -- retries ---------------------------------------------------------------------


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, _Mismatch):
        return True
    if isinstance(exc, errors.GlacierError):
        if exc.retryable:
            return True
        # Bytes damaged in flight: the service refuses the upload; sending again heals it.
        return isinstance(exc, errors.InvalidParameterValue) and "Checksum mismatch" in exc.detail
    return False


async def _retrying(
    op: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    base_delay: float,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Run ``op``; on transient failures back off (exponential, full jitter) and retry.

    This sits on top of botocore's own retries: a connection reset mid-body or a
    corrupt segment is only visible here.
    """
    attempt = 0
    while True:
        try:
            return await op()
        except (errors.GlacierError, _Mismatch) as exc:
            if not _is_retryable(exc) or attempt >= max_retries:
                raise
            attempt += 1
            if on_retry is not None:
                on_retry(attempt, exc)
            await asyncio.sleep(random.uniform(0, min(MAX_BACKOFF, base_delay * 2**attempt)))


# -- sizes -------------------------------------------------------------------------


async def _run_pool(
    pending: deque[int], concurrency: int, process: Callable[[int], Awaitable[None]]
) -> None:
    """Process queued indices with ``concurrency`` tasks; the first failure stops them all."""

    async def worker() -> None:
        while pending:
            await process(pending.popleft())

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(pending)))]
    try:
        if workers:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    raise exc
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def _is_pow2_mib(n: int) -> bool:
    return n >= MIB and n % MIB == 0 and (n // MIB) & (n // MIB - 1) == 0


def choose_part_size(size: int, minimum: int) -> int:
    """Smallest 1 MiB×2^n part size ≥ ``minimum`` that keeps ``size`` within 10,000 parts.

    Raises :class:`FileTooLarge` when even 4 GiB parts are not enough, and
    :class:`InvalidTransferSettings` when ``minimum`` is above 4 GiB.
    """
    if size > MAX_PARTS * MAX_PART_SIZE:
        raise FileTooLarge(
            f"{size:,} bytes is more than 10,000 parts of 4 GiB ({MAX_PARTS * MAX_PART_SIZE:,})"
        )
    if minimum > MAX_PART_SIZE:
        raise InvalidTransferSettings(f"the minimum part size {minimum:,} is above 4 GiB")
    part = MIB
    while part < minimum:
        part *= 2
    while -(-size // part) > MAX_PARTS:
        part *= 2
    return part


def _check_part_size(size: int, part_size: int) -> None:
    if not _is_pow2_mib(part_size) or part_size > MAX_PART_SIZE:
        raise InvalidTransferSettings(
            f"part size {part_size:,} must be 1 MiB × a power of two, at most 4 GiB"
        )
    if -(-size // part_size) > MAX_PARTS:
        raise InvalidTransferSettings(
            f"part size {part_size // MIB} MiB would need more than 10,000 parts for "
            f"{size:,} bytes",
            hint=f"Use at least {choose_part_size(size, part_size) // MIB} MiB, or leave the "
            "part size automatic.",
        )


def _check_segment_size(segment_size: int) -> None:
    if not _is_pow2_mib(segment_size):
        raise InvalidTransferSettings(
            f"segment size {segment_size:,} must be 1 MiB × a power of two "
            "(so every segment is tree-hash aligned)"
        )


def _check_concurrency(concurrency: int) -> None:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidTransferSettings(
            f"concurrency {concurrency} must be between 1 and {MAX_CONCURRENCY}"
        )


def _free_space(path: Path) -> int:
    return shutil.disk_usage(path).free


def _disk_full(exc: OSError, part_path: Path, done: int) -> DiskFull:
    return DiskFull(
        f"the disk filled up while writing {part_path} ({exc.strerror or exc})",
        hint=f"Free some space and run again: the {done:,} verified bytes in "
        f"{part_path.name} are kept and will not be fetched again.",
    )


# -- file helpers (run in worker threads) ---------------------------------------------


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """``os.pwrite`` until everything is written (it may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _hash_and_write(fd: int, block: bytearray | memoryview, offset: int) -> list[bytes]:
    """Leaf digests of ``block`` (1 MiB leaves), then write it at ``offset``."""
    view = memoryview(block)
    leaves = [hashlib.sha256(view[i : i + CHUNK]).digest() for i in range(0, len(view), CHUNK)]
    _pwrite_all(fd, view, offset)
    return leaves


def _file_tree_hash(fd: int, offset: int, length: int) -> str:
    leaves: list[bytes] = []
    pos = 0
    while pos < length:
        data = os.pread(fd, min(CHUNK, length - pos), offset + pos)
        if not data:
            raise _Mismatch("file shorter than expected")
        leaves.append(hashlib.sha256(data).digest())
        pos += len(data)
    return fold(leaves).hex()


def _file_hashes(fd: int, offset: int, length: int) -> tuple[str, str]:
    """Tree hash and plain SHA-256 of one range of a file, in a single read pass."""
    whole = hashlib.sha256()
    leaves: list[bytes] = []
    pos = 0
    while pos < length:
        data = os.pread(fd, min(CHUNK, length - pos), offset + pos)
        if not data:
            raise TransferError(f"the file shrank while reading it (at byte {offset + pos:,})",
                                hint="Do not modify files while they upload.")
        whole.update(data)
        leaves.append(hashlib.sha256(data).digest())
        pos += len(data)
    return fold(leaves).hex(), whole.hexdigest()


def _read_and_hash(fd: int, offset: int, length: int) -> tuple[bytes, str, str]:
    """Read one range of a file into memory; return it with its tree hash and SHA-256."""
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise TransferError(f"the file shrank while reading it (at byte {offset + len(data):,})",
                            hint="Do not modify files while they upload.")
    view = memoryview(data)
    leaves = [hashlib.sha256(view[i : i + CHUNK]).digest() for i in range(0, length, CHUNK)]
    return data, fold(leaves).hex(), hashlib.sha256(view).hexdigest()


def _prepare_part(fd: int, offset: int, length: int) -> tuple[bytes | None, str, str]:
    """One upload part's body (in memory up to ``IN_MEMORY_PART``, else None: it streams
    from the file) with its tree hash and SHA-256."""
    if length <= IN_MEMORY_PART:
        return _read_and_hash(fd, offset, length)
    return (None, *_file_hashes(fd, offset, length))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every filesystem allows fsync on a directory
    finally:
        os.close(fd)


class _FileSlice(io.RawIOBase):
    """A seekable read-only window on a file descriptor, used as an upload body.

    botocore sizes it by seeking to the end and rewinds it before retries;
    aiohttp reads it in worker threads, so ``on_read`` is called from threads.
    """

    def __init__(
        self, fd: int, offset: int, length: int, on_read: Callable[[int], None] | None = None
    ) -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._length = length
        self._pos = 0
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._length + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def read(self, size: int = -1, /) -> bytes:
        remaining = max(0, self._length - self._pos)
        n = remaining if size is None or size < 0 else min(size, remaining)
        if n == 0:
            return b""
        data = os.pread(self._fd, n, self._offset + self._pos)
        self._pos += len(data)
        if self._on_read is not None and data:
            self._on_read(len(data))
        return data

    def readall(self) -> bytes:
        return self.read(-1)


# -- downloads ----------------------------------------------------------------------------


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


# -- uploads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadResult:
    archive_id: str
    tree_hash: str
    size: int
    parts_uploaded: int
    parts_reused: int
    description: str
    location: str | None = None


def archive_description_for(relative_name: str, mtime: float) -> str:
    """The mt2 description of a file: ASCII, ≤ 1024 bytes, or :class:`DescriptionError`."""
    name = relative_name.replace("\\", "/").lstrip("/")
    if not sanitize_relative_name(name):
        raise DescriptionError(f"the name {relative_name!r} is empty or not a relative path")
    try:
        text = encode_mt2(name, datetime.fromtimestamp(mtime, UTC))
    except DescriptionTooLongError as exc:
        raise DescriptionError(f"{relative_name!r}: {exc}") from None
    if not (text.isascii() and text.isprintable()):  # encode_mt2 promises this; never send raw
        raise DescriptionError(f"{relative_name!r} did not encode to printable ASCII")
    return text


async def abort_saved_upload(
    client: GlacierClient, vault: str, path: Path, *, journal_dir: Path | None = None
) -> bool:
    """Abort the multipart upload journalled for ``path`` (the UI's "abort" answer)."""
    path = Path(path)
    st = await asyncio.to_thread(path.stat)
    jpath = upload_journal_path(journal_dir or default_journal_dir(), path, st.st_size,
                                st.st_mtime_ns, vault)
    saved = await asyncio.to_thread(UploadJournal.load, jpath)
    if saved is None:
        return False
    with contextlib.suppress(errors.ResourceNotFound):
        await client.abort_multipart_upload(vault, saved.upload_id)
    await asyncio.to_thread(remove_quietly, jpath)
    return True


async def upload_file(
    client: GlacierClient,
    vault: str,
    path: Path,
    *,
    relative_name: str | None = None,
    part_size: int | None = None,
    min_part_size: int = DEFAULT_MIN_PART_SIZE,
    threshold: int = DEFAULT_UPLOAD_THRESHOLD,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    journal_dir: Path | None = None,
    abort_on_cancel: bool = False,
    max_retries: int = 5,
    retry_delay: float = 0.5,
    transfer_id: str | None = None,
) -> UploadResult:
    """Upload one file as an archive: one request below ``threshold``, else multipart.

    The description is the mt2 encoding of ``relative_name`` (default: the file
    name) and the file's mtime. Multipart uploads are journalled in
    ``journal_dir`` and resume after a kill; on cancellation the upload is kept
    for resuming unless ``abort_on_cancel``.
    """
    _check_concurrency(concurrency)
    path = Path(path)
    name = relative_name if relative_name is not None else path.name
    tracker = _Tracker(TransferKind.UPLOAD, name, 0, on_progress, transfer_id)
    tracker.set_state(TransferState.QUEUED)
    try:
        result = await _upload(
            client, vault, path, name, tracker, part_size=part_size,
            min_part_size=min_part_size, threshold=threshold, concurrency=concurrency,
            journal_dir=journal_dir, abort_on_cancel=abort_on_cancel,
            max_retries=max_retries, retry_delay=retry_delay,
        )
    except (asyncio.CancelledError, KeyboardInterrupt):
        tracker.set_state(TransferState.CANCELLED, "cancelled")
        raise
    except errors.GlacierError as exc:
        tracker.set_state(TransferState.FAILED, exc.user_message())
        raise
    tracker.set_state(TransferState.DONE)
    return result


async def _upload(
    client: GlacierClient,
    vault: str,
    path: Path,
    name: str,
    tracker: _Tracker,
    *,
    part_size: int | None,
    min_part_size: int,
    threshold: int,
    concurrency: int,
    journal_dir: Path | None,
    abort_on_cancel: bool,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    try:
        st = await asyncio.to_thread(path.stat)
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}",
                            hint="Check the path.") from None
    if not stat.S_ISREG(st.st_mode):
        raise TransferError(f"{path} is not a regular file", hint="Check the path.")
    size = st.st_size
    if size == 0:
        raise TransferError(f"{path} is empty; Glacier archives hold at least 1 byte",
                            hint="Nothing was sent.")
    # Everything that can be refused locally is refused before the first request.
    description = archive_description_for(name, st.st_mtime)
    multipart = size >= threshold or size > MAX_SINGLE_UPLOAD
    if multipart:
        if part_size is None:
            part_size = choose_part_size(size, min_part_size)
        else:
            _check_part_size(size, part_size)
    tracker.total = size
    try:
        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    except OSError as exc:
        raise TransferError(f"cannot open {path}: {exc.strerror or exc}",
                            hint="Check the path and permissions.") from None
    try:
        if not multipart:
            return await _upload_single(client, vault, fd, size, description, tracker,
                                        max_retries=max_retries, retry_delay=retry_delay)
        assert part_size is not None
        return await _upload_multipart(
            client, vault, path, fd, st, description, tracker, part_size=part_size,
            concurrency=concurrency, journal_dir=journal_dir or default_journal_dir(),
            abort_on_cancel=abort_on_cancel, max_retries=max_retries, retry_delay=retry_delay,
        )
    finally:
        await asyncio.to_thread(os.close, fd)


async def _upload_single(
    client: GlacierClient,
    vault: str,
    fd: int,
    size: int,
    description: str,
    tracker: _Tracker,
    *,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    tracker.set_state(TransferState.VERIFYING, "hashing")
    tree, sha = await asyncio.to_thread(_file_hashes, fd, 0, size)
    tracker.set_state(TransferState.RUNNING)
    loop = asyncio.get_running_loop()
    sent = 0

    def on_read(n: int) -> None:  # called from aiohttp's reader threads
        loop.call_soon_threadsafe(count, n)

    def count(n: int) -> None:
        nonlocal sent
        sent += n
        tracker.add(n)

    async def attempt() -> UploadResult:
        nonlocal sent
        tracker.add(-sent)
        sent = 0
        body = cast("IO[bytes]", _FileSlice(fd, 0, size, on_read))
        created = await client.upload_archive(
            vault, body, description=description, checksum=tree, content_sha256=sha
        )
        if created.checksum and created.checksum.lower() != tree:
            raise _Mismatch(f"the service computed {created.checksum}, expected {tree}")
        return UploadResult(created.archive_id, tree, size, 1, 0, description, created.location)

    result = await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
    tracker.baseline(size)
    return result


async def _upload_multipart(
    client: GlacierClient,
    vault: str,
    path: Path,
    fd: int,
    st: os.stat_result,
    description: str,
    tracker: _Tracker,
    *,
    part_size: int,
    concurrency: int,
    journal_dir: Path,
    abort_on_cancel: bool,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    size = st.st_size
    jpath = upload_journal_path(journal_dir, path, size, st.st_mtime_ns, vault)
    saved = await asyncio.to_thread(UploadJournal.load, jpath)
    journal: UploadJournal | None = None
    reused: dict[int, str] = {}

    if saved is not None and saved.size == size and saved.mtime_ns == st.st_mtime_ns \
            and saved.vault == vault and saved.description == description:
        tracker.set_state(TransferState.VERIFYING, "checking the upload of an earlier run")
        try:
            info, parts = await _retrying(
                lambda: client.list_parts(vault, saved.upload_id),
                max_retries=max_retries, base_delay=retry_delay,
            )
        except errors.ResourceNotFound:
            info, parts = None, []  # expired or aborted meanwhile: start a new upload
        if info is not None and (not info.part_size or info.part_size == saved.part_size):
            journal = saved
            part_size = saved.part_size
            for part in parts:
                index = part.start // part_size
                want_end = min((index + 1) * part_size, size) - 1
                if part.start != index * part_size or part.end != want_end:
                    continue
                local = saved.parts.get(index)
                if local is None:  # uploaded, but killed before the journal was written
                    local = await asyncio.to_thread(
                        _file_tree_hash, fd, part.start, want_end - part.start + 1
                    )
                if local == part.tree_hash.lower():
                    reused[index] = local
            journal.parts = dict(reused)
            await asyncio.to_thread(journal.save, jpath)

    if journal is None:
        if saved is not None:
            await asyncio.to_thread(remove_quietly, jpath)
        upload_id = await _retrying(
            lambda: client.initiate_multipart_upload(vault, part_size, description=description),
            max_retries=max_retries, base_delay=retry_delay,
        )
        abs_path = await asyncio.to_thread(os.path.abspath, path)
        journal = UploadJournal(abs_path, size, st.st_mtime_ns, vault, upload_id,
                                part_size, description)
        await asyncio.to_thread(journal.save, jpath)

    n_parts = -(-size // part_size)
    upload_id = journal.upload_id
    pending: deque[int] = deque(i for i in range(n_parts) if i not in reused)
    reused_bytes = sum(min(part_size, size - i * part_size) for i in reused)
    tracker.baseline(reused_bytes)
    tracker.set_state(TransferState.RUNNING)
    loop = asyncio.get_running_loop()
    journal_lock = asyncio.Lock()
    uploaded = 0
    hash_pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="upload-hash")

    # Parts are read and hashed ahead of their turn (at most ``concurrency`` beyond the ones
    # being sent), so a connection goes straight on to its next part instead of waiting
    # for a read and two hashes: memory stays bounded by 2 × concurrency parts.
    prepared: dict[int, asyncio.Future[tuple[bytes | None, str, str]]] = {}

    def prepare(index: int) -> asyncio.Future[tuple[bytes | None, str, str]]:
        fut = prepared.get(index)
        if fut is None:
            start = index * part_size
            fut = loop.run_in_executor(hash_pool, _prepare_part, fd, start,
                                       min(part_size, size - start))
            prepared[index] = fut
        return fut

    def prefetch() -> None:
        for index in list(pending)[:concurrency]:
            if len(prepared) >= concurrency:
                return
            prepare(index)

    async def send_part(index: int) -> str:
        start = index * part_size
        length = min(part_size, size - start)
        fut = prepare(index)
        try:
            prefetch()
            # Small parts come read into memory and go in one write; big ones stream from
            # the file through a window.
            data, tree, sha = await fut
        finally:
            prepared.pop(index, None)
        prefetch()
        sent = 0

        def count(n: int) -> None:
            nonlocal sent
            sent += n
            tracker.add(n)

        def on_read(n: int) -> None:  # called from aiohttp's reader threads
            loop.call_soon_threadsafe(count, n)

        async def attempt() -> str:
            nonlocal sent
            tracker.add(-sent)
            sent = 0
            body: bytes | IO[bytes] = (
                data if data is not None
                else cast("IO[bytes]", _FileSlice(fd, start, length, on_read))
            )
            echoed = await client.upload_part(vault, upload_id, body, start=start, length=length,
                                              checksum=tree, content_sha256=sha)
            if data is not None:
                count(length)
            if echoed and echoed.lower() != tree:
                raise _Mismatch(f"part {index}: the service computed {echoed}, expected {tree}")
            return tree

        try:
            return await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
        except (errors.GlacierError, _Mismatch):
            tracker.add(-sent)
            raise

    async def send_and_record(index: int) -> None:
        nonlocal uploaded
        assert journal is not None
        digest = await send_part(index)
        journal.parts[index] = digest
        uploaded += 1
        async with journal_lock:
            await asyncio.to_thread(atomic_write_json, jpath, journal.to_json())

    try:
        try:
            await _run_pool(pending, concurrency, send_and_record)
        finally:
            for fut in prepared.values():  # read ahead for parts that will not be sent now
                fut.cancel()
            prepared.clear()
            # Hashing threads read the descriptor the caller closes next.
            hash_pool.shutdown(wait=True, cancel_futures=True)
    except (asyncio.CancelledError, KeyboardInterrupt):
        if abort_on_cancel:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(
                    asyncio.shield(client.abort_multipart_upload(vault, upload_id)), 10
                )
            await asyncio.to_thread(remove_quietly, jpath)
        raise
    except _Mismatch as exc:
        raise TransferError(f"{exc} (after {max_retries + 1} attempts)",
                            hint="Run again to resume the upload.") from None

    tracker.set_state(TransferState.VERIFYING, "completing the upload")
    tree = combine_hex(journal.parts[i] for i in range(n_parts))
    created = await _retrying(
        lambda: client.complete_multipart_upload(vault, upload_id, archive_size=size,
                                                 checksum=tree),
        max_retries=max_retries, base_delay=retry_delay,
    )
    if created.checksum and created.checksum.lower() != tree:
        raise TransferError(f"the service computed {created.checksum} for the archive, "
                            f"expected {tree}")
    await asyncio.to_thread(remove_quietly, jpath)
    tracker.baseline(size)
    return UploadResult(created.archive_id, tree, size, uploaded, len(reused), description,
                        created.location)
