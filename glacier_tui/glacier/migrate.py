"""Vault -> S3 migration: a restore campaign whose archives become S3 objects.

Planning (:func:`plan_migration`) creates a restore campaign for the selection, then
gives every archive its S3 key by the fixed rules of :mod:`s3_keys` (computed over the
whole selection, so every shard agrees), its metadata, and keeps only this shard's
archives. Running uses the campaign runner (jobs requested in batches, followed with
one listing per cycle, re-requested after expiry, all state in the store) with a
:class:`MigrationSink`: before any job it HEADs every planned key (an object that is
already this archive is "already in S3", so a re-run requests nothing), and each ready
output is streamed into S3 by :func:`migrate_stream.stream_archive`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from glacier_tui.glacier import campaign_store as db
from glacier_tui.glacier import errors
from glacier_tui.glacier import migrate_store as ms
from glacier_tui.glacier.campaign_engine import CampaignRunner
from glacier_tui.glacier.campaign_types import (
    CampaignError,
    CampaignInfo,
    CampaignItem,
    CampaignItemCallback,
    CampaignProgressCallback,
    CampaignSpec,
    CampaignStatus,
    EngineOptions,
    ItemState,
    Limits,
    Selection,
    SinkRefused,
    SinkResult,
)
from glacier_tui.glacier.campaigns import plan_campaign
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.migrate_manifest import write_migration_manifest
from glacier_tui.glacier.migrate_store import describe_migration
from glacier_tui.glacier.migrate_stream import (
    StreamTarget,
    archive_shard,
    object_matches,
    stream_archive,
)
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.s3_client import FULL_OBJECT, S3Client, S3Options
from glacier_tui.glacier.s3_keys import (
    DEFAULT_PART,
    MIN_PART,
    ArchiveKeyInput,
    assign_keys,
    object_metadata,
    part_size,
    render_template,
)
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.transfer_common import ProgressCallback, TransferKind, _Tracker

__all__ = [
    "STORAGE_CLASSES",
    "MigrationError",
    "MigrationPlan",
    "MigrationSink",
    "MigrationSpec",
    "describe_migration",
    "migration_runner",
    "parse_s3_url",
    "parse_shard",
    "plan_migration",
]

STORAGE_CLASSES: Final = ("DEEP_ARCHIVE", "GLACIER", "GLACIER_IR", "STANDARD")
# S3 errors that concern one object (its key, metadata or size), not the whole run.
_OBJECT_REFUSALS: Final = frozenset({
    "KeyTooLongError", "MetadataTooLarge", "EntityTooLarge", "InvalidArgument",
    "InvalidObjectName", "InvalidStorageClass",
})
# Decode statuses whose "path" is a placeholder, not a name: such archives get
# ``_unnamed/<ArchiveId>``.
_NO_PATH: Final = ("empty", "error")


class MigrationError(CampaignError):
    summary = "The migration cannot go on."
    default_hint = "Fix the cause and run `glacier-tui migrate run` again (it resumes)."


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix/``)."""
    if not url.startswith("s3://"):
        raise MigrationError(f"--to {url!r} is not an s3:// URL",
                             hint="Write it as s3://BUCKET/PREFIX.")
    bucket, _, prefix = url[5:].partition("/")
    if not (3 <= len(bucket) <= 63) or not all(c.isalnum() or c in "-." for c in bucket) or (
        bucket != bucket.lower()
    ):
        raise MigrationError(f"{bucket!r} is not a valid bucket name",
                             hint="Bucket names are 3-63 lowercase letters, digits, - and .")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


def parse_shard(text: str | None, env: dict[str, str]) -> tuple[int, int]:
    """``i/n`` (either side may be empty: taken from AWS Batch / Kubernetes variables)."""
    index_text, count_text = ("", "")
    if text:
        index_text, sep, count_text = text.partition("/")
        if not sep:
            raise MigrationError(f"--shard {text!r}: write it as INDEX/COUNT, e.g. 3/10")
    index_text = index_text or env.get("AWS_BATCH_JOB_ARRAY_INDEX") or env.get(
        "JOB_COMPLETION_INDEX") or ""
    count_text = count_text or env.get("AWS_BATCH_JOB_ARRAY_SIZE") or ""
    if not index_text and not count_text:
        return 0, 1
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise MigrationError(
            f"shard {index_text or '?'}/{count_text or '?'} is incomplete or not numeric",
            hint="Give --shard INDEX/COUNT (the count is not set by Kubernetes: pass it).",
        ) from None
    if count < 1 or not 0 <= index < count:
        raise MigrationError(f"shard {index}/{count}: the index must be 0 to {count - 1}")
    return index, count


@dataclass(frozen=True)
class MigrationSpec:
    vault: str
    vault_key: str  # the store's key of the vault's inventory
    selection: Selection
    tier: str
    bucket: str
    prefix: str  # "" or ending in "/"
    manifest_dir: Path
    storage_class: str = "DEEP_ARCHIVE"
    key_template: str = ""  # "" = {prefix}{path}
    part_size: int = DEFAULT_PART
    min_part: int = MIN_PART
    shard: tuple[int, int] = (0, 1)
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class MigrationPlan:
    info: CampaignInfo
    row: ms.MigrationRow
    resumed: bool


def _same(row: ms.MigrationRow, spec: MigrationSpec) -> bool:
    return (row.bucket, row.prefix, row.storage_class, row.key_template, row.part_size,
            row.min_part, row.shard_index, row.shard_count) == (
        spec.bucket, spec.prefix, spec.storage_class, spec.key_template, spec.part_size,
        spec.min_part, *spec.shard)


def find_unfinished_migration(store: Store, spec: MigrationSpec) -> MigrationPlan | None:
    """The newest unsettled migration of the same vault, selection, target and shard."""
    for row in ms.migrations(store):
        if not _same(row, spec):
            continue
        try:
            info = db.get(store, row.campaign)
        except CampaignError:
            continue
        if (info.vault, info.vault_key, info.selection, info.tier) == (
            spec.vault, spec.vault_key, spec.selection, spec.tier
        ) and info.status in (CampaignStatus.PLANNED, CampaignStatus.RUNNING,
                              CampaignStatus.PAUSED, CampaignStatus.INCOMPLETE):
            return MigrationPlan(info, row, True)
    return None


def _key_inputs(store: Store, spec: MigrationSpec, cid: int
                ) -> Iterator[tuple[int, ArchiveKeyInput, str, str | None]]:
    """(item id, key input, raw description, source mtime) of every planned archive."""
    snap = store.current_snapshot_id(spec.vault_key)
    if snap is None:
        raise MigrationError(f"no inventory of vault {spec.vault!r} is stored")
    rows = ms.conn(store).execute(
        "SELECT i.id, i.archive_id, a.folder, a.name, a.source, COALESCE(a.created, ''),"
        " COALESCE(a.tree_hash, ''), a.description, a.mtime FROM campaign_items i"
        f" JOIN archives_{int(snap)} a ON a.archive_id = i.archive_id WHERE i.campaign = ?"
        " ORDER BY i.id", (cid,))
    for iid, aid, folder, name, source, created, th, desc, mtime in rows:
        path = "" if source in _NO_PATH else (f"{folder}/{name}" if folder else str(name))
        yield int(iid), ArchiveKeyInput(str(aid), path, str(created), str(th)), str(desc), mtime


def _template_input(spec: MigrationSpec, item: ArchiveKeyInput) -> ArchiveKeyInput:
    """With ``--key-template``, the rendered key becomes the "path" the rules apply to."""
    folder, _, name = item.path.rpartition("/")
    rendered = render_template(spec.key_template, {
        "prefix": spec.prefix, "path": item.path, "archive_id": item.archive_id,
        "folder": folder, "name": name, "creation_date": item.creation_date,
        "tree_hash": item.tree_hash,
    })
    return ArchiveKeyInput(item.archive_id, rendered, item.creation_date, item.tree_hash)


def plan_migration(store: Store, spec: MigrationSpec) -> MigrationPlan:
    """Plan (or find the unfinished plan of) a migration; see the module doc."""
    if spec.storage_class not in STORAGE_CLASSES:
        raise MigrationError(f"unknown storage class {spec.storage_class!r}",
                             hint=f"Use one of {', '.join(STORAGE_CLASSES)}.")
    if spec.key_template:
        render_template(spec.key_template, dict.fromkeys(
            ("prefix", "path", "archive_id", "folder", "name", "creation_date", "tree_hash"),
            "x"))
    found = find_unfinished_migration(store, spec)
    if found is not None:
        return found
    info = plan_campaign(store, CampaignSpec(spec.vault, spec.vault_key, spec.selection,
                                             spec.tier, spec.manifest_dir, spec.limits))
    try:
        inputs = list(_key_inputs(store, spec, info.id))
        by_id = {item.archive_id: (iid, item, desc, mtime) for iid, item, desc, mtime in inputs}
        keyed = ((_template_input(spec, item) if spec.key_template else item)
                 for _, item, _, _ in inputs)
        prefix = "" if spec.key_template else spec.prefix
        rows: list[tuple[int, str, str, str, str, dict[str, str]]] = []
        for key_item, key, rule in assign_keys(prefix, keyed):
            iid, item, desc, mtime = by_id[key_item.archive_id]
            meta = object_metadata(item, key=key, prefix=spec.prefix, description=desc,
                                   mtime=mtime)
            rows.append((iid, key, ("template+" if spec.key_template else "") + rule,
                         item.path, item.creation_date, meta))
        ms.add_objects(store, info.id, rows)
        index, count = spec.shard
        if count > 1:
            others = [iid for iid, item, _, _ in inputs
                      if archive_shard(item.archive_id, count) != index]
            ms.drop_items(store, info.id, others)
        row = ms.MigrationRow(info.id, spec.bucket, spec.prefix, spec.storage_class,
                              spec.key_template, spec.part_size, spec.min_part, index, count,
                              len(inputs))
        ms.add_migration(store, row)
    except BaseException:
        ms.delete_migration(store, info.id)
        raise
    return MigrationPlan(db.get(store, info.id), row, False)


# Parts in flight per archive when not given: as many as fit in this much memory (each
# part is held whole while its tree hash and CRC are checked), at most MAX_PARTS_IN_FLIGHT.
PART_MEMORY_BUDGET = 128 << 20
MAX_PARTS_IN_FLIGHT = 12


def auto_part_concurrency(part_size: int) -> int:
    """Parts of ``part_size`` bytes sent at once for one archive: 12 for 8 MiB parts,
    2 for 64 MiB, 1 from 128 MiB up (memory is parts in flight x part size)."""
    return max(1, min(MAX_PARTS_IN_FLIGHT, PART_MEMORY_BUDGET // max(part_size, 1)))


class MigrationSink:
    """The campaign runner's sink for a migration (see :class:`campaigns.ArchiveSink`)."""

    def __init__(self, glacier: GlacierClient, s3: S3Client, store: Store,
                 row: ms.MigrationRow, *, part_concurrency: int | None = None,
                 head_concurrency: int = 16, max_retries: int = 4,
                 retry_delay: float = 0.2) -> None:
        self.glacier = glacier
        self.s3 = s3
        self.store = store
        self.row = row
        self.part_concurrency = part_concurrency
        self.head_concurrency = head_concurrency
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.already = 0  # archives found in S3 before any job was requested
        self.parts_uploaded = 0

    def target(self, item: CampaignItem, obj: ms.ObjectRow, size: int) -> StreamTarget:
        return StreamTarget(
            item.item_id, item.archive_id, self.row.bucket, obj.key, self.row.storage_class,
            obj.metadata, size, item.tree_hash,
            part_size(size, self.row.part_size, minimum=self.row.min_part),
        )

    async def check_present(self, store: Store, campaign_id: int) -> None:
        gate = asyncio.Semaphore(self.head_concurrency)
        after = 0
        while True:
            page = db.planned_batch(store, campaign_id, after, 1000)
            if not page:
                return
            after = page[-1].item_id

            async def one(item: CampaignItem) -> tuple[CampaignItem, str | None, bool]:
                obj = ms.object_row(store, item.item_id)
                if obj is None or item.size is None:
                    return item, None, False
                async with gate:
                    head = await self.s3.head(self.row.bucket, obj.key)
                if head is None:
                    return item, None, False
                target = self.target(item, obj, item.size)
                if object_matches(head, target, obj.crc64nvme):
                    ms.set_completed(store, item.item_id, crc64nvme=head.crc64nvme,
                                     checksum_type=head.checksum_type or FULL_OBJECT,
                                     etag=head.etag, version_id=head.version_id)
                    return item, None, True
                return item, (f"a different object is already at s3://{self.row.bucket}/"
                              f"{inert(obj.key)}"), False

            results = await asyncio.gather(*(one(i) for i in page))
            present = [(i.item_id, time.time()) for i, _, ok in results if ok]
            for item, conflict, _ in results:
                if conflict:
                    db.set_item(store, item.item_id, ItemState.SKIPPED, reason=conflict)
            if present:
                db.set_items_verified_present(store, campaign_id, present)
                self.already += len(present)

    async def deliver(self, campaign: CampaignInfo, item: CampaignItem, job: Job,
                      on_progress: ProgressCallback) -> SinkResult:
        store_obj = self.store
        obj = ms.object_row(store_obj, item.item_id)
        if obj is None:
            raise SinkRefused(f"archive {item.archive_id[:12]}... has no planned S3 key")
        size = item.size if item.size is not None else (job.output_size or 0)
        tracker = _Tracker(TransferKind.DOWNLOAD, obj.key, size, on_progress,
                           str(item.item_id))
        target = self.target(item, obj, size)
        try:
            result = await stream_archive(
                self.glacier, self.s3, store_obj, campaign.vault, job,
                target, concurrency=self.part_concurrency or auto_part_concurrency(
                    target.part_size),
                max_retries=self.max_retries, retry_delay=self.retry_delay,
                on_bytes=tracker.add,
            )
        except errors.GlacierError as exc:
            if exc.code == "NoSuchBucket":  # no archive can go on: the runner pauses
                raise errors.ConfigurationError(
                    f"bucket {self.row.bucket!r} does not exist", operation=exc.operation,
                    hint="Create it (or fix --to and --s3-endpoint-url), then run again.",
                ) from None
            if exc.code in _OBJECT_REFUSALS:  # this object only: skip it, say why
                raise SinkRefused(f"S3 refused s3://{self.row.bucket}/{inert(obj.key)}: "
                                  f"{exc.code}: {exc.detail}") from None
            raise
        self.parts_uploaded += result.parts_uploaded
        return SinkResult(result.fetched, result.tree_hash,
                          "already in S3" if result.already_there else "")

    def write_manifest(self, store: Store, campaign_id: int) -> None:
        write_migration_manifest(store, campaign_id)



@asynccontextmanager
async def migration_runner(
    glacier: GlacierClient,
    s3_options: S3Options,
    store: Store,
    campaign_id: int,
    *,
    options: EngineOptions,
    on_progress: CampaignProgressCallback | None = None,
    on_item: CampaignItemCallback | None = None,
    part_concurrency: int | None = None,
) -> AsyncIterator[CampaignRunner]:
    """The runner of a planned migration, found by its campaign id alone.

    Its S3 sink is rebuilt from what the plan recorded in the store (bucket, prefix,
    storage class, part sizes, shard), so a migration is resumed the same way however it
    was started; the S3 client lives as long as the context.
    """
    row = await asyncio.to_thread(ms.migration, store, campaign_id)
    if row is None:
        raise MigrationError(f"campaign {campaign_id} is not a migration to S3")
    async with S3Client(s3_options) as s3:
        sink = MigrationSink(glacier, s3, store, row, part_concurrency=part_concurrency)
        yield CampaignRunner(glacier, store, campaign_id, options=replace(options, sink=sink),
                             on_progress=on_progress, on_item=on_item)
