"""Verified vault close-out (purge): proofs, classes, the runner, the vault, dry runs, rails."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.purge_bench import (
    VAULT,
    seed_service,
    write_inventory,
    write_restore_manifest,
)
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.inventory import import_inventory
from glacier_tui.glacier.purge import (
    ArchiveClass,
    ItemState,
    PurgeError,
    PurgeOptions,
    PurgeRunner,
    PurgeSpec,
    PurgeStatus,
    RunOptions,
    get_purge,
    plan_purge,
    write_purge_manifest,
)
from glacier_tui.glacier.store import Store
from tests.conftest import EMULATOR_START
from tests.emulator import test_migrate as _migration

OLD = EMULATOR_START - timedelta(days=400)  # inventory CreationDate of "old" archives
LATER = (EMULATOR_START + timedelta(days=1)).timestamp()
NOW_ISO = EMULATOR_START.strftime("%Y-%m-%dT%H:%M:%SZ")
# The emulator's ARN uses its own account and region (see conftest.emulator_config).
EMU_ARN = f"arn:aws:glacier:us-east-1:123456789012:vaults/{VAULT}"


# -- helpers -------------------------------------------------------------------------------


def _seed(emulator: Any, n: int) -> list[tuple[str, str, int, bytes]]:
    svc = emulator.emulator.service
    archives = seed_service(svc, VAULT, n)
    store = svc.store
    return [(a, h, s, store.blob_path("blobs", a).read_bytes()) for a, h, s in archives]


def _store(tmp_path: Path, archives: list[tuple[str, str, int, bytes]],
           created_at: datetime = OLD) -> Store:
    store = Store(tmp_path / "store.sqlite3")
    inv = write_inventory(tmp_path / "inventory.json", [(a, h, s) for a, h, s, _ in archives],
                          created_at=created_at)
    doc = json.loads(inv.read_text())
    doc["VaultARN"] = EMU_ARN
    inv.write_text(json.dumps(doc))
    import_inventory(store, EMU_ARN, inv)
    return store


def _restored(tmp_path: Path, archives: list[tuple[str, str, int, bytes]], *,
              vault: str = VAULT, verified_at: str = NOW_ISO,
              tree_override: dict[str, str] | None = None, name: str = "restore") -> Path:
    """Files on disk and a restore manifest (JSON) listing them, as a campaign writes."""
    root = tmp_path / name
    (root / "files").mkdir(parents=True, exist_ok=True)
    rows = []
    for a, h, s, data in archives:
        (root / "files" / f"{a[:16]}.bin").write_bytes(data)
        rows.append((a, (tree_override or {}).get(a, h), s, verified_at))
    return write_restore_manifest(root / "restore-manifest-1.json", vault, rows)


def _client(url: str, **kw: Any) -> GlacierClient:
    return GlacierClient(ClientOptions(endpoint_url=url, region="us-east-1", **kw))


def _ops(emulator: Any, op: str) -> list[str]:
    return [str(e["path"]).rsplit("/", 1)[-1] for e in emulator.requests()
            if e.get("operation") == op]


def _plan(url: str | None, store: Store, proofs: tuple[Path, ...], **kw: Any) -> Any:
    now = kw.pop("now", LATER)
    options = kw.pop("options", PurgeOptions(now=now))
    head = kw.pop("head", None)

    async def go() -> Any:
        if url is None:
            return await plan_purge(None, store, PurgeSpec(VAULT, EMU_ARN, proofs, **kw),
                                    options=options, head=head)
        async with _client(url) as glacier:
            return await plan_purge(glacier, store, PurgeSpec(VAULT, EMU_ARN, proofs, **kw),
                                    options=options, head=head)

    return asyncio.run(go())


def _run(url: str, store: Store, purge_id: int, client_kw: dict[str, Any] | None = None,
         **kw: Any) -> tuple[Any, PurgeRunner]:
    async def go() -> tuple[Any, PurgeRunner]:
        async with _client(url, **(client_kw or {})) as glacier:
            runner = PurgeRunner(glacier, store, purge_id, options=RunOptions(**kw))
            return await runner.run(), runner

    return asyncio.run(go())


def _purges(store: Store) -> int:
    if not store.conn.execute("SELECT 1 FROM sqlite_master WHERE name='purges'").fetchone():
        return 0
    return int(store.conn.execute("SELECT COUNT(*) FROM purges").fetchone()[0])


def _items(store: Store, purge_id: int) -> dict[str, tuple[str, str, str]]:
    """archive id -> (class, state, reason or error)."""
    rows = store.conn.execute(
        "SELECT archive_id, class, state, reason, error FROM purge_items WHERE purge=?",
        (purge_id,))
    return {r[0]: (r[1], r[2], r[4] or r[3]) for r in rows}


# -- 1. proof before deletion -----------------------------------------------------------------


def test_plan_classifies_proven_unproven_and_young(emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 8)
    store = _store(tmp_path, archives)
    a = [x[0] for x in archives]
    manifest = _restored(tmp_path, archives[:6], tree_override={a[5]: "1" * 64})
    # a[4]'s file changed on disk after the restore: its re-hash no longer matches.
    (manifest.parent / "files" / f"{a[4][:16]}.bin").write_bytes(b"changed")
    info = _plan(emulator.url, store, (manifest,))
    items = _items(store, info.id)
    assert {k for k, v in items.items() if v[0] == "proven"} == set(a[:4])
    assert items[a[4]][0] == "unproven" and "file size is 7 bytes" in items[a[4]][2]
    assert items[a[5]][0] == "unproven" and "different tree hash" in items[a[5]][2]
    assert items[a[6]][2] == "no copy in the proof manifests"
    assert info.count(ArchiveClass.PROVEN) == 4 and info.count(ArchiveClass.UNPROVEN) == 4
    assert info.nbytes(ArchiveClass.PROVEN) == sum(x[2] for x in archives[:4])
    assert info.deletable == 4 and info.monthly_saving_usd > 0
    assert info.early_fee_usd == 0


def test_young_archives_are_kept_unless_the_fee_is_accepted(emulator: Any,
                                                            tmp_path: Path) -> None:
    archives = _seed(emulator, 4)
    store = _store(tmp_path, archives, created_at=EMULATOR_START)
    manifest = _restored(tmp_path, archives)
    ten_days = (EMULATOR_START + timedelta(days=10)).timestamp()
    info = _plan(emulator.url, store, (manifest,), now=ten_days)
    assert info.count(ArchiveClass.YOUNG) == 4 and info.deletable == 0
    assert info.early_fee_usd > 0 and info.accepted_fee_usd == 0
    assert all("younger than 90 days" in v[2] for v in _items(store, info.id).values())
    accepted = _plan(emulator.url, store, (manifest,), now=ten_days, accept_early_fee=True)
    assert accepted.count(ArchiveClass.PROVEN) == 4 and accepted.deletable == 4
    assert accepted.accepted_fee_usd == pytest.approx(info.early_fee_usd)


def test_a_recorded_verify_counts_only_when_recent_enough(emulator: Any,
                                                          tmp_path: Path) -> None:
    archives = _seed(emulator, 3)
    store = _store(tmp_path, archives)
    manifest = _restored(tmp_path, archives)
    for f in (manifest.parent / "files").iterdir():
        f.unlink()  # the files are gone; only the record remains
    info = _plan(emulator.url, store, (manifest,), max_proof_age_days=5)
    assert info.count(ArchiveClass.PROVEN) == 3
    stale = _plan(emulator.url, store, (manifest,), max_proof_age_days=5,
                  now=(EMULATOR_START + timedelta(days=30)).timestamp())
    assert stale.count(ArchiveClass.PROVEN) == 0
    assert all("missing" in v[2] for v in _items(store, stale.id).values())


def _crc64(data: bytes) -> str:
    from awscrt.checksums import crc64nvme

    return base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()


def test_migration_proof_is_a_head_with_matching_crc64nvme(emulator: Any,
                                                           tmp_path: Path) -> None:
    archives = _seed(emulator, 4)
    store = _store(tmp_path, archives)
    objects: dict[str, dict[str, Any]] = {}
    for a, h, s, data in archives:
        objects[f"v/{a[:8]}"] = {"ChecksumCRC64NVME": _crc64(data), "ChecksumType": "FULL_OBJECT",
                                 "ContentLength": s, "Metadata": {"glacier-tree-hash": h}}
    objects[f"v/{archives[1][0][:8]}"]["ChecksumCRC64NVME"] = "AAAAAAAAAAA="  # not the bytes
    objects[f"v/{archives[2][0][:8]}"]["ChecksumType"] = "COMPOSITE"
    heads: list[str] = []

    async def head(bucket: str, key: str, version: str | None) -> dict[str, Any] | None:
        heads.append(key)
        return objects.get(key)

    path = tmp_path / "migration-manifest.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["vault", "archive_id", "tree_hash", "size", "bucket", "key", "crc64nvme",
                    "etag"])
        for a, h, s, data in archives:
            w.writerow([VAULT, a, h, s, "b", f"v/{a[:8]}", _crc64(data), "e"])
    info = _plan(emulator.url, store, (path,), head=head)
    items = _items(store, info.id)
    assert [items[x[0]][0] for x in archives] == ["proven", "unproven", "unproven", "proven"]
    assert "CRC64NVME in S3" in items[archives[1][0]][2]
    assert "not FULL_OBJECT" in items[archives[2][0]][2]
    assert len(heads) == 4


def test_migration_proof_against_moto_s3(emulator: Any, tmp_path: Path) -> None:
    """The real HeadObject path (ChecksumMode=ENABLED) against moto's S3 on loopback."""
    moto_server = pytest.importorskip("moto.server")
    archives = _seed(emulator, 2)
    store = _store(tmp_path, archives)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        import boto3

        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="proof-bucket")
        for a, _h, _s, data in archives:
            s3.put_object(Bucket="proof-bucket", Key=a[:8], Body=data,
                          ChecksumAlgorithm="CRC64NVME")
        # The migration's own manifest: its CSV rows and the JSON summary naming the vault.
        from glacier_tui.glacier.migrate_manifest import COLUMNS

        path = tmp_path / "migrate-manifest-7.csv"
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, COLUMNS)
            w.writeheader()
            for i, (a, h, s, data) in enumerate(archives):
                w.writerow({"archive_id": a, "bucket": "proof-bucket", "key": a[:8],
                            "size": s, "glacier_tree_hash": h, "state": "verified",
                            "s3_crc64nvme": _crc64(data if i == 0 else b"x"),
                            "s3_checksum_type": "FULL_OBJECT", "shard": "0/1"})
        path.with_suffix(".json").write_text(json.dumps(
            {"manifest": "glacier-tui migrate", "version": 1, "campaign": 7, "vault": VAULT,
             "csv": path.name}, indent=1))
        options = PurgeOptions(now=LATER, s3_endpoint_url=url, s3_region="us-east-1")
        info = _plan(emulator.url, store, (path,), options=options)
        items = _items(store, info.id)
        # Given as its JSON summary, the same rows are read.
        again = _plan(emulator.url, store, (path.with_suffix(".json"),), options=options)
    finally:
        server.stop()
    assert items[archives[0][0]][0] == "proven", items
    assert items[archives[1][0]][0] == "unproven" and "CRC64NVME" in items[archives[1][0]][2]
    assert again.count(ArchiveClass.PROVEN) == 1


# -- 6. safety rails: another vault, lock policies ------------------------------------------


def test_a_manifest_of_another_vault_is_refused(emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 2)
    store = _store(tmp_path, archives)
    other = _restored(tmp_path, archives, vault="someone-elses")
    with pytest.raises(PurgeError, match="vault someone-elses, not bench-purge: refused"):
        _plan(emulator.url, store, (other,))
    # A restore CSV names no vault; with neither a JSON twin nor its campaign: refused.
    lone = tmp_path / "lone" / "manifest.csv"
    lone.parent.mkdir()
    lone.write_text("path,archive_id,size,tree_hash,state,verified_at,job_id,reason\n"
                    f"f,{archives[0][0]},1,{archives[0][1]},verified,{NOW_ISO},,\n")
    with pytest.raises(PurgeError, match="does not say which vault"):
        _plan(emulator.url, store, (lone,))
    assert _purges(store) == 0


LOCK_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "keep-a-year", "Principal": "*", "Effect": "Deny", "Action": "glacier:DeleteArchive",
    "Resource": EMU_ARN,
    "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "3650"}}}]})


def test_a_vault_lock_that_denies_deletes_is_explained_not_retried(
        emulator: Any, boto3_client: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 3)
    boto3_client.initiate_vault_lock(vaultName=VAULT, policy={"Policy": LOCK_POLICY})
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    assert "denies DeleteArchive for archives younger than 3650 days" in info.lock_note
    emulator.clear_requests()
    final, _ = _run(emulator.url, store, info.id, client_kw={"max_attempts": 0})
    items = _items(store, info.id)
    assert {v[1] for v in items.values()} == {"refused"}
    assert all("vault lock policy" in v[2] and "not retried" in v[2] for v in items.values())
    assert sorted(_ops(emulator, "DeleteArchive")) == sorted(x[0] for x in archives)
    assert _ops(emulator, "GetVaultLock") and len(_ops(emulator, "GetVaultLock")) == 1
    assert final.status is PurgeStatus.DONE and "not deleted" in final.message
    assert _ops(emulator, "DeleteVault") == []


# -- 2 and 3. running: resumable, throttle-aware, then the vault ------------------------------


def test_run_deletes_only_proven_archives_then_waits_for_the_inventory(
        emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 6)
    emulator.advance(13 * 3600)  # an inventory listing the six archives
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives[:4]),))
    emulator.clear_requests()
    final, runner = _run(emulator.url, store, info.id, max_concurrency=2)
    assert sorted(_ops(emulator, "DeleteArchive")) == sorted(x[0] for x in archives[:4])
    assert runner.requests == 4
    deletes = [e for e in emulator.requests() if e.get("operation") == "DeleteArchive"]
    edges = sorted([(e["t_start"], 1) for e in deletes] + [(e["t_end"], -1) for e in deletes])
    in_flight = peak = 0
    for _, step in edges:
        in_flight += step
        peak = max(peak, in_flight)
    assert 1 <= peak <= 2  # bounded concurrency
    # Two archives are unproven: they stay, so the vault is never deleted.
    assert final.status is PurgeStatus.DONE and "2 kept" in final.message
    assert _ops(emulator, "DeleteVault") == []
    out = write_purge_manifest(store, info.id, tmp_path / "out" / "purge.csv")
    rows = {r["archive_id"]: r for r in csv.DictReader(out.open())}
    assert all(rows[x[0]]["state"] == "deleted" and rows[x[0]]["deleted_at"]
               for x in archives[:4])
    assert all(rows[x[0]]["state"] == "kept" and not rows[x[0]]["deleted_at"]
               for x in archives[4:])


def test_the_vault_is_deleted_after_an_inventory_shows_it_empty(emulator: Any,
                                                                tmp_path: Path) -> None:
    archives = _seed(emulator, 5)
    emulator.advance(13 * 3600)
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    final, _ = _run(emulator.url, store, info.id)
    assert final.status is PurgeStatus.AWAITING_INVENTORY
    assert "next inventory expected around" in final.message
    assert final.next_inventory_at is not None and final.next_inventory_at > LATER - 86400
    # Glacier's last inventory still lists 5 archives: DeleteVault is not even tried.
    assert _ops(emulator, "DeleteVault") == []
    emulator.advance(3600)  # not yet: the inventory is built 12 h after the deletes
    again, _ = _run(emulator.url, store, info.id)
    assert again.status is PurgeStatus.AWAITING_INVENTORY
    emulator.advance(12 * 3600)
    done, _ = _run(emulator.url, store, info.id)
    assert done.status is PurgeStatus.VAULT_DELETED
    assert len(_ops(emulator, "DeleteVault")) == 1
    assert VAULT not in [v["VaultName"] for v in emulator.emulator.service.call(
        "list_vaults", {})["VaultList"]]


def test_delete_vault_refused_while_recently_written_is_retried_later(
        emulator: Any, tmp_path: Path) -> None:
    """Never inventoried: Glacier's count is 0, so DeleteVault is tried and refused
    ("recently written to"), and tried again once the inventory is built."""
    archives = _seed(emulator, 2)
    store = _store(tmp_path, archives)
    with emulator.emulator.service.store.tx() as db:  # forget the seeded inventory
        db.execute("UPDATE vaults SET inv_count=0, inv_size=0, last_inventory=NULL"
                   " WHERE name=?", (VAULT,))
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        emulator.advance(13 * 3600)

    final, _ = _run(emulator.url, store, info.id, wait_for_inventory=True,
                    poll_interval=7200, sleep=fake_sleep)
    assert final.status is PurgeStatus.VAULT_DELETED
    assert sleeps == [7200]
    statuses = [e["status"] for e in emulator.requests() if e.get("operation") == "DeleteVault"]
    assert statuses == [400, 204]


def test_after_a_kill_not_found_counts_as_deleted_only_for_archives_it_sent(
        emulator: Any, boto3_client: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 4)
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    a = [x[0] for x in archives]
    # As if killed after marking a[0], a[1] "sent" and a[0]'s request reached Glacier:
    store.conn.execute("UPDATE purge_items SET state='sent' WHERE archive_id IN (?,?)",
                       (a[0], a[1]))
    boto3_client.delete_archive(vaultName=VAULT, archiveId=a[0])
    # ... and someone else deleted a[2] before this purge ever asked.
    boto3_client.delete_archive(vaultName=VAULT, archiveId=a[2])
    emulator.clear_requests()
    final, _ = _run(emulator.url, store, info.id, client_kw={"max_attempts": 0})
    items = _items(store, info.id)
    assert items[a[0]][1] == "deleted" and "earlier request" in items[a[0]][2]
    assert items[a[1]][1] == "deleted" and items[a[3]][1] == "deleted"
    assert items[a[2]][1] == "gone" and "before this purge" in items[a[2]][2]
    assert sorted(_ops(emulator, "DeleteArchive")) == sorted(a)  # one request each
    assert final.removed == 4


def test_throttling_halves_concurrency_and_backs_off(emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 60)
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),), keep_vault=True)
    emulator.set_faults("throttle=0.3,seed=3")
    emulator.clear_requests()
    seen: list[int] = []

    async def go() -> tuple[Any, PurgeRunner]:
        async with _client(emulator.url, max_attempts=0) as glacier:
            runner = PurgeRunner(glacier, store, info.id, options=RunOptions(
                max_concurrency=8, max_backoff=0.02, progress_interval=0),
                on_progress=lambda p: seen.append(p.concurrency))
            return await runner.run(), runner

    final, runner = asyncio.run(go())
    emulator.set_faults("")
    assert final.status is PurgeStatus.DONE and final.removed == 60
    assert runner.throttled > 0 and min(seen) < 8
    log = [e for e in emulator.requests() if e.get("operation") == "DeleteArchive"]
    assert len(log) == 60 + runner.throttled
    assert sum(1 for e in log if e["status"] == 204) == 60
    assert {x[1] for x in _items(store, info.id).values()} == {"deleted"}


def test_sigkill_at_several_points_ends_exact() -> None:
    """3 kills during a 200-archive purge (the bench does 20 on 2,000)."""
    from bench.purge_bench import run_kill

    outcome = run_kill(200, 3, seed=5)
    assert outcome.ok, outcome.line()
    assert outcome.kills + outcome.finished_early == 3, outcome.line()
    assert outcome.kills >= 1, outcome.line()


# -- 5. dry run; the CLI ---------------------------------------------------------------------


def _cli(emulator: Any, tmp_path: Path, *args: str) -> int:
    from glacier_tui.cli import main

    return main(["--endpoint-url", emulator.url, "--region", "us-east-1", "purge", *args,
                 "--db", str(tmp_path / "store.sqlite3")])


MUTATING = {"DeleteArchive", "DeleteVault", "InitiateJob", "UploadArchive", "CreateVault",
            "InitiateVaultLock", "SetVaultAccessPolicy", "AddTagsToVault"}


def test_dry_run_lists_exactly_what_would_go_and_sends_no_mutating_request(
        emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archives = _seed(emulator, 5)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives[:3])
    emulator.clear_requests()
    out_csv = tmp_path / "dry.csv"
    for action in ("plan", "run"):
        code = _cli(emulator, tmp_path, action, "--vault", VAULT, "--proof", str(manifest),
                    "--dry-run", "--csv", str(out_csv))
        assert code == 0, capsys.readouterr()
        rows = list(csv.DictReader(out_csv.open()))
        assert sorted(r["archive_id"] for r in rows) == sorted(x[0] for x in archives[:3])
    ops = {e.get("operation") for e in emulator.requests()}
    assert not ops & MUTATING, ops
    text = capsys.readouterr().out
    assert "dry run: 3 archive(s) would be deleted" in text
    assert "proven" in text and "storage saved" in text
    with Store(tmp_path / "store.sqlite3") as store:  # the dry runs left no plan behind
        assert _purges(store) == 0


def test_cli_plan_run_status(emulator: Any, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    archives = _seed(emulator, 4)
    emulator.advance(13 * 3600)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives)
    assert _cli(emulator, tmp_path, "plan", "--vault", VAULT, "--proof", str(manifest)) == 0
    assert "planned: `glacier-tui purge run --vault bench-purge`" in capsys.readouterr().out
    out = tmp_path / "m.csv"
    assert _cli(emulator, tmp_path, "run", "--vault", VAULT, "--yes", "--quiet",
                "--manifest", str(out)) == 0
    text = capsys.readouterr().out
    assert "awaiting-inventory" in text and "next expected around" in text
    assert sum(1 for r in csv.DictReader(out.open()) if r["state"] == "deleted") == 4
    with Store(tmp_path / "store.sqlite3") as store:  # the cache forgets what was deleted
        assert store.count_archives(EMU_ARN) == 0
    from glacier_tui.cli import main

    assert main(["purge", "status", "--db", str(tmp_path / "store.sqlite3")]) == 0
    assert "Glacier deletes a vault only once an inventory shows it empty" in (
        capsys.readouterr().out)


def test_readonly_refuses_a_run_but_not_a_dry_run(emulator: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    archives = _seed(emulator, 2)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives)
    from glacier_tui.cli import main

    base = ["--endpoint-url", emulator.url, "--readonly", "purge", "run", "--vault", VAULT,
            "--proof", str(manifest), "--db", str(tmp_path / "store.sqlite3"), "--yes"]
    assert main(base) == 2
    assert "read-only mode refuses" in capsys.readouterr().err
    assert main([*base, "--dry-run", "--csv", str(tmp_path / "d.csv")]) == 0
    assert not {e.get("operation") for e in emulator.requests()} & MUTATING


def test_bad_proof_path_is_one_line(emulator: Any, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(emulator, tmp_path, "plan", "--vault", VAULT, "--proof",
                str(tmp_path / "nope.csv")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_info_counts_survive_a_reopen(emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 3)
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    store.close()
    with Store(tmp_path / "store.sqlite3") as again:
        same = get_purge(again, info.id)
    assert same.in_state(ItemState.PENDING) == 3 and same.status is PurgeStatus.PLANNED


# -- 4. the TUI: a close-out screen per vault ------------------------------------------------


async def _open_close_out(pilot: Any, app: Any) -> Any:
    from glacier_tui.ui.screens.close_out import CloseOutScreen
    from tests.app.test_ui_actions import select_vault
    from tests.app_harness import wait_for

    await wait_for(pilot, lambda: VAULT in app.screen_stack[0].connection.vaults)
    await select_vault(pilot, app, VAULT)
    await pilot.press("P")
    await wait_for(pilot, lambda: isinstance(app.screen, CloseOutScreen))
    return app.screen


async def test_tui_close_out_plans_confirms_by_name_and_deletes_only_proven(
        emulator: Any, tmp_path: Path) -> None:
    from textual.widgets import Button, Input

    from tests.app_harness import make_app, wait_for

    archives = _seed(emulator, 5)
    emulator.advance(13 * 3600)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives[:3])
    emulator.clear_requests()
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_close_out(pilot, app)
        screen.query_one("#proofs", Input).value = str(manifest)
        screen.query_one("#proofs", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.info is not None, steps=400)
        info = screen.info
        assert info.count(ArchiveClass.PROVEN) == 3 and info.count(ArchiveClass.UNPROVEN) == 2
        text = str(screen.query_one("#plan-text").render())
        assert "proven" in text and "unproven" in text and "storage saved" in text
        assert "early-deletion fee" in text
        start = screen.query_one("#start", Button)
        assert start.disabled  # until the vault's name is typed
        typed = screen.query_one("#typed", Input)
        typed.focus()
        typed.value = "not-the-name"
        await pilot.pause()
        assert start.disabled
        typed.value = VAULT
        await pilot.pause()
        assert not start.disabled
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("vault is not deleted" in str(n.message)
                                          or "all of 3" in str(n.message)
                                          for n in app._notifications), steps=600)
        await app.workers.wait_for_complete()
        await pilot.pause()
        texts = [str(n.message) for n in app._notifications]
    assert sorted(_ops(emulator, "DeleteArchive")) == sorted(x[0] for x in archives[:3])
    assert any("all of 3 proven archives deleted" in t for t in texts), texts
    assert _ops(emulator, "DeleteVault") == []  # two archives are unproven: the vault stays
    manifest_out = tmp_path / "purges" / f"purge-manifest-{info.id}.csv"
    rows = list(csv.DictReader(manifest_out.open()))
    assert sum(1 for r in rows if r["state"] == "deleted") == 3


async def test_tui_close_out_is_hidden_and_refused_when_readonly(
        emulator: Any, tmp_path: Path) -> None:
    from tests.app.test_ui_actions import select_vault
    from tests.app_harness import make_app, wait_for

    archives = _seed(emulator, 2)
    _store(tmp_path, archives).close()
    emulator.clear_requests()
    app = make_app(emulator.url, tmp_path, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: VAULT in app.screen_stack[0].connection.vaults)
        await select_vault(pilot, app, VAULT)
        assert app.screen.check_action("close_out", ()) is False
        await pilot.press("P")
        await pilot.pause(0.1)
        assert len(app.screen_stack) == 1
        ids = [i for _t, rows in app.help_sections() for _k, _d, i in rows]
        assert "close_out" not in ids
    assert not {e.get("operation") for e in emulator.requests()} & MUTATING


def test_cancel_stops_a_purge_for_good(emulator: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    archives = _seed(emulator, 2)
    store = _store(tmp_path, archives)
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    store.close()
    from glacier_tui.cli import main

    db = str(tmp_path / "store.sqlite3")
    assert main(["purge", "cancel", str(info.id), "--db", db]) == 0
    emulator.clear_requests()
    with Store(db) as again:
        final, _ = _run(emulator.url, again, info.id)
    assert final.status is PurgeStatus.CANCELLED and _ops(emulator, "DeleteArchive") == []


def test_proofs_naming_archives_outside_the_inventory_are_noted(emulator: Any,
                                                                tmp_path: Path) -> None:
    archives = _seed(emulator, 3)
    store = _store(tmp_path, archives[:2])
    info = _plan(emulator.url, store, (_restored(tmp_path, archives),))
    assert "1 archive(s) named in the proofs are not in this inventory" in info.message
    assert info.count(ArchiveClass.PROVEN) == 2


def test_next_inventory_estimate_and_lock_policy_reading() -> None:
    from glacier_tui.emulator.lock_policy import denies_delete
    from glacier_tui.glacier.purge import expected_inventory_at
    from glacier_tui.glacier.purge_lock import describe_delete_denial

    day = 86400.0
    assert expected_inventory_at(None, 1000.0) == 1000.0 + day
    assert expected_inventory_at(0.0, 10.0) == day  # the next daily inventory after it
    assert expected_inventory_at(0.0, 2.5 * day) == 3 * day
    allow = json.dumps({"Statement": [{"Effect": "Allow", "Action": "glacier:DeleteArchive"}]})
    assert describe_delete_denial(allow) is None and not denies_delete(allow, 1.0)
    assert describe_delete_denial("not json") is None
    assert describe_delete_denial(LOCK_POLICY, "Locked") == (
        "the vault lock policy (Locked) denies DeleteArchive for archives younger than "
        "3650 days")
    assert denies_delete(LOCK_POLICY, 10.0) and not denies_delete(LOCK_POLICY, 4000.0)


def test_the_restore_campaigns_own_manifests_are_proof(emulator: Any, tmp_path: Path) -> None:
    """A real campaign's manifest (CSV and JSON, as restore writes them) proves its files;
    the CSV names no vault, so its JSON twin or the campaign in the store does."""
    from glacier_tui.glacier.campaigns import (
        CampaignSpec,
        Selection,
        campaign_items,
        plan_campaign,
        write_manifest,
    )

    archives = _seed(emulator, 3)
    store = _store(tmp_path, archives)
    dest = tmp_path / "restored"
    info = plan_campaign(store, CampaignSpec(VAULT, EMU_ARN, Selection.whole_vault(), "Bulk",
                                             dest))
    data = {a: d for a, _h, _s, d in archives}
    for item in campaign_items(store, info.id):
        (dest / item.path).parent.mkdir(parents=True, exist_ok=True)
        (dest / item.path).write_bytes(data[item.archive_id])
    store.conn.execute("UPDATE campaign_items SET state='verified', verified_at=? WHERE "
                       "campaign=?", (EMULATOR_START.timestamp(), info.id))
    csv_path, json_path = write_manifest(store, info.id)
    for proof in (json_path, csv_path):
        purge = _plan(emulator.url, store, (proof,))
        assert purge.count(ArchiveClass.PROVEN) == 3, proof
    json_path.unlink()  # the CSV alone: the campaign in the store names the vault
    assert _plan(emulator.url, store, (csv_path,)).count(ArchiveClass.PROVEN) == 3


async def test_tui_close_out_of_a_fully_proven_vault_waits_then_offers_resume(
        emulator: Any, tmp_path: Path) -> None:
    from textual.widgets import Button, Input

    from tests.app_harness import make_app, wait_for

    archives = _seed(emulator, 3)
    emulator.advance(13 * 3600)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives)
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_close_out(pilot, app)
        screen.query_one("#proofs", Input).value = str(manifest)
        screen.query_one("#proofs", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.info is not None, steps=400)
        screen.query_one("#typed", Input).value = VAULT
        screen.query_one("#typed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("next inventory expected around" in str(n.message)
                                          for n in app._notifications), steps=600)
        await app.workers.wait_for_complete()
        # Opened again: the purge under way is shown, to be resumed (typed name again).
        again = await _open_close_out(pilot, app)
        assert again.info is not None and again.info.status is PurgeStatus.AWAITING_INVENTORY
        resume = again.query_one("#start", Button)
        assert str(resume.label) == "Resume" and resume.disabled
        emulator.advance(13 * 3600)
        again.query_one("#typed", Input).value = VAULT
        again.query_one("#typed", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("vault deleted" in str(n.message)
                                          for n in app._notifications), steps=600)
        await app.workers.wait_for_complete()
    assert len(_ops(emulator, "DeleteVault")) == 1


def test_status_of_a_store_without_purges_creates_nothing(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from glacier_tui.cli import main

    db = tmp_path / "store.sqlite3"
    Store(db).close()
    assert main(["purge", "status", "--db", str(db)]) == 0
    assert "no purges" in capsys.readouterr().out
    assert main(["purge", "status", "3", "--db", str(db)]) == 1
    assert main(["purge", "cancel", "3", "--db", str(db)]) == 1
    assert "purge 3 does not exist" in capsys.readouterr().err
    with Store(db) as store:
        assert _purges(store) == 0
        assert not store.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name='purges'").fetchone()
    assert main(["purge", "status", "--db", str(tmp_path / "none.sqlite3")]) == 1
    assert not (tmp_path / "none.sqlite3").exists()


# A real migration (vault -> moto S3) and then a purge proven by its own manifest.
world = _migration.world  # the migration tests' fixture: a vault, its inventory, moto S3


def test_a_real_migrations_manifest_proves_its_archives(world: Any) -> None:
    w = world
    info, _sink, plan = _migration.migrate(w)
    manifest = plan.info.destination / f"migrate-manifest-{info.id}.csv"
    vault = _migration.VAULT
    options = PurgeOptions(s3_endpoint_url=w.s3_url, s3_region="us-east-1",
                           now=(EMULATOR_START + timedelta(days=100)).timestamp())

    def plan_with(path: Path) -> Any:
        return asyncio.run(plan_purge(None, w.store, PurgeSpec(vault, vault, (path,)),
                                      options=options))

    proven = plan_with(manifest)
    assert proven.count(ArchiveClass.PROVEN) == len(_migration.FILES)
    # An object changed in S3 since the migration no longer proves its archive.
    w.s3.put_object(Bucket=_migration.BUCKET, Key="pre/photos/2020/small.jpg", Body=b"other",
                    ChecksumAlgorithm="CRC64NVME")
    changed = plan_with(manifest)
    assert changed.count(ArchiveClass.PROVEN) == len(_migration.FILES) - 1
    reasons = [v[2] for v in _items(w.store, changed.id).values() if v[0] == "unproven"]
    assert len(reasons) == 1 and "CRC64NVME in S3" in reasons[0], reasons
