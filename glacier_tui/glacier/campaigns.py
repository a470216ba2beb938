"""Restore campaigns: get a folder, a filter's matches or a whole vault back onto a disk.

A campaign lives in the local SQLite store (tables ``campaigns`` and
``campaign_items``, see :mod:`glacier_tui.glacier.campaign_store`), one row per
archive, never whole in memory. Each archive moves through::

    planned -> requested -> ready -> downloading -> verified
                                                  \\-> failed(reason) / skipped(reason)

:class:`CampaignRunner` drives it in cycles. One cycle lists the vault's jobs once
(ListJobs, from the page holding the oldest job still awaited: jobs are listed in
initiation order; every page at the start of a run) and reconciles every requested
archive with that listing: a Succeeded job makes the archive *ready*, a Failed one is
retried, a job that has vanished (output expired before it was fetched, which the
download also reports) is requested again. A cycle with no job awaited lists nothing.
Then new jobs
are started in a batch, within the limits (jobs in flight, a total USD budget, bytes
per hour, the vault's data retrieval policy: ``PolicyEnforcedException`` pauses the
requests and retries later, it never fails the campaign). Ready outputs are fetched
as soon as they are seen, through :func:`downloads.download_job_output` (parallel,
verified, resumable).

Crash safety: before InitiateJob an archive is marked *initiating* with a job
description naming the campaign and the item; the job id is stored as soon as the
call returns. After a kill, the first listing adopts any live job of that archive
(ours, matched by description, or any other live full retrieval of it), so no
retrieval is ever started twice for an archive while one is live.

Everything here is synchronous SQLite plus asyncio network code, no Textual. The TUI
calls :func:`plan_campaign` etc. through ``asyncio.to_thread`` and runs a
:class:`CampaignRunner` in a worker, receiving :class:`CampaignProgress` and
:class:`CampaignItem` events through the callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence

from glacier_tui.glacier import campaign_store as _db
from glacier_tui.glacier.campaign_engine import CampaignRunner, campaign_active, run_campaign
from glacier_tui.glacier.campaign_inventory import fetch_inventory
from glacier_tui.glacier.campaign_types import (
    TERMINAL_STATES,
    ArchiveSink,
    CampaignError,
    CampaignInfo,
    CampaignItem,
    CampaignItemCallback,
    CampaignNotFound,
    CampaignProgress,
    CampaignProgressCallback,
    CampaignSpec,
    CampaignStatus,
    EngineOptions,
    ItemState,
    Limits,
    Selection,
    SelectionKind,
    SinkRefused,
    SinkResult,
)
from glacier_tui.glacier.manifest import (
    ManifestCheck,
    ManifestProblem,
    manifest_paths,
    verify_manifest,
    write_manifest,
)
from glacier_tui.glacier.pricing import DEFAULT_PRICES, CostEstimate, PriceTable
from glacier_tui.glacier.store import Store

__all__ = [
    "TERMINAL_STATES",
    "ArchiveSink",
    "CampaignError",
    "CampaignInfo",
    "CampaignItem",
    "CampaignItemCallback",
    "CampaignNotFound",
    "CampaignProgress",
    "CampaignProgressCallback",
    "CampaignRunner",
    "CampaignSpec",
    "CampaignStatus",
    "EngineOptions",
    "ItemState",
    "Limits",
    "ManifestCheck",
    "ManifestProblem",
    "Selection",
    "SelectionKind",
    "SinkRefused",
    "SinkResult",
    "campaign_active",
    "campaign_items",
    "cancel_campaign",
    "estimate_campaign",
    "fetch_inventory",
    "find_unfinished",
    "get_campaign",
    "list_campaigns",
    "manifest_paths",
    "plan_campaign",
    "run_campaign",
    "verify_manifest",
    "write_manifest",
]

# -- planning and queries (synchronous: call from a thread in async code) -----------------


def plan_campaign(store: Store, spec: CampaignSpec) -> CampaignInfo:
    """Create a campaign and its items from the store's current inventory.

    Items are inserted with one ``INSERT ... SELECT`` inside SQLite (a million archives
    never pass through Python). Paths are the decoded ones, sanitised; duplicates
    within the campaign get a ``~<archive id prefix>`` suffix so no two items share a
    file. Raises :class:`CampaignError` when the selection needs an inventory that is
    not stored, or matches nothing.
    """
    return _db.plan(store, spec)


def get_campaign(store: Store, campaign_id: int) -> CampaignInfo:
    """One campaign; :class:`CampaignNotFound` if there is none with that id."""
    return _db.get(store, campaign_id)


def list_campaigns(store: Store) -> list[CampaignInfo]:
    """Every campaign, newest first."""
    return _db.list_all(store)


def find_unfinished(store: Store, spec: CampaignSpec) -> CampaignInfo | None:
    """The newest unsettled campaign with the same vault, selection, tier and destination.

    The CLI resumes it instead of planning a second one for the same request.
    """
    return _db.find_unfinished(store, spec)


def campaign_items(
    store: Store,
    campaign_id: int,
    *,
    states: Sequence[ItemState] | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> list[CampaignItem]:
    """One page of items by item id (keyset paging: pass the last ``item_id`` seen)."""
    return _db.items(store, campaign_id, states=states, after_id=after_id, limit=limit)


def cancel_campaign(store: Store, campaign_id: int) -> CampaignInfo:
    """Mark a campaign cancelled: no new jobs, nothing more downloaded.

    Running jobs cannot be cancelled in Glacier; they are left to expire (and are
    billed). Verified files stay. A runner working on it stops at its next cycle.
    """
    return _db.cancel(store, campaign_id)


def estimate_campaign(
    store: Store,
    campaign_id: int,
    *,
    prices: PriceTable = DEFAULT_PRICES,
    endpoint_region: str | None,
    machine_region: str | None,
    tier: str | None = None,
) -> CostEstimate:
    """Cost and time of what is still to be retrieved (the campaign's tier unless ``tier``)."""
    return _db.estimate(store, campaign_id, prices=prices, endpoint_region=endpoint_region,
                        machine_region=machine_region, tier=tier)
