"""Proof that an archive is safe elsewhere, read from restore and migration manifests.

A *restore* manifest (written by a restore campaign) lists files on disk with the tree
hash they were verified against. A row proves its archive when its file, re-hashed now,
still has that tree hash; or, with ``max_age_days``, when the campaign's recorded verify
is that recent. A *migration* manifest lists S3 objects with their full-object
CRC64NVME checksum; a row proves its archive when ``HeadObject`` with
``ChecksumMode=ENABLED`` returns the same ``ChecksumCRC64NVME``, ``ChecksumType``
``FULL_OBJECT`` and the same ``ContentLength`` (no data is read, nothing is restored).

Every proof carries the tree hash its copy was verified against; the plan compares it
with the inventory's, so a copy of different bytes never proves anything.
A manifest must name the vault it belongs to (or, for a restore CSV, its JSON twin or
its campaign in the store must); one of another vault is refused.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from glacier_tui.glacier import errors
from glacier_tui.glacier.manifest import check_manifest_row, iter_manifest_rows
from glacier_tui.glacier.purge_types import ProofSource, PurgeError
from glacier_tui.glacier.s3_client import S3Client
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = [
    "HeadObject",
    "ManifestHead",
    "ProofRow",
    "check_migration_rows",
    "read_head",
    "restore_proofs",
    "s3_head_function",
]

_MAX_LINE: Final = 1 << 20
_HEX64: Final = re.compile(r"^[0-9a-f]{64}$")
_RESTORE_NAME: Final = re.compile(r"^restore-manifest-(\d+)\.(csv|json)$")
# Column names a migration manifest may use for each field (first found wins).
_MIGRATION_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "archive_id": ("archive_id", "ArchiveId", "archiveId"),
    "tree_hash": ("glacier_tree_hash", "tree_hash", "sha256_tree_hash", "SHA256TreeHash"),
    "size": ("size", "Size", "content_length"),
    "bucket": ("bucket", "Bucket", "s3_bucket"),
    "key": ("key", "Key", "s3_key"),
    "crc64nvme": ("s3_crc64nvme", "crc64nvme", "checksum_crc64nvme", "ChecksumCRC64NVME"),
    "version_id": ("version_id", "VersionId"),
    "vault": ("vault", "vault_name"),
    "state": ("state", "status"),
}
# The state of a migration row whose object was verified in S3 (no state column: any row).
_MIGRATED: Final = frozenset({"", "verified"})
_MIGRATE_KIND: Final = "glacier-tui migrate"
_MIGRATE_NAME: Final = re.compile(r"^migrate-manifest-(\d+)(-shard-\d+-of-\d+)?\.csv$")


@dataclass(frozen=True)
class ProofRow:
    """One manifest row's verdict on its archive."""

    archive_id: str
    tree_hash: str  # what the copy was verified against ("" if the row has none)
    ok: bool
    detail: str  # why it proves (or does not prove) the archive; safe to show
    source: str  # the manifest's file name


@dataclass(frozen=True)
class ManifestHead:
    path: Path
    kind: ProofSource
    vault: str | None  # the vault it names (a name, never an ARN)
    rows: Path | None = None  # where its rows are, when not in ``path`` itself

    @property
    def rows_path(self) -> Path:
        return self.rows or self.path


HeadObject = Callable[[str, str, str | None], Awaitable[dict[str, Any] | None]]
"""``(bucket, key, version id) -> HeadObject response, or None when there is no object``."""


def _vault_name(value: object) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    return text.rsplit("vaults/", 1)[-1] if ":vaults/" in text else text


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            line = fh.readline(_MAX_LINE)
    except FileNotFoundError:
        raise PurgeError(f"no such manifest: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PurgeError(f"cannot read the manifest {path}: {exc}") from None
    if not line:
        raise PurgeError(f"{path} is empty, not a manifest")
    return line


def _json_header(line: str) -> dict[str, Any] | None:
    """The header object of a one-row-per-line JSON manifest (``{..., "items": [``)."""
    text = line.strip()
    marker = '"items": ['
    if not text.startswith("{") or not text.endswith(marker):
        return None
    head = text[: -len(marker)].rstrip().rstrip(",") + "}"
    try:
        doc = json.loads(head)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _csv_header(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _restore_vault_from_twin(path: Path, store: Store | None) -> str | None:
    """A restore CSV names no vault: its JSON twin or its campaign in the store does."""
    twin = path.with_suffix(".json")
    if twin.is_file():
        head = _json_header(_first_line(twin))
        if head is not None and head.get("manifest") == "glacier-tui restore":
            return _vault_name(head.get("vault"))
    m = _RESTORE_NAME.match(path.name)
    if m and store is not None:
        from glacier_tui.glacier import campaign_store

        try:
            return campaign_store.get(store, int(m.group(1))).vault
        except errors.GlacierError:
            return None
    return None


def _pick(row: dict[str, Any], field: str) -> str:
    for name in _MIGRATION_FIELDS[field]:
        value = row.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def _json_document(path: Path) -> dict[str, Any] | None:
    """A small whole-file JSON document (a migration manifest's summary), or None."""
    try:
        if path.stat().st_size > _MAX_LINE:
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _migration_vault(csv_path: Path, store: Store | None) -> str | None:
    """A migration CSV names no vault: its JSON summary or its campaign in the store does."""
    summary = _json_document(csv_path.with_suffix(".json"))
    if summary is not None and summary.get("manifest") == _MIGRATE_KIND:
        return _vault_name(summary.get("vault"))
    m = _MIGRATE_NAME.match(csv_path.name)
    if m and store is not None:
        from glacier_tui.glacier import campaign_store

        try:
            return campaign_store.get(store, int(m.group(1))).vault
        except errors.GlacierError:
            return None
    return None


def read_head(path: Path, store: Store | None = None) -> ManifestHead:
    """What kind of manifest ``path`` is and which vault it names.

    Raises :class:`PurgeError` for a file that is neither kind.
    """
    path = Path(path)
    line = _first_line(path)
    head = _json_header(line)
    if head is not None:
        kind = str(head.get("manifest") or "")
        if kind == "glacier-tui restore":
            return ManifestHead(path, ProofSource.RESTORE, _vault_name(head.get("vault")))
        raise PurgeError(f"{path}: a JSON manifest of an unknown kind ({inert(kind)!r})")
    if line.strip() == "{" or line.lstrip().startswith('{"manifest"'):
        summary = _json_document(path)
        if summary is not None and summary.get("manifest") == _MIGRATE_KIND:
            rows = path.with_name(str(summary.get("csv") or path.with_suffix(".csv").name))
            if rows.name != Path(rows.name).name or not rows.is_file():
                raise PurgeError(f"{path}: its rows ({inert(rows.name)}) are not beside it")
            return ManifestHead(path, ProofSource.MIGRATION, _vault_name(summary.get("vault")),
                                rows)
        raise PurgeError(f"{path} is not a restore or migration manifest")
    columns = set(_csv_header(line))
    if {"path", "archive_id", "tree_hash", "state", "verified_at"} <= columns:
        return ManifestHead(path, ProofSource.RESTORE, _restore_vault_from_twin(path, store))
    if any(c in columns for c in _MIGRATION_FIELDS["crc64nvme"]) and any(
            c in columns for c in _MIGRATION_FIELDS["key"]):
        vault = None
        if any(c in columns for c in _MIGRATION_FIELDS["vault"]):
            vault = _first_csv_vault(path)
        return ManifestHead(path, ProofSource.MIGRATION, vault or _migration_vault(path, store))
    raise PurgeError(f"{path} is not a restore or migration manifest (unknown columns)")


def _first_csv_vault(path: Path) -> str | None:
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(_lines(fh, path)):
            return _vault_name(_pick(row, "vault"))
    return None


def _lines(fh: Any, path: Path) -> Iterator[str]:
    while True:
        line = fh.readline(_MAX_LINE)
        if not line:
            return
        if len(line) >= _MAX_LINE and not line.endswith("\n"):
            raise PurgeError(f"{path}: a line is too long for a manifest")
        yield line


def _parse_utc(text: str) -> float | None:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def restore_proofs(
    path: Path, *, max_age_days: float | None, now: float,
    on_row: Callable[[int], None] | None = None,
) -> Iterator[ProofRow]:
    """The verdict of every row of a restore manifest (synchronous: files are re-hashed)."""
    path = Path(path)
    root = path.parent
    name = path.name
    for n, row in enumerate(iter_manifest_rows(path), start=1):
        archive_id = str(row.get("archive_id") or "")
        tree = str(row.get("tree_hash") or "").strip().lower()
        if on_row is not None:
            on_row(n)
        if not archive_id:
            continue
        if not _HEX64.match(tree):
            yield ProofRow(archive_id, "", False, "the manifest has no tree hash for it", name)
            continue
        state = str(row.get("state") or "")
        if state != "verified":
            yield ProofRow(archive_id, tree, False, f"not restored ({inert(state or '?')})",
                           name)
            continue
        verified_at = _parse_utc(str(row.get("verified_at") or ""))
        if (max_age_days is not None and verified_at is not None
                and 0 <= now - verified_at <= max_age_days * 86400):
            yield ProofRow(archive_id, tree, True,
                           f"verified {_date(verified_at)} (restore, recorded)", name)
            continue
        problem = check_manifest_row(root, row)
        if problem is None:
            yield ProofRow(archive_id, tree, True, "file re-hashed: tree hash matches", name)
        else:
            yield ProofRow(archive_id, tree, False, f"file {inert(problem)}", name)


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class _MigrationRow:
    archive_id: str
    tree_hash: str
    size: int | None
    bucket: str
    key: str
    crc: str
    version_id: str | None
    state: str


def iter_migration_rows(path: Path) -> Iterator[_MigrationRow]:
    """Rows of a migration manifest (CSV, or JSON with one row per line), streamed."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise PurgeError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    try:
        lines = _lines(fh, path)
        first = fh.read(1)
        fh.seek(0)
        raw: Iterator[dict[str, Any]]
        if first == "{":
            next(lines, "")
            raw = _json_lines(lines, path)
        else:
            raw = csv.DictReader(lines)
        for row in raw:
            size_text = _pick(row, "size")
            try:
                size = int(size_text) if size_text else None
            except ValueError:
                size = None
            yield _MigrationRow(
                _pick(row, "archive_id"), _pick(row, "tree_hash").strip().lower(), size,
                _pick(row, "bucket"), _pick(row, "key"), _pick(row, "crc64nvme"),
                _pick(row, "version_id") or None, _pick(row, "state").lower())
    except UnicodeDecodeError:
        raise PurgeError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise PurgeError(f"{path}: CSV: {exc}") from None
    finally:
        fh.close()


def _json_lines(lines: Iterator[str], path: Path) -> Iterator[dict[str, Any]]:
    for line in lines:
        text = line.strip().strip(",").strip()
        if text in ("]}", "]", ""):
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            raise PurgeError(f"{path}: a row is not JSON") from None
        if isinstance(doc, dict):
            yield doc


def _compare_head(row: _MigrationRow, head: dict[str, Any] | None) -> str | None:
    """None when the object proves the row's archive, else what is wrong."""
    if head is None:
        return "no such object in S3"
    crc = head.get("ChecksumCRC64NVME")
    if not crc:
        return "S3 returned no CRC64NVME checksum for it"
    if crc != row.crc:
        return f"CRC64NVME in S3 is {inert(crc)}, the manifest says {inert(row.crc)}"
    # CRC64NVME is always a full-object checksum (S3 API model); some S3 implementations
    # leave ChecksumType out, but one that says anything else is refused.
    kind = head.get("ChecksumType")
    if kind not in (None, "FULL_OBJECT"):
        return f"checksum type in S3 is {inert(kind or 'none')}, not FULL_OBJECT"
    length = head.get("ContentLength")
    if row.size is None or length != row.size:
        return f"size in S3 is {length}, the manifest says {row.size}"
    meta = head.get("Metadata") or {}
    recorded = str(meta.get("glacier-tree-hash") or "").lower()
    if recorded and recorded != row.tree_hash:
        return f"the object's glacier-tree-hash metadata is {inert(recorded)}"
    return None


async def check_migration_rows(
    path: Path, head: HeadObject, *, concurrency: int = 16,
    on_row: Callable[[int], None] | None = None,
) -> AsyncIterator[ProofRow]:
    """The verdict of every row of a migration manifest: one HeadObject per row, at most
    ``concurrency`` at once, in chunks (memory does not grow with the row count)."""
    name = Path(path).name
    sem = asyncio.Semaphore(max(1, concurrency))
    seen = 0

    async def one(row: _MigrationRow) -> ProofRow:
        if not row.archive_id:
            return ProofRow("", "", False, "", name)
        if not _HEX64.match(row.tree_hash):
            return ProofRow(row.archive_id, "", False, "the manifest has no tree hash", name)
        if row.state not in _MIGRATED:
            return ProofRow(row.archive_id, row.tree_hash, False,
                            f"not migrated ({inert(row.state)})", name)
        if not row.bucket or not row.key or not row.crc:
            return ProofRow(row.archive_id, row.tree_hash, False,
                            "the manifest lacks bucket, key or CRC64NVME", name)
        async with sem:
            try:
                response = await head(row.bucket, row.key, row.version_id)
            except errors.GlacierError as exc:
                return ProofRow(row.archive_id, row.tree_hash, False,
                                f"HeadObject failed: {exc.message}", name)
        problem = _compare_head(row, response)
        if problem is None:
            return ProofRow(row.archive_id, row.tree_hash, True,
                            f"s3://{inert(row.bucket)}/{inert(row.key)}: CRC64NVME, "
                            "FULL_OBJECT and size match", name)
        return ProofRow(row.archive_id, row.tree_hash, False, problem, name)

    chunk: list[_MigrationRow] = []

    async def flush() -> list[ProofRow]:
        done = await asyncio.gather(*(one(r) for r in chunk))
        chunk.clear()
        return [p for p in done if p.archive_id]

    for row in iter_migration_rows(path):
        chunk.append(row)
        seen += 1
        if len(chunk) >= 1000:
            for proof in await flush():
                yield proof
            if on_row is not None:
                on_row(seen)
    for proof in await flush():
        yield proof
    if on_row is not None:
        on_row(seen)


def s3_head_function(s3: S3Client) -> HeadObject:
    """A :data:`HeadObject` over an open :class:`~glacier_tui.glacier.s3_client.S3Client`
    (HEAD with ``ChecksumMode=ENABLED``; the current version of the key)."""

    async def head(bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
        h = await s3.head(bucket, key)
        if h is None:
            return None
        return {"ChecksumCRC64NVME": h.crc64nvme, "ChecksumType": h.checksum_type,
                "ContentLength": h.size, "Metadata": h.metadata, "VersionId": h.version_id}

    return head
