"""Disk storage: SQLite (WAL) metadata plus one blob file per archive / part / job output.

All SQL runs under one lock, one transaction per request (``Store.tx``); callers run it in
a worker thread so the event loop never waits on disk. Bulk bytes (request bodies) are
written and fsynced *outside* that lock; a transaction only records what is already
durable. File removals that must wait for the commit go through ``Store.after_commit``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vaults (
    name TEXT PRIMARY KEY, creation REAL NOT NULL,
    last_inventory REAL, inv_count INTEGER NOT NULL DEFAULT 0, inv_size INTEGER NOT NULL DEFAULT 0,
    dirty_since REAL, access_policy TEXT, notif_topic TEXT, notif_events TEXT,
    lock_id TEXT, lock_state TEXT, lock_policy TEXT, lock_created REAL, lock_expires REAL
);
CREATE TABLE IF NOT EXISTS tags (
    vault TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (vault, key)
);
CREATE TABLE IF NOT EXISTS archives (
    id TEXT PRIMARY KEY, vault TEXT NOT NULL, description TEXT NOT NULL, creation REAL NOT NULL,
    size INTEGER NOT NULL, tree_hash TEXT NOT NULL, blob TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS archives_vault ON archives (vault, creation, id);
CREATE TABLE IF NOT EXISTS inventory (
    vault TEXT NOT NULL, archive_id TEXT NOT NULL, description TEXT NOT NULL,
    creation REAL NOT NULL, size INTEGER NOT NULL, tree_hash TEXT NOT NULL,
    PRIMARY KEY (vault, creation, archive_id)
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, vault TEXT NOT NULL, description TEXT, part_size INTEGER NOT NULL,
    creation REAL NOT NULL, last_activity REAL NOT NULL, state TEXT NOT NULL,
    archive_id TEXT, finished REAL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, start INTEGER NOT NULL, end_ INTEGER NOT NULL,
    tree_hash TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (upload_id, start)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, vault TEXT NOT NULL, action TEXT NOT NULL,
    archive_id TEXT, description TEXT, sns_topic TEXT, tier TEXT,
    range_start INTEGER, range_end INTEGER, archive_size INTEGER, archive_tree_hash TEXT,
    sha_tree_hash TEXT, format TEXT, inv_params TEXT, creation REAL NOT NULL, due REAL NOT NULL,
    completion REAL, status TEXT NOT NULL, status_message TEXT, output TEXT,
    output_offset INTEGER, output_size INTEGER, content_type TEXT, archive_description TEXT,
    inventory_size INTEGER, expires REAL, expired INTEGER NOT NULL DEFAULT 0,
    fail INTEGER NOT NULL DEFAULT 0, select_params TEXT, output_location TEXT
);
CREATE INDEX IF NOT EXISTS jobs_vault ON jobs (vault, seq);
CREATE TABLE IF NOT EXISTS capacity (
    id TEXT PRIMARY KEY, start REAL NOT NULL, expiration REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, topic TEXT NOT NULL,
    event TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retrievals (
    job_id TEXT PRIMARY KEY, time REAL NOT NULL, bytes INTEGER NOT NULL
);
"""


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        for sub in ("blobs", "parts", "outputs", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for stale in (self.root / "tmp").iterdir():  # half-written uploads of a crashed run
            with contextlib.suppress(OSError):
                stale.unlink()
        self.lock = threading.RLock()
        self._after_commit: list[Callable[[], None]] = []
        self.db = sqlite3.connect(
            self.root / "glacier.sqlite3", check_same_thread=False, isolation_level=None
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One serialised transaction; rolled back if the handler raises."""
        with self.lock:
            if self.db.in_transaction:  # nested use inside a handler
                yield self.db
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self._after_commit.clear()
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
            done, self._after_commit = self._after_commit, []
        for fn in done:  # outside the lock: the commit no longer needs these files
            with contextlib.suppress(OSError):
                fn()

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the current transaction has committed (dropped on rollback).

        For removing files the committed state no longer refers to: removed before the
        commit, a crash in between would leave rows pointing at missing files.
        """
        self._after_commit.append(fn)

    # --- meta key/value ---
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def next_counter(self, kind: str) -> int:
        n = int(self.get_meta(f"counter:{kind}") or "0") + 1
        self.set_meta(f"counter:{kind}", str(n))
        return n

    # --- files ---
    def tmp_path(self, name: str) -> Path:
        return self.root / "tmp" / name

    def unique_tmp_path(self, prefix: str) -> Path:
        """A fresh temp file name without touching the database (tmp/ is emptied at start)."""
        return self.root / "tmp" / f"{prefix}-{uuid.uuid4().hex}"

    def blob_path(self, kind: str, key: str) -> Path:
        # IDs can be long; hash them into a short, filesystem-safe name.
        return self.root / kind / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".bin")

    def upload_dir(self, upload_id: str) -> Path:
        return self.root / "parts" / hashlib.sha256(upload_id.encode()).hexdigest()[:40]

    def part_path(self, upload_id: str, start: int) -> Path:
        d = self.upload_dir(upload_id)
        d.mkdir(exist_ok=True)
        return d / f"{start:016d}.part"

    def upload_data_path(self, upload_id: str) -> Path:
        """The per-upload file that holds parts at their offsets (sparse until complete)."""
        return self.upload_dir(upload_id) / "upload.bin"

    def ensure_upload_data(self, upload_id: str) -> Path:
        """Create the upload's data file if needed, durably (its directory entry fsynced)."""
        path = self.upload_data_path(upload_id)
        if not path.exists():
            created = not path.parent.exists()
            path.parent.mkdir(exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
            fsync_dir(path.parent)
            if created:
                fsync_dir(path.parent.parent)
        return path

    def remove_upload_dir(self, upload_id: str) -> None:
        shutil.rmtree(self.upload_dir(upload_id), ignore_errors=True)

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def abs(self, rel: str) -> Path:
        return self.root / rel


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_file(tmp: Path, final: Path) -> None:
    """Make a fully written temp file durable under its final name."""
    os.replace(tmp, final)
    fsync_dir(final.parent)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
