"""What the UI knows about campaigns (restores and migrations), kept without Textual.

:class:`CampaignBoard` owns the campaign rows the Restores screen shows, which campaigns
a worker of this app runs (and their runners), the jobs campaigns started (no per-job
notice for those), the milestones already told, the item states seen, and which
campaign's jobs the job table is filtered to. The main screen's campaigns part renders
what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from glacier_tui.glacier.campaign_view import Milestones

if TYPE_CHECKING:
    from glacier_tui.ui.widgets.restores_panel import CampaignRow

# The state an item leaves for each state it enters (the engine's usual path).
PREVIOUS_STATE = {"requested": "planned", "ready": "requested", "downloading": "ready",
                  "verified": "downloading"}
TERMINAL = frozenset({"verified", "failed", "skipped"})


@dataclass
class CampaignBoard:
    rows: dict[int, CampaignRow] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)  # campaigns a worker of this app runs
    runners: dict[int, Any] = field(default_factory=dict)  # CampaignRunner, while it runs
    jobs: set[str] = field(default_factory=set)  # job ids campaigns started
    milestones: Milestones = field(default_factory=Milestones)
    jobs_of: int | None = None  # the job table shows only this campaign's jobs
    item_states: dict[int, dict[int, str]] = field(default_factory=dict)

    def item_moved(self, campaign_id: int, item_id: int, state: str,
                   size: int | None) -> CampaignRow | None:
        """Count one item's move into ``state``; the updated row, or None if unchanged.

        The engine's progress events are throttled (the next may come a whole poll
        interval later): the counts follow each item's move as well. The engine's state
        machine gives the state it left when this app has not seen it before; the next
        progress event (whole counts) corrects any guess.
        """
        seen = self.item_states.setdefault(campaign_id, {})
        old = seen.pop(item_id, None) or PREVIOUS_STATE.get(state)
        if state not in TERMINAL:
            seen[item_id] = state
        row = self.rows.get(campaign_id)
        if row is None or row.settled or old is None or old == state:
            return None
        counts = dict(row.counts)
        counts[state] = counts.get(state, 0) + 1
        if counts.get(old, 0) > 1:
            counts[old] -= 1
        else:
            counts.pop(old, None)
        verified = row.verified_bytes + (size or 0 if state == "verified" else 0)
        row = replace(row, counts=counts, verified_bytes=verified)
        self.rows[row.id] = row
        return row
