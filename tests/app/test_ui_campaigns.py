"""Pilot tests of restore campaigns in the TUI, against the emulator (frozen clock).

A vault ``v`` holds five small archives; its inventory is put in the store directly
(the inventory import has its own tests). The campaign engine runs in the app's worker;
the emulator's clock is advanced by the test to finish the jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_harness import START, main_screen, make_app, tree, wait_for
from rich.cells import cell_len
from screen_host import SnapshotHost

from glacier_tui.config import DEFAULT_PRICES
from glacier_tui.glacier.campaign_view import Milestone, Milestones
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.treehash import tree_hash
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.restore_model import ArchiveRef
from glacier_tui.ui.screens.restore import RestoreScreen
from glacier_tui.ui.screens.restores import RestoresScreen
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.close_out_row import PurgeRow
from glacier_tui.ui.widgets.job_table import JobTable, middle_ellipsis
from glacier_tui.ui.widgets.restores_panel import CampaignRow, RestoresPanel

FILES = {
    "photos/2020/a.jpg": b"a" * 1500,
    "photos/2020/b.jpg": b"b" * 2500,
    "photos/2021/c.jpg": b"c" * 3500,
    "docs/d.pdf": b"d" * 4500,
    "docs/e.pdf": b"e" * 5500,
}


@pytest.fixture
def vault(emulator: Any, boto3_client: Any, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Path -> archive id of vault v; its inventory is in tmp_path/store.sqlite3."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    boto3_client.create_vault(vaultName="v")
    arn = boto3_client.describe_vault(vaultName="v")["VaultARN"]
    ids: dict[str, str] = {}
    rows = []
    for path, data in FILES.items():
        aid = boto3_client.upload_archive(vaultName="v", body=data,
                                          archiveDescription=path)["archiveId"]
        ids[path] = aid
        folder, _, name = path.rpartition("/")
        rows.append((aid, folder, name, path, len(data), "2026-01-01T00:00:00Z", None,
                     tree_hash(data), "plain"))
    with Store(tmp_path / "store.sqlite3") as store:
        n = store.begin_snapshot(arn, "json")
        store.insert_archives(n, rows)
        store.finish_snapshot(n, vault_arn=arn, inventory_date="2026-01-10T00:00:00Z",
                              warnings=[])
    emulator.clear_requests()
    return ids


def ops(emu: Any, name: str) -> list[dict[str, Any]]:
    return [e for e in emu.requests() if e.get("operation") == name]


def toasts(app: GlacierApp) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


async def ready(pilot: Any, app: GlacierApp) -> None:
    await wait_for(pilot, lambda: bool(main_screen(app).connection.vaults)
                   and tree(app).has_inventory.get("v", False))


async def open_folder(pilot: Any, app: GlacierApp, path: str) -> None:
    """Put the tree cursor on a folder of v (expanding its parents)."""
    t = tree(app)
    t.focus()
    node = next(n for n in t.root.children if n.data is not None and n.data.vault == "v")
    for part in path.split("/"):
        node.expand()
        await wait_for(pilot, lambda n=node: any(c.data is not None and c.data.kind == "folder"
                                                 for c in n.children))
        node = next(c for c in node.children if c.data is not None
                    and c.data.path.rpartition("/")[2] == part)
    t.move_cursor(node)
    await pilot.pause()


async def mark_rows(pilot: Any, app: GlacierApp, count: int) -> ArchiveList:
    lst = main_screen(app).query_one(ArchiveList)
    await wait_for(pilot, lambda: lst.row_count >= count and lst.row_at(count - 1) is not None)
    lst.focus()
    await pilot.pause()
    for i in range(count):
        if i:
            await pilot.press("j")
        await pilot.press("space")
    assert len(lst.marked) == count
    return lst


async def confirm_restore(pilot: Any, app: GlacierApp) -> None:
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen))
    await pilot.press("enter")  # the highlighted tier (the default, Expedited)
    await wait_for(pilot, lambda: not isinstance(app.screen, RestoreScreen))


def campaigns(app: GlacierApp) -> dict[int, Any]:
    return main_screen(app).campaigns.board.rows


async def test_marks_and_r_start_one_campaign_that_runs_to_verified(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await open_folder(pilot, app, "photos/2020")
        lst = await mark_rows(pilot, app, 2)
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(campaigns(app)) == 1)
        (row,) = campaigns(app).values()
        assert row.total_items == 2 and row.tier == "Expedited" and row.vault == "v"
        assert not lst.marked
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 2)
        assert {e["path"] for e in ops(emulator, "InitiateJob")} == {"/-/vaults/v/jobs"}
        # The archive list shows their state.
        await wait_for(pilot, lambda: lst.show_states and lst.states.get(
            vault["photos/2020/a.jpg"]) == "requested")
        assert "restoring" in lst.line_text(0)

        # The Restores screen: live as the emulator's jobs finish and the engine fetches.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        panel = app.screen.query_one(RestoresPanel)
        block = panel.blocks[row.id]
        await wait_for(pilot, lambda: "2 requested" in str(block.query_one(".counts").render()))
        emulator.advance(3600)
        await wait_for(pilot, lambda: campaigns(app)[row.id].status == "done", steps=600)
        await pilot.pause()
        assert "2 verified" in str(block.query_one(".counts").render())
        assert "2/2 files" in str(block.query_one(".stats").render())
        assert str(block.query_one(".status").render()).strip() == "done"
        for path in ("photos/2020/a.jpg", "photos/2020/b.jpg"):
            assert (tmp_path / "downloads" / path).read_bytes() == FILES[path]

        # Enter on the campaign: the job table shows only its jobs.
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RestoresScreen))
        table = main_screen(app).query_one(JobTable)
        await wait_for(pilot, lambda: table.only_jobs is not None and table.row_count == 2)
        assert str(table.border_title) == f"Jobs of restore #{row.id} (2) · Esc: all"
        await pilot.press("escape")
        assert table.only_jobs is None
        assert str(table.border_title) == f"Jobs ({len(table.jobs)})"

        # One toast per milestone: started, first file, done; none per job.
        titles = [t for t, _ in toasts(app)]
        assert titles.count(f"Restore #{row.id} started") == 1
        assert titles.count(f"Restore #{row.id}") == 1  # the first file
        assert titles.count(f"Restore #{row.id} done") == 1
        assert not [t for t in titles if t.startswith("Job ")]
        assert lst.states.get(vault["photos/2020/a.jpg"]) == "verified"

        # d on the folder: nothing to fetch again, and one toast says why.
        await open_folder(pilot, app, "photos/2020")
        await pilot.press("d")
        await wait_for(pilot, lambda: any(t == "Download" for t, _ in toasts(app)))
        assert [m for t, m in toasts(app) if t == "Download"] == [
            "0 ready archive(s) downloading; 2 already restored and verified."]


async def test_folder_under_cursor_and_r_restores_the_folder(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await open_folder(pilot, app, "photos")
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(campaigns(app)) == 1)
        (row,) = campaigns(app).values()
        assert row.what == "folders photos" and row.total_items == 3
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 3)


async def test_folders_marked_with_space_and_r_start_one_campaign(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await open_folder(pilot, app, "docs")
        await pilot.press("space")
        await open_folder(pilot, app, "photos/2021")
        await pilot.press("space")
        assert len(tree(app).marks) == 2
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(campaigns(app)) == 1)
        (row,) = campaigns(app).values()
        assert row.what == "folders docs, photos/2021" and row.total_items == 3
        assert not tree(app).marks
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 3)


async def test_pause_resume_and_cancel_from_the_restores_screen(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:
    from glacier_tui.ui.screens.confirm import ConfirmScreen

    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await open_folder(pilot, app, "docs")
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 2)
        (cid,) = campaigns(app)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        await pilot.press("p")
        await wait_for(pilot, lambda: campaigns(app)[cid].status == "paused"
                       and not main_screen(app).campaigns.board.runners)
        await pilot.press("p")  # resume: the running jobs are followed, not requested again
        await wait_for(pilot, lambda: cid in main_screen(app).campaigns.board.runners)
        emulator.advance(3600)
        await wait_for(pilot, lambda: campaigns(app)[cid].status == "done", steps=600)
        assert len(ops(emulator, "InitiateJob")) == 2
        # A second campaign, cancelled before its jobs finish.
        await pilot.press("escape")
        await open_folder(pilot, app, "photos/2021")
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 3)
        (second,) = [k for k in campaigns(app) if k != cid]
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        # Its runner stops: nothing more is fetched, whatever the jobs do.
        await wait_for(pilot, lambda: campaigns(app)[second].status == "cancelled"
                       and second not in main_screen(app).campaigns.board.runners, steps=600)
        assert not (tmp_path / "downloads" / "photos/2021/c.jpg").exists()


async def test_a_campaign_with_a_failed_archive_is_one_failed_toast(
        emulator: Any, boto3_client: Any, vault: dict[str, str], tmp_path: Path) -> None:
    # d.pdf is gone from the vault but still in the cached inventory: its job is refused.
    boto3_client.delete_archive(vaultName="v", archiveId=vault["docs/d.pdf"])
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await open_folder(pilot, app, "docs")
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(campaigns(app)) == 1)
        (row,) = campaigns(app).values()
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 2)
        emulator.advance(3600)
        await wait_for(pilot, lambda: campaigns(app)[row.id].status == "incomplete", steps=600)
        await pilot.pause()
        final = campaigns(app)[row.id]
        assert final.counts == {"verified": 1, "failed": 1}
        assert (tmp_path / "downloads" / "docs/e.pdf").read_bytes() == FILES["docs/e.pdf"]
        titles = [t for t, _ in toasts(app) if t.startswith(f"Restore #{row.id}")]
        assert titles == [f"Restore #{row.id} started", f"Restore #{row.id}",
                          f"Restore #{row.id} failed"]


async def test_quit_and_restart_resumes_the_campaign(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await open_folder(pilot, app, "docs")
        await confirm_restore(pilot, app)
        await wait_for(pilot, lambda: len(ops(emulator, "InitiateJob")) == 2)
    # Quit with the jobs running; they finish while the app is closed.
    emulator.advance(3600)
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(campaigns(app)) == 1)
        (row,) = campaigns(app).values()
        await wait_for(pilot, lambda: campaigns(app)[row.id].status == "done", steps=600)
        for path in ("docs/d.pdf", "docs/e.pdf"):
            assert (tmp_path / "downloads" / path).read_bytes() == FILES[path]
        assert len(ops(emulator, "InitiateJob")) == 2  # adopted, never requested again
        assert not [t for t, _ in toasts(app) if t.endswith("started")]  # not news


async def test_d_on_marks_downloads_what_is_ready(
        emulator: Any, boto3_client: Any, vault: dict[str, str], tmp_path: Path) -> None:
    # Jobs started elsewhere (another tool): ready now for a.jpg and b.jpg, none for c.jpg.
    for path in ("photos/2020/a.jpg", "photos/2020/b.jpg"):
        boto3_client.initiate_job(vaultName="v", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": vault[path], "Tier": "Expedited"})
    emulator.advance(3600)
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        table = main_screen(app).query_one(JobTable)
        await wait_for(pilot, lambda: sum(j.succeeded for j in table.jobs.values()) == 2)
        await open_folder(pilot, app, "photos/2020")
        await mark_rows(pilot, app, 2)
        await pilot.press("d")
        for path in ("photos/2020/a.jpg", "photos/2020/b.jpg"):
            target = tmp_path / "downloads" / path
            await wait_for(pilot, target.exists, steps=600)
            assert target.read_bytes() == FILES[path]
        assert [m for t, m in toasts(app) if t == "Download"] == [
            "2 ready archive(s) downloading."]
        # d on a folder with nothing ready says so, once.
        await open_folder(pilot, app, "docs")
        await pilot.press("d")
        await wait_for(pilot, lambda: len([t for t, _ in toasts(app) if t == "Download"]) == 2)
        assert [m for t, m in toasts(app) if t == "Download"][-1] == \
            "0 ready archive(s) downloading; 2 not ready (restore them with r)."
        assert not campaigns(app)


# -- snapshots (fixed data, nothing live) ------------------------------------------------

def _rows() -> list[CampaignRow | PurgeRow]:
    gib = 1 << 30
    return [
        PurgeRow(2, "old-backups", "awaiting-inventory", 1200, 1200, 40 * gib,
                 next_inventory_at=START.timestamp() + 86400),
        PurgeRow(1, "scratch", "running", 800, 310, int(2.5 * gib)),
        CampaignRow(4, "family-photos", "migrate folders photos/2019 -> s3://archive-bucket/"
                    "family/ (DEEP_ARCHIVE)", "Bulk", "running",
                    {"verified": 40, "ready": 2, "requested": 58}, 100, 30 * gib, 12 * gib,
                    eta_seconds=9000, cost_usd=1.27, kind="migrate",
                    where="s3://archive-bucket/family/"),
        CampaignRow(3, "family-photos", "folders photos/2020", "Expedited", "running",
                    {"verified": 5, "downloading": 1, "ready": 2, "requested": 4}, 12,
                    int(3.2 * gib), int(1.1 * gib), eta_seconds=1500, cost_usd=0.1432),
        CampaignRow(2, "v", "2 archive id(s)", "Bulk", "done", {"verified": 2}, 2, 8000,
                    8000, cost_usd=0.0001),
        CampaignRow(1, "documents", "folders scans/2019", "Standard", "incomplete",
                    {"verified": 9, "failed": 1}, 10, 52_000_000, 47_000_000, cost_usd=0.02,
                    message="1 archive failed"),
    ]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40)])
def test_snapshot_restores_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(SnapshotHost(RestoresScreen(_rows()), "main screen"),
                        terminal_size=size)


def test_snapshot_restore_dialog_for_a_folder(snap_compare: Any) -> None:
    refs = [ArchiveRef(f"id{i}", f"photos/2020/scan-{i:04d}.tif", 40_000_000 + i * 1000)
            for i in range(1200)]
    assert snap_compare(SnapshotHost(RestoreScreen(refs, DEFAULT_PRICES, "Bulk"),
                                     "vault: family-photos"), terminal_size=(80, 24))


# -- pieces without the app ----------------------------------------------------------------

def test_middle_ellipsis_keeps_the_file_name() -> None:
    assert middle_ellipsis("photos/2021/scans/scan-0012.tif", 24) == "photos/20…/scan-0012.tif"
    assert middle_ellipsis("short.txt", 24) == "short.txt"
    no_folder = middle_ellipsis("a-very-long-file-name-without-any-folder.tif", 24)
    assert len(no_folder) == 24 and no_folder.endswith("folder.tif") and "…" in no_folder
    wide = middle_ellipsis("写真/二〇二一/スキャン/scan-0012.tif", 24)
    assert cell_len(wide) <= 24 and wide.endswith("/scan-0012.tif")


def test_milestones_once_each() -> None:
    m = Milestones()
    assert m.started(1) and not m.started(1)
    assert m.update(1, 0, "running") == []
    assert m.update(1, 1, "running") == [Milestone.FIRST_FILE]
    assert m.update(1, 5, "running") == []
    assert m.update(1, 12, "done") == [Milestone.DONE]
    assert m.update(1, 12, "done") == []
    assert m.update(2, 3, "incomplete") == [Milestone.FIRST_FILE, Milestone.FAILED]
    assert not m.failed(2)


def test_ready_retrievals_picks_live_whole_outputs() -> None:
    from datetime import timedelta

    from glacier_tui.glacier.models import Job
    from glacier_tui.glacier.operations import ready_retrievals

    arn = "arn:aws:glacier:us-east-1:123456789012:vaults/v"

    def job(jid: str, aid: str, hours_ago: float, **kw: Any) -> Job:
        done = START - timedelta(hours=hours_ago)
        values: dict[str, Any] = {"job_id": jid, "vault_arn": arn,
                                  "action": "ArchiveRetrieval", "status_code": "Succeeded",
                                  "completed": True, "archive_id": aid, "archive_size": 10,
                                  "completion_date": done}
        values.update(kw)
        return Job(**values)

    jobs = [job("old", "a", 5), job("new", "a", 1), job("expired", "b", 30),
            job("part", "c", 1, retrieval_byte_range="0-4"),
            job("running", "d", 1, status_code="InProgress", completed=False),
            job("other", "z", 1)]
    ready = ready_retrievals(jobs, ["a", "b", "c", "d"], START)
    assert {k: v.job_id for k, v in ready.items()} == {"a": "new"}


def test_selections_for_keeps_folders_and_resolves_mixes(tmp_path: Path) -> None:
    from glacier_tui.glacier.campaign_view import selections_for
    from glacier_tui.glacier.operations import Selected

    with Store(tmp_path / "s.sqlite3") as store:
        n = store.begin_snapshot("k", "json")
        store.insert_archives(n, [("a1", "p", "x", "p/x", 1, None, None, None, "plain"),
                                  ("a2", "p/q", "y", "p/q/y", 2, None, None, None, "plain"),
                                  ("a3", "r", "z", "r/z", 3, None, None, None, "plain")])
        store.finish_snapshot(n, vault_arn=None, inventory_date=None, warnings=[])
        keys = {"v": "k", "w": "k2"}
        folders = selections_for(store, [Selected("folder", "v", "p"),
                                         Selected("folder", "v", "r")], keys)
        assert folders["v"].kind == "folders" and folders["v"].values == ("p", "r")
        root = selections_for(store, [Selected("folder", "w", "")], keys)
        assert root["w"].kind == "vault"
        mixed = selections_for(store, [Selected("folder", "v", "p"),
                                       Selected("archive", "v", "r/z", "a3", 3)], keys)
        assert mixed["v"].kind == "archives" and set(mixed["v"].values) == {"a1", "a2", "a3"}
        assert selections_for(store, [Selected("folder", "nope", "")], keys) == {}


def test_job_table_archive_cell_keeps_the_name_end_and_filters_to_a_campaign() -> None:
    from glacier_tui.glacier.models import Job

    arn = "arn:aws:glacier:us-east-1:123456789012:vaults/v"
    table = JobTable()
    job = Job(job_id="j1", vault_arn=arn, action="ArchiveRetrieval", status_code="InProgress",
              archive_id="a1")
    table.names["j1"] = "photos/2021/scans/\x1b[31mscan-0012.tif"
    assert str(table.cells_for(job)[3]) == "photos/20…/scan-0012.tif"  # escape removed, then cut
    table.only_jobs = frozenset({"j2"})
    assert not table._matches(table.cells_for(job), "j1")
    table.only_jobs = None
    assert table._matches(table.cells_for(job), "j1")
