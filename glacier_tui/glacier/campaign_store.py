"""SQLite persistence of restore campaigns, on the local store's connection.

Tables (created on first use, so the store's own migrations stay untouched):

* ``campaigns`` — one row per campaign: spec, status, cost counters.
* ``campaign_items`` — one row per archive; ``initiating = 1`` marks an archive whose
  InitiateJob may have reached Glacier without its job id being stored yet (see
  :mod:`glacier_tui.glacier.campaigns` for how a resumed run adopts that job).

Planning copies rows from the inventory snapshot with ``INSERT ... SELECT``: nothing
is looped over in Python, so a million-archive plan costs what SQLite costs.
Every function is synchronous; async code calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from glacier_tui.glacier.campaign_types import (
    TERMINAL_STATES,
    CampaignError,
    CampaignInfo,
    CampaignItem,
    CampaignNotFound,
    CampaignSpec,
    CampaignStatus,
    ItemState,
    Limits,
    Selection,
    SelectionKind,
)
from glacier_tui.glacier.pricing import DEFAULT_PRICES, CostEstimate, PriceTable
from glacier_tui.glacier.pricing import estimate as _estimate
from glacier_tui.glacier.store import Store

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS campaigns(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vault TEXT NOT NULL,
    vault_key TEXT NOT NULL,
    selection TEXT NOT NULL,
    tier TEXT NOT NULL,
    destination TEXT NOT NULL,
    limits TEXT NOT NULL,
    byte_range TEXT,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    total_items INTEGER NOT NULL DEFAULT 0,
    total_bytes INTEGER NOT NULL DEFAULT 0,
    requests_made INTEGER NOT NULL DEFAULT 0,
    bytes_requested INTEGER NOT NULL DEFAULT 0,
    bytes_downloaded INTEGER NOT NULL DEFAULT 0,
    re_requests INTEGER NOT NULL DEFAULT 0,
    already_verified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS campaign_items(
    id INTEGER PRIMARY KEY,
    campaign INTEGER NOT NULL,
    archive_id TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER,
    tree_hash TEXT,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    job_id TEXT,
    initiating INTEGER NOT NULL DEFAULT 0,
    requested_at REAL,
    verified_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS campaign_items_state ON campaign_items(campaign, state, id);
"""

# Columns of CampaignItem, in order.
_ITEM_COLUMNS: Final = (
    "id, archive_id, path, size, tree_hash, state, reason, job_id, verified_at, attempts"
)
_CAMPAIGN_COLUMNS: Final = (
    "id, vault, vault_key, selection, tier, destination, limits, byte_range, status, message,"
    " created_at, updated_at, total_items, total_bytes, requests_made, bytes_requested,"
    " bytes_downloaded, re_requests, already_verified"
)
# States whose archive has a job the engine follows.
IN_FLIGHT: Final = (ItemState.REQUESTED, ItemState.READY, ItemState.DOWNLOADING)

_ready: set[str] = set()
_ready_lock = threading.Lock()
_write_lock = threading.RLock()


def _conn(store: Store) -> sqlite3.Connection:
    c = store.conn
    # Checked once per connection (cheap), so a store file replaced under the same
    # path gets its tables again.
    key = f"{store.path}:{id(c)}"
    if key not in _ready:
        with _ready_lock:
            if key not in _ready:
                with _tx_on(c):
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            c.execute(stmt)
                _ready.add(key)
    return c


@contextmanager
def _tx_on(c: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    with _write_lock:
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")


@contextmanager
def tx(store: Store) -> Iterator[sqlite3.Connection]:
    """A write transaction on this thread's connection of ``store``."""
    with _tx_on(_conn(store)) as c:
        yield c


# -- encoding ------------------------------------------------------------------------------


def _selection_json(sel: Selection) -> str:
    return json.dumps({"kind": sel.kind.value, "values": list(sel.values)})


def _selection_from(text: str) -> Selection:
    doc = json.loads(text)
    return Selection(SelectionKind(doc["kind"]), tuple(doc.get("values") or ()))


def _limits_json(limits: Limits) -> str:
    return json.dumps({
        "max_jobs_in_flight": limits.max_jobs_in_flight, "batch_size": limits.batch_size,
        "budget_usd": limits.budget_usd, "bytes_per_hour": limits.bytes_per_hour,
    })


def _limits_from(text: str) -> Limits:
    doc = json.loads(text)
    return Limits(
        max_jobs_in_flight=int(doc.get("max_jobs_in_flight") or 100),
        batch_size=int(doc.get("batch_size") or 50),
        budget_usd=doc.get("budget_usd"),
        bytes_per_hour=doc.get("bytes_per_hour"),
    )


def _range_from(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    a, _, b = text.partition("-")
    return int(a), int(b)


def item_from_row(r: Sequence[Any]) -> CampaignItem:
    return CampaignItem(
        item_id=int(r[0]), archive_id=str(r[1]), path=str(r[2]), size=r[3], tree_hash=r[4],
        state=ItemState(r[5]), reason=str(r[6] or ""), job_id=r[7], verified_at=r[8],
        attempts=int(r[9]),
    )


# -- planning ------------------------------------------------------------------------------


def _folder_condition(paths: Sequence[str]) -> tuple[str, list[str]]:
    """WHERE text selecting every archive in or below each of ``paths`` (index-friendly)."""
    clean = sorted({p.strip("/") for p in paths})
    # A folder inside another selected one adds nothing (and would duplicate rows).
    kept = [p for p in clean if not any(p != q and (q == "" or p.startswith(q + "/"))
                                        for q in clean)]
    if "" in kept:
        return "1", []
    parts: list[str] = []
    args: list[str] = []
    for p in kept:
        # Below "p": every folder f with p + "/" <= f < p + "0" ("0" follows "/").
        parts.append("(folder = ? OR (folder >= ? AND folder < ?))")
        args += [p, p + "/", p + "0"]
    return " OR ".join(parts) or "0", args


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_PATH_SQL: Final = "CASE WHEN folder = '' THEN name ELSE folder || '/' || name END"
_JOINED_PATH_SQL: Final = (
    "CASE WHEN a.folder = '' THEN a.name ELSE a.folder || '/' || a.name END"
)


def plan(store: Store, spec: CampaignSpec) -> CampaignInfo:
    """See :func:`glacier_tui.glacier.campaigns.plan_campaign`."""
    sel = spec.selection
    if spec.byte_range is not None and not (
        sel.kind == SelectionKind.ARCHIVES and len(sel.values) == 1
    ):
        raise CampaignError("a byte range needs a selection of exactly one archive id")
    c = _conn(store)
    snap = store.current_snapshot_id(spec.vault_key)
    if snap is None and sel.needs_inventory:
        raise CampaignError(
            f"no inventory of vault {spec.vault!r} is stored",
            hint="Import one (glacier-tui inventory import) or let `glacier-tui restore` "
            "request one.",
        )
    now = time.time()
    table = f"archives_{int(snap)}" if snap is not None else None
    with tx(store):
        cur = c.execute(
            "INSERT INTO campaigns(vault, vault_key, selection, tier, destination, limits,"
            " byte_range, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (spec.vault, spec.vault_key, _selection_json(sel), str(spec.tier),
             str(spec.destination), _limits_json(spec.limits),
             f"{spec.byte_range[0]}-{spec.byte_range[1]}" if spec.byte_range else None,
             CampaignStatus.PLANNED.value, now, now),
        )
        cid = int(cur.lastrowid or 0)
        if sel.kind == SelectionKind.ARCHIVES:
            _plan_ids(c, cid, table, sel.values)
        else:
            assert table is not None
            args: list[str] = []
            if sel.kind == SelectionKind.VAULT:
                where = "1"
            elif sel.kind == SelectionKind.FOLDERS:
                where, args = _folder_condition(sel.values)
            else:
                where = f"({_PATH_SQL}) LIKE ? ESCAPE '\\'"
                args = [f"%{_like_escape(sel.values[0] if sel.values else '')}%"]
            # Two archives with one decoded path (re-uploads): the newest keeps the name,
            # the others get "~<first 8 characters of the archive id>" appended.
            c.execute(
                "INSERT INTO campaign_items(campaign, archive_id, path, size, tree_hash, state)"
                f" SELECT ?, archive_id, ({_PATH_SQL}) || CASE WHEN ROW_NUMBER() OVER"
                " (PARTITION BY folder, name ORDER BY created DESC, rowid) > 1"
                " THEN '~' || substr(archive_id, 1, 8) ELSE '' END,"
                f" size, tree_hash, 'planned' FROM {table} WHERE {where}",
                [cid, *args],
            )
        n, total = c.execute(
            "SELECT COUNT(*), TOTAL(size) FROM campaign_items WHERE campaign=?", (cid,)
        ).fetchone()
        if not n:
            raise CampaignError(
                f"the selection ({sel.describe()}) matches no archive in vault {spec.vault!r}",
                hint="Check the path against `glacier-tui inventory ls`; nothing was planned.",
            )
        c.execute("UPDATE campaigns SET total_items=?, total_bytes=? WHERE id=?",
                  (int(n), int(total), cid))
    return get(store, cid)


def _plan_ids(c: sqlite3.Connection, cid: int, table: str | None,
              ids: Sequence[str]) -> None:
    c.execute("CREATE TEMP TABLE IF NOT EXISTS campaign_ids(n INTEGER PRIMARY KEY, id TEXT)")
    c.execute("DELETE FROM campaign_ids")
    c.executemany("INSERT INTO campaign_ids(n, id) VALUES (?, ?)", enumerate(ids))
    if table is not None:
        c.execute(
            "INSERT INTO campaign_items(campaign, archive_id, path, size, tree_hash, state)"
            f" SELECT ?, i.id, COALESCE({_JOINED_PATH_SQL}"
            " || CASE WHEN ROW_NUMBER() OVER (PARTITION BY a.folder, a.name ORDER BY i.n) > 1"
            " THEN '~' || substr(i.id, 1, 8) ELSE '' END, i.id), a.size, a.tree_hash, 'planned'"
            f" FROM campaign_ids i LEFT JOIN {table} a ON a.archive_id = i.id ORDER BY i.n",
            (cid,),
        )
    else:  # no inventory: the archive id is the file name, size and hash unknown
        c.execute(
            "INSERT INTO campaign_items(campaign, archive_id, path, state)"
            " SELECT ?, id, id, 'planned' FROM campaign_ids ORDER BY n",
            (cid,),
        )
    c.execute("DELETE FROM campaign_ids")


# -- queries -------------------------------------------------------------------------------


def counts(store: Store, cid: int) -> tuple[dict[ItemState, int], int]:
    """(items per state, verified bytes)."""
    c = _conn(store)
    out = {s: 0 for s in ItemState}
    verified_bytes = 0
    for state, n, nbytes in c.execute(
        "SELECT state, COUNT(*), TOTAL(size) FROM campaign_items WHERE campaign=? GROUP BY state",
        (cid,),
    ):
        out[ItemState(state)] = int(n)
        if state == ItemState.VERIFIED:
            verified_bytes = int(nbytes)
    return out, verified_bytes


def _info(store: Store, r: Sequence[Any]) -> CampaignInfo:
    cid = int(r[0])
    per_state, verified_bytes = counts(store, cid)
    return CampaignInfo(
        id=cid, vault=r[1], vault_key=r[2], selection=_selection_from(r[3]), tier=r[4],
        destination=Path(r[5]), limits=_limits_from(r[6]), byte_range=_range_from(r[7]),
        status=CampaignStatus(r[8]), message=r[9] or "", created_at=r[10], updated_at=r[11],
        counts=per_state, total_items=int(r[12]), total_bytes=int(r[13]),
        verified_bytes=verified_bytes, requests_made=int(r[14]), bytes_requested=int(r[15]),
        bytes_downloaded=int(r[16]), re_requests=int(r[17]), already_verified=int(r[18]),
    )


def get(store: Store, cid: int) -> CampaignInfo:
    r = _conn(store).execute(
        f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE id=?", (int(cid),)
    ).fetchone()
    if r is None:
        raise CampaignNotFound(f"there is no restore campaign {cid}")
    return _info(store, r)


def list_all(store: Store) -> list[CampaignInfo]:
    rows = _conn(store).execute(
        f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY id DESC"
    ).fetchall()
    return [_info(store, r) for r in rows]


def find_unfinished(store: Store, spec: CampaignSpec) -> CampaignInfo | None:
    r = _conn(store).execute(
        f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE vault=? AND vault_key=? AND"
        " selection=? AND tier=? AND destination=? AND status IN (?,?,?) ORDER BY id DESC",
        (spec.vault, spec.vault_key, _selection_json(spec.selection), str(spec.tier),
         str(spec.destination), CampaignStatus.PLANNED.value, CampaignStatus.RUNNING.value,
         CampaignStatus.PAUSED.value),
    ).fetchone()
    return None if r is None else _info(store, r)


def items(store: Store, cid: int, *, states: Sequence[ItemState] | None = None,
          after_id: int = 0, limit: int = 200) -> list[CampaignItem]:
    c = _conn(store)
    if states:
        marks = ",".join("?" * len(states))
        rows = c.execute(
            f"SELECT {_ITEM_COLUMNS} FROM campaign_items WHERE campaign=? AND state IN ({marks})"
            " AND id > ? ORDER BY id LIMIT ?",
            (cid, *[s.value for s in states], after_id, limit),
        )
    else:
        rows = c.execute(
            f"SELECT {_ITEM_COLUMNS} FROM campaign_items WHERE campaign=? AND id > ?"
            " ORDER BY id LIMIT ?",
            (cid, after_id, limit),
        )
    return [item_from_row(r) for r in rows]


def iter_items(store: Store, cid: int, batch: int = 5000) -> Iterator[CampaignItem]:
    """Every item by id, streamed in pages (for the manifest)."""
    after = 0
    while True:
        page = items(store, cid, after_id=after, limit=batch)
        if not page:
            return
        yield from page
        after = page[-1].item_id


def status_of(store: Store, cid: int) -> CampaignStatus:
    r = _conn(store).execute("SELECT status FROM campaigns WHERE id=?", (cid,)).fetchone()
    if r is None:
        raise CampaignNotFound(f"there is no restore campaign {cid}")
    return CampaignStatus(r[0])


def set_status(store: Store, cid: int, status: CampaignStatus, message: str = "") -> None:
    with tx(store) as c:
        c.execute("UPDATE campaigns SET status=?, message=?, updated_at=? WHERE id=?",
                  (status.value, message, time.time(), cid))


def cancel(store: Store, cid: int) -> CampaignInfo:
    info = get(store, cid)
    if info.status in (CampaignStatus.DONE, CampaignStatus.INCOMPLETE):
        raise CampaignError(f"campaign {cid} has already finished ({info.status.value})",
                            hint="Nothing to cancel.")
    set_status(store, cid, CampaignStatus.CANCELLED, "cancelled by the user")
    return get(store, cid)


def delete(store: Store, cid: int) -> None:
    """Remove a campaign and its items (a dry run's plan)."""
    with tx(store) as c:
        c.execute("DELETE FROM campaign_items WHERE campaign=?", (cid,))
        c.execute("DELETE FROM campaigns WHERE id=?", (cid,))


def estimate(store: Store, cid: int, *, prices: PriceTable = DEFAULT_PRICES,
             endpoint_region: str | None, machine_region: str | None,
             tier: str | None = None) -> CostEstimate:
    info = get(store, cid)
    c = _conn(store)
    n, nbytes = c.execute(
        "SELECT COUNT(*), TOTAL(size) FROM campaign_items WHERE campaign=? AND state IN (?,?)",
        (cid, ItemState.PLANNED.value, ItemState.REQUESTED.value),
    ).fetchone()
    if info.byte_range is not None:
        nbytes = info.byte_range[1] - info.byte_range[0] + 1
    return _estimate(prices, tier or info.tier, int(n), int(nbytes),
                     endpoint_region=endpoint_region, machine_region=machine_region,
                     max_jobs_in_flight=info.limits.max_jobs_in_flight,
                     bytes_per_hour=info.limits.bytes_per_hour)


# -- engine transitions ---------------------------------------------------------------------


def planned_batch(store: Store, cid: int, after_id: int, limit: int) -> list[CampaignItem]:
    rows = _conn(store).execute(
        f"SELECT {_ITEM_COLUMNS} FROM campaign_items WHERE campaign=? AND state='planned'"
        " AND initiating=0 AND id > ? ORDER BY id LIMIT ?",
        (cid, after_id, limit),
    )
    return [item_from_row(r) for r in rows]


def followed(store: Store, cid: int) -> list[tuple[CampaignItem, bool, float | None]]:
    """Items with a job (or an InitiateJob that may have been sent): (item, initiating,
    requested_at). Bounded by the jobs-in-flight limit."""
    rows = _conn(store).execute(
        f"SELECT {_ITEM_COLUMNS}, initiating, requested_at FROM campaign_items"
        " WHERE campaign=? AND state IN (?,?,?) UNION ALL"
        f" SELECT {_ITEM_COLUMNS}, initiating, requested_at FROM campaign_items"
        " WHERE campaign=? AND state='planned' AND initiating=1",
        (cid, *[s.value for s in IN_FLIGHT], cid),
    )
    return [(item_from_row(r[:10]), bool(r[10]), r[11]) for r in rows]


def awaited(store: Store, cid: int) -> list[tuple[CampaignItem, bool, float | None]]:
    """The followed items whose job is still awaited (requested, or an InitiateJob that
    may have been sent), as :func:`followed` gives them."""
    rows = _conn(store).execute(
        f"SELECT {_ITEM_COLUMNS}, initiating, requested_at FROM campaign_items"
        " WHERE campaign=? AND state='requested' UNION ALL"
        f" SELECT {_ITEM_COLUMNS}, initiating, requested_at FROM campaign_items"
        " WHERE campaign=? AND state='planned' AND initiating=1",
        (cid, cid),
    )
    return [(item_from_row(r[:10]), bool(r[10]), r[11]) for r in rows]


def mark_initiating(store: Store, ids: Iterable[int]) -> None:
    with tx(store) as c:
        c.executemany("UPDATE campaign_items SET initiating=1 WHERE id=?",
                      ((i,) for i in ids))


def record_requested(store: Store, cid: int,
                     done: Sequence[tuple[int, str, float, int, bool, bool]]) -> None:
    """Store job ids: (item id, job id, requested_at, bytes, paid by us, re-request)."""
    if not done:
        return
    with tx(store) as c:
        c.executemany(
            "UPDATE campaign_items SET state='requested', job_id=?, initiating=0,"
            " requested_at=?, reason='', attempts=attempts+? WHERE id=?",
            ((job, at, 1 if paid else 0, iid) for iid, job, at, _n, paid, _re in done),
        )
        paid = [d for d in done if d[4]]
        c.execute(
            "UPDATE campaigns SET requests_made=requests_made+?, bytes_requested=bytes_requested+?,"
            " re_requests=re_requests+?, updated_at=? WHERE id=?",
            (len(paid), sum(d[3] for d in paid), sum(1 for d in paid if d[5]), time.time(), cid),
        )


def clear_initiating(store: Store, ids: Iterable[int]) -> None:
    with tx(store) as c:
        c.executemany("UPDATE campaign_items SET initiating=0 WHERE id=?", ((i,) for i in ids))


def set_item(store: Store, iid: int, state: ItemState, *, reason: str | None = None,
             job_id: str | None = None, clear_job: bool = False,
             verified_at: float | None = None) -> None:
    sets = ["state=?"]
    args: list[Any] = [state.value]
    if reason is not None:
        sets.append("reason=?")
        args.append(reason)
    if clear_job:
        sets.append("job_id=NULL")
    elif job_id is not None:
        sets.append("job_id=?")
        args.append(job_id)
    if verified_at is not None:
        sets.append("verified_at=?")
        args.append(verified_at)
    with tx(store) as c:
        c.execute(f"UPDATE campaign_items SET {', '.join(sets)} WHERE id=?", (*args, iid))


def set_items_verified_present(store: Store, cid: int, rows: Sequence[tuple[int, float]]) -> None:
    """Archives found on disk with the right tree hash before any job was started."""
    if not rows:
        return
    with tx(store) as c:
        c.executemany(
            "UPDATE campaign_items SET state='verified', reason='already verified',"
            " verified_at=? WHERE id=?",
            ((at, iid) for iid, at in rows),
        )
        c.execute("UPDATE campaigns SET already_verified=already_verified+? WHERE id=?",
                  (len(rows), cid))


def add_downloaded(store: Store, cid: int, nbytes: int) -> None:
    with tx(store) as c:
        c.execute("UPDATE campaigns SET bytes_downloaded=bytes_downloaded+? WHERE id=?",
                  (nbytes, cid))


def bytes_requested_since(store: Store, cid: int, since: float) -> tuple[int, float | None]:
    """(bytes of jobs requested after ``since``, the earliest such request time)."""
    n, first = _conn(store).execute(
        "SELECT TOTAL(size), MIN(requested_at) FROM campaign_items WHERE campaign=? AND"
        " requested_at > ?",
        (cid, since),
    ).fetchone()
    return int(n), first


def unsettled(per_state: dict[ItemState, int]) -> int:
    return sum(n for s, n in per_state.items() if s not in TERMINAL_STATES)
