"""SQLite state of vault -> S3 migrations, next to the restore campaign they drive.

A migration is a restore campaign (same id) whose archives go to S3 objects. Tables
(created on first use; the store's own migrations stay untouched):

* ``migrations`` — bucket, prefix, storage class, key template, part sizes, shard.
* ``migration_objects`` — one row per campaign item: its key, the rule that made it,
  the metadata, the open multipart upload, and once complete the object's CRC64NVME,
  ETag and version.
* ``migration_parts`` — every part S3 accepted, with its CRC64NVME and ETag. They are
  kept here because a ListParts answer need not carry part checksums (and a local S3
  emulator omits them); ListParts only confirms that the upload is still open.

Each accepted part is committed before the next is counted, so a kill loses at most
the parts in flight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from glacier_tui.glacier import campaign_store
from glacier_tui.glacier.store import Store

if TYPE_CHECKING:
    from glacier_tui.glacier.campaign_types import CampaignInfo

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS migrations(
    campaign INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    prefix TEXT NOT NULL,
    storage_class TEXT NOT NULL,
    key_template TEXT NOT NULL DEFAULT '',
    part_size INTEGER NOT NULL,
    min_part INTEGER NOT NULL,
    shard_index INTEGER NOT NULL DEFAULT 0,
    shard_count INTEGER NOT NULL DEFAULT 1,
    selected INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS migration_objects(
    item INTEGER PRIMARY KEY,
    campaign INTEGER NOT NULL,
    key TEXT NOT NULL,
    rule TEXT NOT NULL,
    orig_path TEXT NOT NULL,
    creation_date TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL,
    upload_id TEXT,
    part_size INTEGER,
    crc64nvme TEXT,
    checksum_type TEXT,
    etag TEXT,
    version_id TEXT,
    completed_at REAL
);
CREATE INDEX IF NOT EXISTS migration_objects_campaign ON migration_objects(campaign, item);
CREATE TABLE IF NOT EXISTS migration_parts(
    item INTEGER NOT NULL,
    part INTEGER NOT NULL,
    size INTEGER NOT NULL,
    crc64nvme TEXT NOT NULL,
    etag TEXT NOT NULL,
    tree_hash TEXT NOT NULL,
    PRIMARY KEY(item, part)
);
"""

_ready: set[str] = set()
_lock = threading.Lock()


def conn(store: Store) -> sqlite3.Connection:
    c = store.conn
    key = str(store.path)
    if key not in _ready:
        with _lock:
            if key not in _ready:
                with campaign_store.tx(store) as w:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            w.execute(stmt)
                _ready.add(key)
    return c


@dataclass(frozen=True)
class MigrationRow:
    campaign: int
    bucket: str
    prefix: str
    storage_class: str
    key_template: str
    part_size: int  # preferred part size (raised per archive to fit 10,000 parts)
    min_part: int
    shard_index: int
    shard_count: int
    selected: int  # archives in the whole selection, before sharding


@dataclass(frozen=True)
class ObjectRow:
    item: int
    key: str
    rule: str
    orig_path: str
    creation_date: str
    metadata: dict[str, str]
    upload_id: str | None
    part_size: int | None
    crc64nvme: str | None
    checksum_type: str | None
    etag: str | None
    version_id: str | None
    completed_at: float | None


@dataclass(frozen=True)
class AcceptedPart:
    number: int
    size: int
    crc64nvme: str  # base64
    etag: str
    tree_hash: str  # hex


_MIGRATION_COLS: Final = ("campaign, bucket, prefix, storage_class, key_template, part_size,"
                          " min_part, shard_index, shard_count, selected")
_OBJECT_COLS: Final = ("item, key, rule, orig_path, creation_date, metadata, upload_id,"
                       " part_size, crc64nvme, checksum_type, etag, version_id, completed_at")


def _object(r: Sequence[Any]) -> ObjectRow:
    return ObjectRow(int(r[0]), r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8],
                     r[9], r[10], r[11], r[12])


def add_migration(store: Store, row: MigrationRow) -> None:
    conn(store)
    with campaign_store.tx(store) as c:
        c.execute(
            f"INSERT OR REPLACE INTO migrations({_MIGRATION_COLS}, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (row.campaign, row.bucket, row.prefix, row.storage_class, row.key_template,
             row.part_size, row.min_part, row.shard_index, row.shard_count, row.selected,
             time.time()),
        )


def delete_migration(store: Store, campaign: int) -> None:
    """Forget a migration and its campaign (a plan that is not run)."""
    conn(store)
    with campaign_store.tx(store) as c:
        c.execute("DELETE FROM migration_parts WHERE item IN (SELECT item FROM"
                  " migration_objects WHERE campaign=?)", (campaign,))
        c.execute("DELETE FROM migration_objects WHERE campaign=?", (campaign,))
        c.execute("DELETE FROM migrations WHERE campaign=?", (campaign,))
        c.execute("DELETE FROM campaign_items WHERE campaign=?", (campaign,))
        c.execute("DELETE FROM campaigns WHERE id=?", (campaign,))


def migration(store: Store, campaign: int) -> MigrationRow | None:
    r = conn(store).execute(
        f"SELECT {_MIGRATION_COLS} FROM migrations WHERE campaign=?", (campaign,)
    ).fetchone()
    return None if r is None else MigrationRow(*r)


def describe_migration(info: CampaignInfo, row: MigrationRow) -> str:
    """What a migration moves where, for humans (from the store's records only)."""
    return (f"migrate {info.selection.describe()} -> s3://{row.bucket}/{row.prefix} "
            f"({row.storage_class})")


def migrations(store: Store) -> list[MigrationRow]:
    rows = conn(store).execute(
        f"SELECT {_MIGRATION_COLS} FROM migrations ORDER BY campaign DESC").fetchall()
    return [MigrationRow(*r) for r in rows]


def add_objects(store: Store, campaign: int,
                rows: Iterable[tuple[int, str, str, str, str, dict[str, str]]]) -> None:
    """(item, key, rule, original path, creation date, metadata) for planned archives."""
    conn(store)
    with campaign_store.tx(store) as c:
        c.executemany(
            "INSERT OR REPLACE INTO migration_objects(item, campaign, key, rule, orig_path,"
            " creation_date, metadata) VALUES (?,?,?,?,?,?,?)",
            ((i, campaign, k, r, p, d, json.dumps(m, sort_keys=True))
             for i, k, r, p, d, m in rows),
        )


def drop_items(store: Store, campaign: int, items: Sequence[int]) -> None:
    """Remove items from the campaign (archives of other shards) and fix its totals."""
    with campaign_store.tx(store) as c:
        c.executemany("DELETE FROM campaign_items WHERE id=?", ((i,) for i in items))
        c.executemany("DELETE FROM migration_objects WHERE item=?", ((i,) for i in items))
        c.execute(
            "UPDATE campaigns SET total_items=(SELECT COUNT(*) FROM campaign_items WHERE"
            " campaign=?), total_bytes=(SELECT TOTAL(size) FROM campaign_items WHERE"
            " campaign=?) WHERE id=?", (campaign, campaign, campaign))


def object_row(store: Store, item: int) -> ObjectRow | None:
    r = conn(store).execute(
        f"SELECT {_OBJECT_COLS} FROM migration_objects WHERE item=?", (item,)).fetchone()
    return None if r is None else _object(r)


def iter_objects(store: Store, campaign: int, batch: int = 2000
                 ) -> Iterator[tuple[ObjectRow, Any]]:
    """(object row, campaign item) pairs by item id, streamed."""
    after = 0
    c = conn(store)
    while True:
        rows = c.execute(
            f"SELECT {', '.join('o.' + x.strip() for x in _OBJECT_COLS.split(','))},"
            f" {', '.join('i.' + x.strip() for x in campaign_store._ITEM_COLUMNS.split(','))}"
            " FROM migration_objects o JOIN campaign_items i ON i.id = o.item"
            " WHERE o.campaign=? AND o.item > ? ORDER BY o.item LIMIT ?",
            (campaign, after, batch)).fetchall()
        if not rows:
            return
        for r in rows:
            yield _object(r[:13]), campaign_store.item_from_row(r[13:])
        after = int(rows[-1][0])


def set_upload(store: Store, item: int, upload_id: str | None, part_size: int | None) -> None:
    """Remember (or forget, with ``None``) the open upload; forgetting drops its parts."""
    with campaign_store.tx(store) as c:
        c.execute("UPDATE migration_objects SET upload_id=?, part_size=? WHERE item=?",
                  (upload_id, part_size, item))
        if upload_id is None:
            c.execute("DELETE FROM migration_parts WHERE item=?", (item,))


def accepted_parts(store: Store, item: int) -> dict[int, AcceptedPart]:
    rows = conn(store).execute(
        "SELECT part, size, crc64nvme, etag, tree_hash FROM migration_parts WHERE item=?",
        (item,)).fetchall()
    return {int(r[0]): AcceptedPart(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows}


def accept_part(store: Store, item: int, part: AcceptedPart) -> None:
    with campaign_store.tx(store) as c:
        c.execute(
            "INSERT OR REPLACE INTO migration_parts(item, part, size, crc64nvme, etag, tree_hash)"
            " VALUES (?,?,?,?,?,?)",
            (item, part.number, part.size, part.crc64nvme, part.etag, part.tree_hash))


def drop_parts(store: Store, item: int, numbers: Iterable[int]) -> None:
    with campaign_store.tx(store) as c:
        c.executemany("DELETE FROM migration_parts WHERE item=? AND part=?",
                      ((item, n) for n in numbers))


def set_completed(store: Store, item: int, *, crc64nvme: str | None, checksum_type: str | None,
                  etag: str, version_id: str | None) -> None:
    with campaign_store.tx(store) as c:
        c.execute(
            "UPDATE migration_objects SET crc64nvme=?, checksum_type=?, etag=?, version_id=?,"
            " completed_at=?, upload_id=NULL WHERE item=?",
            (crc64nvme, checksum_type, etag, version_id, time.time(), item))
        c.execute("DELETE FROM migration_parts WHERE item=?", (item,))
