"""Parsing CSV inventories: a header line, then units of whole lines.

A line still without its newline after :data:`MAX_LINE_BYTES` (1 MiB) is an error as
soon as that much of it was read, so a file without newlines never fills memory (the
window holds at most that plus one read).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .inventory_parse import (
    ENTRY_FIELDS,
    MAX_LINE_BYTES,
    Columns,
    InventoryFormatError,
    RawRow,
    Reader,
    Stats,
    TooManyDigits,
    Window,
    check_entry,
    mib,
    rows_to_columns,
)

__all__ = ["CsvUnitParser", "CsvUnits", "parse_csv_line"]


def parse_csv_line(line: str) -> list[str]:
    """Split one inventory CSV line.

    AWS's CSV quotes a field when it holds ',' or '"', and escapes '"' as a backslash-quote.

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
    if f[:1] != '"':
        return f
    if len(f) < 2 or f[-1] != '"':  # a quote opened and never closed on its line
        raise ValueError("unterminated quoted field")
    return f[1:-1].replace('\\"', '"')


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


@dataclass(frozen=True)
class CsvUnitParser:
    """Lines of a CSV inventory whose header mapped the columns to ``colmap``."""

    colmap: tuple[int, ...]
    fast: bool  # the standard column order: _split_row

    def __call__(self, payload: bytes, at: int, stats: Stats) -> Columns:
        rows: list[RawRow] = []
        offset = at
        lines = payload.split(b"\n")
        lines.pop()  # a unit ends with "\n"
        for raw in lines:
            line_at = offset
            offset += len(raw) + 1
            text = raw.decode("utf-8", "replace")
            if text.endswith("\r"):
                text = text[:-1]
            if text:
                row = self.row(text, line_at, stats)
                if row is not None:
                    rows.append(row)
        return rows_to_columns(rows)

    def fields(self, text: str) -> list[str]:
        if self.fast:
            return _split_row(text)
        allf = parse_csv_line(text)
        return [allf[i] for i in self.colmap]

    def row(self, text: str, at: int, stats: Stats) -> RawRow | None:
        try:
            f = self.fields(text)
        except (ValueError, IndexError) as e:
            raise InventoryFormatError(f"malformed inventory CSV line: {e}", at) from None
        if len(f) != 5:
            raise InventoryFormatError(f"inventory CSV line has {len(f)} fields, expected 5", at)
        try:
            return check_entry(stats, f[0], f[1], f[2], f[3], f[4])
        except TooManyDigits as e:
            raise InventoryFormatError(str(e), at) from None

    def last_line(self, tail: bytes, at: int, stats: Stats) -> Columns:
        """A last line without newline is fine if complete; a cut-off line is not."""
        if not tail.strip():
            return rows_to_columns([])
        text = tail.decode("utf-8", "replace").rstrip("\r")
        try:
            f = self.fields(text)
        except (ValueError, IndexError):
            f = []
        if len(f) != 5 or not re.fullmatch(r"[0-9a-fA-F]{64}", f[4]):
            raise InventoryFormatError("inventory CSV is truncated (partial last line)", at)
        row = self.row(text, at, stats)
        return rows_to_columns([] if row is None else [row])


class CsvUnits:
    """Reads the header line of a CSV inventory, then cuts the rest into units of whole
    lines (bytes, with their file offsets). :attr:`tail` is a last line without newline."""

    def __init__(self, reader: Reader, unit_bytes: int) -> None:
        self.reader = reader
        self.unit_bytes = unit_bytes
        self.tail = b""
        self.tail_at = 0
        self.parser = CsvUnitParser((0, 1, 2, 3, 4), True)
        self.lines = 0  # lines cut so far (for the number of a line that is too long)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        w = Window(self.reader, self.unit_bytes)
        while (nl := w.buf.find(b"\n")) < 0:
            self._check_line(w)
            if not w.more():
                if w.buf.strip():
                    raise InventoryFormatError("inventory CSV has no data lines", w.base)
                if w.base or w.buf:
                    raise InventoryFormatError("inventory CSV is empty (no header line)", 0)
                raise InventoryFormatError("the inventory file is empty", 0)
        header = w.buf[:nl].decode("utf-8", "replace").removesuffix("\r").lstrip("\ufeff")
        colmap, fast = _header(header, 0)
        self.parser = CsvUnitParser(tuple(colmap), fast)
        w.pos = nl + 1
        self.lines = 1
        while True:
            if w.left >= self.unit_bytes:
                # The last newline within a unit's length (or, for a longer line, after it).
                end = (w.buf.rfind(b"\n", w.pos, w.pos + self.unit_bytes) + 1
                       or w.buf.rfind(b"\n", w.pos) + 1)
                if end:
                    yield self._cut(w, end)
                    continue
                self._check_line(w)
            if not w.more():
                break
        end = w.buf.rfind(b"\n", w.pos) + 1
        if end:
            yield self._cut(w, end)
        self._check_line(w)
        self.tail_at, self.tail = w.rest()

    def _cut(self, w: Window, end: int) -> tuple[int, bytes]:
        unit = w.cut(end)
        self.lines += unit[1].count(b"\n")
        return unit

    def _check_line(self, w: Window) -> None:
        """The line being read has no newline yet: refuse it past the cap."""
        if w.left > MAX_LINE_BYTES:
            raise self._too_long(w.base + w.pos)

    def _too_long(self, at: int) -> InventoryFormatError:
        return InventoryFormatError(
            f"line {self.lines + 1:,} is longer than {mib(MAX_LINE_BYTES)}:"
            " not a Glacier inventory", at,
        )


def _header(text: str, offset: int) -> tuple[list[int], bool]:
    try:
        names = [h.strip() for h in parse_csv_line(text)]
    except ValueError:
        names = []
    lower = [h.lower() for h in names]
    try:
        colmap = [lower.index(c.lower()) for c in ENTRY_FIELDS]
    except ValueError:
        raise InventoryFormatError(
            f"inventory CSV header must name {', '.join(ENTRY_FIELDS)}; got {text[:120]!r}", offset
        ) from None
    return colmap, colmap == [0, 1, 2, 3, 4] and len(names) == 5
