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

from glacier_tui.glacier.store import Store
from glacier_tui.glacier.treehash import tree_hash
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.screens.restore import RestoreScreen
from glacier_tui.ui.screens.restores import RestoresScreen
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.restores_panel import CampaignBlock, RestoresPanel

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
    await wait_for(pilot, lambda: bool(main_screen(app).vaults)
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
    return main_screen(app).campaign_rows


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
        assert "2 requested" in str(block.query_one(".counts").render())
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
        await pilot.press("escape")
        assert table.only_jobs is None

        # One toast per milestone: started, first file, done; none per job.
        titles = [t for t, _ in toasts(app)]
        assert titles.count(f"Restore #{row.id} started") == 1
        assert titles.count(f"Restore #{row.id}") == 1  # the first file
        assert titles.count(f"Restore #{row.id} done") == 1
        assert not [t for t in titles if t.startswith("Job ")]
        assert lst.states.get(vault["photos/2020/a.jpg"]) == "verified"


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
        assert START  # the app's clock is the emulator's frozen start
