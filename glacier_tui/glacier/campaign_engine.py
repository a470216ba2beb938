"""The campaign runner: ListJobs cycles, batched InitiateJob, downloads as outputs are ready.

See :mod:`glacier_tui.glacier.campaigns` for the model and the crash-safety rules.
"""

from __future__ import annotations

from glacier_tui.glacier.campaign_types import (
    CampaignInfo,
    CampaignItemCallback,
    CampaignProgressCallback,
    EngineOptions,
)
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.store import Store


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

    def request_stop(self) -> None:
        """Pause at the next safe point (status ``paused``); ``run`` then returns."""
        raise NotImplementedError

    async def run(self) -> CampaignInfo:
        """Run until every archive is settled, or the campaign is paused or cancelled.

        Returns the final :class:`CampaignInfo` (status ``done``, ``incomplete``,
        ``paused`` or ``cancelled``) after writing the manifest. Errors that stop every
        archive (no credentials, vault gone, disk full) leave the campaign ``paused``
        with the message and are raised as ``GlacierError``.
        """
        raise NotImplementedError


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
