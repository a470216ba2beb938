"""Migration manifests: one CSV row per archive, plus a JSON summary beside it.

A row holds both checks: the Glacier tree hash (verified while streaming) and the S3
object's FULL_OBJECT CRC64NVME, ETag and version. :func:`verify_s3_manifest` audits
every row with HEAD only (``ChecksumMode=ENABLED``: checksum, checksum type, length),
so no byte is read back and archived objects need no restore.
:func:`merge_manifests` joins the manifests of shards and reports archives missing
or duplicated.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from glacier_tui.glacier import campaign_store as db
from glacier_tui.glacier import errors
from glacier_tui.glacier import migrate_store as ms
from glacier_tui.glacier.manifest_rows import bounded_lines, csv_rows, read_rows
from glacier_tui.glacier.s3_client import FULL_OBJECT, S3Client
from glacier_tui.glacier.s3_keys import RULES
from glacier_tui.glacier.safe_files import atomic_write
from glacier_tui.glacier.store import Store

__all__ = ["COLUMNS", "MergeReport", "S3Check", "merge_manifests", "migration_manifest_path",
           "verify_s3_manifest", "write_migration_manifest"]

COLUMNS: Final = ("archive_id", "bucket", "key", "rule", "orig_path", "size", "creation_date",
                  "glacier_tree_hash", "s3_crc64nvme", "s3_checksum_type", "etag",
                  "version_id", "storage_class", "state", "reason", "verified_at", "shard")
MANIFEST_KIND: Final = "glacier-tui migrate"
_MAX_PROBLEMS: Final = 1000


def _utc(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def migration_manifest_path(directory: Path, campaign: int, shard: tuple[int, int]) -> Path:
    suffix = f"-shard-{shard[0]}-of-{shard[1]}" if shard[1] > 1 else ""
    return Path(directory) / f"migrate-manifest-{int(campaign)}{suffix}.csv"


def _summary_path(csv_path: Path) -> Path:
    return csv_path.with_suffix(".json")


def _write_csv(path: Path, rows: Iterator[Sequence[Any]]) -> None:
    def write(fh: BinaryIO) -> None:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=True)
        w = csv.writer(text)
        w.writerow(COLUMNS)
        for row in rows:
            w.writerow(row)
        text.flush()
        text.detach()

    atomic_write(path, write, private_dir=False)


def write_migration_manifest(store: Store, campaign: int) -> Path:
    """Write the CSV manifest and its JSON summary atomically; return the CSV path."""
    info = db.get(store, campaign)
    row = ms.migration(store, campaign)
    if row is None:
        raise errors.LocalError(f"campaign {campaign} is not a migration")
    shard = f"{row.shard_index}/{row.shard_count}"
    path = migration_manifest_path(Path(info.destination).expanduser(), campaign,
                                   (row.shard_index, row.shard_count))
    verified = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal verified
        for obj, item in ms.iter_objects(store, campaign):
            verified += item.state.value == "verified"
            yield [item.archive_id, row.bucket, obj.key, obj.rule, obj.orig_path,
                   "" if item.size is None else item.size, obj.creation_date,
                   item.tree_hash or "", obj.crc64nvme or "", obj.checksum_type or "",
                   obj.etag or "", obj.version_id or "", row.storage_class, item.state.value,
                   item.reason, _utc(item.verified_at), shard]

    _write_csv(path, rows())
    summary = {
        "manifest": MANIFEST_KIND, "version": 1, "campaign": campaign, "vault": info.vault,
        "bucket": row.bucket, "prefix": row.prefix, "storage_class": row.storage_class,
        "key_rules": RULES, "key_template": row.key_template, "shard_index": row.shard_index,
        "shard_count": row.shard_count, "selected": row.selected, "rows": info.total_items,
        "verified": verified, "status": info.status.value,
        "written_at": _utc(datetime.now(UTC).timestamp()), "csv": path.name,
    }
    atomic_write(_summary_path(path), (json.dumps(summary, indent=1) + "\n").encode(),
                 private_dir=False)
    return path


def _bad(path: Path, why: str) -> errors.LocalError:
    return errors.LocalError(f"{path} is not a glacier-tui migration manifest ({why})",
                             hint="Give a migrate-manifest-ID.csv file.")


# The columns a migration manifest cannot be checked without.
_REQUIRED: Final = ("archive_id", "bucket", "key", "s3_crc64nvme", "state")


def _rows(path: Path) -> Iterator[dict[str, str]]:
    bad = functools.partial(_bad, path)
    yield from read_rows(path, bad, lambda fh: csv_rows(bounded_lines(fh, bad), _REQUIRED, bad))


@dataclass(frozen=True)
class S3Problem:
    key: str
    problem: str


@dataclass
class S3Check:
    rows: int = 0
    ok: int = 0
    heads: int = 0
    problems: list[S3Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def all_ok(self) -> bool:
        return self.problem_count == 0 and self.rows > 0

    def add(self, key: str, problem: str | None) -> None:
        if problem is None:
            self.ok += 1
            return
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(S3Problem(key, problem))


async def _check_row(s3: S3Client, row: dict[str, str]) -> str | None:
    if row.get("state") != "verified":
        return f"not migrated ({row.get('state') or 'no state'})"
    want = row.get("s3_crc64nvme") or ""
    if not want:
        return "no CRC64NVME in the manifest"
    head = await s3.head(row.get("bucket") or "", row.get("key") or "")
    if head is None:
        return "missing in S3"
    try:
        size = int(row.get("size") or -1)
    except ValueError:
        return "bad size in the manifest"
    if head.size != size:
        return f"length is {head.size:,} bytes, the manifest says {size:,}"
    if head.checksum_type not in (None, FULL_OBJECT):
        return f"checksum type is {head.checksum_type}, expected {FULL_OBJECT}"
    if head.crc64nvme != want:
        return f"CRC64NVME is {head.crc64nvme or 'absent'}, the manifest says {want}"
    return None


async def verify_s3_manifest(s3: S3Client, path: Path, *, concurrency: int = 16) -> S3Check:
    """HEAD every row's object and compare checksum, checksum type and length."""
    check = S3Check()
    batch: list[dict[str, str]] = []

    async def flush() -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(row: dict[str, str]) -> str | None:
            async with gate:
                return await _check_row(s3, row)

        results = await asyncio.gather(*(one(r) for r in batch))
        for row, problem in zip(batch, results, strict=True):
            check.add(row.get("key") or "", problem)
        batch.clear()

    for row in _rows(Path(path)):
        check.rows += 1
        if row.get("state") == "verified":
            check.heads += 1
        batch.append(row)
        if len(batch) >= 256:
            await flush()
    await flush()
    if check.rows == 0:
        raise _bad(Path(path), "no rows")
    return check


@dataclass
class MergeReport:
    rows: int = 0
    verified: int = 0
    shard_count: int = 1
    shards_seen: list[int] = field(default_factory=list)
    missing_shards: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # archive ids in more than one row
    not_verified: list[str] = field(default_factory=list)  # archive ids
    selected: int | None = None  # archives in the whole selection (from the summaries)

    @property
    def missing(self) -> int:
        """Archives of the selection with no row at all."""
        if self.selected is None:
            return 0
        return max(0, self.selected - (self.rows - len(self.duplicates)))

    @property
    def all_ok(self) -> bool:
        return not (self.missing_shards or self.duplicates or self.not_verified
                    or self.missing)


def merge_manifests(paths: Sequence[Path], out: Path) -> MergeReport:
    """Join shard manifests into ``out`` (CSV, one row per archive, first row wins)."""
    report = MergeReport()
    seen: set[str] = set()
    counts: set[int] = set()
    selected: set[int] = set()
    for p in paths:
        summary = _summary_path(Path(p))
        if summary.exists():
            try:
                doc = json.loads(summary.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise _bad(summary, "the JSON summary is unreadable") from None
            if doc.get("manifest") != MANIFEST_KIND:
                raise _bad(summary, "not a migration summary")
            counts.add(int(doc.get("shard_count") or 1))
            report.shards_seen.append(int(doc.get("shard_index") or 0))
            selected.add(int(doc.get("selected") or 0))

    def rows() -> Iterator[list[str]]:
        for p in paths:
            for row in _rows(Path(p)):
                report.rows += 1
                aid = row.get("archive_id") or ""
                if aid in seen:
                    report.duplicates.append(aid)
                    continue
                seen.add(aid)
                if row.get("state") == "verified":
                    report.verified += 1
                else:
                    report.not_verified.append(aid)
                yield [row.get(c) or "" for c in COLUMNS]

    _write_csv(Path(out), rows())
    if len(counts) > 1:
        raise errors.LocalError(f"the manifests come from different shard counts: "
                                f"{sorted(counts)}")
    report.shard_count = counts.pop() if counts else 1
    report.missing_shards = sorted(set(range(report.shard_count)) - set(report.shards_seen))
    report.selected = max(selected) if len(selected) == 1 else None
    return report
