"""What an interactive front end needs of restore campaigns beyond the engine's API.

- :func:`selections_for`: marked archives and folders as one campaign selection per vault;
- :func:`archive_states`: the campaign state of some archives (the archive list's column);
- :func:`campaign_job_ids`: the jobs a campaign started (the job table's filter);
- :class:`Milestones`: which progress events are worth one notification each.

Blocking functions read the store: call them from a thread. No Textual here.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from glacier_tui.glacier.campaigns import CampaignStatus, Selection, campaign_items
from glacier_tui.glacier.operations import Selected, resolve_archives
from glacier_tui.glacier.store import Store

__all__ = ["Milestone", "Milestones", "archive_states", "campaign_job_ids", "selections_for"]

_PAGE: Final = 2000
_indexed: set[str] = set()
_indexed_lock = threading.Lock()


def selections_for(
    store: Store, selected: Iterable[Selected], vault_keys: Mapping[str, str]
) -> dict[str, Selection]:
    """One selection per vault: folders stay folders (SQLite expands them), else ids.

    A vault whose marks are only folders gets ``Selection.folders`` (or the whole vault
    for its root); marks mixing archives and folders are resolved to archive ids.
    Blocking (a mix reads the store).
    """
    by_vault: dict[str, list[Selected]] = {}
    for item in selected:
        if item.vault in vault_keys:
            by_vault.setdefault(item.vault, []).append(item)
    out: dict[str, Selection] = {}
    for vault, items in by_vault.items():
        if all(i.kind == "folder" for i in items):
            paths = [i.path for i in items]
            out[vault] = Selection.whole_vault() if "" in paths else Selection.folders(paths)
        else:
            targets = resolve_archives(store, items, vault_keys)
            if targets:
                out[vault] = Selection.archives([t.archive_id for t in targets])
    return out


def _ensure_archive_index(store: Store) -> bool:
    """An index on the items' archive ids, so a page of the archive list costs one lookup each.

    False when no campaign was ever planned in this store (no table yet).
    """
    key = str(store.path)
    if key in _indexed:
        return True
    with _indexed_lock:
        try:
            store.conn.execute("CREATE INDEX IF NOT EXISTS campaign_items_archive "
                               "ON campaign_items(archive_id)")
        except sqlite3.OperationalError:  # no campaign_items table: nothing to look up
            return False
        _indexed.add(key)
    return True


def archive_states(store: Store, vault_key: str, archive_ids: Sequence[str]) -> dict[str, str]:
    """archive id -> its state in the newest campaign of this vault that includes it."""
    if not archive_ids or not _ensure_archive_index(store):
        return {}
    out: dict[str, str] = {}
    for start in range(0, len(archive_ids), 500):  # SQLite's bound-parameter limit
        chunk = list(archive_ids[start:start + 500])
        marks = ",".join("?" * len(chunk))
        rows = store.conn.execute(
            "SELECT i.archive_id, i.state FROM campaign_items i "
            "JOIN campaigns c ON c.id = i.campaign "
            f"WHERE c.vault_key = ? AND i.archive_id IN ({marks}) "
            "ORDER BY i.campaign", [vault_key, *chunk]).fetchall()
        for archive_id, state in rows:  # the newest campaign comes last and wins
            out[str(archive_id)] = str(state)
    return out


def campaign_job_ids(store: Store, campaign_id: int) -> frozenset[str]:
    """Every job the campaign's archives have now (the latest per archive)."""
    ids: set[str] = set()
    after = 0
    while True:
        page = campaign_items(store, campaign_id, after_id=after, limit=_PAGE)
        ids.update(i.job_id for i in page if i.job_id)
        if len(page) < _PAGE:
            return frozenset(ids)
        after = page[-1].item_id


class Milestone(StrEnum):
    STARTED = "started"
    FIRST_FILE = "first file"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Milestones:
    """Turns a campaign's stream of progress into at most one event per milestone.

    Restoring twelve files is one story (started, first file, done), not 24 toasts.
    """

    seen: dict[int, set[Milestone]] = field(default_factory=dict)

    def _once(self, campaign_id: int, milestone: Milestone) -> bool:
        seen = self.seen.setdefault(campaign_id, set())
        if milestone in seen:
            return False
        seen.add(milestone)
        return True

    def started(self, campaign_id: int) -> bool:
        return self._once(campaign_id, Milestone.STARTED)

    def update(self, campaign_id: int, verified: int, status: str) -> list[Milestone]:
        """The milestones newly reached by a campaign with ``verified`` files in ``status``."""
        out: list[Milestone] = []
        if verified and self._once(campaign_id, Milestone.FIRST_FILE):
            out.append(Milestone.FIRST_FILE)
        if status == CampaignStatus.DONE and self._once(campaign_id, Milestone.DONE):
            out.append(Milestone.DONE)
        if status == CampaignStatus.INCOMPLETE and self._once(campaign_id, Milestone.FAILED):
            out.append(Milestone.FAILED)
        return out

    def failed(self, campaign_id: int) -> bool:
        return self._once(campaign_id, Milestone.FAILED)
