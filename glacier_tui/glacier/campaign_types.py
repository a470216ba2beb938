"""The types of restore campaigns (see :mod:`glacier_tui.glacier.campaigns`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from glacier_tui.glacier import errors
from glacier_tui.glacier.pricing import DEFAULT_PRICES, PriceTable

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job
    from glacier_tui.glacier.store import Store
    from glacier_tui.glacier.transfer_common import ProgressCallback

# -- states ------------------------------------------------------------------------------


class ItemState(StrEnum):
    """Where one archive of a campaign is."""

    PLANNED = "planned"  # selected, no job yet (or its job failed/expired: to request again)
    REQUESTED = "requested"  # a retrieval job is running for it
    READY = "ready"  # the job Succeeded; its output waits to be fetched
    DOWNLOADING = "downloading"  # being fetched and verified
    VERIFIED = "verified"  # the file is on disk and its tree hash matched
    FAILED = "failed"  # gave up; ``reason`` says why
    SKIPPED = "skipped"  # deliberately not fetched; ``reason`` says why


TERMINAL_STATES: Final = frozenset({ItemState.VERIFIED, ItemState.FAILED, ItemState.SKIPPED})


class CampaignStatus(StrEnum):
    """Where a whole campaign is."""

    PLANNED = "planned"  # created, never run
    RUNNING = "running"  # a runner works on it (or did, until it was killed: resume it)
    PAUSED = "paused"  # stopped on request or by its budget; ``resume`` continues
    DONE = "done"  # every archive verified
    INCOMPLETE = "incomplete"  # every archive settled, some failed or skipped
    CANCELLED = "cancelled"  # cancelled by the user; running jobs are left to expire


class SelectionKind(StrEnum):
    ARCHIVES = "archives"  # explicit archive ids
    FOLDERS = "folders"  # decoded folders, recursively
    VAULT = "vault"  # every archive of the vault's current inventory
    FILTER = "filter"  # archives whose decoded path contains a text (case-insensitive)


@dataclass(frozen=True)
class Selection:
    """Which archives a campaign restores. Build with the class methods."""

    kind: SelectionKind
    values: tuple[str, ...] = ()

    @classmethod
    def archives(cls, archive_ids: Sequence[str]) -> Selection:
        return cls(SelectionKind.ARCHIVES, tuple(dict.fromkeys(archive_ids)))

    @classmethod
    def folders(cls, paths: Sequence[str]) -> Selection:
        """Decoded folder paths (``photos/2020``), each with everything below it."""
        return cls(SelectionKind.FOLDERS, tuple(dict.fromkeys(p.strip("/") for p in paths)))

    @classmethod
    def whole_vault(cls) -> Selection:
        return cls(SelectionKind.VAULT)

    @classmethod
    def matching(cls, text: str) -> Selection:
        return cls(SelectionKind.FILTER, (text,))

    @property
    def needs_inventory(self) -> bool:
        """True when the decoded tree is needed to resolve it (all but explicit ids)."""
        return self.kind != SelectionKind.ARCHIVES

    def describe(self) -> str:
        """One line for humans, e.g. ``folders photos/2020``."""
        if self.kind == SelectionKind.VAULT:
            return "whole vault"
        if self.kind == SelectionKind.ARCHIVES:
            return f"{len(self.values)} archive id(s)"
        return f"{self.kind.value} " + ", ".join(self.values)


@dataclass(frozen=True)
class Limits:
    """How hard a campaign may push. ``None`` means no limit of that kind."""

    max_jobs_in_flight: int = 100  # jobs requested but not yet downloaded
    batch_size: int = 50  # InitiateJob calls per cycle at most
    budget_usd: float | None = None  # total retrieval + request cost of the campaign
    bytes_per_hour: int | None = None  # bytes requested per hour (rolling window)


@dataclass(frozen=True)
class CampaignSpec:
    """Everything needed to plan a campaign."""

    vault: str  # vault name, as the API wants it
    vault_key: str  # the store's key of the vault's inventory (its ARN, or its name)
    selection: Selection
    tier: str  # Expedited | Standard | Bulk
    destination: Path  # directory; decoded paths are created below it (sanitised)
    limits: Limits = field(default_factory=Limits)
    # Only with a one-archive selection: retrieve this inclusive, MiB-aligned range.
    byte_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class CampaignInfo:
    """A campaign's row plus its per-state counts (cheap: one GROUP BY on an index)."""

    id: int
    vault: str
    vault_key: str
    selection: Selection
    tier: str
    destination: Path
    limits: Limits
    status: CampaignStatus
    message: str  # why it is paused/incomplete, or the last notable event
    created_at: float
    updated_at: float
    counts: Mapping[ItemState, int]
    total_items: int
    total_bytes: int
    verified_bytes: int
    requests_made: int  # InitiateJob calls that started a job (re-requests included)
    bytes_requested: int  # bytes of those jobs (what retrieval is billed on)
    bytes_downloaded: int  # bytes fetched by this campaign (egress)
    re_requests: int  # jobs started again because an output expired or a job failed
    already_verified: int  # archives found on disk with the right tree hash at plan time
    byte_range: tuple[int, int] | None = None

    @property
    def settled(self) -> bool:
        """Every archive is verified, failed or skipped."""
        return sum(self.counts.get(s, 0) for s in TERMINAL_STATES) == self.total_items

    @property
    def all_verified(self) -> bool:
        return self.counts.get(ItemState.VERIFIED, 0) == self.total_items

    def cost_so_far(self, prices: PriceTable = DEFAULT_PRICES, *, egress: bool = True) -> float:
        """USD spent so far: retrieval and requests of started jobs, plus egress."""
        data, requests = prices.retrieval_cost(self.tier, self.bytes_requested,
                                               self.requests_made)
        return data + requests + (prices.egress_cost(self.bytes_downloaded) if egress else 0.0)


@dataclass(frozen=True)
class CampaignItem:
    """One archive of a campaign."""

    item_id: int
    archive_id: str
    path: str  # relative, sanitised, unique within the campaign ("/"-separated)
    size: int | None
    tree_hash: str | None  # from the inventory (None when it was unusable)
    state: ItemState
    reason: str  # why failed/skipped, or "already verified"
    job_id: str | None
    verified_at: float | None  # epoch seconds
    attempts: int  # jobs started for it


@dataclass(frozen=True)
class CampaignProgress:
    """A snapshot for a progress display; sent at most every ``EngineOptions.progress_interval``."""

    campaign_id: int
    status: CampaignStatus
    counts: Mapping[ItemState, int]
    total_items: int
    total_bytes: int
    verified_bytes: int
    downloading_bytes: int  # bytes of outputs being fetched right now (done so far)
    rate_bps: float  # download rate, bytes per (engine-clock) second
    eta_seconds: float | None  # for the downloads still to come, when a rate is known
    cost_so_far_usd: float
    jobs_in_flight: int
    paced_until: float | None  # engine-clock time before which no job is requested
    message: str


CampaignProgressCallback = Callable[[CampaignProgress], None]
CampaignItemCallback = Callable[[CampaignItem], None]


@dataclass(frozen=True)
class SinkResult:
    """What an :class:`ArchiveSink` delivered: bytes moved and the verified tree hash."""

    bytes: int
    tree_hash: str
    reason: str = ""  # e.g. "already in S3"


class ArchiveSink(Protocol):
    """Where a campaign's archives go instead of files below ``destination``.

    The runner still requests, follows and re-requests the jobs; a sink only replaces
    "is it already there" (before any job is requested), "fetch a ready output" and
    the manifest. ``deliver`` raises what ``download_job_output`` raises
    (``JobOutputExpired``, ``VerificationFailed``, ...), so retries work the same.
    """

    async def check_present(self, store: Store, campaign_id: int) -> None:
        """Mark planned archives that are already delivered as verified."""

    async def deliver(self, campaign: CampaignInfo, item: CampaignItem, job: Job,
                      on_progress: ProgressCallback) -> SinkResult:
        """Move one ready job output to its destination, verified."""

    def write_manifest(self, store: Store, campaign_id: int) -> None:
        """Write the campaign's manifest (called from a worker thread)."""


@dataclass(frozen=True)
class EngineOptions:
    """How a runner works; the defaults suit AWS. Tests inject ``clock`` and ``sleep``."""

    poll_interval: float = 300.0  # seconds between ListJobs cycles while jobs run
    download_parallel: int = 2  # outputs fetched at once
    segment_concurrency: int = 4  # ranged GetJobOutput requests per output
    segment_size: int = 32 << 20
    initiate_concurrency: int = 4  # InitiateJob calls in flight at once
    max_job_attempts: int = 3  # Failed jobs (or expired outputs) before an item fails
    policy_backoff: float = 900.0  # first pause after PolicyEnforced/InsufficientCapacity
    max_backoff: float = 4 * 3600.0
    progress_interval: float = 0.5  # seconds (real time) between progress events
    machine_region: str | None = None  # for egress in the cost so far; None = outside AWS
    prices: PriceTable = DEFAULT_PRICES
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    sink: ArchiveSink | None = None  # None: files below the campaign's destination


# -- errors ------------------------------------------------------------------------------


class CampaignError(errors.LocalError):
    summary = "The restore campaign cannot go on."
    default_hint = "Fix the cause and run `glacier-tui restore resume ID`."


class SinkRefused(CampaignError):
    """An :class:`ArchiveSink` cannot deliver this archive (e.g. a different object is
    already at its S3 key): the archive is skipped with the reason, the campaign goes on."""

    summary = "The archive was not delivered."
    default_hint = "Resolve the conflict named here and resume the campaign."


class CampaignNotFound(CampaignError):
    summary = "No such restore campaign."
    default_hint = "List campaigns with `glacier-tui restore status`."
