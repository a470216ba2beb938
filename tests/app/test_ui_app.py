"""Pilot tests of the main app against the seeded emulator (frozen clock, advanced by hand)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_harness import START, main_screen, make_app, tree, wait_for

from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.display_names import folder_path_label
from glacier_tui.ui.screens.error import ErrorScreen
from glacier_tui.ui.screens.main import MainScreen
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.job_table import JobTable

MUTATING_OPS = {
    "CreateVault", "DeleteVault", "InitiateJob", "UploadArchive", "DeleteArchive",
    "InitiateMultipartUpload", "UploadMultipartPart", "CompleteMultipartUpload",
    "AbortMultipartUpload", "AddTagsToVault", "RemoveTagsFromVault", "SetVaultNotifications",
    "DeleteVaultNotifications", "SetVaultAccessPolicy", "DeleteVaultAccessPolicy",
    "InitiateVaultLock", "CompleteVaultLock", "AbortVaultLock", "SetDataRetrievalPolicy",
    "PurchaseProvisionedCapacity",
}


def loaded(app: GlacierApp) -> bool:
    """The vaults and the jobs are listed."""
    return bool(main_screen(app).connection.vaults) and bool(jobs(app).jobs)




@pytest.fixture
def demo_emulator(tmp_path: Path) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as emu:
        yield emu


def jobs(app: GlacierApp) -> JobTable:
    return main_screen(app).query_one(JobTable)


def archive_list(app: GlacierApp) -> ArchiveList:
    return main_screen(app).query_one(ArchiveList)


async def select_vault(pilot: Any, app: GlacierApp, name: str) -> None:
    t = tree(app)
    t.focus()
    assert t.select_vault(name)
    await pilot.pause()


async def test_browse_inventory_restore_download(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        screen = main_screen(app)
        assert set(screen.connection.vaults) >= {"family-photos", "media-archive", "scratch"}
        assert "family-photos" in str(tree(app).vault_node("family-photos").label)

        # A vault without a cached inventory offers to request one.
        await select_vault(pilot, app, "family-photos")
        await pilot.press("enter")
        await pilot.pause()
        node = tree(app).vault_node("family-photos")
        assert node is not None and "press i" in str(node.children[0].label)

        # Request an inventory; the job appears at once, completes, downloads and imports.
        before = len(jobs(app).jobs)
        await pilot.press("i")
        await wait_for(pilot, lambda: len(jobs(app).jobs) == before + 1)
        demo_emulator.advance(6 * 3600)
        await wait_for(pilot, lambda: tree(app).has_inventory.get("family-photos", False),
                       steps=300)
        await wait_for(pilot, lambda: any(
            c.data is not None and c.data.kind == "folder" for c in node.children))
        # The tree holds vaults and folders only; archives are in the archive list.
        assert not [n for n in _walk(node) if n.data is not None and n.data.kind == "archive"]

        # Restore the first archive found: highlight folders until the list shows one.
        t = tree(app)
        t.focus()
        lst = archive_list(app)
        for folder in [n for n in node.children if n.data is not None
                       and n.data.kind == "folder"]:
            t.move_cursor(folder)
            await pilot.pause()
            if folder.data.count > 0 and lst.row_count == 0:
                await app.workers.wait_for_complete()
                await pilot.pause()
            if lst.row_count > 0:
                break
        await wait_for(pilot, lambda: lst.row_at(0) is not None)
        assert screen.browse.list_folder is not None
        # The title names the folder as shown ("(no description)" for the decoder's
        # folder of archives without one).
        assert str(lst.border_title).startswith(folder_path_label(screen.browse.list_folder))
        lst.focus()
        await pilot.pause()
        row = lst.row_at(0)
        assert row is not None
        row_path, row_size = f"{screen.browse.list_folder}/{row.name}", row.size
        # Its details (path, description, tree hash, id) show in the detail pane.
        assert screen.detail.show_current() is None
        await pilot.press("space")
        assert lst.marked == {row.archive_id}
        count = len(jobs(app).jobs)
        await pilot.press("r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RestoreScreen")
        await pilot.click("#confirm")
        # A restore campaign: the engine starts the job; the poller lists it, named.
        await wait_for(pilot, lambda: len(screen.campaigns.board.rows) == 1)
        await wait_for(pilot, lambda: len(jobs(app).jobs) == count + 1)
        new_id = next(j for j in jobs(app).jobs if j in screen.campaigns.board.jobs)
        assert jobs(app).names.get(new_id) == row_path
        assert not lst.marked  # marks are cleared once the restore started

        # The job finishes on the emulator; the poller updates the row in place, and the
        # campaign engine downloads and verifies the file by itself.
        demo_emulator.advance(3600)
        await wait_for(pilot, lambda: jobs(app).jobs[new_id].succeeded, steps=300)
        expected = tmp_path / "downloads" / row_path
        await wait_for(pilot, lambda: next(iter(screen.campaigns.board.rows.values())).status
                       == "done", steps=600)
        assert expected.stat().st_size == row_size
        # A success is shown as a success, not as a red error: the campaign's "done" toast.
        await wait_for(pilot, lambda: any(n.title.endswith(" done") for n in app._notifications))
        done = next(n for n in app._notifications if n.title.endswith(" done"))
        assert done.severity == "information" and "verified" in done.message


def _walk(node: Any) -> Iterator[Any]:
    for child in node.children:
        yield child
        yield from _walk(child)


async def test_filter_jump_help(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        tree(app).focus()
        await pilot.press("slash", "f", "a", "m")
        await pilot.pause()
        assert [n.data.vault for n in tree(app).root.children if n.data] == ["family-photos"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(tree(app).root.children) == len(main_screen(app).connection.vaults)

        jobs(app).focus()
        await pilot.press("slash", *"inventory")
        await pilot.pause()
        assert jobs(app).row_count > 0
        assert all(j.is_inventory_retrieval for j in
                   (jobs(app).jobs[str(k.value)] for k in jobs(app).rows))
        await pilot.press("enter")  # keep the filter
        await pilot.press("escape")  # back clears it
        await pilot.pause()
        assert jobs(app).row_count == len(jobs(app).jobs)

        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"media", "enter")
        await pilot.pause()
        assert tree(app).current_vault() == "media-archive"

        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_readonly_sends_no_mutation(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        screen = main_screen(app)
        for action in ("restore", "inventory", "create_vault", "upload", "delete",
                       "delete_vault"):
            assert screen.check_action(action, ()) is False
        for vault in sorted(screen.connection.vaults):
            await select_vault(pilot, app, vault)
            await pilot.press("space", "r", "i", "n", "u", "delete", "D", "enter")
            await pilot.pause()
            while not isinstance(app.screen, MainScreen):
                await pilot.press("escape")
                await pilot.pause()
        jobs(app).focus()
        await pilot.press("r", "i", "delete")
        # Even a direct call is refused at the call site.
        screen.action_inventory()
        screen.action_create_vault()
        await pilot.pause(0.3)
        ops = [e.get("operation") for e in demo_emulator.requests()]
        assert ops, "the app made read requests"
        assert not [op for op in ops if op in MUTATING_OPS]
        assert "READ-ONLY" in str(screen.query_one("#header").render())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_endpoint_down_shows_error_screen(tmp_path: Path) -> None:
    app = make_app(f"http://127.0.0.1:{_closed_port()}", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), steps=400)
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert "unreachable" in screen.title_text.lower()
        await pilot.press("r")  # retry: fails again, error screen comes back
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), steps=400)
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_missing_credentials_shows_error_screen(
    demo_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), steps=400)
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert "credentials" in screen.title_text.lower()


def test_import_does_not_load_botocore() -> None:
    import subprocess
    import sys

    # The CLI's start path (boot screen, then the main screen) and the main screen itself;
    # test_startup.py checks what is loaded at the first frame of a running app.
    code = ("import sys; from glacier_tui import cli; "
            "app = cli.build_app(cli.build_parser(['--demo']).parse_args(['--demo'])); "
            "app.get_default_screen(); import glacier_tui.ui.screens.main; "
            "print(any(m.startswith(('botocore', 'aioboto3', 'aiobotocore')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"



async def test_folder_restore_and_create_vault(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        screen = main_screen(app)
        # Load the inventory an earlier (seeded) job produced: `d` on a succeeded inventory job.
        table = jobs(app)
        inv = next(j for j in table.jobs.values()
                   if j.is_inventory_retrieval and j.succeeded and j.vault_name == "family-photos")
        table.focus()
        assert table.select_job(inv.job_id)
        await pilot.pause()
        await pilot.press("d")
        await wait_for(pilot, lambda: tree(app).has_inventory.get("family-photos", False),
                       steps=300)
        node = tree(app).vault_node("family-photos")
        assert node is not None
        await wait_for(pilot, lambda: any(
            c.data is not None and c.data.kind == "folder" for c in node.children))
        folder = next(c for c in node.children if c.data is not None and c.data.kind == "folder")
        t = tree(app)
        t.focus()
        t.move_cursor(folder)
        await pilot.press("space")
        before = len(table.jobs)
        await pilot.press("r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RestoreScreen")
        await pilot.click("#confirm")
        assert folder.data is not None
        await wait_for(pilot, lambda: len(table.jobs) == before + folder.data.count, steps=400)
        started = [table.names[j] for j in screen.jobs.followup.started_here if j in table.names]
        assert all(name.startswith(folder.data.path + "/") for name in started)

        # Create a vault through UI-B's dialog; the tree reloads.
        t.focus()
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CreateVaultScreen")
        await pilot.press(*"new-vault", "enter")
        await wait_for(pilot, lambda: "new-vault" in screen.connection.vaults, steps=300)


async def test_archive_list_sort_search_duplicates(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: loaded(app))
        table = jobs(app)
        inv = next(j for j in table.jobs.values()
                   if j.is_inventory_retrieval and j.succeeded and j.vault_name == "family-photos")
        table.focus()
        assert table.select_job(inv.job_id)
        await pilot.pause()
        await pilot.press("d")
        await wait_for(pilot, lambda: tree(app).has_inventory.get("family-photos", False),
                       steps=300)
        await select_vault(pilot, app, "family-photos")
        node = tree(app).vault_node("family-photos")
        assert node is not None
        await wait_for(pilot, lambda: any(
            c.data is not None and c.data.kind == "folder" for c in node.children))
        lst = archive_list(app)
        for folder in [c for c in node.children if c.data is not None
                       and c.data.kind == "folder"]:
            tree(app).move_cursor(folder)
            await app.workers.wait_for_complete()
            await pilot.pause()
            if lst.row_count > 1:
                break
        await wait_for(pilot, lambda: lst.row_at(0) is not None)
        assert "by name" in str(lst.border_title)
        lst.focus()
        await pilot.pause()

        # `o` cycles the sort: size (largest first).
        await pilot.press("o")
        await wait_for(pilot, lambda: "by size" in str(lst.border_title)
                       and lst.row_at(0) is not None)
        sizes = [r.size or 0 for r in (lst.row_at(i) for i in range(min(lst.row_count, 10)))
                 if r is not None]
        assert sizes == sorted(sizes, reverse=True)

        # The detail pane shows the highlighted archive (plain text).
        row = lst.current_row()
        assert row is not None

        # `/` searches the whole vault; Esc goes back to the folder.
        await pilot.press("slash", *row.name[:3])
        await wait_for(pilot, lambda: lst.row_count > 0 and "Search" in str(lst.border_title))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(r is not None and row.name[:3].lower() in r.name.lower()
                   for r in (lst.row_at(i) for i in range(lst.row_count)))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "by size" in str(lst.border_title))
        assert isinstance(app.focused, ArchiveList)

        # `D` in the archive list shows duplicate groups.
        await pilot.press("D")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "DuplicatesScreen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
