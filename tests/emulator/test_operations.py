"""The service-layer operations the CLI and the TUI share, tested without Textual."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier import operations
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.operations import (
    ArchiveTarget,
    DeleteProgress,
    RetrievalRequest,
    Selected,
    delete_archives,
    download_output,
    download_target,
    initiate_retrievals,
    job_archive_names,
    load_jobs,
    resolve_archives,
)
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.treehash import MIB


def options(url: str) -> ClientOptions:
    return ClientOptions(endpoint_url=url, region="us-east-1", access_key="testing",
                         secret_key="testing", max_attempts=1, read_timeout=20)


def ops(emu: Any, name: str) -> list[dict[str, Any]]:
    return [e for e in emu.requests() if e.get("operation") == name]


def upload(c: Any, vault: str, names: list[str]) -> list[ArchiveTarget]:
    c.create_vault(vaultName=vault)
    out = []
    for i, name in enumerate(names):
        body = bytes([65 + i]) * (i + 1)
        aid = c.upload_archive(vaultName=vault, body=body, archiveDescription=name)["archiveId"]
        out.append(ArchiveTarget(vault, aid, name, len(body)))
    return out


def test_no_textual_import() -> None:
    source = Path(operations.__file__).read_text()
    assert "import textual" not in source and "from textual" not in source


def test_delete_archives_reports_progress_and_records(emulator: Any,
                                                      boto3_client: Any) -> None:
    targets = upload(boto3_client, "v", ["a.txt", "b.txt", "c.txt"])
    gone = ArchiveTarget("v", "x" * 138, "gone.txt", 5)  # unknown id: ResourceNotFound
    reports: list[DeleteProgress] = []
    recorded: list[list[str]] = []

    async def run() -> operations.DeleteOutcome:
        async with GlacierClient(options(emulator.url)) as g:
            return await delete_archives(g, "v", [*targets, gone], concurrency=2,
                                         on_progress=reports.append, record=recorded.append)

    outcome = asyncio.run(run())
    assert outcome.failures == []
    assert sorted(outcome.deleted) == sorted([t.archive_id for t in targets] + [gone.archive_id])
    assert outcome.deleted_bytes == 1 + 2 + 3 + 5
    assert reports[-1] == DeleteProgress(4, 4, 11, 0, "done")
    assert all(r.state == "running" for r in reports[:-1])
    assert len(recorded) == 1 and sorted(recorded[0]) == sorted(outcome.deleted)
    assert len(ops(emulator, "DeleteArchive")) == 4


def test_delete_archives_failures_are_listed_not_recorded(emulator: Any,
                                                          boto3_client: Any) -> None:
    (plain,) = upload(boto3_client, "v", ["name.txt"])
    targets = [ArchiveTarget("v", plain.archive_id, "bad\x1b[31mname.txt", 1)]  # as decoded
    emulator.set_faults({"error5xx": 1.0})
    reports: list[DeleteProgress] = []
    recorded: list[list[str]] = []

    async def run() -> operations.DeleteOutcome:
        async with GlacierClient(options(emulator.url)) as g:
            return await delete_archives(g, "v", targets, on_progress=reports.append,
                                         record=recorded.append)

    outcome = asyncio.run(run())
    assert outcome.deleted == [] and recorded == []
    assert len(outcome.failures) == 1
    assert outcome.failures[0].startswith("badname.txt: ")  # the escape is removed whole
    assert "\x1b" not in outcome.failures[0]
    assert reports[-1].state == "failed" and reports[-1].failed == 1


def test_delete_archives_cancelled_still_records_what_was_deleted(
        emulator: Any, boto3_client: Any) -> None:
    targets = upload(boto3_client, "v", ["a", "b", "c"])
    emulator.set_faults({"stall_after": 1})  # the first delete goes through, the rest hang
    reports: list[DeleteProgress] = []
    recorded: list[list[str]] = []

    async def run() -> None:
        first = asyncio.Event()  # the first report comes after the first delete

        def report(p: DeleteProgress) -> None:
            reports.append(p)
            first.set()

        async with GlacierClient(options(emulator.url)) as g:
            task = asyncio.create_task(delete_archives(
                g, "v", targets, concurrency=1, on_progress=report, record=recorded.append))
            await asyncio.wait_for(first.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(run())
    emulator.set_faults(None)
    assert recorded == [[targets[0].archive_id]]
    assert reports[-1] == DeleteProgress(3, 1, 1, 0, "cancelled")


def test_initiate_retrievals_starts_one_job_each(emulator: Any, boto3_client: Any) -> None:
    targets = upload(boto3_client, "v", ["a", "b"])
    bad = ArchiveTarget("v", "y" * 138, "missing", 1)
    started: list[tuple[str, str]] = []

    async def run() -> operations.RetrievalOutcome:
        async with GlacierClient(options(emulator.url)) as g:
            return await initiate_retrievals(
                g, [*targets, bad], RetrievalRequest("Bulk", description="restore"),
                spacing=0, on_started=lambda t, j: started.append((t.path, j.job_id)))

    outcome = asyncio.run(run())
    assert sorted(p for p, _ in started) == ["a", "b"]
    assert {j.tier for _, j in outcome.started} == {"Bulk"}
    assert {j.archive_id for _, j in outcome.started} == {t.archive_id for t in targets}
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith("missing: ")
    assert len(ops(emulator, "InitiateJob")) == 3


def test_load_jobs_keeps_going_past_a_failing_vault(emulator: Any, boto3_client: Any) -> None:
    targets = upload(boto3_client, "v", ["a"])
    boto3_client.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": targets[0].archive_id})

    async def run() -> operations.JobListing:
        async with GlacierClient(options(emulator.url)) as g:
            return await load_jobs(g.list_jobs, ["v", "no-such-vault"])

    listing = asyncio.run(run())
    assert listing.listed == ["v"]
    assert [j.archive_id for j in listing.jobs] == [targets[0].archive_id]
    assert len(listing.errors) == 1


def _store_with(tmp_path: Path, rows: list[tuple[str, str, str, int]]) -> Store:
    store = Store(tmp_path / "store.sqlite3")
    n = store.begin_snapshot("key-v", "json")
    store.insert_archives(n, [(aid, folder, name, f"{folder}/{name}".strip("/"), size, None,
                               None, None, "plain") for aid, folder, name, size in rows])
    store.finish_snapshot(n, vault_arn=None, inventory_date=None, warnings=[])
    return store


def test_resolve_archives_expands_folders_once(tmp_path: Path) -> None:
    store = _store_with(tmp_path, [("a1", "photos", "x.jpg", 1), ("a2", "photos/2020", "y.jpg", 2),
                                   ("a3", "docs", "z.pdf", 3), ("a4", "photoshop", "p", 4)])
    picked = resolve_archives(store, [
        Selected("folder", "v", "photos"),
        Selected("archive", "v", "photos/x.jpg", "a1", 1),  # also in the folder: once
        Selected("archive", "v", "docs/z.pdf", "a3", 3),
        Selected("folder", "unknown-vault", ""),
    ], {"v": "key-v"})
    assert [(t.archive_id, t.path) for t in picked] == [
        ("a1", "photos/x.jpg"), ("a2", "photos/2020/y.jpg"), ("a3", "docs/z.pdf")]
    whole = resolve_archives(store, [Selected("folder", "v", "")], {"v": "key-v"})
    assert {t.archive_id for t in whole} == {"a1", "a2", "a3", "a4"}


def test_job_archive_names_from_known_then_store(tmp_path: Path) -> None:
    from glacier_tui.glacier.models import Job

    store = _store_with(tmp_path, [("a1", "photos", "x.jpg", 1)])
    arn = "arn:aws:glacier:us-east-1:123456789012:vaults/v"
    jobs = [Job(job_id="j1", vault_arn=arn, action="ArchiveRetrieval", status_code="InProgress",
                archive_id="a1"),
            Job(job_id="j2", vault_arn=arn, action="ArchiveRetrieval", status_code="InProgress",
                archive_id="a9"),
            Job(job_id="j3", vault_arn=arn, action="InventoryRetrieval",
                status_code="InProgress")]
    assert job_archive_names(store, jobs, {"v": "key-v"}) == {"j1": "photos/x.jpg"}
    assert job_archive_names(store, jobs, {"v": "key-v"}, {"a9": "known/name"}) == {
        "j1": "photos/x.jpg", "j2": "known/name"}


def test_download_target_and_output(emulator: Any, boto3_client: Any, tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    data = b"z" * (MIB + 7)
    aid = boto3_client.upload_archive(vaultName="v", body=data,
                                      archiveDescription="trip/day1.bin")["archiveId"]
    job_id = boto3_client.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited"})["jobId"]
    emulator.advance(6 * 3600)
    states: list[str] = []

    async def run() -> tuple[str, Path, Path]:
        async with GlacierClient(options(emulator.url)) as g:
            job = await g.describe_job("v", job_id)
            name, dest = await download_target(g, "v", job, tmp_path / "dl")
            known, _ = await download_target(g, "v", job, tmp_path / "dl", "from/inventory")
            assert known == "from/inventory"
            result = await download_output(g, "v", job, dest, segment_size=MIB,
                                           on_progress=lambda p: states.append(str(p.state)))
            return name, dest, result.path

    name, dest, path = asyncio.run(run())
    assert name.endswith("day1.bin")
    assert dest.is_relative_to((tmp_path / "dl").resolve())
    assert path == dest and path.read_bytes() == data
    assert states[-1] == "done"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_download_target_never_leaves_the_directory(emulator: Any, boto3_client: Any,
                                                    tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    aid = boto3_client.upload_archive(vaultName="v", body=b"q",
                                      archiveDescription="../../etc/passwd")["archiveId"]
    job_id = boto3_client.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited"})["jobId"]
    emulator.advance(6 * 3600)

    async def run() -> Path:
        async with GlacierClient(options(emulator.url)) as g:
            job = await g.describe_job("v", job_id)
            return (await download_target(g, "v", job, tmp_path / "dl"))[1]

    assert asyncio.run(run()).is_relative_to((tmp_path / "dl").resolve())
