"""Campaign manifests: the proof a user keeps before deleting anything.

Written atomically (temp + fsync + rename) next to the restored files, as
``restore-manifest-<id>.csv`` and ``restore-manifest-<id>.json``, one row per
archive: path (relative to the manifest's folder), archive id, size, tree hash,
state, verified-at (UTC), job id, reason. :func:`verify_manifest` re-hashes the
files on disk against it, streaming (memory does not grow with the row count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from glacier_tui.glacier.store import Store

__all__ = ["ManifestCheck", "ManifestProblem", "manifest_paths", "verify_manifest",
           "write_manifest"]

COLUMNS = ("path", "archive_id", "size", "tree_hash", "state", "verified_at", "job_id",
           "reason")


@dataclass(frozen=True)
class ManifestProblem:
    path: str
    problem: str  # "missing", "changed (tree hash ...)", "size ...", "not restored (state)"


@dataclass
class ManifestCheck:
    """The outcome of :func:`verify_manifest`."""

    rows: int = 0
    ok: int = 0
    problems: list[ManifestProblem] = field(default_factory=list)  # the first 1,000
    problem_count: int = 0

    @property
    def all_ok(self) -> bool:
        return self.problem_count == 0 and self.rows > 0


def manifest_paths(destination: Path, campaign_id: int) -> tuple[Path, Path]:
    """(CSV path, JSON path) of a campaign's manifest."""
    base = Path(destination) / f"restore-manifest-{int(campaign_id)}"
    return base.with_suffix(".csv"), base.with_suffix(".json")


def write_manifest(store: Store, campaign_id: int) -> tuple[Path, Path]:
    """Write both manifests of a campaign atomically; return their paths."""
    raise NotImplementedError


def verify_manifest(
    path: Path, *, on_row: Callable[[int, int], None] | None = None
) -> ManifestCheck:
    """Re-check every file listed in a manifest (CSV or JSON) by tree hash.

    ``on_row(rows checked, bytes hashed)`` reports progress. Raises ``LocalError``
    with a one-line message for a file that is not a glacier-tui manifest.
    """
    raise NotImplementedError
