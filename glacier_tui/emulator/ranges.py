"""Byte-range helpers (ranges must be MiB-aligned, and tree-hash aligned for a
range's tree hash to be returned)."""

from __future__ import annotations

import re

from glacier_tui.glacier.treehash import MIB, is_mib_aligned, is_tree_hash_aligned

__all__ = [
    "MIB",
    "is_mib_aligned",
    "is_tree_hash_aligned",
    "parse_content_range",
    "parse_http_range",
    "parse_simple",
]


_RANGE = re.compile(r"^\s*(\d+)-(\d+)\s*$")
_HTTP_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)-(\d*)\s*$")
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\*|\d+)\s*$")


def parse_simple(text: str) -> tuple[int, int] | None:
    m = _RANGE.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_http_range(text: str, total: int) -> tuple[int, int] | None:
    """'bytes=S-E', 'bytes=S-' or 'bytes=-N' -> inclusive (S, E) clipped to total; None if bad."""
    m = _HTTP_RANGE.match(text)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        n = int(m.group(2))
        if n == 0:
            return None
        return max(0, total - n), total - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else total - 1
    end = min(end, total - 1)
    if start > end:
        return None
    return start, end


def parse_content_range(text: str) -> tuple[int, int] | None:
    m = _CONTENT_RANGE.match(text)
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    return (start, end) if end >= start else None
