"""A Synology Glacier Backup-style pair of vaults for the demo world, and the index file.

Synology Glacier Backup writes a data vault whose archive descriptions hold no usable
names, and a ``<data vault>_mapping`` vault whose one archive is a SQLite database
naming every archive: table ``file_info_tb`` (``key``, ``shareName``, ``basePath``,
``archiveID``, ``lastBkpTime``, ``fileSize``, ``archiveVersion``, ``current``) and table
``backup_info_tb`` (``key``, ``value``). Column names follow the public tools that read
it (e.g. https://github.com/pdhodgkinson/synology-glacier-to-fast-glacier); the column
types are this generator's choice. Plain stdlib: the emulator imports no client code.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DATA_VAULT", "MAPPING_VAULT", "IndexRow", "build_synology_pair", "mapping_db"]

DATA_VAULT = "NAS_demo_1"
MAPPING_VAULT = DATA_VAULT + "_mapping"
DAY = 86400.0

FILE_INFO_SQL = (
    "CREATE TABLE file_info_tb(key INTEGER PRIMARY KEY AUTOINCREMENT, shareName TEXT,"
    " basePath TEXT, archiveID TEXT, lastBkpTime INTEGER, fileSize INTEGER,"
    " archiveVersion INTEGER, current INTEGER)"
)
BACKUP_INFO_SQL = "CREATE TABLE backup_info_tb(key TEXT PRIMARY KEY, value TEXT)"

# (share, path inside the share): a small NAS, plus names a UI must render safely.
DEMO_FILES: Sequence[tuple[str, str]] = (
    ("photo", "2021/iceland/IMG_1001.jpg"),
    ("photo", "2021/iceland/IMG_1002.jpg"),
    ("photo", "2021/iceland/IMG_1003.jpg"),
    ("photo", "2022/wedding/DSC_0420.NEF"),
    ("photo", "2022/wedding/DSC_0421.NEF"),
    ("homes", "alice/Documents/budget-2023.xlsx"),
    ("homes", "alice/Documents/Lebenslauf Müller.pdf"),
    ("homes", "bob/notes/todo.md"),
    ("music", "Jazz/Kind of Blue/01 So What.flac"),
    ("music", "Jazz/Kind of Blue/02 Freddie Freeloader.flac"),
    ("video", "holidays/2019-crete.mp4"),
    ("homes", "../../etc/shadow"),
    ("homes", "eve/\x1b[31mred\x1b[0m.txt"),
)


@dataclass(frozen=True)
class IndexRow:
    share: str
    base_path: str
    archive_id: str
    backed_up: int  # Unix seconds
    size: int
    version: int = 1
    current: int = 1


def mapping_db(rows: Sequence[IndexRow], info: dict[str, str] | None = None) -> bytes:
    """The bytes of a Synology-style index database holding ``rows``."""
    with tempfile.TemporaryDirectory(prefix="emulator-synology-") as tmp:
        path = Path(tmp) / "mapping.db"
        conn = sqlite3.connect(path)
        try:
            conn.execute(FILE_INFO_SQL)
            conn.execute(BACKUP_INFO_SQL)
            conn.executemany(
                "INSERT INTO file_info_tb(shareName, basePath, archiveID, lastBkpTime, fileSize,"
                " archiveVersion, current) VALUES (?,?,?,?,?,?,?)",
                [(r.share, r.base_path, r.archive_id, r.backed_up, r.size, r.version, r.current)
                 for r in rows],
            )
            conn.executemany("INSERT INTO backup_info_tb(key, value) VALUES (?,?)",
                             sorted((info or {}).items()))
            conn.commit()
        finally:
            conn.close()
        return path.read_bytes()


def build_synology_pair(svc: Any, put: Callable[[Any, str, bytes, str], str]) -> None:
    """Create the pair in the demo world (``put(svc, vault, data, description)`` stores
    an archive) and inventory both vaults."""
    rng = random.Random(f"synology:{svc.cfg.seed}")
    clock = svc.clock
    end = clock.now()
    for name in (DATA_VAULT, MAPPING_VAULT):
        svc.call("create_vault", {"vaultName": name})
    rows: list[IndexRow] = []
    for n, (share, base) in enumerate(DEMO_FILES):
        clock.set(end - 40 * DAY + n * 3600.0)
        data = rng.randbytes(rng.randint(200, 4000))
        opaque = rng.randbytes(16).hex()  # what such descriptions look like to a reader
        aid = put(svc, DATA_VAULT, data, opaque)
        rows.append(IndexRow(share, base, aid, int(clock.now()), len(data)))
    # An earlier version of one file, moved since: the current row must win.
    first = rows[0]
    rows.append(IndexRow(first.share, "old/IMG_1001.jpg", first.archive_id,
                         first.backed_up - 86400, first.size, version=0, current=0))
    info = {"taskName": "demo backup", "hostName": "DiskStation", "bkpFolder": "photo,homes",
            "lastBkpTime": str(int(clock.now()))}
    clock.set(end - 39 * DAY)
    put(svc, MAPPING_VAULT, mapping_db(rows, info), "")
    clock.set(end - 3 * DAY)
    for name in (DATA_VAULT, MAPPING_VAULT):
        svc.rebuild_inventory(name)
    clock.set(end)

