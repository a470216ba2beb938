"""Streaming import of Glacier inventory job output (GLACIER.md §5) into the local store.

JSON is parsed incrementally through a bounded window of the file: the top-level
object key by key and each ArchiveList entry as one value, with the stdlib's C
scanner (``JSONDecoder.raw_decode``), which builds entries about 1.6x as fast as
ijson's C backend did (measured on 1M entries) and whose error positions give
exact byte offsets. CSV has a small parser for AWS's non-RFC quoting. Rows are
decoded (descriptions.py) and inserted in batches into a new snapshot that becomes
current only when the whole file was read; memory stays flat in the number of
archives.

Validation policy (issue 7 §6):
* truncated / malformed file -> :class:`InventoryFormatError` naming the byte
  offset; the new snapshot is dropped and the previous inventory stays current;
* VaultARN different from the expected one -> warning;
* duplicate ArchiveId -> the first occurrence is kept, the rest counted as a warning;
* missing/empty ArchiveId -> row skipped, counted as a warning;
* size not an integer, negative or > 40 TiB (the multipart maximum) -> the
  archive is kept (it exists and may need deleting) with ``size`` NULL
  ("unknown"), counted as a warning;
* descriptions are stored raw; only the derived path is sanitised.
"""

from __future__ import annotations

import codecs
import json
import os
import pickle
import queue
import re
import select
import struct
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, Literal

from .descriptions import decode_fields
from .store import ArchiveTuple, Store

__all__ = [
    "MAX_ARCHIVE_SIZE",
    "ImportResult",
    "InventoryFormat",
    "InventoryFormatError",
    "import_inventory",
    "parse_csv_line",
]

InventoryFormat = Literal["json", "csv"]
ProgressFn = Callable[[int, int | None], None]

MAX_ARCHIVE_SIZE: Final = 10_000 * 4 * 1024**3  # 10,000 parts of 4 GiB (GLACIER.md §8)
CHUNK: Final = 256 * 1024
CSV_COLUMNS: Final = ("ArchiveId", "ArchiveDescription", "CreationDate", "Size", "SHA256TreeHash")
_MAX_EXAMPLES: Final = 3
_MAX_FOLDER_TOTALS: Final = 200_000  # beyond this, folders are summed in SQL (flat memory)
_PARALLEL_MIN_BYTES = 24 * 1024 * 1024  # smaller files: a helper process is not worth starting
_HELPER_BATCH: Final = 20_000
_MAX_WATCHED_IDS: Final = 1 << 23  # 8M ids, ~70 MB of packed id hashes (see _IdWatch)
_PARSER_SHARE: Final = 0.35  # of the batches, decoded by the parsing process (see _Helper._submit)
_MAX_IN_FLIGHT: Final = 4  # batches queued for the helper (bounded memory)


class InventoryFormatError(ValueError):
    """The inventory file is truncated or malformed. ``offset`` is the byte position."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset


@dataclass
class ImportResult:
    vault_key: str
    snapshot_id: int
    format: InventoryFormat
    archives: int  # rows stored (after removing duplicates and skipped rows)
    folders: int
    duplicates: int
    skipped: int
    invalid_sizes: int
    vault_arn: str | None
    inventory_date: str | None
    bytes_read: int
    elapsed: float
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)  # decode status -> count


class _Stats:
    """Counters shared by both parsers; examples are capped so memory stays flat."""

    def __init__(self) -> None:
        self.skipped = 0
        self.invalid_sizes = 0
        self.examples: dict[str, list[str]] = {}
        self.sources: dict[str, int] = {}

    def example(self, kind: str, text: str) -> None:
        ex = self.examples.setdefault(kind, [])
        if len(ex) < _MAX_EXAMPLES:
            ex.append(text[:200])


def _size(value: Any) -> int | None:
    if type(value) is int:  # the hot path: JSON integers
        v = value
    elif isinstance(value, str):
        if not value.strip().isdigit():
            return None
        v = int(value)
    elif isinstance(value, Decimal | float):
        try:
            if value != int(value):
                return None
        except (ValueError, OverflowError, ArithmeticError):  # NaN, Infinity
            return None
        v = int(value)
    else:
        return None  # bool, None, strings of letters, objects...
    return v if 0 <= v <= MAX_ARCHIVE_SIZE else None


RawRow = tuple[str, str, str | None, int | None, str | None]  # validated, not yet decoded


def _check(
    stats: _Stats, aid: Any, desc: Any, created: Any, size: Any, tree_hash: Any
) -> RawRow | None:
    """Validate one entry (skip / size rules); the description is decoded later."""
    if not isinstance(aid, str) or not aid:
        stats.skipped += 1
        stats.example("skipped", repr(aid))
        return None
    if not isinstance(desc, str):
        desc = "" if desc is None else str(desc)
    sz = _size(size)
    if sz is None:
        stats.invalid_sizes += 1
        stats.example("size", f"{aid[:16]}…: {size!r}")
    return (
        aid, desc, created if isinstance(created, str) else None, sz,
        tree_hash if isinstance(tree_hash, str) else None,
    )


def _decode_rows(rows: list[RawRow], sources: dict[str, int]) -> list[ArchiveTuple]:
    out: list[ArchiveTuple] = []
    append = out.append
    for aid, desc, created, sz, tree_hash in rows:
        folder, name, mtime, source = decode_fields(desc, aid)
        sources[source] = sources.get(source, 0) + 1
        append((aid, folder, name, desc, sz, created, mtime, tree_hash, source))
    return out


# -- reading -----------------------------------------------------------------------------------


class _Reader:
    """Chunked reads with a byte counter and progress callback."""

    def __init__(self, f: IO[bytes], total: int | None, progress: ProgressFn | None) -> None:
        self.f = f
        self.total = total
        self.progress = progress
        self.offset = 0
        self._pushback: bytes = b""

    def peek(self) -> bytes:
        if not self._pushback:
            self._pushback = self.f.read(CHUNK)
        return self._pushback

    def chunks(self) -> Iterator[bytes]:
        while True:
            if self._pushback:
                chunk, self._pushback = self._pushback, b""
            else:
                chunk = self.f.read(CHUNK)
            if not chunk:
                return
            self.offset += len(chunk)
            if self.progress is not None:
                self.progress(self.offset, self.total)
            yield chunk


class _JsonStream:
    """A bounded window over the document: decoded text ``buf`` from byte ``base`` on.

    Values are parsed with the stdlib's C scanner (``JSONDecoder.raw_decode``) one at a
    time, so memory holds one window (``LOOKAHEAD`` plus a chunk), never the document.
    """

    LOOKAHEAD: Final = 64 * 1024  # kept ahead of the cursor: every real entry fits in it
    MAX_VALUE: Final = 8 * 1024 * 1024  # a value still unfinished this far ahead is malformed

    def __init__(self, reader: _Reader) -> None:
        self._chunks = reader.chunks()
        self._text = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = ""
        self.pos = 0
        self.base = 0  # byte offset of buf[0] in the file
        self.eof = False
        self.raw_decode = json.JSONDecoder().raw_decode

    def fill(self) -> bool:
        """Drop the consumed text and append the next chunk; False at end of file."""
        if self.eof:
            return False
        chunk = next(self._chunks, None)
        self.base = self.offset(self.pos)
        text = self._text.decode(chunk or b"", final=chunk is None)
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        if chunk is None:
            self.eof = True
        return chunk is not None

    def offset(self, pos: int) -> int:
        """The byte offset in the file of ``buf[pos]``."""
        done = self.buf[:pos]
        return self.base + (len(done) if done.isascii() else len(done.encode("utf-8", "replace")))

    def error(self, message: str, pos: int | None = None) -> InventoryFormatError:
        return InventoryFormatError(message, self.offset(self.pos if pos is None else pos))

    def truncated(self) -> InventoryFormatError:
        return self.error("inventory JSON is truncated (unexpected end of file)", len(self.buf))

    def peek(self) -> str:
        """The next character that is not whitespace ("" at end of file)."""
        while True:
            m = _WS_RE.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self) -> Any:
        """Parse the JSON value at the cursor and move past it."""
        self.peek()
        while True:
            if not self.eof and len(self.buf) - self.pos < self.LOOKAHEAD:
                self.fill()
            try:
                value, self.pos = self.raw_decode(self.buf, self.pos)
                return value
            except RecursionError:
                raise self.error("malformed inventory JSON: values nested too deeply") from None
            except json.JSONDecodeError as e:
                if not self.eof and len(self.buf) - self.pos < self.MAX_VALUE:
                    self.fill()  # maybe only cut off by the window: read on and retry
                    continue
                if self.eof and (e.pos >= len(self.buf) - 1 or e.msg.startswith("Unterminated")):
                    raise self.truncated() from None
                raise self.error(f"malformed inventory JSON: {e.msg}", e.pos) from None

    def expect(self, chars: str, what: str) -> str:
        c = self.peek()
        if c == "" and self.eof:
            raise self.truncated()
        if c not in chars:
            raise self.error(f"malformed inventory JSON: expected {what}")
        self.pos += 1
        return c


_WS_RE: Final = re.compile(r"[ \t\n\r]+")
_HEADER_KEYS: Final = ("VaultARN", "InventoryDate")


def _iter_json(
    reader: _Reader, stats: _Stats, header: dict[str, str]
) -> Iterator[RawRow]:
    """Walk the top-level object; yield each ArchiveList entry as it is parsed.

    Header keys are read wherever they are (AWS writes them before the list).
    """
    doc = _JsonStream(reader)
    if doc.peek() != "{":
        raise doc.error("inventory JSON is not an object")
    doc.pos += 1
    seen_list = False
    if doc.peek() == "}":
        doc.pos += 1
    else:
        while True:
            key = doc.value()
            if not isinstance(key, str):
                raise doc.error("malformed inventory JSON: expected a key")
            doc.expect(":", "':'")
            if key == "ArchiveList":
                if doc.peek() != "[":
                    raise doc.error("ArchiveList is not an array")
                doc.pos += 1
                seen_list = True
                yield from _json_entries(doc, stats)
            else:
                value = doc.value()
                if key in _HEADER_KEYS and isinstance(value, str):
                    header[key] = value
            if doc.expect(",}", "',' or '}'") == "}":
                break
    if doc.peek() != "":
        raise doc.error("malformed inventory JSON: text after the document")
    if not seen_list:
        raise InventoryFormatError("inventory JSON has no ArchiveList", reader.offset)


def _json_entries(doc: _JsonStream, stats: _Stats) -> Iterator[RawRow]:
    """The hot loop: one raw_decode per entry, fields checked inline for the common case."""
    if doc.peek() == "]":
        doc.pos += 1
        return
    check = _check
    max_size = MAX_ARCHIVE_SIZE
    lookahead = doc.LOOKAHEAD
    while True:
        buf, pos = doc.buf, doc.pos
        if len(buf) - pos < lookahead and not doc.eof:
            doc.fill()
            buf, pos = doc.buf, doc.pos
        try:
            it, end = doc.raw_decode(buf, pos)
        except (json.JSONDecodeError, RecursionError):
            it = doc.value()  # the careful path: refills, then the right error
            buf, end = doc.buf, doc.pos
        if type(it) is dict:
            aid = it.get("ArchiveId")
            desc = it.get("ArchiveDescription")
            created = it.get("CreationDate")
            size = it.get("Size")
            tree_hash = it.get("SHA256TreeHash")
            if (
                type(aid) is str and aid and type(desc) is str and type(size) is int
                and 0 <= size <= max_size and type(created) is str and type(tree_hash) is str
            ):
                yield aid, desc, created, size, tree_hash
            else:
                row = check(stats, aid, desc, created, size, tree_hash)
                if row is not None:
                    yield row
        else:
            stats.skipped += 1
        sep = buf[end : end + 1]
        if sep == ",":
            doc.pos = end + 1
            if buf[end + 1 : end + 2] in _WS_CHARS:
                doc.peek()  # pretty-printed: skip to the next entry
            continue
        doc.pos = end
        if doc.expect(",]", "',' or ']'") == "]":
            return
        doc.peek()


_WS_CHARS: Final = frozenset(" \t\n\r")


def parse_csv_line(line: str) -> list[str]:
    """Split one inventory CSV line (GLACIER.md §5.3).

    Commas split fields outside quotes; inside quotes ``\\"`` is ``"`` and every
    other backslash is kept. A quoted field whose text ends in a backslash is
    written ``"...\\"``: when the line would otherwise end inside quotes, that
    final ``\\"`` closes the field.
    """
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            j = i + 1
            parts: list[str] = []
            while True:
                k = line.find('"', j)
                if k < 0:
                    raise ValueError("unterminated quoted field")
                if k > j and line[k - 1] == "\\":
                    nxt = line.find('"', k + 1)
                    if nxt < 0 and (k + 1 == n or line[k + 1] == ","):
                        parts.append(line[j:k])  # backslash at end of field, quote closes
                        i = k + 1
                        break
                    parts.append(line[j : k - 1] + '"')
                    j = k + 1
                    continue
                parts.append(line[j:k])
                i = k + 1
                break
            fields.append("".join(parts))
            if i < n and line[i] != ",":
                raise ValueError("text after closing quote")
        else:
            k = line.find(",", i)
            k = n if k < 0 else k
            fields.append(line[i:k])
            i = k
        if i >= n:
            return fields
        i += 1  # skip the comma
        if i == n:
            fields.append("")
            return fields


def _unquote(f: str) -> str:
    if len(f) >= 2 and f[0] == '"' and f[-1] == '"':
        return f[1:-1].replace('\\"', '"')
    return f


def _split_row(line: str) -> list[str]:
    """Fast split for the standard column order.

    Only ArchiveDescription can contain commas or quotes (ids, dates, sizes and
    hashes cannot), so the id is everything up to the first comma and the last
    three fields come from the right; this sidesteps the quoting ambiguity.
    """
    if '"' not in line:
        return line.split(",")
    aid, _, rest = line.partition(",")
    right = rest.rsplit(",", 3)
    if len(right) != 4:
        raise ValueError("too few fields")
    return [_unquote(aid), _unquote(right[0]), *(_unquote(x) for x in right[1:])]


def _iter_csv(reader: _Reader, stats: _Stats) -> Iterator[RawRow]:
    leftover = b""
    line_start = 0  # byte offset of the next line
    colmap: list[int] | None = None
    fast = False
    for chunk in reader.chunks():
        lines = (leftover + chunk).split(b"\n")
        leftover = lines.pop()
        for raw in lines:
            offset = line_start
            line_start += len(raw) + 1
            text = raw.decode("utf-8", "replace")
            if text.endswith("\r"):
                text = text[:-1]
            if colmap is None:
                colmap, fast = _header(text.lstrip("\ufeff"), offset)
                continue
            if not text:
                continue
            try:
                if fast:
                    f = _split_row(text)
                else:
                    allf = parse_csv_line(text)
                    f = [allf[i] for i in colmap]
            except (ValueError, IndexError) as e:
                raise InventoryFormatError(f"malformed inventory CSV line: {e}", offset) from None
            if len(f) != 5:
                raise InventoryFormatError(
                    f"inventory CSV line has {len(f)} fields, expected 5", offset
                )
            row = _check(stats, f[0], f[1], f[2], f[3], f[4])
            if row is not None:
                yield row
    if leftover.strip():
        # A last line without newline is fine if complete; a cut-off line is not.
        text = leftover.decode("utf-8", "replace").rstrip("\r")
        if colmap is None:
            raise InventoryFormatError("inventory CSV has no data lines", line_start)
        try:
            f = _split_row(text) if fast else [parse_csv_line(text)[i] for i in colmap]
        except (ValueError, IndexError):
            f = []
        tree_hash = f[4] if len(f) == 5 else ""
        if len(f) != 5 or not re.fullmatch(r"[0-9a-fA-F]{64}", tree_hash):
            raise InventoryFormatError("inventory CSV is truncated (partial last line)", line_start)
        row = _check(stats, f[0], f[1], f[2], f[3], f[4])
        if row is not None:
            yield row
    elif colmap is None:
        raise InventoryFormatError("inventory CSV is empty (no header line)", 0)


def _header(text: str, offset: int) -> tuple[list[int], bool]:
    try:
        names = [h.strip() for h in parse_csv_line(text)]
    except ValueError:
        names = []
    lower = [h.lower() for h in names]
    try:
        colmap = [lower.index(c.lower()) for c in CSV_COLUMNS]
    except ValueError:
        raise InventoryFormatError(
            f"inventory CSV header must name {', '.join(CSV_COLUMNS)}; got {text[:120]!r}", offset
        ) from None
    return colmap, colmap == [0, 1, 2, 3, 4] and len(names) == 5


# -- import ------------------------------------------------------------------------------------


def _open(source: IO[bytes] | str | os.PathLike[str]) -> tuple[IO[bytes], bool, int | None]:
    if isinstance(source, str | os.PathLike):
        p = Path(source)
        return p.open("rb"), True, p.stat().st_size
    total: int | None = None
    try:
        total = os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        try:
            pos = source.tell()
            total = source.seek(0, os.SEEK_END) - pos
            source.seek(pos)
        except (AttributeError, OSError, ValueError):
            total = None
    return source, False, total


def import_inventory(
    store: Store,
    vault_key: str,
    source: IO[bytes] | str | os.PathLike[str],
    *,
    fmt: InventoryFormat | None = None,
    expected_vault_arn: str | None = None,
    progress: ProgressFn | None = None,
    batch_size: int = 10_000,
) -> ImportResult:
    """Import an inventory (path or binary file object) as the vault's new current snapshot.

    ``fmt`` is detected from the first byte when None (``{`` -> json). The vault ARN in a
    JSON document is checked against ``expected_vault_arn`` (default: ``vault_key`` when it
    is an ARN). ``progress(bytes_read, total_or_None)`` is called after every chunk.
    Raises :class:`InventoryFormatError` (previous inventory kept) on a bad file.
    Synchronous and long-running: call it from a worker thread.
    """
    t0 = time.perf_counter()
    f, owned, total = _open(source)
    try:
        reader = _Reader(f, total, progress)
        if fmt is None:
            head = reader.peek().lstrip(b"\xef\xbb\xbf \t\r\n")
            fmt = "json" if head.startswith((b"{", b"[")) else "csv"
        stats = _Stats()
        header: dict[str, str] = {}
        parsed = _iter_json(reader, stats, header) if fmt == "json" else _iter_csv(reader, stats)
        ids = _IdWatch(_MAX_WATCHED_IDS)
        rows = ids.watch(parsed)
        snap = store.begin_snapshot(vault_key, fmt)
        try:
            helper = (
                _Helper.start(store, snap)
                if total is not None and total >= _PARALLEL_MIN_BYTES
                else None
            )
            if helper is None:
                totals = _insert_serial(store, snap, rows, stats, batch_size)
            else:
                totals = helper.run(rows, stats, max(batch_size, _HELPER_BATCH))
            warnings = _warnings(stats, header, vault_key, expected_vault_arn, fmt)
            count, dups, folders = store.finish_snapshot(
                snap,
                vault_arn=header.get("VaultARN"),
                inventory_date=header.get("InventoryDate"),
                warnings=warnings,
                folder_totals=totals,
                maybe_duplicates=ids.repeated,
            )
        except BaseException:
            store.abort_snapshot(snap)
            raise
    finally:
        if owned:
            f.close()
    return ImportResult(
        vault_key=vault_key, snapshot_id=snap, format=fmt, archives=count, folders=folders,
        duplicates=dups, skipped=stats.skipped, invalid_sizes=stats.invalid_sizes,
        vault_arn=header.get("VaultARN"), inventory_date=header.get("InventoryDate"),
        bytes_read=reader.offset, elapsed=time.perf_counter() - t0, warnings=warnings,
        sources=dict(stats.sources),
    )


class _IdWatch:
    """Notices a possibly repeated archive id while rows stream by.

    Keeps the 64-bit hash of each id, packed 8 bytes an id in 64 arrays split by the
    hash's low bits (not the 138-character ids, not a set of int objects); at the end
    each array is checked on its own, so the check's temporary set stays small. A
    repeat means a duplicate *or* a hash collision, and either way the store's exact
    (unique index) check runs; no repeat proves there is no duplicate, so it is skipped.
    Past ``limit`` ids it gives up (memory stays bounded) and the exact check runs.
    """

    def __init__(self, limit: int = _MAX_WATCHED_IDS) -> None:
        self.repeated = False
        self.limit = limit

    def watch(self, rows: Iterator[RawRow]) -> Iterator[RawRow]:
        parts = [array("q") for _ in range(64)]
        appends = [p.append for p in parts]
        limit = self.limit
        for n, row in enumerate(rows, 1):
            h = hash(row[0])
            appends[h & 63](h)
            if n > limit:
                self.repeated = True
                parts.clear()  # the exact check runs anyway: stop hashing, free the hashes
                appends.clear()
                yield row
                yield from rows
                return
            yield row
        self.repeated = any(len(set(p)) != len(p) for p in parts)


def _insert_serial(
    store: Store, snap: int, rows: Iterator[RawRow], stats: _Stats, batch_size: int
) -> dict[str, list[int]] | None:
    # Direct totals per folder, so finish_snapshot needs no GROUP BY over the table;
    # dropped (SQL fallback) if a pathological inventory has too many folders.
    totals: dict[str, list[int]] | None = {}
    batch: list[RawRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            decoded = _decode_rows(batch, stats.sources)
            store.insert_archives(snap, decoded)
            totals = _add_totals(totals, decoded)
            batch = []
    if batch:
        decoded = _decode_rows(batch, stats.sources)
        store.insert_archives(snap, decoded)
        totals = _add_totals(totals, decoded)
    return totals


# -- two-core pipeline ---------------------------------------------------------------------------
#
# Decoding descriptions is pure Python, so a thread cannot run it beside the parser (GIL).
# Large imports start a helper *process* (``python -c``, not multiprocessing: no re-import
# of the caller's __main__) that decodes and inserts batches in file order through its own
# connection; this process parses and, whenever the helper has a backlog, decodes batches
# itself (work stealing keeps both cores busy whatever the machine's balance). At most
# _MAX_IN_FLIGHT batches are queued. Protocol: parent -> helper frames (8-byte length +
# pickle of (decoded?, rows)), an empty frame ends; helper -> parent b"a" per batch
# done, then b"d" or b"e" + frame (result / error text).

_HELPER_CODE: Final = "from glacier_tui.glacier.inventory import _helper_main; _helper_main()"


def _write_frame(f: IO[bytes], data: bytes) -> None:
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        n = f.write(view)  # may be partial on an unbuffered pipe
        view = view[n if n is not None else 0 :]
    f.flush()


def _read_exact(f: IO[bytes], n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _read_frame(f: IO[bytes]) -> bytes:
    (n,) = struct.unpack("<Q", _read_exact(f, 8))
    return _read_exact(f, n)


def _frames_ahead(inp: IO[bytes]) -> queue.Queue[bytes | EOFError]:
    """Frames read by a thread, so the parent's next write never waits for our work."""
    frames: queue.Queue[bytes | EOFError] = queue.Queue(maxsize=_MAX_IN_FLIGHT)

    def read() -> None:
        try:
            while frame := _read_frame(inp):
                frames.put(frame)
            frames.put(b"")
        except EOFError as e:
            frames.put(e)

    threading.Thread(target=read, name="inventory-frames", daemon=True).start()
    return frames


def _helper_main() -> None:
    """Entry point of the helper process: argv = [db path, snapshot id]."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        store = Store(sys.argv[1])
        snap = int(sys.argv[2])
        store.conn.execute("PRAGMA synchronous=OFF")  # as begin_snapshot: bulk phase
        store.conn.execute("PRAGMA cache_size=-8192")  # appends only: a small cache will do
        sources: dict[str, int] = {}
        totals: dict[str, list[int]] | None = {}
        frames = _frames_ahead(inp)
        while True:
            frame = frames.get()
            if isinstance(frame, EOFError):
                raise frame
            if not frame:
                break
            decoded, rows = pickle.loads(frame)
            if not decoded:
                rows = _decode_rows(rows, sources)
            store.insert_archives(snap, rows)
            totals = _add_totals(totals, rows)
            out.write(b"a")
            out.flush()
        store.close()
        out.write(b"d")
        _write_frame(out, pickle.dumps((sources, totals), protocol=pickle.HIGHEST_PROTOCOL))
    except EOFError:
        return  # the parent gave up (bad input): it drops the snapshot
    except BaseException as e:  # reported to the parent, which raises
        out.write(b"e")
        _write_frame(out, f"{type(e).__name__}: {e}".encode("utf-8", "replace"))


class _Helper:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        self.inp: IO[bytes] = proc.stdin
        self.out: IO[bytes] = proc.stdout
        self.in_flight = 0
        self.sent = 0
        self.decoded_here = 0

    @classmethod
    def start(cls, store: Store, snap: int) -> _Helper | None:
        path = str(store.path)
        if path == ":memory:" or getattr(sys, "frozen", False) or not sys.executable:
            return None
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _HELPER_CODE, path, str(snap)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, bufsize=0,
            )
        except OSError:
            return None
        return cls(proc)

    def _reply(self) -> bytes:
        try:
            kind = self.out.read(1)
            if kind in (b"d", b"e"):
                payload = _read_frame(self.out)
                if kind == b"e":
                    raise RuntimeError(f"inventory import helper failed: {payload.decode()}")
                return payload
        except EOFError:
            kind = b""
        if kind != b"a":
            raise RuntimeError("inventory import helper process died")
        self.in_flight -= 1
        return b""

    def _backlog(self) -> int:
        while self.in_flight and select.select([self.out], [], [], 0)[0]:
            self._reply()
        return self.in_flight

    def _send(self, decoded: bool, rows: list[Any]) -> None:
        while self.in_flight >= _MAX_IN_FLIGHT:
            self._reply()
        _write_frame(self.inp, pickle.dumps((decoded, rows), protocol=pickle.HIGHEST_PROTOCOL))
        self.in_flight += 1

    def _submit(self, batch: list[RawRow], stats: _Stats) -> None:
        # Decode here when the helper is well behind, or a little behind and we have not
        # yet taken our share (parsing costs about as much as inserting, so the parser
        # can decode about a third of the batches and both cores finish together).
        backlog = self._backlog()
        self.sent += 1
        if backlog >= 2 or (backlog == 1 and self.decoded_here < _PARSER_SHARE * self.sent):
            self.decoded_here += 1
            self._send(True, _decode_rows(batch, stats.sources))
        else:
            self._send(False, batch)

    def run(
        self, rows: Iterator[RawRow], stats: _Stats, batch_size: int
    ) -> dict[str, list[int]] | None:
        try:
            batch: list[RawRow] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= batch_size:
                    self._submit(batch, stats)
                    batch = []
            if batch:
                self._submit(batch, stats)
            _write_frame(self.inp, b"")
            while True:
                payload = self._reply()
                if payload:
                    break
            sources, totals = pickle.loads(payload)
            for k, v in sources.items():
                stats.sources[k] = stats.sources.get(k, 0) + v
            self.proc.wait()
            result: dict[str, list[int]] | None = totals
            return result
        finally:
            self.close()

    def close(self) -> None:
        for f in (self.inp, self.out):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _add_totals(
    totals: dict[str, list[int]] | None, batch: list[ArchiveTuple]
) -> dict[str, list[int]] | None:
    if totals is None:
        return None
    for row in batch:
        t = totals.get(row[1])
        if t is None:
            t = totals[row[1]] = [0, 0]
        t[0] += 1
        sz = row[4]
        if sz is not None:
            t[1] += sz
    return totals if len(totals) <= _MAX_FOLDER_TOTALS else None


def _warnings(
    stats: _Stats, header: dict[str, str], vault_key: str, expected: str | None, fmt: str
) -> list[str]:
    out: list[str] = []
    if expected is None and vault_key.startswith("arn:"):
        expected = vault_key
    arn = header.get("VaultARN")
    if expected is not None and arn is not None and arn != expected:
        out.append(f"inventory is for vault {arn!r}, expected {expected!r}")
    if fmt == "json" and arn is None:
        out.append("inventory JSON has no VaultARN")
    if stats.skipped:
        ex = ", ".join(stats.examples.get("skipped", []))
        out.append(f"{stats.skipped} entr(y/ies) without a usable ArchiveId skipped (e.g. {ex})")
    if stats.invalid_sizes:
        ex = "; ".join(stats.examples.get("size", []))
        out.append(
            f"{stats.invalid_sizes} archive(s) with an invalid size (not an integer in"
            f" 0..40 TiB) stored with unknown size (e.g. {ex})"
        )
    return out
