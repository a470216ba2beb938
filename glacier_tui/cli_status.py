"""The detail lines the restore, migrate and purge ``status`` commands print under a
campaign's row: counts per state, the message, the failed and skipped archives, the
manifest. One format for the three commands (untrusted text made inert)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from glacier_tui.glacier.campaigns import ItemState
from glacier_tui.glacier.sanitize import inert

INDENT = "      "  # under the row's id column


def counts_line(counts: Mapping[ItemState, int]) -> str:
    return INDENT + ", ".join(f"{s.value} {counts.get(s, 0):,}" for s in ItemState)


def message_lines(message: str) -> list[str]:
    return [f"{INDENT}{inert(message)}"] if message else []


def problem_lines(problems: Iterable[tuple[str, str, str]]) -> list[str]:
    """One line per (state, path, reason)."""
    return [f"{INDENT}{state}: {inert(path)}: {inert(reason)}" for state, path, reason in problems]


def manifest_lines(path: Path) -> list[str]:
    return [f"{INDENT}manifest: {inert(str(path))}"] if path.exists() else []
