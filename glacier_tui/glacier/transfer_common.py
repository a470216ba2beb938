"""What downloads and uploads share: errors, progress tracking, retries, settings checks.

:class:`TransferProgress` snapshots come from a :class:`_Tracker` (bytes done, a
sliding-window rate, the ETA); ``_retrying`` backs off and retries transient failures
on top of botocore's own retries; ``_run_pool`` runs queued segments or parts with a
bounded number of tasks. No Textual imports.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from glacier_tui.glacier import errors
from glacier_tui.glacier.treehash import MIB

T = TypeVar("T")

DEFAULT_CONCURRENCY = 4
# A transfer stream must bring at least STALL_MIN_BYTES in every STALL_TIMEOUT seconds
# of waiting, or the segment is dropped and fetched again: a silent or trickling
# server (one byte every 20 s) cannot hold a download forever.
DEFAULT_STALL_TIMEOUT = 30.0
STALL_MIN_BYTES = 1024
MAX_CONCURRENCY = 32
MAX_PARTS = 10_000
MAX_PART_SIZE = 4096 * MIB
MAX_BACKOFF = 20.0


# -- errors -------------------------------------------------------------------


class TransferError(errors.LocalError):
    summary = "The transfer failed."
    default_hint = "Partial data is kept: run the same command again to resume."


class VerificationFailed(TransferError):
    summary = "Downloaded data failed tree-hash verification."
    # The job's output itself is wrong: fetching it again cannot help, a new job may.
    output_at_fault = True


class CopyRefused(VerificationFailed):
    """Bytes that matched the job's tree hash were refused on the way to their copy (S3
    refused a checksum, the local file was replaced): the same output may be sent again."""

    output_at_fault = False


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


# One error for "this answer is not Glacier's", whether the client or a download spots it.
NotGlacierResponse = errors.NotGlacierResponse


class OutputChanged(TransferError):
    summary = "The job output is not what it was."
    default_hint = (
        "The data kept from an earlier run belongs to another output; it is discarded "
        "and downloaded again on the next run. If that fails too, initiate the "
        "retrieval job again."
    )


class Stalled(TransferError):
    summary = "The endpoint stopped sending data."
    default_hint = "Verified segments are kept: run the same command again to resume."


class _Mismatch(Exception):
    """Bytes arrived but are wrong (short, wrong range, bad hash): worth another try."""


class _Stalled(_Mismatch):
    """The body stopped flowing (or trickles) past the stall deadline: worth another try."""


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


# -- parallel workers ----------------------------------------------------------------


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


# -- sizes -------------------------------------------------------------------------


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
