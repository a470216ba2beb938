"""Migration planning: keys and duplicates, key templates, shards and merge, the cost
planner's figures, S3 endpoint resolution."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier import migrate_store as ms
from glacier_tui.glacier.campaigns import campaign_items
from glacier_tui.glacier.migrate import (
    MigrationError,
    parse_s3_url,
    parse_shard,
    plan_migration,
)
from glacier_tui.glacier.migrate_cost import (
    TransferKind,
    migration_cost,
    summarize,
    transfer_kind,
)
from glacier_tui.glacier.pricing import PriceTable, TierPrice
from glacier_tui.glacier.s3_client import S3Client, S3Options
from glacier_tui.glacier.store import Store
from tests.conftest import EMULATOR_START
from tests.emulator.test_migrate import BUCKET, VAULT, load_inventory, spec, upload

MIB = 1 << 20
GIB = 1 << 30


def keys_of(store: Store, cid: int) -> dict[str, tuple[str, str]]:
    """archive id -> (key, rule)."""
    out = {}
    for item in campaign_items(store, cid, limit=1000):
        row = ms.object_row(store, item.item_id)
        assert row is not None
        out[item.archive_id] = (row.key, row.rule)
    return out


@pytest.fixture
def dup_world(boto3_client: Any, emulator: Any, tmp_path: Path) -> Iterator[Any]:
    boto3_client.create_vault(vaultName=VAULT)
    older = upload(boto3_client, {"a/b.jpg": b"old"})["a/b.jpg"]
    emulator.advance(86400 * 3)
    newer = upload(boto3_client, {"a/b.jpg": b"new"})["a/b.jpg"]
    plain = upload(boto3_client, {"c/d.txt": b"d"})["c/d.txt"]
    nameless = boto3_client.upload_archive(vaultName=VAULT, body=b"?",
                                           archiveDescription="")["archiveId"]
    store = Store(tmp_path / "store.sqlite3")
    load_inventory(boto3_client, emulator, store)

    class W:
        pass

    w = W()
    w.store, w.tmp, w.ids = store, tmp_path, {  # type: ignore[attr-defined]
        "older": older, "newer": newer, "plain": plain, "nameless": nameless}
    yield w
    store.close()


def test_keys_duplicates_and_unnamed_are_deterministic(dup_world: Any) -> None:
    w = dup_world
    plan = plan_migration(w.store, spec(w))
    keys = keys_of(w.store, plan.info.id)
    ids = w.ids
    assert keys[ids["newer"]] == ("pre/a/b.jpg", "path")  # the newest keeps the key
    old_key, rule = keys[ids["older"]]
    assert old_key == f"pre/a/b~{EMULATOR_START:%Y%m%dT%H%M%SZ}~{ids['older'][:12]}.jpg"
    assert rule == "path+duplicate"
    assert keys[ids["plain"]] == ("pre/c/d.txt", "path")
    assert keys[ids["nameless"]] == (f"pre/_unnamed/{ids['nameless']}", "unnamed")
    meta = ms.object_row(w.store, campaign_items(w.store, plan.info.id)[0].item_id)
    assert meta is not None and "glacier-archive-id" in meta.metadata
    # Planned again (another shard, a re-run): the same keys.
    ms.delete_migration(w.store, plan.info.id)
    again = plan_migration(w.store, spec(w))
    assert keys_of(w.store, again.info.id) == keys


def test_key_template(dup_world: Any) -> None:
    w = dup_world
    plan = plan_migration(w.store, spec(w, key_template="{prefix}by-id/{archive_id}"))
    keys = keys_of(w.store, plan.info.id)
    assert keys[w.ids["plain"]][0] == f"pre/by-id/{w.ids['plain']}"
    assert keys[w.ids["plain"]][1].startswith("template+")
    with pytest.raises(Exception, match="unknown field"):
        plan_migration(w.store, spec(w, key_template="{prefix}{nope}"))


def test_parse_url_and_shard() -> None:
    assert parse_s3_url("s3://demo-bucket/photos") == ("demo-bucket", "photos/")
    assert parse_s3_url("s3://demo-bucket") == ("demo-bucket", "")
    with pytest.raises(MigrationError):
        parse_s3_url("s3://Bad_Bucket/x")
    assert parse_shard("2/5", {}) == (2, 5)
    assert parse_shard(None, {}) == (0, 1)
    batch = {"AWS_BATCH_JOB_ARRAY_INDEX": "3", "AWS_BATCH_JOB_ARRAY_SIZE": "8"}
    assert parse_shard(None, batch) == (3, 8)
    assert parse_shard("/4", {"JOB_COMPLETION_INDEX": "1"}) == (1, 4)
    with pytest.raises(MigrationError, match="incomplete"):
        parse_shard(None, {"JOB_COMPLETION_INDEX": "1"})  # Kubernetes gives no count
    with pytest.raises(MigrationError, match="0 to 3"):
        parse_shard("4/4", {})


FIXTURE = PriceTable(
    retrieval={"Bulk": TierPrice(per_gb=0.01, per_1000_requests=1.0),
               "Standard": TierPrice(per_gb=0.1, per_1000_requests=10.0)},
    vault_storage_per_gb_month=0.004, egress_per_gb=0.1, provisioned_capacity_per_unit_month=0,
    s3={"STANDARD.storage_gb_month": 0.02, "STANDARD.put_per_1000": 5.0,
        "STANDARD.get_per_1000": 1.0, "STANDARD.min_days": 0,
        "DEEP_ARCHIVE.storage_gb_month": 0.001, "DEEP_ARCHIVE.put_per_1000": 50.0,
        "DEEP_ARCHIVE.min_days": 180, "GLACIER_IR.storage_gb_month": 0.004,
        "GLACIER_IR.put_per_1000": 20.0, "GLACIER_IR.min_days": 90,
        "transfer.inter_region_per_gb": 0.02},
)


def test_cost_figures_from_a_fixture_table() -> None:
    # Two archives: 1 GiB (16 parts of 64 MiB) and 1 KiB (one PutObject).
    sizes = summarize([GIB, 1024], 64 * MIB, 8 * MIB)
    assert (sizes.archives, sizes.single, sizes.multipart, sizes.parts) == (2, 1, 1, 16)
    c = migration_cost(FIXTURE, sizes, "Bulk", "DEEP_ARCHIVE", TransferKind.INTERNET)
    nbytes = GIB + 1024
    assert c.retrieval_usd == pytest.approx(nbytes / GIB * 0.01)
    assert c.retrieval_requests_usd == pytest.approx(2 / 1000 * 1.0)
    assert c.transfer_usd == pytest.approx(nbytes / GIB * 0.1)
    # Create + 16 parts at STANDARD; Complete + the PutObject at DEEP_ARCHIVE.
    assert c.put_requests == 17 + 2
    assert c.s3_requests_usd == pytest.approx(17 * 5.0 / 1000 + 2 * 50.0 / 1000)
    assert c.audit_usd == pytest.approx(2 * 1.0 / 1000)
    month = (nbytes + 2 * 32 * 1024) / GIB * 0.001 + 2 * 8 * 1024 / GIB * 0.02
    assert c.storage_month_usd == pytest.approx(month)
    assert c.min_days == 180 and c.commitment_usd == pytest.approx(month * 6)
    assert c.unverified  # no key was declared verified
    inside = migration_cost(FIXTURE, sizes, "Bulk", "DEEP_ARCHIVE", TransferKind.IN_REGION,
                            verified_keys=frozenset(FIXTURE.s3))
    assert inside.transfer_usd == 0 and not inside.unverified
    std = migration_cost(FIXTURE, sizes, "Standard", "STANDARD", TransferKind.INTER_REGION)
    assert std.put_requests == 2 + 16 + 1  # Create + Complete + parts, PutObject
    assert std.transfer_usd == pytest.approx(nbytes / GIB * 0.02)
    gir = migration_cost(FIXTURE, sizes, "Bulk", "GLACIER_IR", TransferKind.IN_REGION)
    assert gir.storage_month_usd == pytest.approx((GIB + 128 * 1024) / GIB * 0.004)


def test_transfer_kind() -> None:
    assert transfer_kind("us-east-1", "us-east-1", None) == TransferKind.INTERNET
    assert transfer_kind("us-east-1", "us-east-1", "us-east-1") == TransferKind.IN_REGION
    assert transfer_kind("us-east-1", "eu-west-1", "us-east-1") == TransferKind.INTER_REGION
    assert transfer_kind("us-east-1", None, "eu-west-1") == TransferKind.INTER_REGION


def test_s3_endpoint_from_the_environment_and_never_glaciers(
    monkeypatch: pytest.MonkeyPatch, moto_s3_url: str, s3_boto3: Any
) -> None:
    s3_boto3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_s3_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLACIER", "http://127.0.0.1:9")

    async def main() -> tuple[str, str | None]:
        async with S3Client(S3Options(region="us-east-1")) as s3:
            return s3.endpoint_url, await s3.bucket_region(BUCKET)

    url, region = asyncio.run(main())
    assert url == moto_s3_url and region == "us-east-1"
