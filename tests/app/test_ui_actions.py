"""Pilot tests of the main app's actions against the seeded emulator, keyboard only.

Each test drives the app with keys and checks the effect where it lands: the
emulator's request log, the local store, or what the screen shows.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from app_harness import START, main_screen, make_app, tree, wait_for
from rich.console import Console
from screen_host import SnapshotHost
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Input, Static, Tabs

from glacier_tui.glacier.models import Vault
from glacier_tui.glacier.store import Store
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.screens.confirm import ConfirmScreen
from glacier_tui.ui.screens.delete_vault import DeleteVaultScreen
from glacier_tui.ui.screens.main import MainScreen
from glacier_tui.ui.screens.main.base import recently_written, written_since_inventory
from glacier_tui.ui.screens.restore import RestoreScreen
from glacier_tui.ui.screens.upload import MarkingTree, UploadScreen
from glacier_tui.ui.screens.vault_settings import VaultSettingsScreen
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.transfers_panel import TransfersPanel
from glacier_tui.ui.widgets.vault_tree import VaultTree, vault_key


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    # Upload journals and downloaded inventories go to the state dir: keep it in tmp.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    # The upload dialog opens in the working directory: files are typed by name.
    monkeypatch.chdir(tmp_path)
    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as emu:
        yield emu


def main(app: GlacierApp) -> MainScreen:
    return main_screen(app)


def plain(renderable: Any) -> str:
    """A rich renderable (table, text) as plain text."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def ops(emu: Any, name: str) -> list[dict[str, Any]]:
    return [e for e in emu.requests() if e.get("operation") == name]


async def loaded(pilot: Any, app: GlacierApp) -> None:
    await wait_for(pilot, lambda: bool(main(app).connection.vaults)
                   and bool(main(app).query_one(JobTable).jobs))


async def select_vault(pilot: Any, app: GlacierApp, name: str) -> None:
    """Put the tree cursor on a vault with the keyboard (`:` jump, name, Enter)."""
    await pilot.press("colon")
    await wait_for(pilot, lambda: type(app.screen).__name__ == "JumpScreen")
    await pilot.press(*name, "enter")
    await wait_for(pilot, lambda: tree(app).current_vault() == name
                   and isinstance(app.focused, VaultTree))


async def open_upload_screen(pilot: Any, app: GlacierApp) -> None:
    """Once the demo vaults are in, select "scratch" and press u."""
    await loaded(pilot, app)
    await select_vault(pilot, app, "scratch")
    await pilot.press("u")
    await wait_for(pilot, lambda: isinstance(app.screen, UploadScreen))


async def load_photos_inventory(pilot: Any, app: GlacierApp) -> None:
    """Download the seeded, succeeded inventory job of family-photos (`d` on its row)."""
    table = main(app).query_one(JobTable)
    inv = next(j for j in table.jobs.values()
               if j.is_inventory_retrieval and j.succeeded and j.vault_name == "family-photos"
               and j.inventory_parameters is not None
               and j.inventory_parameters.format == "JSON")
    table.focus()
    assert table.select_job(inv.job_id)
    await pilot.press("d")
    await wait_for(pilot, lambda: tree(app).has_inventory.get("family-photos", False))


def photos_key(app: GlacierApp) -> str:
    return vault_key(main(app).connection.vaults["family-photos"])


def transfer_states(app: GlacierApp) -> dict[str, str]:
    panel = main(app).query_one(TransfersPanel)
    return {tid: item.state.state for tid, item in panel.items.items()}


# -- upload ------------------------------------------------------------------------------


async def test_upload_file_with_u(demo: Any, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_bytes(b"hello glacier\n" * 100)
    app = make_app(demo.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_upload_screen(pilot, app)
        # The dialog starts in the path input: typing goes there.
        assert isinstance(app.focused, Input) and app.focused.id == "path"
        await pilot.press(*src.name, "enter")
        await wait_for(pilot, lambda: "notes.txt" in str(
            app.screen.query_one("#marked", Static).render()))
        await pilot.press("tab", "tab")  # tree, then the Upload button
        assert isinstance(app.focused, Button) and app.focused.id == "confirm"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: "done" in transfer_states(app).values())
        uploads = ops(demo, "UploadArchive")
        assert len(uploads) == 1 and uploads[0]["status"] == 201
        assert "/vaults/scratch/" in uploads[0]["path"]
        assert transfer_states(app) == {"upload:scratch:" + str(src): "done"}
        # The app remembers it wrote to the vault since its last inventory.
        vault = main(app).connection.vaults["scratch"]
        assert recently_written(app, vault)


# -- delete one archive ------------------------------------------------------------------


async def test_delete_archive_from_list(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await load_photos_inventory(pilot, app)
        await select_vault(pilot, app, "family-photos")
        lst = main(app).query_one(ArchiveList)
        # Walk down the tree (j) until the archive list shows a folder with archives.
        for _ in range(12):
            await pilot.press("j")
            await app.workers.wait_for_complete()
            await pilot.pause()
            if lst.row_count > 0:
                break
        await wait_for(pilot, lambda: lst.row_at(0) is not None)
        before = lst.row_count
        await pilot.press("tab")  # the archive list
        assert isinstance(app.focused, ArchiveList)
        row = lst.current_row()
        assert row is not None
        # First attempt: the service fails (5xx, no retries): reported, the row stays.
        demo.set_faults({"error5xx": 1.0})
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "failed" in transfer_states(app).values())
        demo.set_faults(None)
        failed = [e["status"] for e in ops(demo, "DeleteArchive")]
        assert failed and set(failed) == {500}  # (the client may retry a 5xx)
        assert any("1 failed" in n.message for n in app._notifications)
        assert lst.row_count == before
        assert app.store.get_archive(photos_key(app), row.archive_id) is not None
        # Second attempt succeeds: the row disappears.
        assert lst.current_row() == row
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(ops(demo, "DeleteArchive")) == len(failed) + 1)
        await wait_for(pilot, lambda: lst.row_count == before - 1)
        assert {e["path"].rsplit("/", 1)[-1] for e in ops(demo, "DeleteArchive")} == \
            {row.archive_id}
        assert ops(demo, "DeleteArchive")[-1]["status"] == 204
        assert all(lst.row_at(i).archive_id != row.archive_id  # type: ignore[union-attr]
                   for i in range(lst.row_count))
        assert app.store.get_archive(photos_key(app), row.archive_id) is None


# -- delete every archive of the last inventory --------------------------------------------


async def test_delete_all_archives_of_vault(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await load_photos_inventory(pilot, app)
        key = photos_key(app)
        ids = {r.archive_id for r in app.store.iter_archives(key)}
        size = sum(r.size or 0 for r in app.store.iter_archives(key))
        assert len(ids) == 323
        # One archive is already gone (deleted elsewhere): its 404 counts as deleted.
        gone = sorted(ids)[0]
        boto3.client("glacier", endpoint_url=demo.url, region_name="us-east-1").delete_archive(
            vaultName="family-photos", archiveId=gone)
        demo.clear_requests()
        await select_vault(pilot, app, "family-photos")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteVaultScreen))
        screen = app.screen
        assert isinstance(screen, DeleteVaultScreen) and not screen.empty
        assert not screen._recently_written
        await pilot.press("shift+tab")  # from Cancel to "Delete all 323 archives"
        assert isinstance(app.focused, Button) and app.focused.id == "delete-archives"
        assert "323" in str(app.focused.label)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        title = str(app.screen.query_one("#title", Static).render())
        assert title.startswith("Delete all 323 archives (")
        assert "of vault family-photos? This cannot be undone." in title
        from glacier_tui.ui.formatting import human_size
        assert f"({human_size(size)})" in title
        await pilot.press("y")
        await wait_for(pilot, lambda: "done" in transfer_states(app).values(), steps=600)
        await app.workers.wait_for_complete()
        await pilot.pause()

        deletes = ops(demo, "DeleteArchive")
        assert {e["path"].rsplit("/", 1)[-1] for e in deletes} == ids
        assert len(deletes) == 323
        assert [e["status"] for e in deletes].count(204) == 322
        assert [e["status"] for e in deletes if e["path"].endswith(gone)] == [404]
        # Never more than 4 requests in flight (from the log's start/end times).
        edges = sorted([(e["t_start"], 1) for e in deletes] + [(e["t_end"], -1)
                                                               for e in deletes])
        in_flight = peak = 0
        for _, step in edges:
            in_flight += step
            peak = max(peak, in_flight)
        assert 1 <= peak <= 4
        # The store no longer lists them; the tree shows the vault empty.
        assert list(app.store.iter_archives(key)) == []
        info = app.store.snapshot_info(key)
        assert info is not None and info.archive_count == 0 and info.total_bytes == 0
        node = tree(app).vault_node("family-photos")
        assert node is not None
        assert not [c for c in node.children if c.data is not None and c.data.kind == "folder"]
        # The closing message explains the vault is deleted after the next inventory.
        texts = [n.message for n in app._notifications]
        assert any("next inventory" in t and "323 of 323" in t for t in texts)

        # Deleting the vault now: guidance (written since the inventory), nothing offered.
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteVaultScreen))
        screen = app.screen
        assert isinstance(screen, DeleteVaultScreen)
        assert screen._recently_written and not screen.empty
        assert screen.query_one("#delete-archives", Button).disabled
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert not ops(demo, "DeleteVault")


def test_written_since_inventory() -> None:
    assert not written_since_inventory(None, START)
    assert not written_since_inventory("garbage", START)
    assert not written_since_inventory("2026-01-15T11:00:00+00:00", START)  # before it
    assert written_since_inventory("2026-01-15T13:00:00+00:00", START)
    assert written_since_inventory("2026-01-15T13:00:00", START)  # naive means UTC
    assert written_since_inventory("2026-01-01T00:00:00+00:00", None)  # never inventoried


def test_store_remove_archives_keeps_folders_and_search_in_step(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    n = store.begin_snapshot("v", "JSON")
    store.insert_archives(n, [
        (f"id{i}", "a/b" if i % 2 else "a", f"photo{i}.jpg", "", 100 + i, None, None, None,
         "plain") for i in range(10)])
    store.finish_snapshot(n, vault_arn=None, inventory_date=None, warnings=[])
    store.ensure_search_index("v")
    assert store.remove_archives("v", ["id1", "id2", "id2", "missing"]) == 2
    info = store.snapshot_info("v")
    assert info is not None and info.archive_count == 8
    assert info.total_bytes == sum(100 + i for i in range(10)) - 101 - 102
    folder = store.folder("v", "a")
    assert folder is not None and (folder.count, folder.direct_count) == (8, 4)
    assert [r.archive_id for r in store.search("v", "photo1")] == []  # FTS still consistent
    assert [r.archive_id for r in store.search("v", "photo3")] == ["id3"]
    assert store.remove_archives("v", [r.archive_id for r in store.iter_archives("v")]) == 8
    assert store.subfolders("v", "") == [] and list(store.iter_archives("v")) == []
    assert store.remove_archives("v", []) == 0


# -- vault settings ------------------------------------------------------------------------


async def test_vault_settings_change_tag(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await select_vault(pilot, app, "family-photos")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, VaultSettingsScreen))
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.screen.query_one(Tabs).focus()
        await pilot.press("right")  # Notifications -> Tags
        await wait_for(pilot, lambda: app.screen.query_one("#tag-key", Input).display)
        await pilot.press("tab")  # the tags table
        await pilot.press("tab")  # the key input
        assert isinstance(app.focused, Input) and app.focused.id == "tag-key"
        await pilot.press(*"owner", "tab", *"alice", "enter")
        await wait_for(pilot, lambda: bool(ops(demo, "AddTagsToVault")))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert [e["status"] for e in ops(demo, "AddTagsToVault")] == [204]
        # The detail pane reads the settings again and shows the new value.
        settings = main(app).query_one("#settings", Static)
        await wait_for(pilot, lambda: "owner=alice" in plain(settings.content))


# -- command palette -----------------------------------------------------------------------


async def test_command_palette_selects_vault(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        assert tree(app).current_vault() != "media-archive"
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"media-archive")
        palette = app.screen
        commands = palette.query_one(CommandList)

        def top_is_vault() -> bool:
            return commands.option_count > 0 and \
                "Vault: media-archive" in str(commands.get_option_at_index(0).prompt)

        await wait_for(pilot, top_is_vault)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: tree(app).current_vault() == "media-archive")


# -- keymap --------------------------------------------------------------------------------


async def test_keymap_remaps_restore(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path, keymap={"restore": "ctrl+r"})
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await load_photos_inventory(pilot, app)
        await select_vault(pilot, app, "family-photos")
        await pilot.press("j")  # the first folder: something to restore
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert main(app).check_action("restore", ()) is True  # a folder is selected
        await pilot.press("r")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert not ops(demo, "InitiateJob")


# -- quit with a running transfer ------------------------------------------------------------


async def test_quit_with_running_transfer_asks(
    demo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload that never finishes (held in the transfer engine): q asks, n stays, y quits."""
    from glacier_tui.glacier import transfers

    stopped: list[str] = []

    async def held_upload(client: Any, vault: str, path: Path, **kw: Any) -> Any:
        kw["on_progress"](SimpleNamespace(state="running", total=100, done=10, rate_bps=None,
                                          eta_s=None, message=""))
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(vault)

    monkeypatch.setattr(transfers, "upload_file", held_upload)
    src = tmp_path / "held.bin"
    src.write_bytes(b"x" * 100)
    app = make_app(demo.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_upload_screen(pilot, app)
        await pilot.press(*src.name, "enter")
        await wait_for(pilot, lambda: bool(app.screen.marked))  # type: ignore[attr-defined]
        await pilot.press("tab", "tab", "enter")
        await wait_for(pilot, lambda: app.running_transfers() == 1)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = " ".join(str(s.content) for s in app.screen.query(".line").results(Static))
        assert "1 transfer(s) are running" in body
        await pilot.press("n")  # stay
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.is_running and app.running_transfers() == 1
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
    assert stopped == ["scratch"]  # the upload was stopped by quitting


# -- snapshots of the two dialogs ------------------------------------------------------------

SIZES = [(80, 24), (120, 40)]



BACKGROUND = "vault: family-photos"  # the line behind the dialog in the snapshots


def _photos_vault() -> Vault:
    return Vault(name="family-photos", arn="arn:aws:glacier:us-east-1:1:vaults/family-photos",
                 number_of_archives=323, size_in_bytes=11_534_336,
                 last_inventory_date=datetime(2026, 1, 13, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_delete_vault_guidance(snap_compare: Any, size: tuple[int, int]) -> None:
    screen = DeleteVaultScreen(_photos_vault(), 323, recently_written=True)
    assert snap_compare(SnapshotHost(screen, BACKGROUND), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_upload_screen(snap_compare: Any, size: tuple[int, int], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "photos"
    (root / "2024").mkdir(parents=True)
    (root / "2024" / "beach.jpg").write_bytes(b"x" * 2048)
    (root / "IMG_0001.jpg").write_bytes(b"x" * 3072)
    (root / "notes.txt").write_bytes(b"x" * 10)
    monkeypatch.chdir(tmp_path)  # a relative start: the tree's root label is stable

    async def run_before(pilot: Any) -> None:
        # (DirectoryTree keeps a loader worker alive: wait on what is shown instead.)
        screen = pilot.app.screen
        tree = screen.query_one(MarkingTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 3)
        tree.focus()  # the dialog starts in the path input
        await pilot.press("down", "down", "space")  # mark IMG_0001.jpg
        await wait_for(pilot, lambda: "Marked 1" in str(
            screen.query_one("#marked", Static).content))
        await pilot.pause()

    assert snap_compare(SnapshotHost(UploadScreen(Path("photos"), vault="family-photos"),
                                     BACKGROUND), terminal_size=size,
                        run_before=run_before)
