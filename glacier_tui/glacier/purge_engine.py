"""The purge runner: delete every deletable archive of a plan, then the vault.

Deleting: items are marked ``sent`` in batches (one durable transaction per batch)
before their DeleteArchive goes out; at most ``limit`` requests are in flight. The limit
halves on throttling (and a pause that doubles up to ``max_backoff``), and grows by one
after a limit's worth of successes. Outcomes are written in batches. After a SIGKILL the
``sent`` items are sent again first: "not found" for one of them means this purge's
earlier request deleted it, while "not found" at an archive's first request means it
was already gone (state ``gone``). Nothing is deleted twice, nothing is skipped.

AccessDenied with a vault lock policy that denies DeleteArchive marks the archive
``refused`` with the policy's reason and is never retried; without such a policy it
stops the run (an IAM problem: every later request would fail the same way).

The vault: Glacier deletes a vault only when its latest inventory (refreshed about once a
day) shows it empty and nothing was written since. So after the last archive the purge
waits ("awaiting-inventory") with the time the next inventory is expected, polls
DescribeVault, and retries DeleteVault once the count is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from glacier_tui.glacier import errors
from glacier_tui.glacier import purge_store as db
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.purge_lock import describe_delete_denial
from glacier_tui.glacier.purge_types import (
    ItemState,
    PurgeInfo,
    PurgeProgress,
    PurgeProgressCallback,
    PurgeStatus,
    RunOptions,
)
from glacier_tui.glacier.safe_files import ExclusiveLock
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = ["PurgeRunner", "expected_inventory_at"]

DAY: Final = 86400.0
_FLUSH_SECONDS: Final = 1.0
_TRANSIENT: Final = (errors.ServiceUnavailable, errors.RequestTimeout,
                     errors.EndpointUnreachable)
# Failures that every later request would meet too: stop instead of failing each archive.
_EVERY_REQUEST: Final = (errors.NoCredentials, errors.ExpiredToken, errors.ClockSkew,
                         errors.ConfigurationError, errors.NoLongerSupported)
T = TypeVar("T")


def expected_inventory_at(last_inventory: float | None, last_write: float) -> float:
    """When the first inventory after ``last_write`` is expected: inventories come about
    once a day, so the first whole day after the last one that is past the write."""
    if last_inventory is None or last_inventory > last_write:
        return last_write + DAY
    days = int((last_write - last_inventory) // DAY) + 1
    return last_inventory + days * DAY


@dataclass
class _Item:
    item_id: int
    archive_id: str
    size: int | None
    resent: bool  # sent before (an earlier run, or an earlier try of this one)
    attempts: int = 0  # transient failures so far


class _Stop(Exception):
    """Stop the deleting loop; ``message`` goes into the purge's status."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PurgeRunner:
    """Runs one purge to its next resting point (see the module docstring)."""

    def __init__(self, glacier: GlacierClient, store: Store, purge_id: int, *,
                 options: RunOptions | None = None,
                 on_progress: PurgeProgressCallback | None = None) -> None:
        self.glacier = glacier
        self.store = store
        self.purge_id = purge_id
        self.options = options or RunOptions()
        self.on_progress = on_progress
        self.scheduler_cpu = 0.0  # CPU seconds of the runner's own bookkeeping (benchmarks)
        self.requests = 0  # DeleteArchive requests sent by this run
        self.throttled = 0
        self.limit = max(1, self.options.max_concurrency)
        self._info: PurgeInfo | None = None
        self._deleted = 0
        self._deleted_bytes = 0
        self._failed = 0
        self._refused = 0
        self._deletable = 0
        self._last_report = 0.0
        self._lock_note: str | None = None

    # -- bookkeeping ---------------------------------------------------------------------

    def _timed(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.scheduler_cpu += time.thread_time() - start

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(self._timed, fn, self.store, *args, **kwargs)

    def _report(self, status: PurgeStatus, message: str = "", *, force: bool = False,
                next_inventory_at: float | None = None) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_report < self.options.progress_interval:
            return
        self._last_report = now
        info = self._info
        self.on_progress(PurgeProgress(
            purge_id=self.purge_id, vault=info.vault if info else "", status=status,
            deletable=self._deletable, deleted=self._deleted, deleted_bytes=self._deleted_bytes,
            failed=self._failed, refused=self._refused, concurrency=self.limit,
            throttled=self.throttled, message=message, next_inventory_at=next_inventory_at))

    async def _set(self, status: PurgeStatus, message: str = "", **fields: float | None) -> None:
        await self._db(db.set_status, self.purge_id, status, message, **fields)
        self._report(status, message, force=True,
                     next_inventory_at=fields.get("next_inventory_at"))

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> PurgeInfo:
        """Delete what is left to delete, then (unless kept) wait for and delete the vault."""
        lock: ExclusiveLock | contextlib.nullcontext[None] = contextlib.nullcontext()
        if str(self.store.path) != ":memory:":
            lock = ExclusiveLock(Path(f"{self.store.path}.purge-{self.purge_id}.lock"),
                                 what=f"purge {self.purge_id} is being run")
        with lock:
            info = await self._db(db.get, self.purge_id)
            self._info = info
            if info.status in (PurgeStatus.CANCELLED, PurgeStatus.VAULT_DELETED,
                               PurgeStatus.DONE):
                return info
            self._deletable = info.deletable
            self._deleted = info.removed
            self._deleted_bytes = sum(info.states.get(s, (0, 0))[1]
                                      for s in (ItemState.DELETED, ItemState.GONE))
            self._refused = info.in_state(ItemState.REFUSED)
            self._failed = info.in_state(ItemState.FAILED)
            if info.status is not PurgeStatus.AWAITING_INVENTORY:
                await self._set(PurgeStatus.RUNNING)
                try:
                    await self._delete_all()
                except _Stop as stop:
                    await self._set(PurgeStatus.PAUSED, stop.message)
                    return await self._db(db.get, self.purge_id)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self._set(PurgeStatus.PAUSED, "interrupted"))
                    raise
                info = await self._after_deleting()
                if info.status is not PurgeStatus.AWAITING_INVENTORY:
                    return info
            return await self._vault_phase()

    async def _after_deleting(self) -> PurgeInfo:
        info = await self._db(db.get, self.purge_id)
        if info.open:
            await self._set(PurgeStatus.PAUSED, f"{info.open:,} archive(s) still to delete")
        elif info.keep_vault:
            await self._set(PurgeStatus.DONE, f"{info.removed:,} archive(s) deleted (or gone "
                            "before); the vault is kept as asked")
        else:
            left = {s: info.in_state(s) for s in (ItemState.KEPT, ItemState.REFUSED,
                                                  ItemState.FAILED)}
            if any(left.values()):
                parts = ", ".join(f"{n:,} {s.value}" for s, n in left.items() if n)
                await self._set(PurgeStatus.DONE,
                                f"the vault is not deleted: archives remain in it ({parts})")
            else:
                last = await self._db(db.latest_deleted_at, self.purge_id)
                await self._set(PurgeStatus.AWAITING_INVENTORY,
                                "every archive is deleted; waiting for an inventory that "
                                "shows the vault empty",
                                last_delete_at=last or self.options.clock())
        return await self._db(db.get, self.purge_id)

    # -- deleting --------------------------------------------------------------------------

    async def _delete_all(self) -> None:
        opts = self.options
        queue: deque[_Item] = deque()
        in_flight: set[asyncio.Task[tuple[_Item, BaseException | None, float]]] = set()
        outcomes: list[db.Outcome] = []
        last_flush = time.monotonic()
        resend_after = 0
        resending = True  # first the items an earlier run left "sent"
        exhausted = False
        pause_until = 0.0
        consecutive_throttles = 0
        successes = 0
        stop: _Stop | None = None

        async def flush() -> None:
            nonlocal last_flush
            if outcomes:
                batch = list(outcomes)
                outcomes.clear()
                await self._db(db.record, batch)
            last_flush = time.monotonic()

        try:
            while True:
                # Claim a few rounds of requests at a time: after a kill, only these (and
                # outcomes not yet written) are sent again.
                claim = max(32, min(opts.batch_size, 8 * opts.max_concurrency))
                if not exhausted and len(queue) < claim // 2:
                    if resending:
                        rows = await self._db(db.claim_sent, self.purge_id, resend_after,
                                              opts.batch_size)
                        if rows:
                            resend_after = rows[-1][0]
                        else:
                            resending = False
                        queue.extend(_Item(i, a, s, True) for i, a, s in rows)
                        continue
                    rows = await self._db(db.claim_pending, self.purge_id, claim)
                    exhausted = not rows
                    queue.extend(_Item(i, a, s, False) for i, a, s in rows)
                t0 = time.thread_time()
                now = time.monotonic()  # throttling pauses are real time, whatever the clock
                if stop is None and pause_until <= now:
                    while queue and len(in_flight) < self.limit:
                        in_flight.add(asyncio.create_task(self._delete_one(queue.popleft())))
                self.scheduler_cpu += time.thread_time() - t0
                if not in_flight:
                    if stop is not None or (exhausted and not queue):
                        break
                    await asyncio.sleep(max(0.0, pause_until - now))
                    continue
                timeout = max(0.0, pause_until - now) if pause_until > now else None
                done, _ = await asyncio.wait(in_flight, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                t0 = time.thread_time()
                for task in done:
                    in_flight.discard(task)
                    item, exc, at = task.result()
                    if exc is None:
                        outcomes.append((ItemState.DELETED.value, at, "", item.item_id))
                        self._count_deleted(item)
                        consecutive_throttles = 0
                        successes += 1
                        if successes >= self.limit and self.limit < opts.max_concurrency:
                            self.limit += 1
                            successes = 0
                        continue
                    if isinstance(exc, errors.Throttling):
                        self.throttled += 1
                        consecutive_throttles += 1
                        self.limit = max(1, self.limit // 2)
                        successes = 0
                        backoff = min(opts.max_backoff, 0.5 * 2 ** min(consecutive_throttles, 16))
                        pause_until = max(pause_until, time.monotonic()
                                          + backoff * random.uniform(0.5, 1.0))
                        item.resent = True
                        queue.appendleft(item)
                        continue
                    result = await self._classify_failure(item, exc)
                    if isinstance(result, _Stop):
                        stop = stop or result
                    elif result is None:
                        queue.append(item)  # transient: again, later
                    else:
                        outcomes.append(result)
                self.scheduler_cpu += time.thread_time() - t0
                # Written every claim's worth: after a kill, only unwritten outcomes (and the
                # claimed items) are sent again.
                if len(outcomes) >= claim or (
                        time.monotonic() - last_flush >= _FLUSH_SECONDS):
                    await flush()
                self._report(PurgeStatus.RUNNING)
        finally:
            for task in in_flight:  # cancelled: their items stay "sent" (sent again later)
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(flush())
        if stop is not None:
            raise stop

    def _count_deleted(self, item: _Item) -> None:
        self._deleted += 1
        self._deleted_bytes += item.size or 0

    async def _delete_one(self, item: _Item) -> tuple[_Item, BaseException | None, float]:
        self.requests += 1
        assert self._info is not None
        try:
            await self.glacier.delete_archive(self._info.vault, item.archive_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return item, exc, self.options.clock()
        return item, None, self.options.clock()

    async def _classify_failure(self, item: _Item,
                                exc: BaseException) -> db.Outcome | _Stop | None:
        """An outcome to record, a reason to stop, or None to send it again later."""
        assert self._info is not None
        now = self.options.clock()
        if isinstance(exc, errors.ResourceNotFound):
            if exc.detail.startswith("Vault not found"):
                return _Stop(f"the vault {self._info.vault} does not exist (any more)")
            if item.resent:  # this purge's earlier request deleted it
                self._count_deleted(item)
                return (ItemState.DELETED.value, now,
                        "not found when sent again: deleted by this purge's earlier request",
                        item.item_id)
            self._count_deleted(item)
            return (ItemState.GONE.value, None,
                    "not found at the first request: deleted before this purge",
                    item.item_id)
        if isinstance(exc, _EVERY_REQUEST):
            return _Stop(f"{exc.user_message()} (stopped; run again once that is fixed)")
        if isinstance(exc, errors.AccessDenied):
            note = await self._lock_denial()
            if note:
                self._refused += 1
                return (ItemState.REFUSED.value, None, f"{note}; not retried", item.item_id)
            return _Stop(f"DeleteArchive was denied: {exc.message} (no vault lock policy "
                         "denies it, so the credentials lack the permission); fix that and "
                         "run again")
        if isinstance(exc, _TRANSIENT) or (isinstance(exc, errors.GlacierError)
                                           and exc.retryable):
            item.resent = True
            item.attempts += 1
            if item.attempts < self.options.max_attempts:
                return None
            return _Stop(f"{exc.message if isinstance(exc, errors.GlacierError) else exc} "
                         f"({item.attempts} tries); run again later")
        message = exc.message if isinstance(exc, errors.GlacierError) else (
            f"{type(exc).__name__}: {inert(exc)}")
        self._failed += 1
        return (ItemState.FAILED.value, None, message, item.item_id)

    async def _lock_denial(self) -> str:
        """The vault lock policy's reason for refusing deletes ("" when it has none)."""
        if self._lock_note is None:
            assert self._info is not None
            try:
                lock = await self.glacier.get_vault_lock(self._info.vault)
            except errors.GlacierError:
                lock = None
            self._lock_note = "" if lock is None else (
                describe_delete_denial(lock.policy, lock.state) or "")
        return self._lock_note

    # -- the vault -------------------------------------------------------------------------

    async def _vault_phase(self) -> PurgeInfo:
        opts = self.options
        info = await self._db(db.get, self.purge_id)
        vault = info.vault
        last_write = info.last_delete_at or opts.clock()
        while True:
            try:
                v = await self.glacier.describe_vault(vault)
            except errors.ResourceNotFound:
                await self._set(PurgeStatus.VAULT_DELETED, f"vault {vault} no longer exists",
                                vault_deleted_at=opts.clock())
                break
            last_inventory = (v.last_inventory_date.timestamp()
                              if v.last_inventory_date else None)
            expected = expected_inventory_at(last_inventory, last_write)
            count = v.number_of_archives
            if not count:
                try:
                    await self.glacier.delete_vault(vault)
                except errors.VaultNotEmpty:
                    message = ("DeleteVault refused: not empty or recently written to "
                               "(Glacier counts from its latest inventory)")
                except errors.AccessDenied as exc:
                    await self._set(PurgeStatus.DONE, f"DeleteVault was denied: {exc.message}")
                    break
                else:
                    await self._set(PurgeStatus.VAULT_DELETED, f"vault {vault} deleted",
                                    vault_deleted_at=opts.clock(), next_inventory_at=None)
                    break
            elif last_inventory is not None and last_inventory > last_write:
                message = (f"the inventory of {_utc(last_inventory)} still lists {count:,} "
                           "archive(s): uploaded after this plan's inventory, or not deleted; "
                           "import the new inventory and plan again")
            else:
                message = (f"the latest inventory ({_utc(last_inventory)}) predates the "
                           f"deletions and lists {count:,} archive(s)")
            await self._set(PurgeStatus.AWAITING_INVENTORY,
                            f"{message}; next inventory expected around {_utc(expected)}",
                            next_inventory_at=expected)
            if not opts.wait_for_inventory:
                break
            await opts.sleep(opts.poll_interval)
        return await self._db(db.get, self.purge_id)


def _utc(ts: float | None) -> str:
    if ts is None:
        return "none yet"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))

