"""Decoding and storing an import's batches, on one core or on two.

A :class:`Sink` takes batches of checked columns (or raw JSON units, which it parses
itself), decodes the descriptions, inserts the rows at rowids that keep file order,
and keeps the folder totals, the archive-id hashes and the parse counters.

Decoding is pure Python, so a thread could not run beside the parser (GIL). Large
imports start a helper *process* (``python -c``, not multiprocessing: no re-import
of the caller's __main__) with a Sink of its own: the parent cuts the file into units
(cheap: a search for entry boundaries) and sends a unit to the helper while it has
fewer than ``MAX_IN_FLIGHT`` queued, else takes the unit itself, so both cores parse,
decode and insert. Only raw bytes cross the pipe (pickling parsed rows would cost as
much as parsing them). The two processes take turns to write through an ``flock``ed
lock file, and rowid = ``seq << ROWID_SHIFT | index`` keeps file order whatever the
order of the inserts.

Protocol: parent -> helper frames (8-byte length, then b"P" + the pickled unit parser,
or b"U" + the unit's seq and file offset, 8 bytes each, + its bytes); an empty frame
ends.
Helper -> parent: b"a" per unit stored; b"n" if a unit is not valid JSON (the import
starts over on the careful path) or b"f" + frame (pickled seq and
:class:`InventoryFormatError`); at the end b"d" + frame (pickled :class:`SinkResult`);
b"e" + frame (error text) for anything else.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import re
import select
import struct
import subprocess
import sys
import threading
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Protocol

from .descriptions_bulk import decode_many
from .inventory_parse import Columns, InventoryFormatError, NotFast, Stats, UnitParser
from .malloc_tuning import tune_for_bulk
from .safe_files import PRIVATE_FILE, open_regular
from .store import Store

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy timeout alone serialises the writers
    fcntl = None  # type: ignore[assignment]

__all__ = ["Helper", "IdHashes", "Sink", "SinkResult", "UnitFailed", "Units", "feed_units"]

ROWID_SHIFT: Final = 24  # rows per unit < 16M; seq < 2^39 units
MAX_IN_FLIGHT: Final = 2  # units queued at the helper (bounded memory)
_MAX_FOLDER_TOTALS: Final = 200_000  # beyond this, folders are summed in SQL (flat memory)
_HELPER_CODE: Final = (
    "from glacier_tui.glacier.inventory_pipeline import helper_main; helper_main()"
)

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
Totals = dict[str, list[int]]  # folder -> [direct count, direct bytes]


class IdHashes:
    """Notices a possibly repeated archive id while batches stream by.

    Keeps a 61-bit hash of each id (``hash`` of the id's bytes as one integer: the same
    in every process, unlike ``hash(str)``), packed 8 bytes an id in 64 arrays split by
    the hash's low bits, so the final check's temporary set stays small. A repeat means a
    duplicate *or* a collision, and either way the store's exact check runs; no repeat
    proves there is no duplicate, so it is skipped. Past ``limit`` ids it gives up
    (memory stays bounded) and the exact check runs.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.parts: list[array[int]] | None = [array("q") for _ in range(64)]

    def add(self, aids: Any) -> None:
        if self.parts is None:
            return
        self.count += len(aids)
        if self.count > self.limit:
            self.parts = None  # the exact check runs anyway: free the hashes
            return
        appends = [p.append for p in self.parts]
        for h in map(hash, map(int.from_bytes, map(str.encode, aids))):
            appends[h & 63](h)

    def packed(self) -> list[bytes] | None:
        return None if self.parts is None else [p.tobytes() for p in self.parts]

    def merge(self, count: int, packed: list[bytes] | None) -> None:
        self.count += count
        if packed is None or self.parts is None or self.count > self.limit:
            self.parts = None
            return
        for p, data in zip(self.parts, packed, strict=True):
            p.frombytes(data)

    @property
    def repeated(self) -> bool:
        return self.parts is None or any(len(set(p)) != len(p) for p in self.parts)


class _FileLock:
    """An exclusive ``flock`` on a file: wakes the waiter the moment it is released
    (SQLite's busy handler would poll with sleeps of up to 100 ms)."""

    def __init__(self, path: str) -> None:
        # Never through a symlink: the lock file sits beside the store (0600, no-follow).
        self.fd = open_regular(Path(path), os.O_RDWR | os.O_CREAT, PRIVATE_FILE)

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)


def lock_path(store: Store) -> str:
    return f"{store.path}.import-lock"


@dataclass
class SinkResult:
    stats: Stats
    totals: Totals | None
    id_count: int
    id_hashes: list[bytes] | None


class Sink:
    """Decodes and stores the batches of one snapshot in this process."""

    def __init__(self, store: Store, snap: int, id_limit: int, lock: str | None = None) -> None:
        self.store = store
        self.snap = snap
        self.stats = Stats()
        self.ids = IdHashes(id_limit)
        # Direct totals per folder, so finish_snapshot needs no GROUP BY over the table;
        # dropped (SQL fallback) if a pathological inventory has too many folders.
        self.totals: Totals | None = {}
        self._lock = _FileLock(lock) if lock is not None and fcntl is not None else None

    def add_unit(self, seq: int, at: int, payload: bytes, parser: UnitParser) -> None:
        """Parse one unit (from file offset ``at``) and store it. Raises
        :class:`InventoryFormatError`, or :class:`NotFast` for JSON that does not parse."""
        self.stats.seq = seq
        self.add(seq, parser(payload, at, self.stats))

    def add(self, seq: int, columns: Columns) -> None:
        aids, descs, created, sizes, hashes = columns
        if not aids:
            return
        folders, names, mtimes, sources = decode_many(descs, aids)
        first = seq << ROWID_SHIFT
        rows = zip(
            range(first, first + len(aids)), aids, folders, names, descs, sizes, created,
            mtimes, hashes, sources, strict=True,
        )
        try:
            with self._lock if self._lock is not None else contextlib.nullcontext():
                self.store.insert_archives_at(self.snap, rows)
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON): as U+FFFD
            self.add(seq, _without_surrogates(columns))  # the batch was rolled back
            return
        for source, n in Counter(sources).items():
            self.stats.sources[source] = self.stats.sources.get(source, 0) + n
        self.ids.add(aids)
        self.totals = _add_totals(self.totals, folders, sizes)

    def result(self) -> SinkResult:
        return SinkResult(self.stats, self.totals, self.ids.count, self.ids.packed())

    def merge(self, other: SinkResult) -> None:
        self.stats.merge(other.stats)
        self.ids.merge(other.id_count, other.id_hashes)
        if self.totals is None or other.totals is None:
            self.totals = None
            return
        for folder, (count, size) in other.totals.items():
            t = self.totals.setdefault(folder, [0, 0])
            t[0] += count
            t[1] += size
        if len(self.totals) > _MAX_FOLDER_TOTALS:
            self.totals = None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()


def _without_surrogates(columns: Columns) -> Columns:
    def clean(s: Any) -> Any:
        return _SURROGATE.sub("\ufffd", s) if s else s

    aids, descs, created, sizes, hashes = columns
    return (list(map(clean, aids)), list(map(clean, descs)), list(map(clean, created)),
            sizes, list(map(clean, hashes)))


def _add_totals(
    totals: Totals | None, folders: Sequence[str], sizes: Sequence[int | None]
) -> Totals | None:
    if totals is None:
        return None
    for folder, size in zip(folders, sizes, strict=True):
        t = totals.get(folder)
        if t is None:
            t = totals[folder] = [0, 0]
        t[0] += 1
        if size is not None:
            t[1] += size
    return totals if len(totals) <= _MAX_FOLDER_TOTALS else None


# -- the helper process ----------------------------------------------------------------------


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
    frames: queue.Queue[bytes | EOFError] = queue.Queue(maxsize=MAX_IN_FLIGHT)

    def read() -> None:
        try:
            while frame := _read_frame(inp):
                frames.put(frame)
            frames.put(b"")
        except EOFError as e:
            frames.put(e)

    threading.Thread(target=read, name="inventory-frames", daemon=True).start()
    return frames


def helper_main() -> None:
    """Entry point of the helper process: argv = [db path, snapshot id, id limit]."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    tune_for_bulk()
    try:
        store = Store(sys.argv[1])
        store.conn.execute("PRAGMA synchronous=OFF")  # as begin_snapshot: bulk phase
        sink = Sink(store, int(sys.argv[2]), int(sys.argv[3]), lock_path(store))
        frames = _frames_ahead(inp)
        parser: UnitParser | None = None
        while True:
            frame = frames.get()
            if isinstance(frame, EOFError):
                raise frame
            if not frame:
                break
            if frame[:1] == b"P":
                parser = pickle.loads(frame[1:])
                continue
            assert parser is not None and frame[:1] == b"U"
            seq, at = struct.unpack_from("<QQ", frame, 1)
            try:
                sink.add_unit(seq, at, frame[17:], parser)
            except NotFast:
                out.write(b"n")
                out.flush()
                return
            except InventoryFormatError as e:
                out.write(b"f")
                _write_frame(out, pickle.dumps((seq, e)))
                return
            out.write(b"a")
            out.flush()
        sink.close()
        store.close()
        out.write(b"d")
        _write_frame(out, pickle.dumps(sink.result(), protocol=pickle.HIGHEST_PROTOCOL))
    except EOFError:
        return  # the parent gave up (bad input): it drops the snapshot
    except BaseException as e:  # reported to the parent, which raises
        out.write(b"e")
        _write_frame(out, f"{type(e).__name__}: {e}".encode("utf-8", "replace"))


class UnitFailed(Exception):
    """A unit the helper took is malformed: ``error`` is the file's first error if no
    unit the parent stored failed (the parent stores its units in file order)."""

    def __init__(self, seq: int, error: InventoryFormatError) -> None:
        super().__init__(str(error))
        self.seq = seq
        self.error = error


class Helper:
    """The parent's side of the helper process."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        self.inp: IO[bytes] = proc.stdin
        self.out: IO[bytes] = proc.stdout
        self.in_flight = 0
        self._parser: UnitParser | None = None

    @classmethod
    def start(cls, store: Store, snap: int, id_limit: int) -> Helper | None:
        path = str(store.path)
        if path == ":memory:" or getattr(sys, "frozen", False) or not sys.executable:
            return None
        # This package's own copy, whatever the working directory holds ("-P": no cwd).
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-c", _HELPER_CODE, path, str(snap), str(id_limit)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, bufsize=0,
            )
        except OSError:
            return None
        return cls(proc)

    def _reply(self) -> SinkResult | None:
        try:
            kind = self.out.read(1)
            if kind in (b"d", b"e", b"f"):
                payload = _read_frame(self.out)
                if kind == b"e":
                    raise RuntimeError(f"inventory import helper failed: {payload.decode()}")
                if kind == b"f":
                    raise UnitFailed(*pickle.loads(payload))
                result: SinkResult = pickle.loads(payload)
                return result
        except EOFError:
            kind = b""
        if kind == b"n":
            raise NotFast("a unit does not parse")
        if kind != b"a":
            raise RuntimeError("inventory import helper process died")
        self.in_flight -= 1
        return None

    def idle(self) -> bool:
        """Whether the helper can take another unit now (without waiting)."""
        while self.in_flight and select.select([self.out], [], [], 0)[0]:
            self._reply()
        return self.in_flight < MAX_IN_FLIGHT

    def send(self, seq: int, at: int, payload: bytes, parser: UnitParser) -> None:
        if parser != self._parser:
            _write_frame(self.inp, b"P" + pickle.dumps(parser))
            self._parser = parser
        _write_frame(self.inp, b"U" + struct.pack("<QQ", seq, at) + payload)
        self.in_flight += 1

    def finish(self) -> SinkResult:
        _write_frame(self.inp, b"")
        while (result := self._reply()) is None:
            pass
        self.proc.wait()
        return result

    def earlier_failure(self) -> BaseException | None:
        """After the parent met a format error: the helper's own failure, if it had one
        (always on an earlier unit: the parent sends nothing past its own failure)."""
        try:
            self.finish()
        except UnitFailed as failed:
            return failed.error
        except NotFast as e:
            return e
        return None

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


class Units(Protocol):
    """Units of whole entries or lines, as (file offset, bytes), and their parser."""

    @property
    def parser(self) -> UnitParser: ...

    def __iter__(self) -> Iterator[tuple[int, bytes]]: ...


def feed_units(sink: Sink, units: Units, helper: Helper | None) -> int:
    """Store every unit, each in whichever process is free; return the last seq used.

    A malformed unit raises its :class:`InventoryFormatError` (the helper's comes as
    :class:`UnitFailed`; see :meth:`Helper.earlier_failure` for the parent's own).
    """
    seq = 0
    for at, payload in units:
        seq += 1
        if helper is not None and helper.idle():
            helper.send(seq, at, payload, units.parser)
        else:
            sink.add_unit(seq, at, payload, units.parser)
    return seq
