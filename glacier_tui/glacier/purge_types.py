"""Types of a vault close-out (purge): classes, states, the plan's summary, progress, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from glacier_tui.glacier import errors

__all__ = [
    "ArchiveClass",
    "ItemState",
    "ProofSource",
    "PurgeError",
    "PurgeInfo",
    "PurgeNotFound",
    "PurgeOptions",
    "PurgeProgress",
    "PurgeSpec",
    "PurgeStatus",
    "RunOptions",
]


class ArchiveClass(StrEnum):
    """What the plan made of one archive of the inventory."""

    PROVEN = "proven"  # a copy verified against the inventory's tree hash: deletable
    UNPROVEN = "unproven"  # no copy, or one that does not match: never deleted
    YOUNG = "young"  # proven but younger than 90 days (fee not accepted): kept


class ItemState(StrEnum):
    """Where one archive of a purge is."""

    KEPT = "kept"  # not deletable (unproven or young)
    PENDING = "pending"  # deletable, no request sent yet
    SENT = "sent"  # marked durably before its DeleteArchive: the outcome may be unknown
    DELETED = "deleted"  # DeleteArchive succeeded (or, after our own attempt, not found)
    GONE = "gone"  # not found at our first attempt: deleted by someone else before
    REFUSED = "refused"  # the vault lock policy denies it: explained, never retried
    FAILED = "failed"  # another error; not retried by this run


OPEN_STATES = (ItemState.PENDING, ItemState.SENT)


class PurgeStatus(StrEnum):
    PLANNED = "planned"  # classified, nothing deleted yet
    RUNNING = "running"
    PAUSED = "paused"  # stopped (killed, interrupted, an error): `purge run` goes on
    AWAITING_INVENTORY = "awaiting-inventory"  # archives gone; DeleteVault waits
    VAULT_DELETED = "vault-deleted"
    DONE = "done"  # archives done; the vault is kept (by choice or because some remain)
    CANCELLED = "cancelled"


FINISHED = (PurgeStatus.VAULT_DELETED, PurgeStatus.DONE, PurgeStatus.CANCELLED)


class ProofSource(StrEnum):
    RESTORE = "restore"  # a restore campaign's manifest: files on disk
    MIGRATION = "migration"  # a migration manifest: objects in S3


@dataclass(frozen=True)
class PurgeSpec:
    """What to plan: a vault, its store key, the proof manifests and the rules."""

    vault: str
    vault_key: str
    proofs: tuple[Path, ...]
    accept_early_fee: bool = False
    max_proof_age_days: float | None = None  # trust a recorded verify this recent
    keep_vault: bool = False  # delete the archives only


@dataclass
class PurgeInfo:
    """One purge as stored: its spec, status and the counts per class and state."""

    id: int
    vault: str
    vault_key: str
    status: PurgeStatus
    message: str
    created_at: float
    updated_at: float
    inventory_date: str | None
    accept_early_fee: bool
    keep_vault: bool
    proofs: tuple[str, ...]
    last_delete_at: float | None
    vault_deleted_at: float | None
    next_inventory_at: float | None
    classes: dict[ArchiveClass, tuple[int, int]] = field(default_factory=dict)  # count, bytes
    states: dict[ItemState, tuple[int, int]] = field(default_factory=dict)
    early_fee_usd: float = 0.0  # for the young archives (accepted or not)
    accepted_fee_usd: float = 0.0  # what deleting the deletable ones costs in fees
    monthly_saving_usd: float = 0.0  # storage no longer billed once they are deleted
    lock_note: str = ""  # the vault lock policy, when it denies deletes

    def count(self, cls: ArchiveClass) -> int:
        return self.classes.get(cls, (0, 0))[0]

    def nbytes(self, cls: ArchiveClass) -> int:
        return self.classes.get(cls, (0, 0))[1]

    def in_state(self, state: ItemState) -> int:
        return self.states.get(state, (0, 0))[0]

    @property
    def deletable(self) -> int:
        return sum(self.in_state(s) for s in ItemState if s is not ItemState.KEPT)

    @property
    def open(self) -> int:
        return sum(self.in_state(s) for s in OPEN_STATES)

    @property
    def removed(self) -> int:
        """Archives no longer in the vault: deleted by this purge, or gone before."""
        return self.in_state(ItemState.DELETED) + self.in_state(ItemState.GONE)

    @property
    def total(self) -> int:
        return sum(n for n, _ in self.states.values())


@dataclass(frozen=True)
class PurgeProgress:
    """Reported while a purge runs (throttled), and once at every status change."""

    purge_id: int
    vault: str
    status: PurgeStatus
    deletable: int
    deleted: int
    deleted_bytes: int
    failed: int
    refused: int
    concurrency: int
    throttled: int  # throttling responses so far in this run
    message: str = ""
    next_inventory_at: float | None = None


PurgeProgressCallback = Callable[[PurgeProgress], None]


@dataclass(frozen=True)
class RunOptions:
    """How a purge runs; the defaults suit AWS. Tests inject ``clock`` and ``sleep``."""

    max_concurrency: int = 8  # DeleteArchive requests in flight at most
    batch_size: int = 500  # archives marked "sent" per durable transaction
    max_backoff: float = 60.0  # seconds, the longest pause after throttling
    max_attempts: int = 5  # for transient failures (throttling is retried without limit)
    wait_for_inventory: bool = False  # poll until the vault can be deleted
    poll_interval: float = 3600.0  # seconds between DescribeVault polls while waiting
    progress_interval: float = 0.5
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass(frozen=True)
class PurgeOptions:
    """Options of planning (the proof checks)."""

    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_profile: str | None = None
    head_concurrency: int = 16
    now: float | None = None  # the time archive ages are measured at (default: now)


class PurgeError(errors.LocalError):
    """A purge cannot be planned or run as asked (one line for the user)."""

    summary = "Cannot close out the vault."


class PurgeNotFound(PurgeError):
    summary = "No such purge."
