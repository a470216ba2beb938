"""Decoding archive descriptions in bulk: :func:`decode_many`, the importer's decoder.

It gives exactly :func:`~.descriptions.decode_fields`'s answers, thousands at a time,
about 3x as fast on a realistic mix (1.2-1.3 us an archive against 3.8-4.1 us).
"""

from __future__ import annotations

import binascii
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Final

from .descriptions import UNDEFINED_FOLDER, decode_fields, normalize_path

__all__ = ["decode_many"]


# --- Batch decoding -----------------------------------------------------------
#
# decode_many() gives exactly decode_fields()'s answers, thousands at a time. The
# common shapes of each tool are decoded with a few C-level operations over a whole
# chunk (one base64 decode, one regex split, one UTF-8/UTF-7 decode, one check of
# all paths); every joined operation is arranged so that one item's bytes cannot
# change another's result, and the alignment is verified. A chunk that fails any
# check is retried in small pieces, and a piece that still fails goes item by item
# through decode_fields(), the reference.

# Bulk attempts are made on parts of _SIZES[level] items, a step of parts at a time (one
# part at level 0 and for the first step, else _PARTS_PER_STEP). After each step the level
# moves to bigger parts if all succeeded and to smaller ones if most failed; past the last
# level a step of _REFERENCE_STEP items goes to decode_fields() but for one probe part. A
# failed part is retried in parts of the next size before its items go to decode_fields().
# So clean batches are decoded in big parts, and odd items cost about what the reference
# costs. (Not Final: the tests try other granularities.)
_SIZES: tuple[int, ...] = (2048, 64, 8)
_PARTS_PER_STEP = 4
_REFERENCE_STEP = 256

# (unsanitised paths, concatenated 16-byte compact mtimes or None) or None if off the fast path
_Decoded = tuple[list[str], bytes | None]

_FENCE: Final = "CgoK"  # base64 of b"\n\n\n": closes every item in a joined decode
_B64_LIMIT: Final = 4096  # longer bodies (over Glacier's 1024 bytes anyway) take the slow path


def _b64_pad(n: int) -> str:
    # "A"s keep each item on a 4-character boundary; "!" makes strict mode reject the lengths
    # the per-item decoder rejects (and 0: "mt2 " alone strips to the plain "mt2").
    return ("!" if n % 4 == 1 or n == 0 else "A" * (-n % 4)) + _FENCE


_B64_PAD: Final = tuple(_b64_pad(n) for n in range(_B64_LIMIT))
# What the "A"s decode to when the input is canonical (zero leftover bits).
_B64_JUNK: Final = tuple(b"\x00" * (-n % 4) for n in range(_B64_LIMIT))

# Each _fast_* decoder returns, for every item, exactly the unsanitised path and mtime the
# reference decodes, or None if some item is off its fast path. Regexes use only literals
# and [^x]* runs (the fast path of the re engine); what the runs captured is checked in
# bulk afterwards.

_C0: Final = bytes(range(0x20))  # control characters, which JSON refuses inside strings
_C0_RE: Final = re.compile("[\x00-\x1f]")


def _has_c0(s: str) -> bool:
    if s.isascii():
        b = s.encode("ascii")
        return len(b.translate(None, _C0)) != len(b)
    return _C0_RE.search(s) is not None


_AFTER_HEAD: Final = itemgetter(slice(4, None))  # "mt2 " is 4 characters
_MT2_PAD: Final = ("!",) * 4 + _B64_PAD
_MT2_JUNK: Final = (b"",) * 4 + _B64_JUNK

# One mt2 record in the joined decode: the fast shape, the padding junk, the fence.
_MT2_RECORD: Final = re.compile(
    rb'\{"filename":"([^"]*)","mtime":"(.{16})"\}([^\n]*)\n\n\n', re.DOTALL
)


def _stamps(values: list[str] | list[bytes]) -> bytes | None:
    """All values concatenated if each is exactly ``YYYYMMDDTHHMMSSZ`` (ASCII digits), else None."""
    n = len(values)
    if set(map(len, values)) != {16}:
        return None
    try:
        b = b"".join(values) if isinstance(values[0], bytes) else "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return None
    if b[8::16] != b"T" * n or b[15::16] != b"Z" * n:
        return None
    return b if len(b.translate(None, b"0123456789")) == 2 * n else None  # the rest are digits


def _fast_mt2(items: list[str]) -> _Decoded | None:
    lens = list(map(len, items))  # body length + 4
    try:
        bodies = map(_AFTER_HEAD, items)
        pads = map(_MT2_PAD.__getitem__, lens)
        text = "".join(chain.from_iterable(zip(bodies, pads, strict=True)))
        # The fence after every item makes strict mode reject any "=", as per item.
        data = binascii.a2b_base64(text.replace("-", "+").replace("_", "/"), strict_mode=True)
    except (IndexError, ValueError):  # too long, non-ASCII or not strict base64
        return None
    if b"\\" in data:  # the reference reads such a filename with json.loads
        return None
    n = len(items)
    parts = _MT2_RECORD.split(data)
    if (
        len(parts) != 4 * n + 1
        or any(parts[0::4])
        or parts[3::4] != list(map(_MT2_JUNK.__getitem__, lens))  # canonical: zero leftover bits
    ):
        return None
    stamps = _stamps(parts[2::4])
    if stamps is None:
        return None
    try:
        paths = b"\n".join(parts[1::4]).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    # The n matches end in a fence and leave nothing between them, so they tile the data;
    # they are the n items unless one spans a fence. Its "\n\n\n" would then be in the
    # mtime (refused by _stamps) or in the filename: n lines mean n items, and no "\n".
    if len(paths) != n:
        return None
    return paths, stamps


def _records(pattern: re.Pattern[str], items: list[str], groups: int) -> list[str] | None:
    """Split ``"\\n"``-terminated items by a pattern that ends in "\\n" and matches one item.

    Returns the regex split (group ``g`` of item ``i`` at ``parts[i * (groups + 1) + g + 1]``),
    or None unless every item matched as a whole.
    """
    n = len(items)
    text = "\n".join(items) + "\n"
    # n separators and n matches that leave nothing between them: one match per item.
    if text.count("\n") != n:
        return None
    parts = pattern.split(text)
    if len(parts) != (groups + 1) * n + 1 or any(parts[0 :: groups + 1]):
        return None
    return parts


def _stamped_records(pattern: re.Pattern[str], items: list[str]) -> tuple[list[str], bytes] | None:
    """(first groups, concatenated stamps of the second groups) of a two-group pattern."""
    parts = _records(pattern, items, 2)
    if parts is None:
        return None
    stamps = _stamps(parts[2::3])
    return None if stamps is None else (parts[1::3], stamps)


_FG_RECORD: Final = re.compile(r"<m><v>4</v><p>([^<]*)</p><lm>([^<]*)</lm><ce>[^<]*</ce></m>\n")


def _fast_fastglacier(items: list[str]) -> _Decoded | None:
    found = _stamped_records(_FG_RECORD, items)
    if found is None:
        return None
    b64, stamps = found
    try:
        raw = list(map(binascii.a2b_base64, b64))
    except ValueError:
        return None
    # Only canonical base64 (exactly what b2a_base64 writes) decodes alike in every mode
    # and Python version; b2a_base64 ends each item with "\n".
    if b"".join(map(binascii.b2a_base64, raw)) != ("\n".join(b64) + "\n").encode("ascii"):
        return None
    joined = b"\n".join(raw)
    if joined.count(b"\n") != len(items) - 1:
        return None
    try:
        return joined.decode("utf-8").split("\n"), stamps
    except UnicodeDecodeError:
        return None


_CB_RECORD: Final = re.compile(
    r'\{"Path": "([^"]*)", "UTCDateModified": "([^"]*)", "Flags": -?(?:0|[1-9][0-9]{0,15})\}\n'
)
# A UTF-7 shift still open at the end of an item: decoding the joined paths would end it
# at the "\n" separator instead, which the codec treats differently from the end of input.
_UTF7_OPEN_AT_END: Final = re.compile(r"\+[A-Za-z0-9+/]*\n")


def _fast_cloudberry(items: list[str]) -> _Decoded | None:
    found = _stamped_records(_CB_RECORD, items)
    if found is None:
        return None
    raw, stamps = found
    text = "\n".join(raw) + "\n"
    try:
        b = text.encode("ascii")
    except UnicodeEncodeError:  # some item keeps its raw text in the reference
        return None
    # JSON escapes and control characters (the items' "\n" separators aside) need the
    # reference.
    if b"\\" in b or len(b.translate(None, _C0)) != len(b) - len(items):
        return None
    if b"+" in b and _UTF7_OPEN_AT_END.search(text):
        return None
    try:
        paths = b.decode("utf-7").split("\n")
    except UnicodeError:  # some item keeps its raw text in the reference
        return None
    paths.pop()
    if len(paths) != len(items):  # a decoded "\n"
        return None
    return paths, stamps


# The leading "/" may go: normalize_path("/" + p) == normalize_path(p) for every p.
_QN_RECORD: Final = re.compile(r'\{"path": "/?([^"]*)", "type": "[^"\\\x00-\x1f]*"\}\n')
_JSON_U_ESCAPE: Final = re.compile(r"\\u[0-9a-fA-F]{4}")


def _fast_qnap(items: list[str]) -> _Decoded | None:
    parts = _records(_QN_RECORD, items, 1)
    if parts is None:
        return None
    raw = parts[1::2]
    joined = '","'.join(raw)
    if "\\" not in joined:  # JSON refuses control characters: the reference reads it as plain
        return None if _has_c0(joined) else (raw, None)
    # Only \uXXXX escapes: then no body can escape a '"' and each is one JSON string body.
    if len(_JSON_U_ESCAPE.findall(joined)) != joined.count("\\"):
        return None
    try:
        paths: list[str] = json.loads('["' + joined + '"]')
    except ValueError:  # a raw control character: the reference falls back to plain
        return None
    return paths, None


def _fast_plain(items: list[str]) -> _Decoded | None:
    return items, None


# For a one-scan check of Latin-1 paths: unprintable characters become "\\" and "." (and
# for plain descriptions " ") becomes "/", so any "\\", empty part, or part that is "." or
# ".." (or, for plain, starts or ends with a space) leaves a "\\" or a "//".
_LATIN1_UNPRINTABLE: Final = bytes(c for c in range(256) if not chr(c).isprintable())
_SCREEN: Final = bytes.maketrans(
    _LATIN1_UNPRINTABLE + b".", b"\\" * len(_LATIN1_UNPRINTABLE) + b"/"
)
_SCREEN_PLAIN: Final = bytes.maketrans(
    _LATIN1_UNPRINTABLE + b". ", b"\\" * len(_LATIN1_UNPRINTABLE) + b"//"
)
# A "//" after screening may also be harmless ("a..b"): _is_clean_exact then decides.
_DOUBLE_SLASH: Final = re.compile(b"//")  # faster than `in` for this needle on CPython 3.11


def _is_clean(paths: list[str], plain: bool) -> bool:
    """True if every path is non-empty and already what normalize_path() returns.

    For ``plain`` descriptions also that none starts or ends with a space (which the
    reference strips).
    """
    # With a "/" on either side of every path, each empty, "." or ".." part shows up as
    # "//", "/./" or "/../".
    joined = "/" + "/".join(paths) + "/"
    try:
        screened = joined.encode("latin-1").translate(_SCREEN_PLAIN if plain else _SCREEN)
    except UnicodeEncodeError:
        return _is_clean_exact(joined, plain)
    if b"\\" in screened:
        return False
    # Latin-1 text is always NFC (no combining marks), and it is printable here.
    return _DOUBLE_SLASH.search(screened) is None or _is_clean_exact(joined, plain)


def _is_clean_exact(joined: str, plain: bool) -> bool:
    if "//" in joined or "\\" in joined or "/./" in joined or "/../" in joined:
        return False
    if plain and ("/ " in joined or " /" in joined):
        return False
    return joined.isprintable() and (joined.isascii() or unicodedata.is_normalized("NFC", joined))


_ISO_TEMPLATE: Final = b"0000-00-00T00:00:00Z\n"
# (ISO offset, compact offset) of every digit
_ISO_COPY: Final = tuple(zip((0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18),
                             (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14), strict=True))


def _iso_many(stamps: bytes) -> list[str]:
    """Concatenated 16-byte ``YYYYMMDDTHHMMSSZ`` stamps -> ISO strings, as _iso() makes them."""
    # Strided slice assignments copy one digit position of every stamp at a time.
    out = bytearray(_ISO_TEMPLATE * (len(stamps) // 16))
    for dst, src in _ISO_COPY:
        out[dst::21] = stamps[src::16]
    isos = out.decode("ascii").split("\n")
    isos.pop()
    return isos


_Columns = tuple[list[str], list[str], list[str | None], list[str]]


@dataclass(frozen=True, slots=True)
class _Kind:
    decode: Callable[[list[str]], _Decoded | None]
    source: str
    plain: bool = False


_KINDS: Final = (
    _Kind(_fast_mt2, "mt2"),
    _Kind(_fast_fastglacier, "fastglacier"),
    _Kind(_fast_cloudberry, "cloudberry"),
    _Kind(_fast_qnap, "qnap"),
    _Kind(_fast_plain, "plain", plain=True),
)
_PLAIN: Final = 4
_EMPTY: Final = 5
_SLOW: Final = 6
# First four characters -> index into _KINDS (or _EMPTY, _SLOW); other heads are plain.
_KIND_BY_HEAD: Final = {"mt2 ": 0, "<m><": 1, '{"Pa': 2, '{"pa': 3, "mt1 ": _SLOW, "": _EMPTY}


_HEAD: Final = itemgetter(slice(0, 4))


def _classify(descriptions: Sequence[str]) -> list[list[int]]:
    """Indices per entry of _KINDS, then empty ones, then the ones only decode_fields() takes."""
    by_head: defaultdict[str, list[int]] = defaultdict(list)  # few distinct heads, one lookup each
    for i, head in enumerate(map(_HEAD, descriptions)):
        by_head[head].append(i)
    groups: list[list[int]] = [[] for _ in range(_SLOW + 1)]
    for head, idx in by_head.items():
        k = _KIND_BY_HEAD.get(head)
        if k is None:
            # Quoted, JSON and XML-ish shapes are left to the reference.
            k = _SLOW if head[0] in '"{<' else _PLAIN
        groups[k] += idx
    return groups


_CLEAN_BLOCK: Final = 32  # paths checked together when a part's check fails


def _normalized(paths: list[str], plain: bool) -> list[str | None]:
    """normalize_path() of each path, None where the reference would not use it.

    That is where it normalizes to nothing (an error item) or, for plain descriptions,
    where the reference strips it first. Clean blocks are passed through unchanged.
    """
    result: list[str | None] = []
    for a in range(0, len(paths), _CLEAN_BLOCK):
        block = paths[a : a + _CLEAN_BLOCK]
        if _is_clean(block, plain):
            result += block
            continue
        for p in block:
            result.append(None if plain and p != p.strip() else normalize_path(p) or None)
    return result


def _try_fast(
    kind: _Kind, idx: list[int], descriptions: Sequence[str], out: _Columns, slow: list[int]
) -> bool:
    """Decode the items at ``idx`` in bulk into ``out``; False (``out`` untouched) if any is off.

    Items whose path only needs normalizing are normalized one by one; the few whose path
    normalizes to nothing go to ``slow``.
    """
    decoded = kind.decode(list(map(descriptions.__getitem__, idx)))
    if decoded is None:
        return False
    paths, stamps = decoded
    folders, names, mtimes, sources = out
    isos: list[str] | list[None] = [None] * len(idx) if stamps is None else _iso_many(stamps)
    source = kind.source
    cleaned = paths if _is_clean(paths, kind.plain) else _normalized(paths, kind.plain)
    for i, clean, iso in zip(idx, cleaned, isos, strict=True):
        if clean is None:
            slow.append(i)
            continue
        folders[i], _, names[i] = clean.rpartition("/")
        mtimes[i] = iso
        sources[i] = source
    return True


def _decode_kind(
    kind: _Kind, idx: list[int], descriptions: Sequence[str], out: _Columns, slow: list[int]
) -> None:
    """Bulk-decode one kind's items, adapting the part size to how many of them fail."""
    last = len(_SIZES) - 1
    level, a = min(1, last), 0  # start with one small part: if the items are odd, little is lost
    while a < len(idx):
        if level <= last:
            parts = 1 if level == 0 or a == 0 else _PARTS_PER_STEP
            step = idx[a : a + _SIZES[level] * parts]
            wins, tries = _decode_parts(kind, step, level, descriptions, out, slow)
        else:  # most parts failed: the reference takes the items, one part probes for a change
            step = idx[a : a + max(_REFERENCE_STEP, _SIZES[last])]
            wins, tries = _decode_parts(kind, step[: _SIZES[last]], last, descriptions, out, slow)
            slow.extend(step[_SIZES[last] :])
        a += len(step)
        if wins == tries:
            level = max(level - 1, 0)
        elif 2 * wins < tries:
            level = min(level + 1, last + 1)


def _decode_parts(
    kind: _Kind,
    idx: list[int],
    level: int,
    descriptions: Sequence[str],
    out: _Columns,
    slow: list[int],
) -> tuple[int, int]:
    """Bulk-decode in parts of _SIZES[level], a failed one again in smaller parts.

    Returns (parts that succeeded, parts tried) at this level.
    """
    size = _SIZES[level]
    wins = tries = 0
    for a in range(0, len(idx), size):
        part = idx[a : a + size]
        tries += 1
        if _try_fast(kind, part, descriptions, out, slow):
            wins += 1
        elif level + 1 < len(_SIZES):
            _decode_parts(kind, part, level + 1, descriptions, out, slow)
        else:
            slow.extend(part)
    return wins, tries


def _decode_empty(idx: list[int], archive_ids: Sequence[str], out: _Columns) -> None:
    folders, names, _, sources = out
    ids = list(map(archive_ids.__getitem__, idx))
    for i, name in zip(idx, _normalized(ids, False), strict=True):
        folders[i] = UNDEFINED_FOLDER
        names[i] = name or "_"
        sources[i] = "empty"  # mtimes[i] stays None


def decode_many(
    descriptions: Sequence[str], archive_ids: Sequence[str]
) -> tuple[list[str], list[str], list[str | None], list[str]]:
    """``(folders, names, mtimes, sources)`` for many archives at once.

    Element i of the four lists is exactly ``decode_fields(descriptions[i], archive_ids[i])``.
    The bulk importer's decoder: the common shapes are decoded a chunk at a time, and
    anything else (or a piece of a chunk that fails a check) goes through decode_fields().
    """
    n = len(descriptions)
    if len(archive_ids) != n:
        raise ValueError(f"{n} descriptions but {len(archive_ids)} archive ids")
    out: _Columns = ([""] * n, [""] * n, [None] * n, [""] * n)
    groups = _classify(descriptions)
    slow = groups[_SLOW]
    _decode_empty(groups[_EMPTY], archive_ids, out)
    for kind, idx in zip(_KINDS, groups, strict=False):
        _decode_kind(kind, idx, descriptions, out, slow)
    folders, names, mtimes, sources = out
    for i in slow:
        folders[i], names[i], mtimes[i], sources[i] = decode_fields(descriptions[i], archive_ids[i])
    return out
