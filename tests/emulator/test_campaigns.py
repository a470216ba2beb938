"""Restore campaigns (service layer, no Textual) against the emulator on a frozen clock."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier import campaign_store
from glacier_tui.glacier.campaigns import (
    CampaignError,
    CampaignRunner,
    CampaignSpec,
    CampaignStatus,
    EngineOptions,
    ItemState,
    Limits,
    Selection,
    campaign_active,
    campaign_items,
    cancel_campaign,
    get_campaign,
    plan_campaign,
    verify_manifest,
)
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.descriptions import encode_mt2
from glacier_tui.glacier.inventory import import_inventory
from glacier_tui.glacier.store import Store
from tests.conftest import EMULATOR_START

VAULT = "v"


def ops(emulator: Any, name: str) -> int:
    return sum(1 for r in emulator.requests() if r.get("operation") == name)


def make_vault(c: Any, emulator: Any, files: dict[str, bytes]) -> dict[str, str]:
    """Upload ``files`` (path -> bytes) with mt2 descriptions; return path -> archive id."""
    c.create_vault(vaultName=VAULT)
    ids = {}
    for path, data in files.items():
        desc = encode_mt2(path, EMULATOR_START)
        ids[path] = c.upload_archive(vaultName=VAULT, body=data,
                                     archiveDescription=desc)["archiveId"]
    return ids


def load_inventory(c: Any, emulator: Any, store: Store) -> None:
    emulator.rebuild_inventory(VAULT)
    job = c.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})
    emulator.advance(5 * 3600)
    body = c.get_job_output(vaultName=VAULT, jobId=job["jobId"])["body"].read()
    import_inventory(store, VAULT, io.BytesIO(body))


FILES = {f"photos/2020/{m}/img{n}.jpg": bytes([n]) * (100 + n) for m in ("jan", "feb")
         for n in range(6)}
FILES.update({"photos/2021/x.jpg": b"x" * 50, "docs/a.txt": b"a" * 10})


@pytest.fixture
def world(boto3_client: Any, emulator: Any, tmp_path: Path) -> Iterator[tuple[Any, Store]]:
    make_vault(boto3_client, emulator, FILES)
    store = Store(tmp_path / "store.sqlite3")
    load_inventory(boto3_client, emulator, store)
    emulator.clear_requests()
    yield emulator, store
    store.close()


def options(emulator: Any, **kw: Any) -> EngineOptions:
    async def sleep(seconds: float) -> None:
        emulator.advance(max(seconds, 1.0))

    values: dict[str, Any] = {
        "poll_interval": 60.0, "clock": emulator.emulator.clock.now, "sleep": sleep,
        "segment_size": 1 << 20, "policy_backoff": 600.0, "progress_interval": 0.0,
    }
    values.update(kw)
    return EngineOptions(**values)


def spec(dest: Path, selection: Selection, tier: str = "Expedited", **limits: Any) -> CampaignSpec:
    return CampaignSpec(VAULT, VAULT, selection, tier, dest, Limits(**limits))


async def _run(url: str, store: Store, cid: int, opts: EngineOptions,
               **kw: Any) -> Any:
    client_opts = ClientOptions(endpoint_url=url, region="us-east-1", max_attempts=1)
    async with GlacierClient(client_opts) as client:
        runner = CampaignRunner(client, store, cid, options=opts, **kw)
        info = await runner.run()
        return info, runner


def run(emulator: Any, store: Store, cid: int, **kw: Any) -> Any:
    opts = kw.pop("opts", None) or options(emulator)
    return asyncio.run(_run(emulator.url, store, cid, opts, **kw))


def test_plan_folder_selection_is_recursive_and_exact(world: Any, tmp_path: Path) -> None:
    _emu, store = world
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["photos/2020"])))
    assert info.total_items == 12
    assert info.status == CampaignStatus.PLANNED
    assert info.counts[ItemState.PLANNED] == 12
    paths = {i.path for i in campaign_items(store, info.id, limit=100)}
    assert paths == {p for p in FILES if p.startswith("photos/2020/")}
    with pytest.raises(CampaignError, match="matches no archive"):
        plan_campaign(store, spec(tmp_path / "out", Selection.folders(["photos/20"])))
    with pytest.raises(CampaignError, match="no inventory"):
        plan_campaign(store, CampaignSpec("w", "w", Selection.whole_vault(), "Bulk", tmp_path))


def test_campaign_runs_to_verified_with_batches_and_one_listing_per_cycle(
    world: Any, tmp_path: Path
) -> None:
    emulator, store = world
    out = tmp_path / "out"
    info = plan_campaign(store, spec(out, Selection.folders(["photos"]), max_jobs_in_flight=5,
                                     batch_size=3))
    seen: list[ItemState] = []
    progress: list[Any] = []
    final, runner = run(emulator, store, info.id, on_item=lambda i: seen.append(i.state),
                        on_progress=progress.append)
    assert final.status == CampaignStatus.DONE, final.message
    assert final.all_verified and final.total_items == 13
    for path, data in FILES.items():
        if path.startswith("photos/"):
            assert (out / path).read_bytes() == data
    # batches: never more than 3 InitiateJob per cycle, 13 in all, no more
    assert ops(emulator, "InitiateJob") == 13
    # at most one ListJobs listing per cycle (here one page each), none with nothing awaited
    assert ops(emulator, "ListJobs") == runner.list_calls <= runner.cycles
    assert ops(emulator, "DescribeJob") == 0
    assert runner.cycles >= 13 / 3
    assert {ItemState.REQUESTED, ItemState.READY, ItemState.DOWNLOADING,
            ItemState.VERIFIED} <= set(seen)
    assert progress[-1].counts[ItemState.VERIFIED] == 13
    assert progress[-1].cost_so_far_usd > 0
    check = verify_manifest(out / f"restore-manifest-{info.id}.csv")
    assert check.all_ok and check.rows == 13
    assert verify_manifest(out / f"restore-manifest-{info.id}.json").all_ok


def test_rerun_says_already_verified_and_starts_no_job(world: Any, tmp_path: Path) -> None:
    emulator, store = world
    out = tmp_path / "out"
    first = plan_campaign(store, spec(out, Selection.folders(["photos/2021"])))
    assert run(emulator, store, first.id)[0].status == CampaignStatus.DONE
    emulator.clear_requests()
    again = plan_campaign(store, spec(out, Selection.folders(["photos/2021"])))
    final, _ = run(emulator, store, again.id)
    assert final.status == CampaignStatus.DONE and final.already_verified == 1
    assert [i.reason for i in campaign_items(store, again.id)] == ["already verified"]
    assert ops(emulator, "InitiateJob") == 0
    # a different file at the target is skipped, not overwritten
    (out / "photos/2021/x.jpg").write_bytes(b"mine")
    third = plan_campaign(store, spec(out, Selection.folders(["photos/2021"])))
    final, _ = run(emulator, store, third.id)
    assert final.status == CampaignStatus.INCOMPLETE
    assert (out / "photos/2021/x.jpg").read_bytes() == b"mine"
    assert campaign_items(store, third.id)[0].state == ItemState.SKIPPED


def test_expired_output_is_requested_again(world: Any, tmp_path: Path) -> None:
    emulator, store = world
    out = tmp_path / "out"
    info = plan_campaign(store, spec(out, Selection.folders(["docs"])))
    calls = {"n": 0}

    async def sleep(seconds: float) -> None:
        calls["n"] += 1
        # The first wait lasts two days: the job completes and its output expires.
        emulator.advance(48 * 3600 if calls["n"] == 1 else seconds)

    final, _ = run(emulator, store, info.id, opts=options(emulator, sleep=sleep))
    assert final.status == CampaignStatus.DONE
    assert ops(emulator, "InitiateJob") == 2
    assert final.re_requests == 1 and final.requests_made == 2
    assert (out / "docs/a.txt").read_bytes() == b"a" * 10


def test_failed_job_retried_then_failed_with_reason(world: Any, tmp_path: Path) -> None:
    emulator, store = world
    emulator.set_config(force_job_failure=True)
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["docs"])))
    final, _ = run(emulator, store, info.id, opts=options(emulator, max_job_attempts=2))
    assert final.status == CampaignStatus.INCOMPLETE
    item = campaign_items(store, info.id)[0]
    assert item.state == ItemState.FAILED and "job failed" in item.reason
    assert ops(emulator, "InitiateJob") == 2


def test_output_failing_verification_is_never_fetched_again_from_the_same_job(
    world: Any, tmp_path: Path
) -> None:
    emulator, store = world
    emulator.set_faults("corrupt=1.0,seed=1")
    out = tmp_path / "out"
    info = plan_campaign(store, spec(out, Selection.folders(["docs"])))
    final, runner = run(emulator, store, info.id, opts=options(emulator, max_job_attempts=2))
    assert final.status == CampaignStatus.INCOMPLETE
    item = campaign_items(store, info.id)[0]
    assert item.state == ItemState.FAILED and item.attempts == 2
    # One delivery per job: a later listing still shows the job, but it is not adopted.
    assert ops(emulator, "InitiateJob") == 2
    assert ops(emulator, "GetJobOutput") <= 2 * 6  # a delivery tries a range 6 times
    assert runner.cycles < 20
    assert not (out / "docs/a.txt").exists()


def test_policy_enforced_paces_and_retries_instead_of_failing(
    world: Any, tmp_path: Path, boto3_client: Any
) -> None:
    emulator, store = world
    # 1 byte per hour: every Standard retrieval is refused until the policy is lifted.
    boto3_client.set_data_retrieval_policy(
        Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 1}]})
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["docs"]),
                                     tier="Standard"))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:  # the policy is lifted while the campaign waits
            boto3_client.set_data_retrieval_policy(Policy={"Rules": [{"Strategy": "None"}]})
        emulator.advance(max(seconds, 1.0))

    # Proactive pacing from the policy read at start would block this test's trigger:
    # the runner learns the refusal from InitiateJob itself.
    messages: list[str] = []
    final, _ = run(emulator, store, info.id,
                   opts=options(emulator, sleep=sleep, poll_interval=3600.0),
                   on_progress=lambda p: messages.append(p.message))
    assert final.status == CampaignStatus.DONE
    assert any("retrieval policy" in m for m in messages)
    refused = [r for r in emulator.requests()
               if r.get("operation") == "InitiateJob" and r["status"] == 400]
    assert refused  # it was refused, paced, then succeeded
    assert any(w >= 600 for w in waits)


def test_resume_after_crash_adopts_job_and_never_initiates_twice(
    world: Any, tmp_path: Path
) -> None:
    emulator, store = world
    out = tmp_path / "out"
    info = plan_campaign(store, spec(out, Selection.folders(["photos/2020/jan"])))
    # Simulated kill right after InitiateJob reached Glacier, before the job ids were
    # stored: items are marked initiating, the jobs exist, the store knows no job id.
    from glacier_tui.glacier.campaign_engine import job_marker

    items = campaign_items(store, info.id)
    campaign_store.mark_initiating(store, [i.item_id for i in items[:4]])
    import boto3

    c = boto3.client("glacier", endpoint_url=emulator.url, region_name="us-east-1")
    for it in items[:4]:
        c.initiate_job(vaultName=VAULT, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": it.archive_id, "Tier": "Expedited",
            "Description": job_marker(info.id, it.item_id)})
    # and one archive already has a live job started by someone else (the TUI)
    c.initiate_job(vaultName=VAULT, jobParameters={
        "Type": "archive-retrieval", "ArchiveId": items[4].archive_id, "Tier": "Bulk"})
    campaign_store.set_status(store, info.id, CampaignStatus.RUNNING)
    assert not campaign_active(store, info.id)  # "running", but no process holds it
    final, _ = run(emulator, store, info.id)
    assert final.status == CampaignStatus.DONE
    initiated = [r for r in emulator.requests() if r.get("operation") == "InitiateJob"]
    assert len(initiated) == 6 + 0  # 5 before the run, one new one for the 6th archive
    assert final.requests_made == 5  # the 4 marked ones were ours; the TUI's is not
    assert all((out / i.path).exists() for i in items)


def test_cancel_stops_the_runner(world: Any, tmp_path: Path) -> None:
    emulator, store = world
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["photos"]),
                                     tier="Bulk"))

    async def sleep(seconds: float) -> None:
        cancel_campaign(store, info.id)

    final, _ = run(emulator, store, info.id, opts=options(emulator, sleep=sleep))
    assert final.status == CampaignStatus.CANCELLED
    assert get_campaign(store, info.id).counts[ItemState.VERIFIED] == 0


def test_budget_pauses_before_overspending(world: Any, tmp_path: Path) -> None:
    emulator, store = world
    # Expedited requests cost $0.01 each: a $0.035 budget allows three.
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["photos/2020"]),
                                     budget_usd=0.035))
    final, _ = run(emulator, store, info.id)
    assert final.status == CampaignStatus.PAUSED and "budget" in final.message
    assert ops(emulator, "InitiateJob") == 3
    assert final.counts[ItemState.VERIFIED] == 3


def test_provisioned_capacity_paces_expedited_requests(
    world: Any, tmp_path: Path, boto3_client: Any
) -> None:
    emulator, store = world
    boto3_client.purchase_provisioned_capacity(accountId="-")  # one unit: 3 jobs / 5 min
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["photos/2020"])))
    start = emulator.emulator.clock.now()
    paced: list[float] = []
    final, _ = run(emulator, store, info.id,
                   on_progress=lambda p: paced.append(p.paced_until or 0.0))
    assert final.status == CampaignStatus.DONE
    assert ops(emulator, "InitiateJob") == 12
    # 12 jobs at 3 per 5 minutes: at least three full windows of waiting
    assert emulator.emulator.clock.now() - start >= 3 * 300
    assert any(paced)


def test_bytes_per_hour_limit_paces_requests(world: Any, tmp_path: Path) -> None:
    emulator, store = world
    # photos/2020 holds 12 archives of 100-105 bytes: 250 bytes an hour is two jobs.
    info = plan_campaign(store, spec(tmp_path / "out", Selection.folders(["photos/2020"]),
                                     bytes_per_hour=250))
    start = emulator.emulator.clock.now()
    final, _ = run(emulator, store, info.id)
    assert final.status == CampaignStatus.DONE
    assert emulator.emulator.clock.now() - start >= 5 * 3600


def test_byte_range_of_one_archive(boto3_client: Any, emulator: Any, tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * 4096 + 100)  # a little over 3 MiB
    boto3_client.create_vault(vaultName=VAULT)
    archive = boto3_client.upload_archive(vaultName=VAULT, body=data)["archiveId"]
    store = Store(tmp_path / "store.sqlite3")
    mib = 1 << 20
    info = plan_campaign(store, CampaignSpec(VAULT, VAULT, Selection.archives([archive]),
                                             "Expedited", tmp_path / "out",
                                             byte_range=(mib, 2 * mib - 1)))
    final, _ = run(emulator, store, info.id)
    assert final.status == CampaignStatus.DONE
    assert (tmp_path / "out" / archive).read_bytes() == data[mib:2 * mib]
    with pytest.raises(CampaignError, match="exactly one archive"):
        plan_campaign(store, CampaignSpec(VAULT, VAULT, Selection.whole_vault(), "Bulk",
                                          tmp_path, byte_range=(0, mib - 1)))
    store.close()


def test_inventory_wait_adopts_the_pending_job(boto3_client: Any, emulator: Any,
                                               tmp_path: Path) -> None:
    from glacier_tui.glacier.campaigns import fetch_inventory

    make_vault(boto3_client, emulator, {"a/b.txt": b"x"})
    emulator.rebuild_inventory(VAULT)
    store = Store(tmp_path / "store.sqlite3")

    class Killed(Exception):
        pass

    async def killed(_seconds: float) -> None:
        raise Killed

    async def advance(_seconds: float) -> None:
        emulator.advance(3600)

    async def fetch(sleep: Any) -> Any:
        opts = ClientOptions(endpoint_url=emulator.url, region="us-east-1", max_attempts=1)
        async with GlacierClient(opts) as client:
            return await fetch_inventory(client, store, VAULT, VAULT, poll=60.0, sleep=sleep)

    with pytest.raises(Killed):  # the wait is interrupted: the job id stays in the journal
        asyncio.run(fetch(killed))
    result = asyncio.run(fetch(advance))
    assert result.archives == 1
    assert ops(emulator, "InitiateJob") == 1
    assert store.folder(VAULT, "a") is not None
    store.close()


# -- listings start at the oldest awaited job ---------------------------------------------


def _record_listings(monkeypatch: pytest.MonkeyPatch,
                     refuse_first_marker: bool = False) -> list[tuple[str | None, int]]:
    """Record each listing's start marker and page count; optionally refuse the first
    start marker as the service does for a marker whose job is gone."""
    from glacier_tui.glacier import errors

    listings: list[tuple[str | None, int]] = []
    original = GlacierClient.iter_job_pages
    refused = {"done": not refuse_first_marker}

    async def recording(self: GlacierClient, vault: str, *, start: str | None = None) -> Any:
        if start is not None and not refused["done"]:
            refused["done"] = True
            listings.append((start, 0))
            raise errors.InvalidParameterValue(f"Invalid marker: {start}")
        listings.append((start, 0))
        async for marker, page in original(self, vault, start=start):
            listings[-1] = (start, listings[-1][1] + 1)
            yield marker, page

    monkeypatch.setattr(GlacierClient, "iter_job_pages", recording)
    return listings


def _old_jobs(emulator: Any, n: int) -> None:
    """n finished inventory jobs of the vault, initiated before the campaign's."""
    import boto3

    c = boto3.client("glacier", endpoint_url=emulator.url, region_name="us-east-1")
    for _ in range(n):
        c.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})
    emulator.advance(5 * 3600)
    emulator.clear_requests()


def test_listings_start_at_the_page_of_the_oldest_awaited_job(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, store = world
    _old_jobs(emulator, 120)  # three pages of jobs no campaign waits for
    listings = _record_listings(monkeypatch)
    out = tmp_path / "out"
    info = plan_campaign(store, spec(out, Selection.folders(["photos"]), max_jobs_in_flight=5,
                                     batch_size=3))
    final, runner = run(emulator, store, info.id)
    assert final.status == CampaignStatus.DONE and final.all_verified
    assert ops(emulator, "InitiateJob") == 13
    assert listings[0] == (None, 3)  # the first listing is whole (a killed run's jobs)
    later = listings[1:]
    assert later and all(start is not None for start, _ in later)
    assert all(pages <= 1 for _, pages in later)  # only the pages since the oldest awaited
    assert ops(emulator, "ListJobs") == sum(pages for _, pages in listings)
    assert runner.list_calls == len(listings)


def test_a_refused_start_marker_gives_a_whole_listing(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, store = world
    _old_jobs(emulator, 60)
    listings = _record_listings(monkeypatch, refuse_first_marker=True)
    out = tmp_path / "out"
    info = plan_campaign(store, spec(out, Selection.folders(["photos/2020/jan"]),
                                     max_jobs_in_flight=2, batch_size=2))
    final, _ = run(emulator, store, info.id)
    assert final.status == CampaignStatus.DONE and final.all_verified
    assert ops(emulator, "InitiateJob") == 6  # nothing missed, nothing asked twice
    refused = next(i for i, (start, pages) in enumerate(listings) if pages == 0)
    assert listings[refused + 1][0] is None  # the same cycle lists from the first page
