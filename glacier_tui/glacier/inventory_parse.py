"""What both inventory formats share: errors, counters, entry checks, the reader, units.

The JSON path is in ``inventory_json.py``, CSV in ``inventory_csv.py``. Both cut the
file into *units* (whole entries or whole lines, with their file offsets) that a
:class:`UnitParser` turns into checked columns, in whichever process is free.

Memory caps (hostile or broken input gets a one-line error, never unbounded memory):

* :data:`MAX_LINE_BYTES` (1 MiB): one CSV line. A real line is under 4 KiB (an id of
  138 characters, a description of at most 1,024, a date, a size, a 64-digit hash).
* :data:`MAX_ENTRY_BYTES` (1 MiB): one JSON value (an ArchiveList entry, or a member
  before or after the list; the careful path counts it in decoded characters); a real
  entry is under 8 KiB even with every description character written as a ``\\uXXXX``
  escape. The fast path reads at most a unit plus this far ahead for an entry's end
  before it gives way to the careful path.
* A number longer than Python's int-digits limit (4,300 digits by default) is an
  error naming its field, not an unhandled ``ValueError``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any, Final, Protocol

__all__ = [
    "BOM",
    "CHUNK",
    "ENTRY_FIELDS",
    "MAX_ARCHIVE_SIZE",
    "MAX_ENTRY_BYTES",
    "MAX_LINE_BYTES",
    "Columns",
    "InventoryFormatError",
    "NotFast",
    "ProgressFn",
    "RawRow",
    "Reader",
    "Stats",
    "TooManyDigits",
    "UnitParser",
    "Window",
    "WrongVaultError",
    "check_entry",
    "mib",
    "rows_to_columns",
]

ProgressFn = Callable[[int, int | None], None]

MAX_ARCHIVE_SIZE: Final = 10_000 * 4 * 1024**3  # 10,000 parts of 4 GiB: the largest archive
CHUNK: Final = 256 * 1024
MAX_LINE_BYTES: Final = 1024 * 1024  # one CSV line (see the module docstring)
MAX_ENTRY_BYTES: Final = 1024 * 1024  # one JSON value (see the module docstring)
BOM: Final = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some editors write
# An ArchiveList entry's fields (JSON keys, CSV columns), in the order of Columns.
ENTRY_FIELDS: Final = ("ArchiveId", "ArchiveDescription", "CreationDate", "Size", "SHA256TreeHash")
_MAX_EXAMPLES: Final = 3


class InventoryFormatError(ValueError):
    """The inventory file is truncated or malformed. ``offset`` is the byte position."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.reason = message
        self.offset = offset

    def __reduce__(self) -> tuple[type[InventoryFormatError], tuple[str, int]]:
        return type(self), (self.reason, self.offset)  # crosses the helper's pipe


class WrongVaultError(ValueError):
    """The inventory's VaultARN names another vault than the one it is imported for."""


class TooManyDigits(ValueError):
    """A number longer than Python's int-digits limit, in the field ``field``."""

    def __init__(self, field: str, digits: int) -> None:
        super().__init__(f"{field} is a number of {digits:,} digits: not a Glacier inventory")
        self.field = field
        self.digits = digits


def mib(n: int) -> str:
    """``n`` bytes as "1 MiB" (the caps are whole MiB) or "512 KiB"."""
    return f"{n // 1024**2} MiB" if n % 1024**2 == 0 else f"{n / 1024:,.0f} KiB"


class NotFast(Exception):
    """The fast path cannot take this document; the import starts over on the careful one."""


class Stats:
    """Counters of one parse; examples are capped so memory stays flat.

    ``seq`` is the unit being parsed: examples keep it, so examples gathered by two
    processes merge back into file order.
    """

    def __init__(self) -> None:
        self.skipped = 0
        self.invalid_sizes = 0
        self.seq = 0
        self.examples: dict[str, list[tuple[int, str]]] = {}
        self.sources: dict[str, int] = {}

    def example(self, kind: str, text: str) -> None:
        ex = self.examples.setdefault(kind, [])
        if len(ex) < _MAX_EXAMPLES:
            ex.append((self.seq, text[:200]))

    def texts(self, kind: str) -> list[str]:
        return [t for _, t in sorted(self.examples.get(kind, []))[:_MAX_EXAMPLES]]

    def merge(self, other: Stats) -> None:
        self.skipped += other.skipped
        self.invalid_sizes += other.invalid_sizes
        for kind, ex in other.examples.items():
            self.examples[kind] = sorted(self.examples.get(kind, []) + ex)[:_MAX_EXAMPLES]
        for k, v in other.sources.items():
            self.sources[k] = self.sources.get(k, 0) + v


def _size(value: Any) -> int | None:
    if type(value) is int:  # the hot path: JSON integers
        v = value
    elif isinstance(value, str):
        digits = value.strip()
        if not digits.isdigit():
            return None
        limit = sys.get_int_max_str_digits()
        if limit and len(digits) > limit:  # int() would raise a ValueError
            raise TooManyDigits("Size", len(digits))
        v = int(digits)
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


def check_entry(
    stats: Stats, aid: Any, desc: Any, created: Any, size: Any, tree_hash: Any
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


Columns = tuple[
    Sequence[str], Sequence[str], Sequence[str | None], Sequence[int | None], Sequence[str | None]
]  # ids, descriptions, creation dates, sizes, tree hashes of a batch


def rows_to_columns(rows: Sequence[RawRow]) -> Columns:
    if not rows:
        return (), (), (), (), ()
    aids, descs, created, sizes, hashes = zip(*rows, strict=True)
    return aids, descs, created, sizes, hashes


# -- reading -----------------------------------------------------------------------------------


class Reader:
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

    def skip_bom(self) -> None:
        """Drop a UTF-8 byte order mark at the start (offsets stay file offsets)."""
        if self.offset == 0 and self.peek().startswith(BOM):
            self._pushback = self._pushback[len(BOM) :]
            self.offset = len(BOM)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        while True:
            if self._pushback:
                chunk, self._pushback = self._pushback, b""
            else:
                chunk = self.f.read(size)
            if not chunk:
                return
            self.offset += len(chunk)
            if self.progress is not None:
                self.progress(self.offset, self.total)
            yield chunk


class Window:
    """Bytes read but not yet cut into units: ``buf[pos:]``, with ``buf[0]`` at file
    offset ``base``. Reads chunks of at least ``size`` as asked."""

    def __init__(self, reader: Reader, size: int) -> None:
        self._chunks = reader.chunks(max(CHUNK, size))
        self.buf = b""
        self.base = reader.offset  # past a byte order mark
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.buf) - self.pos

    def more(self) -> bool:
        """Append the next chunk (dropping what was cut); False at the end of the file."""
        chunk = next(self._chunks, b"")
        if not chunk:
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.base += self.pos
        self.pos = 0
        return True

    def cut(self, end: int) -> tuple[int, bytes]:
        """The unit ``buf[pos:end]`` with its file offset; the window moves past it."""
        unit = self.base + self.pos, self.buf[self.pos : end]
        self.pos = end
        return unit

    def rest(self) -> tuple[int, bytes]:
        return self.base + self.pos, self.buf[self.pos :]


class UnitParser(Protocol):
    """Turns one unit (bytes of whole entries or lines, from file offset ``at``) into
    checked columns. Picklable: the helper process gets the parent's."""

    def __call__(self, payload: bytes, at: int, stats: Stats) -> Columns: ...
