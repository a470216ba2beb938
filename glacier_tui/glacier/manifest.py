"""Campaign manifests: the proof a user keeps before deleting anything.

Written atomically (temp + fsync + rename) next to the restored files, as
``restore-manifest-<id>.csv`` and ``restore-manifest-<id>.json``, one row per
archive: path (relative to the manifest's folder), archive id, size, tree hash,
state, verified-at (UTC), job id, reason. :func:`verify_manifest` re-hashes the
files on disk against it, streaming (memory does not grow with the row count).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Final

from glacier_tui.glacier import errors
from glacier_tui.glacier.manifest_rows import bounded_lines, csv_rows, read_rows
from glacier_tui.glacier.safe_files import atomic_write, open_regular
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.treehash import tree_hash_file

_MAX_PROBLEMS: Final = 1000

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


def _utc(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_manifest(store: Store, campaign_id: int) -> tuple[Path, Path]:
    """Write both manifests of a campaign atomically; return their paths."""
    from glacier_tui.glacier import campaign_store as db

    info = db.get(store, campaign_id)
    destination = Path(info.destination).expanduser()
    csv_path, json_path = manifest_paths(destination, campaign_id)

    def rows() -> Iterator[list[Any]]:
        for it in db.iter_items(store, campaign_id):
            yield [it.path, it.archive_id, "" if it.size is None else it.size,
                   it.tree_hash or "", it.state.value, _utc(it.verified_at), it.job_id or "",
                   it.reason]

    def write_csv(fh: BinaryIO) -> None:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=True)
        w = csv.writer(text)
        w.writerow(COLUMNS)
        for row in rows():
            w.writerow(row)
        text.flush()
        text.detach()

    def write_json(fh: BinaryIO) -> None:
        head = {
            "manifest": "glacier-tui restore", "version": 1, "campaign": info.id,
            "vault": info.vault, "tier": info.tier, "selection": info.selection.describe(),
            "status": info.status.value, "written_at": _utc(datetime.now(UTC).timestamp()),
        }
        # One row per line, so a reader can stream it (see verify_manifest).
        fh.write((json.dumps(head)[:-1] + ', "items": [').encode())
        for i, row in enumerate(rows()):
            doc = dict(zip(COLUMNS, row, strict=True))
            if doc["size"] == "":
                doc["size"] = None
            fh.write((("," if i else "") + "\n" + json.dumps(doc)).encode())
        fh.write(b"\n]}\n")

    atomic_write(csv_path, write_csv, private_dir=False)
    atomic_write(json_path, write_json, private_dir=False)
    return csv_path, json_path


def _bad(path: Path, why: str) -> errors.LocalError:
    return errors.LocalError(f"{path} is not a glacier-tui restore manifest ({why})",
                             hint="Give the restore-manifest-ID.csv or .json file.")


def _json_rows(fh: IO[str], path: Path) -> Iterator[dict[str, Any]]:
    lines = bounded_lines(fh, functools.partial(_bad, path))
    first = next(lines, "")
    if '"glacier-tui restore"' not in first or not first.rstrip().endswith('"items": ['):
        raise _bad(path, "no manifest header")
    for line in lines:
        text = line.strip().strip(",").strip()
        if text in ("]}", ""):
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            raise _bad(path, "a row is not JSON") from None
        if not isinstance(doc, dict):
            raise _bad(path, "a row is not an object")
        yield doc


def _csv_rows(fh: IO[str], path: Path) -> Iterator[dict[str, Any]]:
    bad = functools.partial(_bad, path)
    yield from csv_rows(bounded_lines(fh, bad), COLUMNS[:5], bad)


def _check_row(root: Path, row: dict[str, Any]) -> tuple[str, str | None, int]:
    """(relative path, problem or None, bytes hashed)."""
    rel = str(row.get("path") or "")
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return rel, "unsafe path in the manifest", 0
    state = str(row.get("state") or "")
    if state != "verified":
        return rel, f"not restored ({state or 'no state'})", 0
    target = root.joinpath(*parts)
    try:
        fd = open_regular(target, os.O_RDONLY)
    except FileNotFoundError:
        return rel, "missing", 0
    except (OSError, errors.GlacierError) as exc:
        return rel, f"cannot read: {exc}", 0
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    want_size = row.get("size")
    if want_size not in (None, "") and int(want_size) != size:
        return rel, f"size is {size:,} bytes, the manifest says {int(want_size):,}", 0
    want = str(row.get("tree_hash") or "").lower()
    if not want:
        return rel, "no tree hash in the manifest", 0
    got = tree_hash_file(target)
    if got != want:
        return rel, f"changed (tree hash {got}, the manifest says {want})", size
    return rel, None, size


def verify_manifest(
    path: Path, *, on_row: Callable[[int, int], None] | None = None
) -> ManifestCheck:
    """Re-check every file listed in a manifest (CSV or JSON) by tree hash.

    ``on_row(rows checked, bytes hashed)`` reports progress. Raises ``LocalError``
    with a one-line message for a file that is not a glacier-tui manifest.
    """
    path = Path(path)
    root = path.parent
    check = ManifestCheck()
    hashed = 0
    for row in iter_manifest_rows(path):
        check.rows += 1
        rel, problem, nbytes = _check_row(root, row)
        hashed += nbytes
        if problem is None:
            check.ok += 1
        else:
            check.problem_count += 1
            if len(check.problems) < _MAX_PROBLEMS:
                check.problems.append(ManifestProblem(rel, problem))
        if on_row is not None:
            on_row(check.rows, hashed)
    if check.rows == 0:
        raise _bad(path, "no rows")
    return check


# -- reading rows back (a vault close-out checks its proofs against them) -----------------


def iter_manifest_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Every row of a restore manifest (CSV or JSON), streamed, as a dict of its columns.

    Raises ``LocalError`` with a one-line message for a file that is not one.
    """
    path = Path(path)

    def rows(fh: IO[str]) -> Iterator[dict[str, Any]]:
        head = fh.read(1)
        fh.seek(0)
        return _json_rows(fh, path) if head == "{" else _csv_rows(fh, path)

    yield from read_rows(path, functools.partial(_bad, path), rows)


def check_manifest_row(root: Path, row: dict[str, Any]) -> str | None:
    """Re-hash the file one manifest row names (below ``root``): None when it matches,
    else what is wrong ("missing", "changed (tree hash ...)", ...)."""
    return _check_row(Path(root), row)[1]
