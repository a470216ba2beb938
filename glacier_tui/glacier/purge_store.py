"""SQLite persistence of vault close-outs (purges), on the local store's connection.

Tables (created on first use; the store's own migrations stay untouched):

* ``purges`` — one row per purge: vault, options, status, when the last archive went.
* ``purge_proofs`` — one row per manifest row read while planning (archive id, the tree
  hash its copy was verified against, verdict, why).
* ``purge_items`` — one row per archive of the inventory the plan was made from: its
  class (proven, unproven, young) and its state (kept, pending, sent, deleted, gone,
  refused, failed) with ``deleted_at``.

Classification is one ``INSERT ... SELECT`` joining the inventory snapshot with the
proofs (a million archives never pass through Python). An item is marked ``sent`` in a
durable transaction *before* its DeleteArchive goes out, so after a kill every archive
is either untouched (``pending``), known done, or ``sent`` (sent again; "not found"
then means this purge deleted it).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final

from glacier_tui.glacier.pricing import (
    DEFAULT_PRICES,
    VAULT_MIN_STORAGE_DAYS,
    PriceTable,
    early_deletion_fee_usd,
    vault_storage_month_usd,
)
from glacier_tui.glacier.purge_proofs import ProofRow
from glacier_tui.glacier.purge_types import (
    ArchiveClass,
    ItemState,
    PurgeError,
    PurgeInfo,
    PurgeNotFound,
    PurgeSpec,
    PurgeStatus,
)
from glacier_tui.glacier.safe_files import atomic_write
from glacier_tui.glacier.store import Store

PLANNING: Final = "planning"  # a plan being built; removed by the next plan of the vault

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS purges(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vault TEXT NOT NULL,
        vault_key TEXT NOT NULL,
        snapshot INTEGER,
        inventory_date TEXT,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        options TEXT NOT NULL,
        measured_at REAL NOT NULL,
        lock_note TEXT NOT NULL DEFAULT '',
        last_delete_at REAL,
        vault_deleted_at REAL,
        next_inventory_at REAL)""",
    """CREATE TABLE IF NOT EXISTS purge_proofs(
        purge INTEGER NOT NULL,
        archive_id TEXT NOT NULL,
        tree_hash TEXT NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL,
        source TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS purge_proofs_archive ON purge_proofs(purge, archive_id)",
    """CREATE TABLE IF NOT EXISTS purge_items(
        id INTEGER PRIMARY KEY,
        purge INTEGER NOT NULL,
        archive_id TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER,
        tree_hash TEXT,
        created TEXT,
        age_days REAL,
        class TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        proof TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        deleted_at REAL,
        error TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS purge_items_state ON purge_items(purge, state, id)",
)

_PURGE_COLUMNS: Final = (
    "id, vault, vault_key, status, message, created_at, updated_at, inventory_date, options,"
    " last_delete_at, vault_deleted_at, next_inventory_at, lock_note, measured_at"
)
MANIFEST_COLUMNS: Final = ("archive_id", "path", "size", "tree_hash", "created", "class",
                           "state", "deleted_at", "proof", "reason")
DRY_RUN_COLUMNS: Final = ("archive_id", "path", "size", "tree_hash", "created", "proof")
_ready: set[str] = set()


def _conn(store: Store) -> Any:
    c = store.conn
    # Checked once per connection (cheap), so a store file replaced under the same path
    # (or a new in-memory store) gets its tables again.
    key = f"{store.path}:{id(c)}"
    if key not in _ready:
        with store._tx() as tx_c:
            for stmt in _SCHEMA:
                tx_c.execute(stmt)
        _ready.add(key)
    return c


def exists(store: Store) -> bool:
    """Whether the store has purge tables at all (read-only callers create nothing)."""
    return store.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='purges'").fetchone() is not None


def tx(store: Store, *, durable: bool = False) -> Any:
    """A write transaction of the store (its write lock, its busy handling)."""
    _conn(store)
    return store._tx(durable=durable)


# -- planning ------------------------------------------------------------------------------


def create(store: Store, spec: PurgeSpec, *, now: float) -> int:
    """A new purge of ``spec.vault`` in state "planning" (earlier unfinished plans of the
    vault that never started are dropped); raises when one is under way."""
    snap = store.snapshot_info(spec.vault_key)
    if snap is None:
        raise PurgeError(f"no inventory of {spec.vault} is stored",
                         hint="Import one first: glacier-tui inventory import/retrieve.")
    busy = find_unfinished(store, spec.vault_key)
    if busy is not None and busy.status is not PurgeStatus.PLANNED:
        raise PurgeError(
            f"purge {busy.id} of {spec.vault} is {busy.status.value}",
            hint=f"`glacier-tui purge run --vault {spec.vault}` goes on with it, "
                 f"`glacier-tui purge cancel {busy.id}` drops it.")
    options = {
        "proofs": [str(p) for p in spec.proofs], "accept_early_fee": spec.accept_early_fee,
        "max_proof_age_days": spec.max_proof_age_days, "keep_vault": spec.keep_vault,
    }
    with tx(store) as c:
        stale = [r[0] for r in c.execute(
            "SELECT id FROM purges WHERE vault_key=? AND status IN (?, ?)",
            (spec.vault_key, PLANNING, PurgeStatus.PLANNED.value))]
        for pid in stale:
            _drop(c, pid)
        cur = c.execute(
            "INSERT INTO purges(vault, vault_key, snapshot, inventory_date, status, created_at,"
            " updated_at, options, measured_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (spec.vault, spec.vault_key, snap.id, snap.inventory_date, PLANNING, time.time(),
             time.time(), json.dumps(options), now))
        return int(cur.lastrowid or 0)


def add_proofs(store: Store, purge_id: int, proofs: Iterable[ProofRow]) -> int:
    rows = [(purge_id, p.archive_id, p.tree_hash, int(p.ok), p.detail, p.source)
            for p in proofs]
    if rows:
        with tx(store) as c:
            c.executemany(
                "INSERT INTO purge_proofs(purge, archive_id, tree_hash, ok, detail, source)"
                " VALUES (?,?,?,?,?,?)", rows)
    return len(rows)


def classify(store: Store, purge_id: int, *, lock_note: str = "") -> PurgeInfo:
    """Classify every archive of the purge's inventory snapshot; the plan is then ready."""
    info = get(store, purge_id)
    options = _options(store, purge_id)
    snap = store.current_snapshot_id(info.vault_key)
    if snap is None:
        raise PurgeError(f"the inventory of {info.vault} is gone from the store")
    store._ensure_id_index(snap)
    accept = 1 if options.get("accept_early_fee") else 0
    measured_at = _measured_at(store, purge_id)
    young = VAULT_MIN_STORAGE_DAYS
    # Per archive: proofs that match the inventory's tree hash and passed (good), proofs
    # of a copy verified against another tree hash (wrong), and failed checks (bad).
    sql = f"""
    INSERT INTO purge_items(purge, archive_id, path, size, tree_hash, created, age_days,
                            class, reason, proof, state)
    SELECT ?1, a.archive_id,
           CASE WHEN a.folder = '' THEN a.name ELSE a.folder || '/' || a.name END,
           a.size, a.tree_hash, a.created, a.age,
           CASE WHEN a.tree_hash IS NULL OR p.good IS NULL OR p.good = 0 OR p.wrong > 0
                     THEN 'unproven'
                WHEN a.age IS NOT NULL AND a.age < {young} AND ?2 = 0 THEN 'young'
                ELSE 'proven' END,
           CASE WHEN a.tree_hash IS NULL THEN 'the inventory has no tree hash for it'
                WHEN p.wrong > 0 THEN 'a copy was verified against a different tree hash ('
                                      || p.wrong_detail || ')'
                WHEN p.good IS NULL THEN 'no copy in the proof manifests'
                WHEN p.good = 0 THEN 'the copy does not match: ' || p.bad_detail
                WHEN a.age IS NOT NULL AND a.age < {young}
                     THEN 'younger than {young} days (' || printf('%.0f', a.age) || ' days)'
                ELSE '' END,
           COALESCE(p.good_detail, ''),
           CASE WHEN a.tree_hash IS NULL OR p.good IS NULL OR p.good = 0 OR p.wrong > 0
                     THEN 'kept'
                WHEN a.age IS NOT NULL AND a.age < {young} AND ?2 = 0 THEN 'kept'
                ELSE 'pending' END
    FROM (SELECT rowid AS r, archive_id, folder, name, size, tree_hash, created,
                 julianday(?3, 'unixepoch') - julianday(created) AS age
          FROM archives_{int(snap)}) AS a
    LEFT JOIN (
        SELECT x.archive_id,
               SUM(x.ok = 1 AND x.tree_hash = i.tree_hash) AS good,
               SUM(x.tree_hash != '' AND x.tree_hash != i.tree_hash) AS wrong,
               MAX(CASE WHEN x.ok = 1 AND x.tree_hash = i.tree_hash
                        THEN x.source || ': ' || x.detail END) AS good_detail,
               MAX(CASE WHEN x.ok = 0 THEN x.source || ': ' || x.detail END) AS bad_detail,
               MAX(CASE WHEN x.tree_hash != '' AND x.tree_hash != i.tree_hash
                        THEN x.source || ': ' || x.tree_hash END) AS wrong_detail
        FROM purge_proofs AS x JOIN archives_{int(snap)} AS i ON i.archive_id = x.archive_id
        WHERE x.purge = ?1
        GROUP BY x.archive_id) AS p ON p.archive_id = a.archive_id
    ORDER BY a.r
    """
    foreign, examples = foreign_proofs(store, purge_id)
    note = ""
    if foreign:
        note = (f"{foreign:,} archive(s) named in the proofs are not in this inventory "
                f"(e.g. {examples[0][:20]}...): deleted already, or a manifest of other data")
    with tx(store) as c:
        c.execute(sql, (purge_id, accept, measured_at))
        c.execute("DELETE FROM purge_proofs WHERE purge=?", (purge_id,))
        c.execute("UPDATE purges SET status=?, lock_note=?, message=?, updated_at=? WHERE id=?",
                  (PurgeStatus.PLANNED.value, lock_note, note, time.time(), purge_id))
    return get(store, purge_id)


def foreign_proofs(store: Store, purge_id: int, limit: int = 5) -> tuple[int, list[str]]:
    """Proofs naming archives that are not in the inventory (count, a few ids)."""
    info = get(store, purge_id)
    snap = store.current_snapshot_id(info.vault_key)
    if snap is None:
        return 0, []
    q = (f"FROM purge_proofs AS x WHERE x.purge=? AND NOT EXISTS (SELECT 1 FROM"
         f" archives_{int(snap)} AS i WHERE i.archive_id = x.archive_id)")
    c = _conn(store)
    (n,) = c.execute(f"SELECT COUNT(DISTINCT x.archive_id) {q}", (purge_id,)).fetchone()
    ids = [r[0] for r in c.execute(f"SELECT DISTINCT x.archive_id {q} LIMIT ?",
                                   (purge_id, limit))]
    return int(n), ids


# -- queries -------------------------------------------------------------------------------


def _options(store: Store, purge_id: int) -> dict[str, Any]:
    r = _conn(store).execute("SELECT options FROM purges WHERE id=?", (purge_id,)).fetchone()
    if r is None:
        raise PurgeNotFound(f"purge {purge_id} does not exist")
    doc: dict[str, Any] = json.loads(r[0])
    return doc


def _measured_at(store: Store, purge_id: int) -> float:
    r = _conn(store).execute("SELECT measured_at FROM purges WHERE id=?", (purge_id,)).fetchone()
    return float(r[0]) if r else time.time()


def get(store: Store, purge_id: int, prices: PriceTable = DEFAULT_PRICES) -> PurgeInfo:
    """One purge with its counts; :class:`PurgeNotFound` if there is none."""
    c = _conn(store)
    r = c.execute(f"SELECT {_PURGE_COLUMNS} FROM purges WHERE id=?", (purge_id,)).fetchone()
    if r is None:
        raise PurgeNotFound(f"purge {purge_id} does not exist")
    options = json.loads(r[8])
    status = r[3]
    info = PurgeInfo(
        id=int(r[0]), vault=str(r[1]), vault_key=str(r[2]),
        status=PurgeStatus(status) if status != PLANNING else PurgeStatus.PLANNED,
        message=str(r[4] or ""), created_at=float(r[5]), updated_at=float(r[6]),
        inventory_date=r[7], accept_early_fee=bool(options.get("accept_early_fee")),
        keep_vault=bool(options.get("keep_vault")),
        proofs=tuple(str(p) for p in options.get("proofs") or ()),
        last_delete_at=r[9], vault_deleted_at=r[10], next_inventory_at=r[11],
        lock_note=str(r[12] or ""),
    )
    for cls, n, nbytes in c.execute(
            "SELECT class, COUNT(*), COALESCE(SUM(size), 0) FROM purge_items WHERE purge=?"
            " GROUP BY class", (purge_id,)):
        info.classes[ArchiveClass(cls)] = (int(n), int(nbytes))
    for state, n, nbytes in c.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM purge_items WHERE purge=?"
            " GROUP BY state", (purge_id,)):
        info.states[ItemState(state)] = (int(n), int(nbytes))
    young = VAULT_MIN_STORAGE_DAYS
    fee_all, fee_deletable = c.execute(
        f"SELECT COALESCE(SUM(CASE WHEN age_days < {young} THEN"
        f" (COALESCE(size, 0) + 32768) * ({young} - age_days) END), 0),"
        f" COALESCE(SUM(CASE WHEN age_days < {young} AND state != 'kept' THEN"
        f" (COALESCE(size, 0) + 32768) * ({young} - age_days) END), 0)"
        " FROM purge_items WHERE purge=? AND class != 'unproven'", (purge_id,)).fetchone()
    info.early_fee_usd = early_deletion_fee_usd(prices, float(fee_all))
    info.accepted_fee_usd = early_deletion_fee_usd(prices, float(fee_deletable))
    n_del = info.deletable
    bytes_del = sum(b for s, (_, b) in info.states.items() if s is not ItemState.KEPT)
    info.monthly_saving_usd = vault_storage_month_usd(prices, bytes_del, n_del)
    return info


def find_unfinished(store: Store, vault_key: str) -> PurgeInfo | None:
    """The vault's newest purge that is planned or under way (not finished, not cancelled)."""
    r = _conn(store).execute(
        "SELECT id FROM purges WHERE vault_key=? AND status IN (?,?,?,?) ORDER BY id DESC",
        (vault_key, PurgeStatus.PLANNED.value, PurgeStatus.RUNNING.value,
         PurgeStatus.PAUSED.value, PurgeStatus.AWAITING_INVENTORY.value)).fetchone()
    return None if r is None else get(store, int(r[0]))


def list_all(store: Store) -> list[PurgeInfo]:
    ids = [int(r[0]) for r in _conn(store).execute(
        "SELECT id FROM purges WHERE status != ? ORDER BY id DESC", (PLANNING,))]
    return [get(store, i) for i in ids]


def set_status(store: Store, purge_id: int, status: PurgeStatus, message: str = "",
               **fields: float | None) -> None:
    sets = "".join(f", {k}=?" for k in fields)
    with tx(store, durable=True) as c:
        c.execute(f"UPDATE purges SET status=?, message=?, updated_at=?{sets} WHERE id=?",
                  (status.value, message, time.time(), *fields.values(), purge_id))


def cancel(store: Store, purge_id: int) -> PurgeInfo:
    info = get(store, purge_id)
    if info.status not in (PurgeStatus.VAULT_DELETED, PurgeStatus.DONE):
        set_status(store, purge_id, PurgeStatus.CANCELLED, "cancelled by the user")
    return get(store, purge_id)


def delete(store: Store, purge_id: int) -> None:
    """Forget a purge entirely (a dry run's plan)."""
    with tx(store) as c:
        _drop(c, purge_id)


def _drop(c: Any, purge_id: int) -> None:
    c.execute("DELETE FROM purge_items WHERE purge=?", (purge_id,))
    c.execute("DELETE FROM purge_proofs WHERE purge=?", (purge_id,))
    c.execute("DELETE FROM purges WHERE id=?", (purge_id,))


# -- the runner's batches -----------------------------------------------------------------

Claimed = tuple[int, str, int | None]  # item id, archive id, size


def claim_sent(store: Store, purge_id: int, after_id: int, limit: int) -> list[Claimed]:
    """Items left "sent" by an earlier run (outcome unknown), by id."""
    return [(int(r[0]), str(r[1]), r[2]) for r in _conn(store).execute(
        "SELECT id, archive_id, size FROM purge_items WHERE purge=? AND state='sent' AND id>?"
        " ORDER BY id LIMIT ?", (purge_id, after_id, limit))]


def claim_pending(store: Store, purge_id: int, limit: int) -> list[Claimed]:
    """Mark the next ``limit`` pending items "sent", durably, and return them."""
    with tx(store, durable=True) as c:
        rows = c.execute(
            "SELECT id, archive_id, size FROM purge_items WHERE purge=? AND state='pending'"
            " ORDER BY id LIMIT ?", (purge_id, limit)).fetchall()
        if rows:
            c.execute("UPDATE purge_items SET state='sent' WHERE purge=? AND state='pending'"
                      " AND id BETWEEN ? AND ?", (purge_id, rows[0][0], rows[-1][0]))
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


Outcome = tuple[str, float | None, str, int]  # state, deleted_at, error, item id


def record(store: Store, outcomes: Sequence[Outcome]) -> None:
    """Store outcomes of sent items (one transaction)."""
    if outcomes:
        with tx(store) as c:
            c.executemany("UPDATE purge_items SET state=?, deleted_at=?, error=? WHERE id=?",
                          outcomes)


def latest_deleted_at(store: Store, purge_id: int) -> float | None:
    r = _conn(store).execute("SELECT MAX(deleted_at) FROM purge_items WHERE purge=?",
                             (purge_id,)).fetchone()
    return None if r is None or r[0] is None else float(r[0])


def problems(store: Store, purge_id: int, *, states: Sequence[ItemState],
             limit: int = 20) -> list[tuple[str, str, str]]:
    """(path, state, reason or error) of a few items in ``states``."""
    marks = ",".join("?" * len(states))
    return [(str(r[0]), str(r[1]), str(r[2] or r[3])) for r in _conn(store).execute(
        f"SELECT path, state, error, reason FROM purge_items WHERE purge=? AND state IN"
        f" ({marks}) ORDER BY id LIMIT ?", (purge_id, *[s.value for s in states], limit))]


def kept(store: Store, purge_id: int, limit: int = 20) -> list[tuple[str, str, str]]:
    """(path, class, reason) of a few archives the plan keeps."""
    return [(str(r[0]), str(r[1]), str(r[2])) for r in _conn(store).execute(
        "SELECT path, class, reason FROM purge_items WHERE purge=? AND state='kept'"
        " ORDER BY class, id LIMIT ?", (purge_id, limit))]


# -- files ---------------------------------------------------------------------------------


def _utc(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _iter_rows(store: Store, purge_id: int, where: str) -> Iterator[Sequence[Any]]:
    c = _conn(store)
    last = 0
    while True:
        rows = c.execute(
            "SELECT id, archive_id, path, size, tree_hash, created, class, state, deleted_at,"
            f" proof, reason, error FROM purge_items WHERE purge=? AND id>? {where}"
            " ORDER BY id LIMIT 5000", (purge_id, last)).fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _write_csv(path: Path, header: Sequence[str], rows: Iterator[Sequence[Any]]) -> None:
    def write(fh: BinaryIO) -> None:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=False)
        w = csv.writer(text)
        w.writerow(header)
        w.writerows(rows)
        text.flush()
        text.detach()

    atomic_write(path, write, private_dir=False)


def write_manifest(store: Store, purge_id: int, path: Path) -> Path:
    """Every archive of the purge with its class, state and deleted-at (atomic)."""
    rows = ((r[1], r[2], "" if r[3] is None else r[3], r[4] or "", r[5] or "", r[6], r[7],
             _utc(r[8]), r[9], r[11] or r[10]) for r in _iter_rows(store, purge_id, ""))
    _write_csv(path, MANIFEST_COLUMNS, rows)
    return path


def write_dry_run(store: Store, purge_id: int, path: Path) -> int:
    """Exactly the archives a run would (still) delete, as CSV (atomic); returns their
    count. For a purge under way, only those not deleted yet."""
    count = 0

    def rows() -> Iterator[Sequence[Any]]:
        nonlocal count
        for r in _iter_rows(store, purge_id, "AND state IN ('pending', 'sent')"):
            count += 1
            yield (r[1], r[2], "" if r[3] is None else r[3], r[4] or "", r[5] or "", r[9])

    _write_csv(path, DRY_RUN_COLUMNS, rows())
    return count


def removed_ids(store: Store, purge_id: int) -> list[str]:
    """Archive ids no longer in the vault: deleted by the purge, or gone before it."""
    return [str(r[0]) for r in _conn(store).execute(
        "SELECT archive_id FROM purge_items WHERE purge=? AND state IN ('deleted', 'gone')",
        (purge_id,))]
