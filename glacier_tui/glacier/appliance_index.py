"""Names from a backup appliance's own index: Synology Glacier Backup.

Synology Glacier Backup (a DSM package) stores each backed-up file as one archive whose
description holds no usable name, in a *data vault* (e.g. ``NAS_1234_1``). The names
live in a SQLite database that it uploads as the (single) archive of a companion vault
named like the data vault plus ``_mapping``. Public descriptions of that layout:

- https://github.com/pdhodgkinson/synology-glacier-to-fast-glacier — its README says the
  one file in the ``…_mapping`` vault "is the same sqlite DB" the NAS keeps; its code reads
  ``shareName, basePath FROM file_info_tb WHERE archiveID = ?`` and an earlier revision
  lists the columns ``key|shareName|basePath|archiveID|lastBkpTime|fileSize|archiveVersion|
  current``.
- https://github.com/ryanschulze/synology-glacier-restore — "a sqlite3 database (in a
  separate vault with the suffix '_mapping')", read with ``select basePath,archiveID from
  file_info_tb``.
- https://tech.torico-corp.com/blog/restore-one-file-from-aws-gracier-of-synology-nas-by-aws-cli
  — the two vaults, the second one's name ending in ``_mapping``.

Schema facts relied on: table ``file_info_tb`` with ``shareName`` (the shared folder),
``basePath`` (the path inside it), ``archiveID`` (the Glacier archive id), ``fileSize``
(bytes), ``lastBkpTime`` (Unix seconds of the backup; the only time per file, used as
the file time), ``current`` and ``key``. One archive may be listed under several paths;
the row marked ``current`` (else the first) names it. Table ``backup_info_tb(key, value)``
describes the task (``taskName``, ``hostName``, ``bkpFolder``, ``lastBkpTime``). The
database records no schema version, so the version is told by the columns: the layout
above is version ``1``; any other layout is reported, by its columns, as not known.

The index is untrusted input: it is copied to a private temp file, its SQLite header and
size are checked (a truncated download is refused before SQLite reads it), it is opened
read-only and immutable with ``trusted_schema`` off, ``PRAGMA quick_check`` must pass,
and every query runs under a deadline. Names go through :func:`normalize_path` like
decoded descriptions; a bad row is skipped and counted, a bad file imports nothing.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final, TypeVar

from glacier_tui.glacier import errors, safe_files
from glacier_tui.glacier.descriptions import normalize_path
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import OverlayTuple, Store

__all__ = [
    "KNOWN_VERSION",
    "MAPPING_SUFFIX",
    "SOURCE",
    "IndexFormatError",
    "IndexImport",
    "IndexReader",
    "UnknownIndexVersion",
    "data_vault_for",
    "find_pairs",
    "import_index",
    "mapping_vault_for",
    "open_index",
]

MAPPING_SUFFIX: Final = "_mapping"
SOURCE: Final = "synology"  # the archives' ``source`` once named from the index
KNOWN_VERSION: Final = "1"
TABLE: Final = "file_info_tb"
INFO_TABLE: Final = "backup_info_tb"
REQUIRED: Final = ("shareName", "basePath", "archiveID")
OPTIONAL: Final = ("fileSize", "lastBkpTime", "current", "key")

MAX_INDEX_BYTES: Final = 2 << 30  # a 2 GiB index is tens of millions of files
MAX_PATH_CHARS: Final = 4096
DEADLINE_S: Final = 600.0  # for every query on the index together
_HEADER: Final = b"SQLite format 3\x00"
_ARCHIVE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")
_MAX_TIME: Final = 253402300799  # 9999-12-31T23:59:59Z
_MAX_SIZE: Final = 1 << 62  # SQLite integers are 64-bit; Glacier archives are far smaller
_T = TypeVar("_T")


# -- vault pairs ----------------------------------------------------------------------------


def mapping_vault_for(vault: str, names: Iterable[str]) -> str | None:
    """The ``<vault>_mapping`` companion of a data vault when it exists in ``names``."""
    if vault.endswith(MAPPING_SUFFIX):
        return None
    candidate = vault + MAPPING_SUFFIX
    return candidate if candidate in set(names) else None


def data_vault_for(vault: str, names: Iterable[str]) -> str | None:
    """The data vault a ``…_mapping`` vault belongs to, when it exists in ``names``."""
    if not vault.endswith(MAPPING_SUFFIX) or vault == MAPPING_SUFFIX:
        return None
    data = vault[: -len(MAPPING_SUFFIX)]
    return data if data in set(names) else None


def find_pairs(names: Iterable[str]) -> dict[str, str]:
    """Every data vault -> its mapping vault, among ``names``."""
    known = set(names)
    return {
        n: n + MAPPING_SUFFIX
        for n in sorted(known)
        if not n.endswith(MAPPING_SUFFIX) and n + MAPPING_SUFFIX in known
    }


# -- errors ---------------------------------------------------------------------------------


class IndexFormatError(errors.LocalError):
    """The file is not a usable Synology index; nothing was imported."""

    summary = "Not a usable Synology index"
    default_hint = "Nothing was imported; archives are shown by id."

    def user_message(self) -> str:
        return f"{self.message}. {self.hint}"


class UnknownIndexVersion(IndexFormatError):
    """A Synology-looking index in a layout this program does not know."""

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(version)

    @property
    def message(self) -> str:
        return f"Synology index version {self.version} is not known; archives are shown by id"

    def user_message(self) -> str:
        return self.message + "."


# -- reading --------------------------------------------------------------------------------


@dataclass
class IndexReader:
    """An open, checked index: its version, task info, and its rows as overlay tuples."""

    conn: sqlite3.Connection
    version: str
    columns: dict[str, str]  # our column name -> the file's spelling
    info: dict[str, str] = field(default_factory=dict)
    rows: int = 0  # rows read
    skipped: int = 0  # rows without a usable archive id or path

    def entries(self) -> Iterator[OverlayTuple]:
        """``(archive_id, folder, name, size, mtime)`` per usable row, ``current`` first."""
        cols = self.columns
        select = ", ".join(_ident(cols[c]) if c in cols else "NULL" for c in REQUIRED + OPTIONAL)
        order = []
        if "current" in cols:
            order.append(f"CASE WHEN {_ident(cols['current'])} IN (1, '1', 'true', 'TRUE')"
                         " THEN 0 ELSE 1 END")
        if "key" in cols:
            order.append(_ident(cols["key"]))
        sql = f"SELECT {select} FROM {_ident(TABLE)}"
        if order:
            sql += " ORDER BY " + ", ".join(order)
        cur = _guarded(lambda: self.conn.execute(sql))
        while True:
            chunk = _guarded(lambda: cur.fetchmany(2000))
            if not chunk:
                return
            for share, base, aid, size, when, _current, _key in chunk:
                self.rows += 1
                entry = _entry(share, base, aid, size, when)
                if entry is None:
                    self.skipped += 1
                else:
                    yield entry


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _guarded(call: Callable[[], _T]) -> _T:
    try:
        return call()
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            raise IndexFormatError(
                f"reading the index took longer than {DEADLINE_S:.0f} s") from None
        raise IndexFormatError(f"SQLite could not read it ({inert(exc)})") from None
    except sqlite3.DatabaseError as exc:
        raise IndexFormatError(f"SQLite could not read it ({inert(exc)})") from None


def _text(v: object) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return None


def _int(v: object) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    if isinstance(v, str | bytes) and len(v) <= 20:
        with contextlib.suppress(ValueError, OverflowError):  # "x", "nan", "1e400"
            return int(float(v))
    return None


def _entry(share: object, base: object, aid: object, size: object,
           when: object) -> OverlayTuple | None:
    archive_id = _text(aid)
    share_s, base_s = _text(share), _text(base)
    if archive_id is None or _ARCHIVE_ID.fullmatch(archive_id) is None or base_s is None:
        return None
    raw = f"{share_s or ''}/{base_s}"
    if len(raw) > MAX_PATH_CHARS:
        return None
    path = normalize_path(raw)
    if not path:
        return None
    folder, _, name = path.rpartition("/")
    n = _int(size)
    t = _int(when)
    mtime = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
             if t is not None and 0 < t <= _MAX_TIME else None)
    return archive_id, folder, name, n if n is not None and 0 <= n < _MAX_SIZE else None, mtime


def check_sqlite_file(head: bytes, size: int) -> None:
    """Refuse what is not a whole SQLite file, from its header (sqlite.org/fileformat.html)."""
    if size == 0:
        raise IndexFormatError("the file is empty")
    if not head.startswith(_HEADER):
        what = "a JSON document" if head.lstrip()[:1] in (b"{", b"[") else "not a SQLite database"
        raise IndexFormatError(f"the file is {what} (no SQLite header)")
    if len(head) < 100:
        raise IndexFormatError(f"the file is truncated ({size} bytes, shorter than a header)")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise IndexFormatError(f"the SQLite header is damaged (page size {page})")
    pages = int.from_bytes(head[28:32], "big")
    counter_ok = head[24:28] == head[92:96] and pages > 0
    expected = pages * page if counter_ok else None
    if size % page or (expected is not None and size < expected):
        want = f"{expected:,}" if expected is not None else f"a multiple of {page}"
        raise IndexFormatError(f"the file is truncated ({size:,} bytes; the header says {want})")


def _private_copy(src: Path, directory: Path) -> Path:
    """Copy the index (a regular file, at most MAX_INDEX_BYTES) into ``directory``."""
    try:
        fd = safe_files.open_regular(Path(os.path.realpath(src)), os.O_RDONLY)
    except FileNotFoundError:
        raise IndexFormatError(f"{src} does not exist") from None
    except OSError as exc:
        raise IndexFormatError(f"cannot read {src}: {exc.strerror or exc}") from None
    dest = directory / "index.sqlite3"
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_INDEX_BYTES:
            raise IndexFormatError(f"{size:,} bytes is over the limit of {MAX_INDEX_BYTES:,}")
        check_sqlite_file(f.read(100), size)
        f.seek(0)

        def copy(out: BinaryIO) -> None:
            left = MAX_INDEX_BYTES + 1
            while chunk := f.read(min(1 << 20, left)):
                out.write(chunk)
                left -= len(chunk)
                if left <= 0:
                    raise IndexFormatError("the file grew past the size limit while copied")

        safe_files.atomic_write(dest, copy)
    return dest


@contextlib.contextmanager
def open_index(path: str | os.PathLike[str]) -> Iterator[IndexReader]:
    """Open and check a Synology index file; raises :class:`IndexFormatError`
    (:class:`UnknownIndexVersion` for a layout not known) and nothing else for a bad file."""
    with tempfile.TemporaryDirectory(prefix="glacier-tui-index-") as tmp:
        copy = _private_copy(Path(path), Path(tmp))
        deadline = time.monotonic() + DEADLINE_S
        try:
            conn = sqlite3.connect(f"{copy.as_uri()}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as exc:
            raise IndexFormatError(f"SQLite could not open it ({inert(exc)})") from None
        # Text that is not UTF-8 must not stop the import: it is read with U+FFFD.
        conn.text_factory = lambda b: b.decode("utf-8", errors="replace")
        try:
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            _guarded(lambda: conn.execute("PRAGMA trusted_schema=OFF"))
            check = _guarded(lambda: conn.execute("PRAGMA quick_check(5)").fetchall())
            if [r[0] for r in check] != ["ok"]:
                first = (inert(str(check[0][0]).replace("*** in database main ***", ""))
                         .strip()[:120] if check else "no answer")
                raise IndexFormatError(f"the database is damaged ({first})")
            yield _reader(conn)
        finally:
            conn.close()


def _reader(conn: sqlite3.Connection) -> IndexReader:
    tables = dict(_guarded(lambda: conn.execute(
        "SELECT lower(name), type FROM sqlite_master WHERE type IN ('table', 'view')"
    ).fetchall()))
    if tables.get(TABLE.lower()) != "table":
        names = ", ".join(sorted(inert(t)[:40] for t in tables)[:8]) or "none"
        raise IndexFormatError(
            f"a SQLite database without the {TABLE} table (tables: {names})")
    found = [str(r[1]) for r in _guarded(lambda: conn.execute(
        f"PRAGMA table_info({_ident(TABLE)})").fetchall())]
    by_lower = {c.lower(): c for c in found}
    columns = {c: by_lower[c.lower()] for c in REQUIRED + OPTIONAL if c.lower() in by_lower}
    info = _backup_info(conn) if tables.get(INFO_TABLE.lower()) == "table" else {}
    if not all(c in columns for c in REQUIRED):
        raise UnknownIndexVersion(_version_label(conn, found, info))
    return IndexReader(conn, KNOWN_VERSION, columns, info)


def _backup_info(conn: sqlite3.Connection) -> dict[str, str]:
    """``backup_info_tb`` as text (first 100 keys; values cut at 200 characters)."""
    try:
        rows = conn.execute(f"SELECT key, value FROM {_ident(INFO_TABLE)} LIMIT 100").fetchall()
    except sqlite3.Error:
        return {}  # optional: its absence or another shape changes nothing
    return {inert(k)[:80]: inert(v)[:200] for k, v in rows if k is not None}


def _version_label(conn: sqlite3.Connection, columns: list[str], info: dict[str, str]) -> str:
    """What identifies an unknown layout: a version the file states, else its columns."""
    for k, v in info.items():
        if "version" in k.lower() and v:
            return inert(v)[:40]
    user = conn.execute("PRAGMA user_version").fetchone()[0]
    cols = ", ".join(inert(c)[:40] for c in columns[:12]) or "no columns"
    return f"{user} ({TABLE}: {cols})" if user else f"with {TABLE}({cols})"


# -- importing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexImport:
    vault_key: str
    version: str
    entries: int  # distinct archive ids named by the index
    renamed: int  # archives of the current inventory that got their name
    skipped: int  # rows without a usable archive id or path
    duplicates: int  # further rows for an archive id already named
    info: dict[str, str]


def import_index(store: Store, vault_key: str, path: str | os.PathLike[str], *,
                 origin: str | None = None) -> IndexImport:
    """Read a Synology index and make it the names overlay of ``vault_key`` (the data
    vault's store key), then rename the vault's current inventory from it.

    All or nothing: a bad file raises :class:`IndexFormatError` and the store keeps what
    it had. Synchronous and possibly long: call it from a worker thread.
    """
    with open_index(path) as reader:
        rows = 0

        def counted() -> Iterator[OverlayTuple]:
            nonlocal rows
            for entry in reader.entries():
                rows += 1
                yield entry

        entries = store.put_name_overlay(vault_key, counted(), source=SOURCE,
                                         version=reader.version, origin=origin)
        version, info, skipped = reader.version, reader.info, reader.skipped
    renamed = store.apply_name_overlay(vault_key)
    return IndexImport(vault_key, version, entries, renamed, skipped, rows - entries, info)
