"""Local SQLite store: inventories per vault, job history, transfer journal.

Layout
------
* ``vaults``     — one row per vault key (the caller's choice, e.g. the vault ARN)
  pointing at its *current* inventory snapshot.
* ``snapshots``  — metadata of every imported inventory.
* ``archives_<n>`` / ``folders_<n>`` (and lazily ``fts_<n>``) — the rows of
  snapshot ``n``. One table per snapshot makes bulk import index-free until
  the end and makes dropping an old inventory a ``DROP TABLE`` instead of a
  million-row ``DELETE``. ``<n>`` is always an integer from ``snapshots.id``.
* ``jobs`` — job documents upserted by JobId, kept beyond AWS's listing window.
* ``journal`` — generic key -> JSON blob for the transfer engine.

Crash safety: an import writes a new snapshot; the vault's pointer moves to it
in one final durable transaction, after which the old snapshot is dropped. A
crash before the switch leaves the previous inventory current; the orphan is
removed by the next import of that vault (or :meth:`Store.cleanup_orphans`).

Threads: one ``sqlite3`` connection per thread (``threading.local``), WAL mode
so readers never block on the writer, and one process-wide lock serialising
write transactions (other processes are handled by ``busy_timeout``). Every
method is synchronous and may block; UI code calls it via ``asyncio.to_thread``.

One writer at a time: a long write (an import) holds :meth:`Store.writer_lock`, an
``flock`` on ``<store>.lock`` naming the holder's pid, so a second one is refused with
"the store is being written by another glacier-tui (pid N)". A short write that still
finds the database locked after ``BUSY_TIMEOUT_MS`` raises the same
:class:`~glacier_tui.glacier.safe_files.LockedError`, never sqlite's "database is
locked".

Files: the store's directory is created 0700, the database is created 0600 before
SQLite opens it (SQLite gives its -wal, -shm and -journal files the database's mode),
and a symlink (or anything not a regular file) at the database, at one of those side
files, or as the store's directory itself is refused before SQLite could follow it.
Read-only users open with ``create=False``: a missing store raises
:class:`StoreMissingError` and nothing is created.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import platformdirs

from . import errors, safe_files

__all__ = [
    "ArchiveRow",
    "DuplicateGroup",
    "FolderInfo",
    "NameOverlayInfo",
    "SnapshotInfo",
    "SortKey",
    "Store",
    "StoreMissingError",
    "default_db_path",
]

SortKey = Literal["name", "size", "created"]
SCHEMA_VERSION: Final = 1
_CACHE_KIB: Final = 32 * 1024  # page cache per connection
_SORT_CACHE_KIB: Final = 2 * 1024  # while CREATE INDEX sorts (see _index_builds)

# Archive row tuple as the importer produces it (column order of archives_<n>).
ArchiveTuple = tuple[str, str, str, str, int | None, str | None, str | None, str | None, str]
# The same with the rowid first (see Store.insert_archives_at; None appends).
RowidArchiveTuple = tuple[
    int | None, str, str, str, str, int | None, str | None, str | None, str | None, str
]
ARCHIVE_COLUMNS: Final = (
    "archive_id, folder, name, description, size, created, mtime, tree_hash, source"
)

_MIGRATIONS: Final[Sequence[str]] = (
    # v1
    """
    CREATE TABLE vaults(
        vault_key TEXT PRIMARY KEY,
        current_snapshot INTEGER,
        updated_at REAL
    );
    CREATE TABLE snapshots(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vault_key TEXT NOT NULL,
        status TEXT NOT NULL,            -- importing | ready | superseded
        vault_arn TEXT,
        inventory_date TEXT,
        source_format TEXT,
        imported_at REAL,
        archive_count INTEGER,
        total_bytes INTEGER,
        warnings TEXT                    -- JSON list of strings
    );
    CREATE INDEX snapshots_vault ON snapshots(vault_key);
    CREATE TABLE jobs(
        job_id TEXT PRIMARY KEY,
        vault_key TEXT NOT NULL,
        creation_date TEXT,
        doc TEXT NOT NULL,
        updated_at REAL
    );
    CREATE INDEX jobs_vault ON jobs(vault_key, creation_date);
    CREATE TABLE journal(
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL
    );
    """,
)


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("glacier-tui")) / "store.sqlite3"



_PROCESS_WRITERS: dict[str, threading.RLock] = {}
_PROCESS_WRITERS_GUARD = threading.Lock()


def _process_writer(lock_path: Path) -> threading.RLock:
    """The in-process lock for one store: this process's threads wait for each other (a
    nested writer in the same thread gets past it and is refused by the flock instead)."""
    key = os.path.abspath(lock_path)
    with _PROCESS_WRITERS_GUARD:
        return _PROCESS_WRITERS.setdefault(key, threading.RLock())

class StoreMissingError(errors.LocalError):
    """A read-only command found no store (and created none)."""

    summary = "No local store yet."


_SIDE_FILES: Final = ("-wal", "-shm", "-journal")


def _prepare_files(path: Path, *, create: bool) -> None:
    """Check (and, when ``create``, make) the store's directory and database file before
    SQLite opens them: SQLite itself would follow a symlink."""
    directory = path.parent
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        if not create:
            raise StoreMissingError(f"{path} does not exist") from None
        safe_files.ensure_dir(directory)
        st = os.lstat(directory)
    if stat.S_ISLNK(st.st_mode):
        raise safe_files.UnsafeFileError(
            f"{directory} is a symlink; the store's directory must be a real directory"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise safe_files.UnsafeFileError(f"{directory} is not a directory")
    if directory == default_db_path().parent and stat.S_IMODE(st.st_mode) & 0o077:
        with contextlib.suppress(OSError):  # our own data directory, made by an older version
            os.chmod(directory, safe_files.PRIVATE_DIR, follow_symlinks=False)
    for side in _SIDE_FILES:
        if safe_files.check_target(Path(f"{path}{side}")):
            _private(Path(f"{path}{side}"))
    if safe_files.check_target(path):
        _private(path)
    elif not create:
        raise StoreMissingError(f"{path} does not exist")
    else:
        os.close(safe_files.open_regular(path, os.O_RDWR | os.O_CREAT, safe_files.PRIVATE_FILE))
        _private(path)  # in case the umask or an older version left it wider


def _private(path: Path) -> None:
    """0600, without following a link (the caller checked it is a regular file)."""
    with contextlib.suppress(OSError, errors.GlacierError):  # not ours: SQLite reports it
        fd = safe_files.open_regular(path, os.O_RDONLY)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
                os.fchmod(fd, safe_files.PRIVATE_FILE)
        finally:
            os.close(fd)


def _uri(path: Path) -> str:
    """A SQLite URI that refuses a symlink even if one appears after our check."""
    return "file:" + urllib.parse.quote(str(path.absolute())) + "?nofollow=1"


@dataclass(frozen=True, slots=True)
class ArchiveRow:
    archive_id: str
    folder: str  # "" for the root
    name: str
    description: str  # raw, exactly as in the inventory (may hold anything)
    size: int | None  # None when the inventory's value was unusable
    created: str | None
    mtime: str | None  # file mtime recovered from the description (ISO, UTC)
    tree_hash: str | None
    source: str  # decode status, see descriptions.SOURCES

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name


@dataclass(frozen=True, slots=True)
class FolderInfo:
    path: str  # "" for the root
    name: str
    count: int  # archives including descendants
    bytes: int
    direct_count: int  # archives directly in this folder
    direct_bytes: int


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: int
    vault_key: str
    status: str
    vault_arn: str | None
    inventory_date: str | None
    source_format: str | None
    imported_at: float | None
    archive_count: int | None
    total_bytes: int | None
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    tree_hash: str
    size: int | None
    archives: list[ArchiveRow]


# A names-overlay row: (archive_id, folder, name, size or None, mtime ISO or None).
OverlayTuple = tuple[str, str, str, int | None, str | None]


@dataclass(frozen=True, slots=True)
class NameOverlayInfo:
    vault_key: str
    source: str  # the archives' ``source`` once applied (e.g. "synology")
    version: str | None  # the index format version found
    origin: str | None  # where the names came from (e.g. "NAS_1_mapping")
    imported_at: float | None
    entries: int
    applied_snapshot: int | None  # the snapshot the names were last written into
    applied_count: int | None


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_SORT_INDEX: Final[Mapping[str, str]] = {"size": "size", "created": "created"}


class Store:
    """SQLite-backed local store. See the module docstring for layout and threading."""

    BUSY_TIMEOUT_MS: Final = 30_000  # a short write waits this long for another writer

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        """Open (with ``create``: make) the store at ``path`` (default: the data dir).

        Raises :class:`StoreMissingError` when ``create`` is False and there is none, and
        :class:`~glacier_tui.glacier.safe_files.UnsafeFileError` for a symlink or other
        non-regular file in the way (see the module docstring).
        """
        self.path = Path(path) if path is not None else default_db_path()
        self._memory = str(self.path) == ":memory:"
        if not self._memory:
            _prepare_files(self.path, create=create)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._known_indexes: set[str] = set()
        self._migrate()

    # -- connections -------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            # Autocommit mode; transactions are explicit BEGIN/COMMIT below.
            c = sqlite3.connect(
                ":memory:" if self._memory else _uri(self.path), uri=not self._memory,
                isolation_level=None, check_same_thread=False,
            )
            c.execute(f"PRAGMA busy_timeout={int(self.BUSY_TIMEOUT_MS)}")
            # Only takes effect on a new, empty file: 16 KiB pages cut bulk-insert and
            # index-build CPU by ~15-25 % over 4 KiB (measured on 200k inventory rows).
            c.execute("PRAGMA page_size=16384")
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            # Default temp_store (files): index-build sorters spill to disk instead of RAM,
            # which keeps a million-row import's peak RSS flat.
            c.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            self._local.conn = c
            with self._all_lock:
                self._all.append(c)
        return c

    def close(self) -> None:
        """Close every connection. Only call when no other thread still uses the store."""
        with self._all_lock:
            for c in self._all:
                c.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """The store's one-writer lock, held by an import from start to end.

        Writers in this process take turns (two inventories finishing at once in the TUI
        are imported one after the other); another process holding the lock makes entering
        it raise :class:`~glacier_tui.glacier.safe_files.LockedError` naming its pid.
        """
        if self._memory:
            yield
            return
        with _process_writer(self._lock_path), safe_files.ExclusiveLock(
            self._lock_path, what="the store is being written"
        ):
            yield

    @property
    def _lock_path(self) -> Path:
        return Path(f"{self.path}.lock")

    def _busy(self) -> safe_files.LockedError:
        """SQLite's "database is locked", said the way the writer lock says it."""
        pid: int | None = None
        with contextlib.suppress(OSError, ValueError, errors.GlacierError):
            fd = safe_files.open_regular(self._lock_path, os.O_RDONLY)
            try:
                pid = int(os.pread(fd, 32, 0).decode("ascii", "ignore").strip() or "0") or None
            finally:
                os.close(fd)
        holder = f"pid {pid}" if pid else "pid unknown"
        return safe_files.LockedError(
            f"the store is being written by another glacier-tui ({holder})", pid=pid
        )

    @contextmanager
    def _tx(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A serialised write transaction (BEGIN IMMEDIATE ... COMMIT)."""
        c = self.conn
        with self._write_lock:
            if durable:
                c.execute("PRAGMA synchronous=FULL")
            try:
                c.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if durable:
                    c.execute("PRAGMA synchronous=NORMAL")
                if "locked" in str(e) or "busy" in str(e):
                    raise self._busy() from None
                raise
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            else:
                c.execute("COMMIT")
            finally:
                if durable:
                    c.execute("PRAGMA synchronous=NORMAL")

    def _migrate(self) -> None:
        if self.schema_version() >= len(_MIGRATIONS):
            return  # up to date: no write transaction (a reader never waits for a writer)
        with self._tx() as c:
            version: int = c.execute("PRAGMA user_version").fetchone()[0]
            for i, step in enumerate(_MIGRATIONS[version:], start=version + 1):
                for stmt in step.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(f"PRAGMA user_version={int(i)}")

    def schema_version(self) -> int:
        v: int = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return v

    # -- snapshots: import side ---------------------------------------------------------------

    def begin_snapshot(self, vault_key: str, source_format: str) -> int:
        """Create an empty, not-yet-current snapshot and its tables; return its id."""
        self.cleanup_orphans(vault_key)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO snapshots(vault_key, status, source_format, imported_at)"
                " VALUES (?, 'importing', ?, ?)",
                (vault_key, source_format, time.time()),
            )
            n = int(cur.lastrowid or 0)
            # No indexes until the bulk insert is done (built in finish_snapshot).
            c.execute(
                f"CREATE TABLE archives_{n}(archive_id TEXT NOT NULL, folder TEXT NOT NULL,"
                " name TEXT NOT NULL, description TEXT NOT NULL, size INTEGER, created TEXT,"
                " mtime TEXT, tree_hash TEXT, source TEXT NOT NULL)"
            )
            c.execute(
                f"CREATE TABLE folders_{n}(path TEXT PRIMARY KEY, parent TEXT, name TEXT NOT NULL,"
                " count INTEGER NOT NULL, bytes INTEGER NOT NULL, direct_count INTEGER NOT NULL,"
                " direct_bytes INTEGER NOT NULL) WITHOUT ROWID"
            )
        # Bulk phase: durability is provided by the final switch (see finish_snapshot).
        self.conn.execute("PRAGMA synchronous=OFF")
        return n

    def insert_archives(self, snapshot: int, rows: Sequence[ArchiveTuple]) -> None:
        """Append one batch of archive tuples (one transaction per batch)."""
        self.insert_archives_at(snapshot, ((None, *row) for row in rows))

    def insert_archives_at(
        self, snapshot: int, rows: Iterable[RowidArchiveTuple]
    ) -> None:
        """Insert one batch of ``(rowid, *archive tuple)``: the rowid keeps file order when
        two processes insert batches of one import out of order (one transaction)."""
        n = int(snapshot)
        with self._tx() as c:
            c.executemany(
                f"INSERT INTO archives_{n}(rowid, {ARCHIVE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    def finish_snapshot(
        self,
        snapshot: int,
        *,
        vault_arn: str | None,
        inventory_date: str | None,
        warnings: list[str],
        folder_totals: Mapping[str, Sequence[int]] | None = None,
        maybe_duplicates: bool = True,
    ) -> tuple[int, int, int]:
        """Index, de-duplicate, build folders, then atomically make ``snapshot`` current.

        Returns ``(archives, duplicates_removed, folders)``. Duplicate archive ids keep
        the first occurrence in the file (a warning is appended to ``warnings``).
        ``folder_totals`` (folder -> (direct count, direct bytes) of every inserted row),
        when the importer kept it, spares a GROUP BY over the whole table; it is ignored
        if duplicates had to be removed. ``maybe_duplicates=False`` (the importer saw no
        repeated id) skips the duplicate check; the archive-id index is then built on
        first use instead of here (~2 s per 1M rows nobody may need).
        """
        n = int(snapshot)
        c = self.conn
        has_dups = False
        with self._index_builds():
            with self._tx():
                c.execute(f"CREATE INDEX archives_{n}_folder ON archives_{n}(folder, name)")
            # A UNIQUE index is its own duplicate check: the (rare) failure falls back to
            # finding and deleting the duplicates with a plain index on the id.
            if maybe_duplicates:
                try:
                    with self._tx():
                        c.execute(
                            f"CREATE UNIQUE INDEX archives_{n}_id ON archives_{n}(archive_id)"
                        )
                except sqlite3.IntegrityError:
                    has_dups = True
        removed = 0
        if has_dups:
            folder_totals = None
            removed = self._remove_duplicates(n)
        if removed:
            warnings.append(
                f"{removed} duplicate archive id(s) in the inventory; kept the first of each"
            )
        folders = self._build_folders(n, folder_totals)
        count, total = c.execute(
            f"SELECT count, bytes FROM folders_{n} WHERE path = ''"
        ).fetchone() or (0, 0)
        c.execute("PRAGMA synchronous=NORMAL")
        vault_key = self._snapshot_vault(n)
        # The switch: FULL sync, so its commit also makes the bulk-written WAL frames durable.
        with self._tx(durable=True):
            c.execute(
                "UPDATE snapshots SET status='superseded' WHERE vault_key=? AND status='ready'",
                (vault_key,),
            )
            c.execute(
                "UPDATE snapshots SET status='ready', vault_arn=?, inventory_date=?,"
                " archive_count=?, total_bytes=?, warnings=? WHERE id=?",
                (vault_arn, inventory_date, count, total, json.dumps(warnings), n),
            )
            c.execute(
                "INSERT INTO vaults(vault_key, current_snapshot, updated_at) VALUES (?,?,?)"
                " ON CONFLICT(vault_key) DO UPDATE SET current_snapshot=excluded.current_snapshot,"
                " updated_at=excluded.updated_at",
                (vault_key, n, time.time()),
            )
        self.cleanup_orphans(vault_key)
        return int(count), removed, folders

    @contextmanager
    def _index_builds(self) -> Iterator[None]:
        """Let CREATE INDEX's sorter use a second core, on small runs: with a 2 MiB cache
        each sorted run fits the CPU caches and a worker thread sorts runs alongside
        (~0.7 us a row against ~1.1 with the connection's 32 MiB cache)."""
        c = self.conn
        c.execute("PRAGMA threads=2")
        c.execute(f"PRAGMA cache_size=-{_SORT_CACHE_KIB}")
        try:
            yield
        finally:
            c.execute("PRAGMA threads=0")
            c.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")

    def _remove_duplicates(self, n: int) -> int:
        """Delete every later occurrence of a duplicated archive id; return rows removed."""
        c = self.conn
        with self._index_builds(), self._tx():
            c.execute(f"CREATE INDEX archives_{n}_id ON archives_{n}(archive_id)")
        dup_ids = [
            r[0]
            for r in c.execute(
                f"SELECT archive_id FROM archives_{n} GROUP BY archive_id HAVING COUNT(*) > 1"
            )
        ]
        removed = 0
        if dup_ids:
            with self._tx():
                for aid in dup_ids:
                    cur = c.execute(
                        f"DELETE FROM archives_{n} WHERE archive_id = ? AND rowid >"
                        f" (SELECT MIN(rowid) FROM archives_{n} WHERE archive_id = ?)",
                        (aid, aid),
                    )
                    removed += cur.rowcount
        # The index stays for lookups by id (nothing is inserted after the import).
        return removed

    def abort_snapshot(self, snapshot: int) -> None:
        """Drop a snapshot that will never become current (failed import)."""
        n = int(snapshot)
        try:
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            pass
        with self._tx() as c:
            self._drop_snapshot_tables(c, n)
            c.execute("DELETE FROM snapshots WHERE id=?", (n,))

    def cleanup_orphans(self, vault_key: str | None = None) -> int:
        """Drop every non-current snapshot (of ``vault_key``, or of all vaults). Returns count.

        Do not call while an import of the same vault is running in another thread.
        """
        q = (
            "SELECT s.id FROM snapshots s LEFT JOIN vaults v ON v.vault_key = s.vault_key"
            " WHERE (v.current_snapshot IS NULL OR v.current_snapshot != s.id)"
        )
        args: tuple[str, ...] = ()
        if vault_key is not None:
            q += " AND s.vault_key = ?"
            args = (vault_key,)
        ids = [int(r[0]) for r in self.conn.execute(q, args)]
        for n in ids:
            with self._tx() as c:
                self._drop_snapshot_tables(c, n)
                c.execute("DELETE FROM snapshots WHERE id=?", (n,))
        return len(ids)

    @staticmethod
    def _drop_snapshot_tables(c: sqlite3.Connection, n: int) -> None:
        for t in (f"fts_{n}", f"archives_{n}", f"folders_{n}"):
            c.execute(f"DROP TABLE IF EXISTS {t}")

    def _snapshot_vault(self, n: int) -> str:
        row = self.conn.execute("SELECT vault_key FROM snapshots WHERE id=?", (n,)).fetchone()
        if row is None:
            raise KeyError(f"no snapshot {n}")
        return str(row[0])

    def _build_folders(self, n: int, totals: Mapping[str, Sequence[int]] | None = None) -> int:
        """Fill ``folders_<n>`` with totals including descendants; return the folder count.

        Streams the distinct folders in depth-first order (``/`` sorts as char(1),
        below any name character since control characters never survive decoding)
        and rolls totals up a stack, so memory is O(depth), not O(folders).
        """
        c = self.conn
        with self._tx():
            return self._build_folders_tx(c, n, totals)

    def _build_folders_tx(
        self, c: sqlite3.Connection, n: int, totals: Mapping[str, Sequence[int]] | None
    ) -> int:
        read: Iterable[tuple[str, int, float]]
        if totals is None:
            read = c.execute(
                f"SELECT folder, COUNT(*), TOTAL(size) FROM archives_{n} GROUP BY folder"
                " ORDER BY replace(folder, '/', char(1))"
            )
        else:
            # Same order as the SQL: "/" sorts below every other character of a name.
            read = (
                (k, v[0], v[1])
                for k, v in sorted(totals.items(), key=lambda kv: kv[0].replace("/", "\x01"))
            )
        # Frame: [path, direct_count, direct_bytes, count, bytes]
        stack: list[list[Any]] = [["", 0, 0, 0, 0]]
        out: list[tuple[str, str | None, str, int, int, int, int]] = []
        emitted = 0

        def pop() -> None:
            nonlocal emitted
            f = stack.pop()
            path = f[0]
            if stack:
                stack[-1][3] += f[3]
                stack[-1][4] += f[4]
            out.append(
                (path, _parent(path) if path else None, path.rpartition("/")[2],
                 f[3], f[4], f[1], f[2])
            )
            emitted += 1
            if len(out) >= 10000:
                flush()

        def flush() -> None:
            c.executemany(f"INSERT INTO folders_{n} VALUES (?,?,?,?,?,?,?)", out)
            out.clear()

        for folder, cnt, total in read:
            cnt, total = int(cnt), int(total)
            while stack[-1][0] and not (
                folder == stack[-1][0] or folder.startswith(stack[-1][0] + "/")
            ):
                pop()
            top = stack[-1][0]
            if folder != top:
                # Push intermediate folders that hold no archives directly.
                rest = folder[len(top) + 1:] if top else folder
                acc = top
                for part in rest.split("/"):
                    acc = f"{acc}/{part}" if acc else part
                    stack.append([acc, 0, 0, 0, 0])
            frame = stack[-1]
            frame[1] += cnt
            frame[2] += total
            frame[3] += cnt
            frame[4] += total
        while stack:
            pop()
        if out:
            flush()
        c.execute(f"CREATE INDEX folders_{n}_parent ON folders_{n}(parent, name)")
        return emitted

    # -- snapshots: read side -----------------------------------------------------------------

    def current_snapshot_id(self, vault_key: str) -> int | None:
        row = self.conn.execute(
            "SELECT current_snapshot FROM vaults WHERE vault_key=?", (vault_key,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _snap(self, vault_key: str) -> int:
        n = self.current_snapshot_id(vault_key)
        if n is None:
            raise KeyError(f"no inventory stored for vault {vault_key!r}")
        return n

    def snapshot_info(self, vault_key: str) -> SnapshotInfo | None:
        n = self.current_snapshot_id(vault_key)
        if n is None:
            return None
        r = self.conn.execute(
            "SELECT id, vault_key, status, vault_arn, inventory_date, source_format, imported_at,"
            " archive_count, total_bytes, warnings FROM snapshots WHERE id=?",
            (n,),
        ).fetchone()
        if r is None:
            return None
        return SnapshotInfo(
            id=r[0], vault_key=r[1], status=r[2], vault_arn=r[3], inventory_date=r[4],
            source_format=r[5], imported_at=r[6], archive_count=r[7], total_bytes=r[8],
            warnings=json.loads(r[9] or "[]"),
        )

    def vault_keys(self) -> list[str]:
        return [
            str(r[0])
            for r in self.conn.execute(
                "SELECT vault_key FROM vaults WHERE current_snapshot IS NOT NULL ORDER BY vault_key"
            )
        ]

    # -- browsing -----------------------------------------------------------------------------

    def folder(self, vault_key: str, path: str = "") -> FolderInfo | None:
        """Totals of one folder (fast: one primary-key lookup)."""
        n = self._snap(vault_key)
        r = self.conn.execute(
            f"SELECT path, name, count, bytes, direct_count, direct_bytes FROM folders_{n}"
            " WHERE path=?",
            (path,),
        ).fetchone()
        return None if r is None else FolderInfo(*r)

    def subfolders(
        self, vault_key: str, path: str = "", *, offset: int = 0, limit: int = 1000
    ) -> list[FolderInfo]:
        """Direct subfolders of ``path``, by name, with their totals."""
        n = self._snap(vault_key)
        rows = self.conn.execute(
            f"SELECT path, name, count, bytes, direct_count, direct_bytes FROM folders_{n}"
            " WHERE parent=? ORDER BY name LIMIT ? OFFSET ?",
            (path, limit, offset),
        )
        return [FolderInfo(*r) for r in rows]

    def subfolder_count(self, vault_key: str, path: str = "") -> int:
        n = self._snap(vault_key)
        r = self.conn.execute(f"SELECT COUNT(*) FROM folders_{n} WHERE parent=?", (path,))
        return int(r.fetchone()[0])

    def count_archives(self, vault_key: str, folder: str = "") -> int:
        """Archives directly in ``folder`` (from ``folders``, no scan)."""
        info = self.folder(vault_key, folder)
        return 0 if info is None else info.direct_count

    def ensure_sort_index(self, vault_key: str, sort: SortKey) -> None:
        """Build the (folder, size|created) index on first use; idempotent. ~1 s per 1M rows."""
        col = _SORT_INDEX.get(sort)
        if col is None:
            return
        n = self._snap(vault_key)
        self._ensure_index(f"archives_{n}_{col}", f"archives_{n}(folder, {col})")

    def _ensure_index(self, name: str, target: str) -> None:
        """Create an index once; a read-only check first so browsing never takes the write lock."""
        if name in self._known_indexes:
            return
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (name,)
        ).fetchone()
        if exists is None:
            with self._index_builds(), self._tx() as c:
                c.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
        self._known_indexes.add(name)

    def archives(
        self,
        vault_key: str,
        folder: str = "",
        *,
        sort: SortKey = "name",
        descending: bool = False,
        offset: int = 0,
        limit: int = 200,
    ) -> list[ArchiveRow]:
        """Archives directly in ``folder``, one page, sorted (ties broken by rowid)."""
        if sort not in ("name", "size", "created"):
            raise ValueError(f"bad sort key {sort!r}")
        self.ensure_sort_index(vault_key, sort)
        n = self._snap(vault_key)
        if offset > 0 and (info := self.folder(vault_key, folder)) is not None:
            total = info.direct_count
            end = min(offset + limit, total)
            if offset > total // 2 and end > offset:
                # An OFFSET costs its length (~50 ms at 1M): the second half of the list
                # is read from its end, in the opposite order (ties by rowid reverse too).
                back = self._page(n, folder, sort, not descending, total - end, end - offset)
                return back[::-1]
        return self._page(n, folder, sort, descending, offset, limit)

    def _page(
        self, n: int, folder: str, sort: str, descending: bool, offset: int, limit: int
    ) -> list[ArchiveRow]:
        d = "DESC" if descending else "ASC"
        rows = self.conn.execute(
            f"SELECT {ARCHIVE_COLUMNS} FROM archives_{n} WHERE folder=?"
            f" ORDER BY {sort} {d}, rowid {d} LIMIT ? OFFSET ?",
            (folder, limit, offset),
        )
        return [ArchiveRow(*r) for r in rows]

    def archives_after(
        self, vault_key: str, folder: str, after_name: str | None, after_rowid: int = 0,
        *, limit: int = 200,
    ) -> list[tuple[int, ArchiveRow]]:
        """Keyset paging by name: rows after ``(after_name, after_rowid)``, with their rowids."""
        n = self._snap(vault_key)
        if after_name is None:
            cur = self.conn.execute(
                f"SELECT rowid, {ARCHIVE_COLUMNS} FROM archives_{n} WHERE folder=?"
                " ORDER BY name, rowid LIMIT ?",
                (folder, limit),
            )
        else:
            cur = self.conn.execute(
                f"SELECT rowid, {ARCHIVE_COLUMNS} FROM archives_{n} WHERE folder=?"
                " AND (name, rowid) > (?, ?) ORDER BY name, rowid LIMIT ?",
                (folder, after_name, after_rowid, limit),
            )
        return [(int(r[0]), ArchiveRow(*r[1:])) for r in cur]

    def _ensure_id_index(self, n: int) -> None:
        # Built at import only when the file had repeated ids; otherwise on first lookup.
        self._ensure_index(f"archives_{n}_id", f"archives_{n}(archive_id)")

    def get_archive(self, vault_key: str, archive_id: str) -> ArchiveRow | None:
        n = self._snap(vault_key)
        self._ensure_id_index(n)
        r = self.conn.execute(
            f"SELECT {ARCHIVE_COLUMNS} FROM archives_{n} WHERE archive_id=?", (archive_id,)
        ).fetchone()
        return None if r is None else ArchiveRow(*r)

    def iter_archives(self, vault_key: str, batch: int = 5000) -> Iterator[ArchiveRow]:
        """Every archive of the current snapshot, in path order, streamed."""
        n = self._snap(vault_key)
        cur = self.conn.execute(
            f"SELECT {ARCHIVE_COLUMNS} FROM archives_{n} ORDER BY folder, name"
        )
        while True:
            chunk = cur.fetchmany(batch)
            if not chunk:
                return
            for r in chunk:
                yield ArchiveRow(*r)

    def remove_archives(self, vault_key: str, archive_ids: Iterable[str]) -> int:
        """Drop archives deleted since the inventory from the current snapshot.

        Folder totals and the snapshot's count and size are rebuilt, and the search
        index (when built) is kept in step. Returns the number of rows removed.
        """
        n = self._snap(vault_key)
        ids = list(dict.fromkeys(archive_ids))
        if not ids:
            return 0
        self._ensure_id_index(n)
        c = self.conn
        fts = c.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"fts_{n}",)
        ).fetchone() is not None
        removed = 0
        with self._tx():
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                if fts:  # external-content FTS: tell it which rows go away first
                    c.execute(
                        f"INSERT INTO fts_{n}(fts_{n}, rowid, name) SELECT 'delete', rowid,"
                        f" name FROM archives_{n} WHERE archive_id IN ({marks})",
                        chunk,
                    )
                cur = c.execute(f"DELETE FROM archives_{n} WHERE archive_id IN ({marks})", chunk)
                removed += cur.rowcount
            if removed:
                c.execute(f"DROP INDEX IF EXISTS folders_{n}_parent")
                c.execute(f"DELETE FROM folders_{n}")
                self._build_folders_tx(c, n, None)
                count, total = c.execute(
                    f"SELECT count, bytes FROM folders_{n} WHERE path = ''"
                ).fetchone() or (0, 0)
                c.execute(
                    "UPDATE snapshots SET archive_count=?, total_bytes=? WHERE id=?",
                    (count, total, n),
                )
        return removed

    def has_search_index(self, vault_key: str) -> bool:
        n = self._snap(vault_key)
        r = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"fts_{n}",)
        ).fetchone()
        return r is not None

    def ensure_search_index(self, vault_key: str) -> bool:
        """Build the FTS5 trigram index on names (seconds per million); False if unsupported."""
        if not fts5_trigram_available():
            return False
        if self.has_search_index(vault_key):
            return True
        n = self._snap(vault_key)
        with self._tx() as c:
            c.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS fts_{n} USING fts5(name,"
                f" content='archives_{n}', content_rowid='rowid', tokenize='trigram')"
            )
            c.execute(f"INSERT INTO fts_{n}(fts_{n}) VALUES ('rebuild')")
        return True

    def search(
        self, vault_key: str, text: str, *, offset: int = 0, limit: int = 200
    ) -> list[ArchiveRow]:
        """Archives anywhere in the vault whose name contains ``text`` (case-insensitive).

        Uses the trigram index when built and ``text`` has >= 3 characters; otherwise an
        early-exit LIKE scan (fast for a first page of common matches). Order: file order.
        """
        n = self._snap(vault_key)
        pattern = f"%{_like_escape(text)}%"
        if len(text) >= 3 and self.has_search_index(vault_key):
            # A quoted FTS5 phrase is matched literally; trigram makes it a substring match.
            pattern = '"' + text.replace('"', '""') + '"'
            q = (
                f"SELECT {ARCHIVE_COLUMNS} FROM archives_{n} WHERE rowid IN"
                f" (SELECT rowid FROM fts_{n} WHERE fts_{n} MATCH ?)"
                " ORDER BY rowid LIMIT ? OFFSET ?"
            )
        else:
            q = (
                f"SELECT {ARCHIVE_COLUMNS} FROM archives_{n} WHERE name LIKE ? ESCAPE '\\'"
                " ORDER BY rowid LIMIT ? OFFSET ?"
            )
        return [ArchiveRow(*r) for r in self.conn.execute(q, (pattern, limit, offset))]

    def search_count(self, vault_key: str, text: str, *, cap: int = 100_000) -> int:
        """Number of :meth:`search` matches, counting at most ``cap`` (bounded cost)."""
        n = self._snap(vault_key)
        if len(text) >= 3 and self.has_search_index(vault_key):
            q = f"SELECT rowid FROM fts_{n} WHERE fts_{n} MATCH ?"
            arg = '"' + text.replace('"', '""') + '"'
        else:
            q = f"SELECT rowid FROM archives_{n} WHERE name LIKE ? ESCAPE '\\'"
            arg = f"%{_like_escape(text)}%"
        r = self.conn.execute(f"SELECT COUNT(*) FROM ({q} LIMIT ?)", (arg, cap)).fetchone()
        return int(r[0])

    def duplicates(
        self, vault_key: str, *, offset: int = 0, limit: int = 100
    ) -> list[DuplicateGroup]:
        """Groups of archives with the same tree hash (and size): the same bytes stored twice.

        Builds a tree-hash index on first use. Groups ordered by wasted bytes, largest first.
        """
        n = self._snap(vault_key)
        self._ensure_index(f"archives_{n}_hash", f"archives_{n}(tree_hash, size)")
        groups = self.conn.execute(
            f"SELECT tree_hash, size FROM archives_{n} WHERE tree_hash IS NOT NULL"
            " GROUP BY tree_hash, size HAVING COUNT(*) > 1"
            " ORDER BY (COUNT(*) - 1) * COALESCE(size, 0) DESC, tree_hash LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        out: list[DuplicateGroup] = []
        for h, size in groups:
            rows = self.conn.execute(
                f"SELECT {ARCHIVE_COLUMNS} FROM archives_{n} WHERE tree_hash=? AND size IS ?"
                " ORDER BY created, rowid",
                (h, size),
            )
            out.append(DuplicateGroup(str(h), size, [ArchiveRow(*r) for r in rows]))
        return out

    # -- jobs ---------------------------------------------------------------------------------

    def upsert_job(self, vault_key: str, job: Mapping[str, Any]) -> None:
        """Insert or replace a job document (a GlacierJobDescription dict) by its JobId."""
        job_id = job.get("JobId")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("job document has no JobId")
        with self._tx() as c:
            c.execute(
                "INSERT INTO jobs(job_id, vault_key, creation_date, doc, updated_at)"
                " VALUES (?,?,?,?,?) ON CONFLICT(job_id) DO UPDATE SET"
                " vault_key=excluded.vault_key, creation_date=excluded.creation_date,"
                " doc=excluded.doc, updated_at=excluded.updated_at",
                (job_id, vault_key, job.get("CreationDate"), json.dumps(dict(job), default=str),
                 time.time()),
            )

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        r = self.conn.execute("SELECT doc FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        if r is None:
            return None
        doc: dict[str, Any] = json.loads(r[0])
        return doc

    def list_jobs(self, vault_key: str) -> list[dict[str, Any]]:
        """Job documents of a vault, newest first."""
        return [
            json.loads(r[0])
            for r in self.conn.execute(
                "SELECT doc FROM jobs WHERE vault_key=? ORDER BY creation_date DESC, job_id",
                (vault_key,),
            )
        ]

    def delete_job(self, job_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))

    # -- transfer journal ---------------------------------------------------------------------

    def journal_put(self, key: str, value: Any) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO journal(key, value, updated_at) VALUES (?,?,?) ON CONFLICT(key)"
                " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (key, json.dumps(value), time.time()),
            )

    def journal_get(self, key: str) -> Any | None:
        r = self.conn.execute("SELECT value FROM journal WHERE key=?", (key,)).fetchone()
        return None if r is None else json.loads(r[0])

    def journal_delete(self, key: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM journal WHERE key=?", (key,))

    def journal_items(self, prefix: str = "") -> list[tuple[str, Any]]:
        """All (key, value) pairs whose key starts with ``prefix``, by key."""
        rows = self.conn.execute(
            "SELECT key, value FROM journal WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        )
        return [(str(k), json.loads(v)) for k, v in rows]


    # -- names overlays (names from an appliance's own index, per vault) -----------------------
    #
    # Some backup appliances keep file names out of the archive descriptions, in an index
    # of their own (see appliance_index). The names read from that index are kept per
    # vault in ``name_overlays`` and written into the current snapshot's rows, so browsing,
    # search, restores and exports see them exactly like decoded descriptions; they are
    # applied again to each later inventory of the vault. Created on first use.

    def _ensure_overlay_tables(self, c: sqlite3.Connection) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS name_overlays(vault_key TEXT NOT NULL,"
            " archive_id TEXT NOT NULL, folder TEXT NOT NULL, name TEXT NOT NULL,"
            " size INTEGER, mtime TEXT, PRIMARY KEY(vault_key, archive_id)) WITHOUT ROWID"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS name_overlay_info(vault_key TEXT PRIMARY KEY,"
            " source TEXT NOT NULL, version TEXT, origin TEXT, imported_at REAL,"
            " entries INTEGER NOT NULL, applied_snapshot INTEGER, applied_count INTEGER)"
        )

    def _has_overlay_tables(self) -> bool:
        r = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='name_overlay_info'"
        ).fetchone()
        return r is not None

    def put_name_overlay(
        self,
        vault_key: str,
        rows: Iterable[OverlayTuple],
        *,
        source: str,
        version: str | None,
        origin: str | None,
        batch: int = 5000,
    ) -> int:
        """Replace the vault's names overlay with ``rows`` in ONE transaction; return the count.

        Rows are ``(archive_id, folder, name, size, mtime)``; a repeated archive id keeps
        its first row. If iterating ``rows`` raises, everything is rolled back: the
        previous overlay (or none) stays, and the exception propagates.
        """
        count = 0
        with self._tx() as c:
            self._ensure_overlay_tables(c)
            c.execute("DELETE FROM name_overlays WHERE vault_key=?", (vault_key,))
            chunk: list[tuple[str, str, str, str, int | None, str | None]] = []
            for aid, folder, name, size, mtime in rows:
                chunk.append((vault_key, aid, folder, name, size, mtime))
                if len(chunk) >= batch:
                    count += self._insert_overlay(c, chunk)
            count += self._insert_overlay(c, chunk)
            c.execute(
                "INSERT OR REPLACE INTO name_overlay_info(vault_key, source, version, origin,"
                " imported_at, entries, applied_snapshot, applied_count)"
                " VALUES (?,?,?,?,?,?,NULL,NULL)",
                (vault_key, source, version, origin, time.time(), count),
            )
        return count

    @staticmethod
    def _insert_overlay(
        c: sqlite3.Connection, chunk: list[tuple[str, str, str, str, int | None, str | None]]
    ) -> int:
        if not chunk:
            return 0
        before = c.total_changes
        c.executemany(
            "INSERT OR IGNORE INTO name_overlays(vault_key, archive_id, folder, name, size,"
            " mtime) VALUES (?,?,?,?,?,?)",
            chunk,
        )
        chunk.clear()
        return c.total_changes - before

    def name_overlay_info(self, vault_key: str) -> NameOverlayInfo | None:
        """What is known about the vault's names overlay, or None when there is none."""
        if not self._has_overlay_tables():
            return None
        r = self.conn.execute(
            "SELECT vault_key, source, version, origin, imported_at, entries, applied_snapshot,"
            " applied_count FROM name_overlay_info WHERE vault_key=?",
            (vault_key,),
        ).fetchone()
        return None if r is None else NameOverlayInfo(*r)

    def drop_name_overlay(self, vault_key: str) -> None:
        """Forget the vault's overlay (rows already renamed keep their names until the
        next inventory import)."""
        if not self._has_overlay_tables():
            return
        with self._tx() as c:
            c.execute("DELETE FROM name_overlays WHERE vault_key=?", (vault_key,))
            c.execute("DELETE FROM name_overlay_info WHERE vault_key=?", (vault_key,))

    def apply_name_overlay(self, vault_key: str) -> int:
        """Write the overlay's names into the current snapshot; return rows renamed.

        Folder totals, the snapshot's totals and the search index follow. The archive
        size from the inventory is kept (the index's size only fills a missing one).
        Idempotent; 0 when the vault has no overlay or no inventory.
        """
        info = self.name_overlay_info(vault_key)
        n = self.current_snapshot_id(vault_key)
        if info is None or n is None:
            return 0
        c = self.conn
        fts = c.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"fts_{n}",)
        ).fetchone() is not None
        self._ensure_id_index(n)
        with self._tx():
            cur = c.execute(
                f"UPDATE archives_{n} AS a SET folder=o.folder, name=o.name,"
                " size=COALESCE(a.size, o.size), mtime=COALESCE(o.mtime, a.mtime), source=?"
                " FROM name_overlays AS o WHERE o.vault_key=? AND o.archive_id=a.archive_id",
                (info.source, vault_key),
            )
            renamed = cur.rowcount
            c.execute(f"DROP INDEX IF EXISTS folders_{n}_parent")
            c.execute(f"DELETE FROM folders_{n}")
            self._build_folders_tx(c, n, None)
            count, total = c.execute(
                f"SELECT count, bytes FROM folders_{n} WHERE path = ''"
            ).fetchone() or (0, 0)
            c.execute(
                "UPDATE snapshots SET archive_count=?, total_bytes=? WHERE id=?",
                (count, total, n),
            )
            if fts:  # external-content FTS over the names: rebuilt from the new names
                c.execute(f"INSERT INTO fts_{n}(fts_{n}) VALUES ('rebuild')")
            c.execute(
                "UPDATE name_overlay_info SET applied_snapshot=?, applied_count=?"
                " WHERE vault_key=?",
                (n, renamed, vault_key),
            )
        return renamed


_FTS5_TRIGRAM: bool | None = None


def fts5_trigram_available() -> bool:
    """True if this SQLite (>= 3.34 with FTS5) has the trigram tokenizer."""
    global _FTS5_TRIGRAM
    if _FTS5_TRIGRAM is None:
        try:
            c = sqlite3.connect(":memory:")
            c.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
            c.close()
            _FTS5_TRIGRAM = True
        except sqlite3.Error:
            _FTS5_TRIGRAM = False
    return _FTS5_TRIGRAM
