"""Parsing JSON inventories: a careful path and a fast one.

* The careful path reads a bounded window of the file and parses the top-level object
  key by key and each ArchiveList entry as one value with the stdlib's C scanner
  (``JSONDecoder.raw_decode``), whose error positions give exact byte offsets.
* The fast path (:class:`JsonUnits`) only cuts the ArchiveList into units, runs of whole
  entries about ``unit_bytes`` long, at ``}, {"ArchiveId"`` boundaries, so either
  process can parse a unit in one call (:func:`json_unit`). A boundary found that way
  is always a real one in a valid document (the quote before ArchiveId follows ``{``,
  so it is not escaped and cannot be inside a string); when a document is not valid, a
  unit fails to parse and the import starts over on the careful path, which reports
  the exact error.

Memory is capped: a value (an entry, or any member of the top-level object) longer than
:data:`MAX_ENTRY_BYTES` (1 MiB) is an error once that much of it was read, and the fast
path gives way when a unit's entries do not end within that much past a unit.
"""

from __future__ import annotations

import codecs
import json
import operator
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from .inventory_parse import (
    CHUNK,
    ENTRY_FIELDS,
    MAX_ARCHIVE_SIZE,
    MAX_ENTRY_BYTES,
    Columns,
    InventoryFormatError,
    NotFast,
    RawRow,
    Reader,
    Stats,
    TooManyDigits,
    UnitParser,
    Window,
    check_entry,
    mib,
    rows_to_columns,
)

__all__ = ["JsonUnitParser", "JsonUnits", "iter_json", "json_unit"]


class _JsonStream:
    """A bounded window over the document: decoded text ``buf`` from byte ``base`` on.

    Values are parsed with the stdlib's C scanner (``JSONDecoder.raw_decode``) one at a
    time, so memory holds one window (``LOOKAHEAD`` plus a chunk), never the document.
    """

    LOOKAHEAD: Final = 64 * 1024  # kept ahead of the cursor: every real entry fits in it
    MAX_VALUE: Final = MAX_ENTRY_BYTES  # a value still unfinished this far ahead: refused

    def __init__(self, reader: Reader, base: int | None = None) -> None:
        self._chunks = reader.chunks()
        self._text = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = ""
        self.pos = 0
        self.base = reader.offset if base is None else base  # file offset of buf[0]
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

    def value(self, what: str = "a JSON value") -> Any:
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
                if not self.eof and len(self.buf) - self.pos <= self.MAX_VALUE:
                    self.fill()  # maybe only cut off by the window: read on and retry
                    continue
                # Cut off by the end of what was read (a string, a literal or a container
                # still open), as opposed to an error well inside it.
                cut_off = e.pos >= len(self.buf) - 16 or e.msg.startswith("Unterminated")
                if not self.eof and cut_off:
                    raise self.error(
                        f"{what} is longer than {mib(self.MAX_VALUE)}: not a Glacier inventory"
                    ) from None
                if self.eof and (e.pos >= len(self.buf) - 1 or e.msg.startswith("Unterminated")):
                    raise self.truncated() from None
                raise self.error(f"malformed inventory JSON: {e.msg}", e.pos) from None
            except ValueError:  # a number longer than Python's int-digits limit
                raise self._too_many_digits() from None

    def _too_many_digits(self) -> InventoryFormatError:
        """Decode the value again, long numbers kept as their length, to name the field."""
        try:
            value, _ = json.JSONDecoder(parse_int=_LongInt.parse).raw_decode(self.buf, self.pos)
        except (ValueError, RecursionError):
            value = None
        fields = value.items() if isinstance(value, dict) else [("a number", value)]
        for key, v in fields:
            if isinstance(v, _LongInt):
                return self.error(str(TooManyDigits(str(key)[:40], v.digits)))
        return self.error("a number is too long: not a Glacier inventory")

    def expect(self, chars: str, what: str) -> str:
        c = self.peek()
        if c == "" and self.eof:
            raise self.truncated()
        if c not in chars:
            raise self.error(f"malformed inventory JSON: expected {what}")
        self.pos += 1
        return c


class _LongInt:
    """A number too long to convert, as its number of digits."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    @staticmethod
    def parse(text: str) -> int | _LongInt:
        limit = sys.get_int_max_str_digits()
        digits = len(text.lstrip("-"))
        return _LongInt(digits) if limit and digits > limit else int(text)


_WS_RE: Final = re.compile(r"[ \t\n\r]+")
_HEADER_KEYS: Final = ("VaultARN", "InventoryDate")


def iter_json(
    reader: Reader, stats: Stats, header: dict[str, str], *, list_at: int | None = None,
    on_header: Callable[[], None] | None = None,
) -> Iterator[RawRow]:
    """Walk the top-level object; yield each ArchiveList entry as it is parsed.

    Header keys are read wherever they are (AWS writes them before the list);
    ``on_header()`` is called after each. With ``list_at`` (a byte offset), ``reader``
    starts there, inside the ArchiveList: the rest of a document whose beginning the
    fast path took.
    """
    doc = _JsonStream(reader, list_at)
    if list_at is None:
        if doc.peek() != "{":
            raise doc.error("inventory JSON is not an object")
        doc.pos += 1
        if doc.peek() == "}":
            doc.pos += 1
            key = None
        else:
            key = _key(doc)
    else:
        key = "ArchiveList"
    seen_list = False
    while key is not None:
        if key == "ArchiveList":
            if list_at is None:
                if doc.peek() != "[":
                    raise doc.error("ArchiveList is not an array")
                doc.pos += 1
            list_at = None
            seen_list = True
            yield from _json_entries(doc, stats)
        else:
            value = doc.value(f"the value of {key[:40]!r}")
            if key in _HEADER_KEYS and isinstance(value, str):
                header[key] = value
                if on_header is not None:
                    on_header()
        key = _key(doc) if doc.expect(",}", "',' or '}'") == "," else None
    if doc.peek() != "":
        raise doc.error("malformed inventory JSON: text after the document")
    if not seen_list:
        raise InventoryFormatError("inventory JSON has no ArchiveList", reader.offset)


def _key(doc: _JsonStream) -> str:
    key = doc.value("a key")
    if not isinstance(key, str):
        raise doc.error("malformed inventory JSON: expected a key")
    doc.expect(":", "':'")
    return key


def _entry_row(stats: Stats, it: Any) -> RawRow | None:
    """One parsed ArchiveList entry, checked inline for the common case."""
    if type(it) is not dict:
        stats.skipped += 1
        return None
    aid = it.get("ArchiveId")
    desc = it.get("ArchiveDescription")
    created = it.get("CreationDate")
    size = it.get("Size")
    tree_hash = it.get("SHA256TreeHash")
    if (
        type(aid) is str and aid and type(desc) is str and type(size) is int
        and 0 <= size <= MAX_ARCHIVE_SIZE and type(created) is str and type(tree_hash) is str
    ):
        return aid, desc, created, size, tree_hash
    return check_entry(stats, aid, desc, created, size, tree_hash)


def _json_entries(doc: _JsonStream, stats: Stats) -> Iterator[RawRow]:
    """The careful loop: one raw_decode per entry."""
    if doc.peek() == "]":
        doc.pos += 1
        return
    lookahead = doc.LOOKAHEAD
    while True:
        buf, pos = doc.buf, doc.pos
        if len(buf) - pos < lookahead and not doc.eof:
            doc.fill()
            buf, pos = doc.buf, doc.pos
        try:
            it, end = doc.raw_decode(buf, pos)
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            it = doc.value("an ArchiveList entry")  # refills, then raises the right error
            buf, end = doc.buf, doc.pos
        row = _entry_row(stats, it)
        if row is not None:
            yield row
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


# -- the fast JSON path ---------------------------------------------------------------------

# Simple string members before the list ("VaultARN", "InventoryDate"), then the list.
# Whitespace is JSON's four characters only: anything else must fail as it would there.
_W: Final = rb"[ \t\n\r]*"
_HEAD_MEMBER: Final = re.compile(_W + rb'"([A-Za-z]+)"' + _W + b":" + _W
                                 + rb'"([^"\\\x00-\x1f]*)"' + _W + b",")
_HEAD_LIST: Final = re.compile(_W + b'"ArchiveList"' + _W + b":" + _W + rb"\[" + _W)
_ENTRY_KEY: Final = b'"ArchiveId"'
_BEFORE_ENTRY: Final = re.compile(rb"\}" + _W + b"," + _W + rb"\{" + _W + b"$")
_ENTRY_START: Final = re.compile(_W + b"," + _W)
_FIELDS: Final = operator.itemgetter(*ENTRY_FIELDS)


class JsonUnits:
    """Cuts the ArchiveList of a compact or regular JSON inventory into units of whole
    entries (bytes, with their file offsets), reading as it goes.

    Raises :class:`NotFast` when the document's head is not simple members followed by
    the list, or when no entry boundary turns up within ``4 * unit_bytes``. After the
    units, :attr:`tail_at` is the offset of the rest (the last entries, the end of the
    list and of the object), left to the careful parser.
    """

    def __init__(
        self, reader: Reader, header: dict[str, str], unit_bytes: int,
        on_header: Callable[[], None] | None = None,
    ) -> None:
        self.reader = reader
        self.header = header
        self.unit_bytes = unit_bytes
        self.on_header = on_header
        # A real entry is far shorter than a unit: no boundary this far on, it is not one.
        self.max_ahead = min(4 * unit_bytes, unit_bytes + MAX_ENTRY_BYTES)
        self.tail = b""
        self.tail_at = 0
        self.parser: UnitParser = JsonUnitParser()

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        w = Window(self.reader, self.unit_bytes)
        while len(w.buf) < 4 * CHUNK and w.more():
            pass
        w.pos = self._head(w.buf)
        if self.on_header is not None:
            self.on_header()
        while True:
            if w.left >= self.unit_bytes:
                end = self._boundary(w.buf, w.pos, w.pos + self.unit_bytes)
                if end is None:  # one entry longer than a unit
                    end = self._boundary(w.buf, w.pos, len(w.buf))
                if end is not None:
                    yield w.cut(end)
                    m = _ENTRY_START.match(w.buf, end)
                    assert m is not None  # _boundary saw "}" "," "{" there
                    w.pos = m.end()
                    continue
                if w.left > self.max_ahead:
                    raise NotFast("no entry boundary")
            if not w.more():
                break
        self.tail_at, self.tail = w.rest()

    def _head(self, buf: bytes) -> int:
        pos = buf.find(b"{")
        if pos < 0 or buf[:pos].strip():
            raise NotFast("not an object")
        pos += 1
        while (m := _HEAD_MEMBER.match(buf, pos)) is not None:
            key = m.group(1).decode()
            if key == "ArchiveList":
                raise NotFast("ArchiveList is not an array")
            if key in _HEADER_KEYS:
                self.header[key] = m.group(2).decode("utf-8", "replace")
            pos = m.end()
        m = _HEAD_LIST.match(buf, pos)
        if m is None:
            raise NotFast("the list is not where expected")
        return m.end()

    @staticmethod
    def _boundary(buf: bytes, start: int, end: int) -> int | None:
        """End (exclusive) of the last whole entry before an entry start in buf[start:end]."""
        while True:
            k = buf.rfind(_ENTRY_KEY, start, end)
            if k <= start:
                return None
            m = _BEFORE_ENTRY.search(buf, max(start, k - 64), k)
            if m is not None:
                return m.start() + 1
            end = k


class _Entry(msgspec.Struct, gc=False):
    """An ArchiveList entry exactly as AWS writes it: anything else fails to decode."""

    ArchiveId: Annotated[str, msgspec.Meta(min_length=1)]
    ArchiveDescription: str
    CreationDate: str
    Size: Annotated[int, msgspec.Meta(ge=0, le=MAX_ARCHIVE_SIZE)]
    SHA256TreeHash: str


assert _Entry.__struct_fields__ == ENTRY_FIELDS
_UNIT_DECODER: Final = msgspec.json.Decoder(list[_Entry])
# One getter per field, in Columns order: a column per map() costs a third of zip(*rows).
_ENTRY_COLUMNS: Final = tuple(map(operator.attrgetter, ENTRY_FIELDS))


def json_unit(payload: bytes, stats: Stats) -> Columns:
    """Parse one unit of whole entries into checked columns; :class:`NotFast` if it is
    not valid JSON (the careful path then finds and reports the error).

    msgspec decodes and type-checks a unit of well-formed entries in C, about twice as
    fast as ``json.loads`` and a pass over the dicts; a unit it refuses for any reason
    (an odd entry, invalid UTF-8, NaN, a ``\\ud800`` escape...) goes by the json
    module's rules instead, exactly as the careful path would take it.
    """
    try:
        entries = _UNIT_DECODER.decode(b"[" + payload + b"]")
    except (msgspec.DecodeError, ValueError):
        return _json_unit_any(payload, stats)
    aids, descs, created, sizes, hashes = (list(map(get, entries)) for get in _ENTRY_COLUMNS)
    return aids, descs, created, sizes, hashes


def _json_unit_any(payload: bytes, stats: Stats) -> Columns:
    # Decoded as the careful path decodes (json.loads(bytes) would let lone surrogates in).
    text = payload.decode("utf-8", "replace")
    try:
        items = json.loads(f"[{text}]")
    except (ValueError, RecursionError):
        raise NotFast("unit does not parse") from None
    try:
        aids, descs, created, sizes, hashes = zip(*map(_FIELDS, items), strict=True)
    except (KeyError, TypeError, ValueError):  # a field missing, an entry not an object
        return _checked(items, stats)
    if (
        _all(str, aids) and all(aids) and _all(str, descs) and _all(int, sizes)
        and min(sizes) >= 0 and max(sizes) <= MAX_ARCHIVE_SIZE
        and _all(str, created) and _all(str, hashes)
    ):
        return aids, descs, created, sizes, hashes
    return _checked(items, stats)


def _all(t: type, column: Sequence[Any]) -> bool:
    return set(map(type, column)) == {t}  # exact type: a bool is not a size


def _checked(items: list[Any], stats: Stats) -> Columns:
    rows = [row for it in items if (row := _entry_row(stats, it)) is not None]
    return rows_to_columns(rows)


_WS_CHARS: Final = frozenset(" \t\n\r")


@dataclass(frozen=True)
class JsonUnitParser:
    def __call__(self, payload: bytes, at: int, stats: Stats) -> Columns:
        return json_unit(payload, stats)
