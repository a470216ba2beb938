"""Vault -> S3 migration (service layer) against the Glacier emulator and moto's S3."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier import migrate_store as ms
from glacier_tui.glacier.campaigns import (
    CampaignRunner,
    CampaignStatus,
    EngineOptions,
    ItemState,
    Selection,
    campaign_items,
)
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.descriptions import encode_mt2
from glacier_tui.glacier.inventory import import_inventory
from glacier_tui.glacier.migrate import MigrationSink, MigrationSpec, plan_migration
from glacier_tui.glacier.migrate_manifest import (
    merge_manifests,
    migration_manifest_path,
    verify_s3_manifest,
)
from glacier_tui.glacier.migrate_stream import archive_shard, whole_crc
from glacier_tui.glacier.s3_client import S3Client, S3Options, b64_crc
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.treehash import tree_hash
from tests.conftest import EMULATOR_START

VAULT = "v"
BUCKET = "target"
MIB = 1 << 20


def _data(n: int, seed: int) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(256)) * (n // 256) + b"z" * (n % 256)


FILES: dict[str, bytes] = {
    "photos/2020/big.bin": _data(3 * MIB + 12345, 1),  # 4 parts of 1 MiB
    "photos/2020/small.jpg": b"small" * 100,
    "photos/2021/ünïcode name.txt": b"u" * 2000,
    "docs/exactly-two.bin": _data(2 * MIB, 2),
}


def upload(c: Any, files: dict[str, bytes], when: Any = EMULATOR_START) -> dict[str, str]:
    ids = {}
    for path, data in files.items():
        desc = encode_mt2(path, when)
        ids[path] = c.upload_archive(vaultName=VAULT, body=data,
                                     archiveDescription=desc)["archiveId"]
    return ids


def load_inventory(c: Any, emulator: Any, store: Store) -> None:
    emulator.rebuild_inventory(VAULT)
    job = c.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})
    emulator.advance(5 * 3600)
    body = c.get_job_output(vaultName=VAULT, jobId=job["jobId"])["body"].read()
    import_inventory(store, VAULT, io.BytesIO(body))


@pytest.fixture
def world(boto3_client: Any, emulator: Any, s3_boto3: Any, moto_s3_url: str,
          tmp_path: Path) -> Iterator[Any]:
    boto3_client.create_vault(vaultName=VAULT)
    ids = upload(boto3_client, FILES)
    store = Store(tmp_path / "store.sqlite3")
    load_inventory(boto3_client, emulator, store)
    s3_boto3.create_bucket(Bucket=BUCKET)
    emulator.clear_requests()

    class World:
        pass

    w = World()
    w.emu, w.store, w.s3, w.s3_url, w.ids, w.glacier = (  # type: ignore[attr-defined]
        emulator, store, s3_boto3, moto_s3_url, ids, boto3_client)
    w.tmp = tmp_path  # type: ignore[attr-defined]
    yield w
    store.close()


def spec(w: Any, **kw: Any) -> MigrationSpec:
    values: dict[str, Any] = {
        "vault": VAULT, "vault_key": VAULT, "selection": Selection.whole_vault(),
        "tier": "Expedited", "bucket": BUCKET, "prefix": "pre/",
        "manifest_dir": w.tmp / "manifests", "part_size": MIB, "min_part": MIB,
    }
    values.update(kw)
    return MigrationSpec(**values)


def options(emulator: Any, sink: Any, **kw: Any) -> EngineOptions:
    async def sleep(seconds: float) -> None:
        emulator.advance(max(seconds, 1.0))

    values: dict[str, Any] = {
        "poll_interval": 60.0, "clock": emulator.emulator.clock.now, "sleep": sleep,
        "progress_interval": 0.0, "sink": sink,
    }
    values.update(kw)
    return EngineOptions(**values)


async def _migrate(w: Any, sp: MigrationSpec, hook: Any = None, **sink_kw: Any) -> Any:
    plan = plan_migration(w.store, sp)
    gopts = ClientOptions(endpoint_url=w.emu.url, region="us-east-1", max_attempts=1)
    async with GlacierClient(gopts) as g, S3Client(
        S3Options(endpoint_url=w.s3_url, region="us-east-1", max_attempts=1)
    ) as s3:
        if hook is not None:
            hook(s3)
        sink = MigrationSink(g, s3, w.store, plan.row, retry_delay=0.0, **sink_kw)
        runner = CampaignRunner(g, w.store, plan.info.id, options=options(w.emu, sink))
        info = await runner.run()
        return info, sink, plan


def migrate(w: Any, sp: MigrationSpec | None = None, hook: Any = None, **kw: Any) -> Any:
    return asyncio.run(_migrate(w, sp or spec(w), hook, **kw))


def ops(w: Any, name: str) -> int:
    return sum(1 for r in w.emu.requests() if r.get("operation") == name)


def verify(w: Any, path: Path) -> Any:
    async def main() -> Any:
        async with S3Client(S3Options(endpoint_url=w.s3_url, region="us-east-1")) as s3:
            return await verify_s3_manifest(s3, path)

    return asyncio.run(main())


def test_streamed_multipart_with_full_object_crc_and_rerun_is_a_noop(world: Any) -> None:
    w = world
    info, sink, plan = migrate(w)
    assert info.status == CampaignStatus.DONE, info.message
    assert info.total_items == len(FILES)
    for path, data in FILES.items():
        key = "pre/" + path
        head = w.s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert head["ContentLength"] == len(data)
        assert head["ChecksumCRC64NVME"] == b64_crc(whole_crc([(_crc(data), len(data))]))
        # moto omits ChecksumType for a PutObject (AWS: FULL_OBJECT); multipart has it.
        assert head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        assert head["StorageClass"] == "DEEP_ARCHIVE"
        assert head["Metadata"]["glacier-tree-hash"] == tree_hash(data)
        assert head["Metadata"]["glacier-archive-id"] == w.ids[path]
    # Parts: 4 for big.bin, 2 for exactly-two.bin; the two small ones are PutObjects.
    assert sink.parts_uploaded == 4 + 2 + 2
    manifest = plan.info.destination / f"migrate-manifest-{info.id}.csv"
    assert manifest.exists()
    text = manifest.read_text()
    assert tree_hash(FILES["photos/2020/big.bin"]) in text
    check = verify(w, manifest)
    assert check.all_ok and check.rows == len(FILES) and check.heads == len(FILES)

    # A re-run: HEAD finds every object, nothing is requested from Glacier.
    w.emu.clear_requests()
    info2, sink2, _ = migrate(w)
    assert info2.status == CampaignStatus.DONE
    assert sink2.already == len(FILES) and sink2.parts_uploaded == 0
    assert ops(w, "InitiateJob") == 0 and ops(w, "GetJobOutput") == 0


def _crc(data: bytes) -> int:
    from awscrt.checksums import crc64nvme

    return int(crc64nvme(data))


def test_combined_crc_equals_crc_of_the_whole() -> None:
    a, b, c = os.urandom(1000), os.urandom(MIB), os.urandom(7)
    parts = [(_crc(a), len(a)), (_crc(b), len(b)), (_crc(c), len(c))]
    assert whole_crc(parts) == _crc(a + b + c)
    assert b64_crc(_crc(b"123456789")) == "rosUhgp5mIg="


def test_items_are_in_the_store(world: Any) -> None:
    plan = plan_migration(world.store, spec(world))
    keys = {ms.object_row(world.store, i.item_id).key  # type: ignore[union-attr]
            for i in campaign_items(world.store, plan.info.id)}
    assert keys == {"pre/" + p for p in FILES}
    assert all(i.state == ItemState.PLANNED for i in campaign_items(world.store, plan.info.id))


# -- integrity: hostile Glacier ranges and S3 refusals ------------------------------------


class _Resp:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


def s3_ops(counter: dict[str, int]) -> Any:
    """A hook that counts every S3 operation the client sends."""
    def hook(s3: S3Client) -> None:
        def count(model: Any, **_: Any) -> None:
            counter[model.name] = counter.get(model.name, 0) + 1

        s3.raw.meta.events.register("before-call.s3", count)
    return hook


def refuse(operation: str, times: int, counter: dict[str, int] | None = None) -> Any:
    """A hook answering the first ``times`` calls of ``operation`` with 400 BadDigest (moto
    accepts wrong checksums, so S3's refusal is injected in botocore's before-call)."""
    left = [times]

    def hook(s3: S3Client) -> None:
        if counter is not None:
            s3_ops(counter)(s3)

        def answer(**_: Any) -> Any:
            if left[0] <= 0:
                return None
            left[0] -= 1
            return _Resp(400), {"Error": {"Code": "BadDigest", "Message": "injected"},
                                "ResponseMetadata": {"HTTPStatusCode": 400}}

        s3.raw.meta.events.register_first(f"before-call.s3.{operation}", answer)
    return hook


def test_corrupted_ranges_are_fetched_again_and_never_uploaded(world: Any) -> None:
    w = world
    w.emu.set_faults("corrupt=0.5,seed=3")
    counter: dict[str, int] = {}
    only = spec(w, selection=Selection.matching("big.bin"))
    info, sink, _ = migrate(w, only, hook=s3_ops(counter))
    assert info.status == CampaignStatus.DONE, info.message
    corrupted = sum(1 for r in w.emu.requests() if r.get("fault") == "corrupt")
    assert corrupted > 0 and ops(w, "GetJobOutput") == 4 + corrupted  # each fetched again
    assert counter["UploadPart"] == 4 and sink.parts_uploaded == 4  # only verified bytes
    data = FILES["photos/2020/big.bin"]
    head = w.s3.head_object(Bucket=BUCKET, Key="pre/photos/2020/big.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == b64_crc(_crc(data))


def test_always_corrupt_output_is_never_completed(world: Any) -> None:
    w = world
    w.emu.set_faults("corrupt=1.0,seed=1")
    counter: dict[str, int] = {}
    only = spec(w, selection=Selection.matching("big.bin"))
    plan = plan_migration(w.store, only)

    async def main() -> Any:
        gopts = ClientOptions(endpoint_url=w.emu.url, region="us-east-1", max_attempts=1)
        async with GlacierClient(gopts) as g, S3Client(
            S3Options(endpoint_url=w.s3_url, region="us-east-1")
        ) as s3:
            s3_ops(counter)(s3)
            sink = MigrationSink(g, s3, w.store, plan.row, retry_delay=0.0, max_retries=1)
            opts = options(w.emu, sink, max_job_attempts=2)
            return await CampaignRunner(g, w.store, plan.info.id, options=opts).run()

    info = asyncio.run(main())
    # Each job's bad output is fetched for one delivery only (its parts, each tried twice),
    # never again from a later cycle that would adopt the same job.
    assert ops(w, "InitiateJob") == 2
    assert ops(w, "GetJobOutput") <= 2 * 4 * 2
    assert info.status == CampaignStatus.INCOMPLETE
    item = campaign_items(w.store, info.id)[0]
    assert item.state == ItemState.FAILED and "x-amz-sha256-tree-hash" in item.reason
    assert counter.get("UploadPart", 0) == 0 and counter.get("CompleteMultipartUpload", 0) == 0
    assert "Contents" not in w.s3.list_objects_v2(Bucket=BUCKET)


def test_refused_part_checksum_is_fetched_and_sent_again(world: Any) -> None:
    w = world
    counter: dict[str, int] = {}
    only = spec(w, selection=Selection.matching("big.bin"))
    info, sink, _ = migrate(w, only, hook=refuse("UploadPart", 1, counter), part_concurrency=1)
    assert info.status == CampaignStatus.DONE
    # The refused call never reached moto; the part was fetched and sent again.
    assert counter["UploadPart"] == 4 and sink.parts_uploaded == 4
    assert ops(w, "GetJobOutput") == 5  # the refused part's range was fetched again


def test_refused_whole_checksum_aborts_and_starts_the_archive_over(world: Any) -> None:
    w = world
    counter: dict[str, int] = {}
    only = spec(w, selection=Selection.matching("exactly-two"))
    info, _, _ = migrate(w, only, hook=refuse("CompleteMultipartUpload", 1, counter))
    assert info.status == CampaignStatus.DONE
    assert counter["AbortMultipartUpload"] == 1 and counter["CreateMultipartUpload"] == 2
    assert counter["CompleteMultipartUpload"] == 1  # the refused one never reached moto
    # The archive is streamed again from the same (still live) job output.
    assert counter["UploadPart"] == 4 and ops(w, "GetJobOutput") == 4
    assert ops(w, "InitiateJob") == 1


# -- HEAD-only verify ------------------------------------------------------------------------


def test_verify_uses_head_only_and_finds_a_changed_object(world: Any) -> None:
    w = world
    info, _, plan = migrate(w)
    manifest = plan.info.destination / f"migrate-manifest-{info.id}.csv"
    counter: dict[str, int] = {}

    async def main() -> Any:
        async with S3Client(S3Options(endpoint_url=w.s3_url, region="us-east-1")) as s3:
            s3_ops(counter)(s3)
            return await verify_s3_manifest(s3, manifest)

    assert asyncio.run(main()).all_ok
    assert counter == {"HeadObject": len(FILES)}
    w.s3.put_object(Bucket=BUCKET, Key="pre/docs/exactly-two.bin", Body=b"x" * (2 * MIB),
                    ChecksumAlgorithm="CRC64NVME")
    w.s3.delete_object(Bucket=BUCKET, Key="pre/photos/2020/small.jpg")
    check = asyncio.run(main())
    problems = {p.key: p.problem for p in check.problems}
    assert problems["pre/photos/2020/small.jpg"] == "missing in S3"
    assert "CRC64NVME is" in problems["pre/docs/exactly-two.bin"]
    assert check.ok == len(FILES) - 2


# -- resume -------------------------------------------------------------------------------


class Crash(BaseException):
    """Stands in for SIGKILL: nothing after it runs in the migration's code."""


def crash_on_upload_part(after: int, counter: dict[str, int]) -> Any:
    def hook(s3: S3Client) -> None:
        s3_ops(counter)(s3)

        def boom(**_: Any) -> None:
            if counter.get("UploadPart", 0) >= after:
                raise Crash

        s3.raw.meta.events.register_first("before-call.s3.UploadPart", boom)
    return hook


def test_resume_mid_archive_after_a_crash_and_an_expired_output(world: Any) -> None:
    w = world
    only = spec(w, selection=Selection.matching("big.bin"))
    first: dict[str, int] = {}
    with pytest.raises(Crash):
        migrate(w, only, hook=crash_on_upload_part(2, first), part_concurrency=1)
    assert first["UploadPart"] == 2
    plan = plan_migration(w.store, only)
    assert plan.resumed
    item = campaign_items(w.store, plan.info.id)[0]
    assert sorted(ms.accepted_parts(w.store, item.item_id)) == [1, 2]
    # The job's output expires before the run resumes: it is requested again, and only
    # the two parts S3 has not accepted yet are fetched and sent.
    w.emu.advance(48 * 3600)
    w.emu.clear_requests()
    second: dict[str, int] = {}
    info, sink, _ = migrate(w, only, hook=s3_ops(second), part_concurrency=1)
    assert info.status == CampaignStatus.DONE, info.message
    assert second["ListParts"] == 1 and second.get("CreateMultipartUpload", 0) == 0
    assert second["UploadPart"] == 2 and sink.parts_uploaded == 2
    assert ops(w, "InitiateJob") == 1 and ops(w, "GetJobOutput") == 2
    data = FILES["photos/2020/big.bin"]
    head = w.s3.head_object(Bucket=BUCKET, Key="pre/photos/2020/big.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == b64_crc(_crc(data))
    assert head["ChecksumType"] == "FULL_OBJECT" and head["ContentLength"] == len(data)


def test_upload_gone_since_the_crash_starts_a_new_one(world: Any) -> None:
    w = world
    only = spec(w, selection=Selection.matching("big.bin"))
    with pytest.raises(Crash):
        migrate(w, only, hook=crash_on_upload_part(2, {}), part_concurrency=1)
    for up in w.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        w.s3.abort_multipart_upload(Bucket=BUCKET, Key=up["Key"], UploadId=up["UploadId"])
    counter: dict[str, int] = {}
    info, _, _ = migrate(w, only, hook=s3_ops(counter), part_concurrency=1)
    assert info.status == CampaignStatus.DONE
    assert counter["CreateMultipartUpload"] == 1 and counter["UploadPart"] == 4


# -- shards ---------------------------------------------------------------------------------


def test_shards_slice_by_archive_id_and_merge_reports_gaps(world: Any) -> None:
    w = world
    shards = []
    for index in range(2):
        info, _, plan = migrate(w, spec(w, shard=(index, 2)))
        assert info.status == CampaignStatus.DONE
        wanted = {aid for aid in w.ids.values() if archive_shard(aid, 2) == index}
        assert {i.archive_id for i in campaign_items(w.store, info.id)} == wanted
        shards.append(migration_manifest_path(plan.info.destination, info.id, (index, 2)))
    merged = w.tmp / "merged.csv"
    report = merge_manifests(shards, merged)
    assert report.all_ok and report.rows == len(FILES) and report.verified == len(FILES)
    assert merged.read_text(encoding="utf-8").count("\n") == len(FILES) + 1
    # Leave out the shard with most archives: its shard and archives are missing.
    full = max(range(2), key=lambda i: sum(archive_shard(a, 2) == i for a in w.ids.values()))
    other = 1 - full
    gap = merge_manifests([shards[other]], w.tmp / "gap.csv")
    assert gap.missing_shards == [full] and gap.missing == len(FILES) - gap.rows > 0
    twice = merge_manifests([shards[full], shards[full], shards[other]], w.tmp / "dup.csv")
    assert len(twice.duplicates) == len(FILES) - gap.rows and not twice.all_ok


def test_object_completed_just_before_a_crash_is_recorded_on_resume(world: Any) -> None:
    w = world
    only = spec(w, selection=Selection.matching("big.bin"))

    def crash_after_complete(s3: S3Client) -> None:
        def boom(**_: Any) -> None:
            raise Crash

        s3.raw.meta.events.register("after-call.s3.CompleteMultipartUpload", boom)

    with pytest.raises(Crash):
        migrate(w, only, hook=crash_after_complete)
    counter: dict[str, int] = {}
    info, sink, plan = migrate(w, only, hook=s3_ops(counter))
    assert info.status == CampaignStatus.DONE and sink.parts_uploaded == 0
    assert counter.get("UploadPart", 0) == 0 and counter.get("CompleteMultipartUpload", 0) == 0
    manifest = plan.info.destination / f"migrate-manifest-{info.id}.csv"
    assert verify(w, manifest).all_ok


def test_s3_refusing_one_object_skips_it_and_the_rest_go_on(world: Any) -> None:
    w = world

    def hook(s3: S3Client) -> None:
        def answer(params: dict[str, Any], **_: Any) -> Any:
            if str(params.get("url_path", "")).endswith("small.jpg"):
                return _Resp(400), {"Error": {"Code": "MetadataTooLarge", "Message": "big"},
                                    "ResponseMetadata": {"HTTPStatusCode": 400}}
            return None

        s3.raw.meta.events.register_first("before-call.s3.PutObject", answer)

    info, _, _ = migrate(w, hook=hook)
    assert info.status == CampaignStatus.INCOMPLETE
    states = {i.path: (i.state, i.reason) for i in campaign_items(w.store, info.id)}
    state, reason = states["photos/2020/small.jpg"]
    assert state == ItemState.SKIPPED and "MetadataTooLarge" in reason
    assert sum(s == ItemState.VERIFIED for s, _ in states.values()) == len(FILES) - 1


def test_a_migration_is_never_run_as_a_restore_to_disk(world: Any) -> None:
    """Resuming a migration without its S3 sink (restore resume, the TUI at start-up) would
    download its archives to disk: the engine refuses, and nothing is requested."""
    from glacier_tui.glacier.campaigns import CampaignError

    plan = plan_migration(world.store, spec(world))
    before = ops(world, "InitiateJob")

    async def run() -> None:
        gopts = ClientOptions(endpoint_url=world.emu.url, region="us-east-1", max_attempts=1)
        async with GlacierClient(gopts) as g:
            await CampaignRunner(g, world.store, plan.info.id,
                                 options=options(world.emu, None)).run()

    with pytest.raises(CampaignError, match="is a migration to S3"):
        asyncio.run(run())
    assert ops(world, "InitiateJob") == before
