"""The app shell: keys in dialogs and the palette, copying ids, no accidental loss, the demo.

Pilot tests against the seeded emulator on a frozen clock (``demo_emulator``), plus the
demo backend itself (its own running emulator, on loopback).
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from app_harness import START, main_screen, make_app, tree, wait_for
from screen_host import Host
from textual.command import CommandPalette
from textual.widgets import Footer, TabbedContent
from textual.widgets._footer import FooterKey

from glacier_tui.config import Settings
from glacier_tui.demo import DEMO_START_BEHIND, DemoBackend, start_demo
from glacier_tui.glacier.models import Vault
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.vault_keys import resolve_vault_key, vault_store_key
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.commands import KeyCommands, key_commands
from glacier_tui.ui.screens.confirm import ConfirmScreen
from glacier_tui.ui.screens.error import ErrorScreen
from glacier_tui.ui.screens.help import HelpScreen
from glacier_tui.ui.screens.restore import RestoreScreen
from glacier_tui.ui.screens.vault_settings import VaultSettingsScreen
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import vault_key


@pytest.fixture
def demo_emulator(tmp_path: Path) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as emu:
        yield emu


async def connected(pilot: Any, app: GlacierApp) -> None:
    await wait_for(pilot, lambda: (c := main_screen(app).connection).connected
                   and bool(c.vaults))


def footer_keys(app: GlacierApp) -> list[str]:
    """The descriptions the active screen's footer shows."""
    footers = list(app.screen.query(Footer))
    assert footers, f"{type(app.screen).__name__} has no footer"
    return [key.description for key in footers[0].query(FooterKey)]


# -- keys -------------------------------------------------------------------------------


async def test_header_separates_labels_from_values(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        await connected(pilot, app)
        text = str(main_screen(app).query_one(GlacierHeader).render())
        assert "profile default · region us-east-1 · endpoint" in text
        assert "defaultregion" not in text


async def test_dialogs_show_their_own_keys(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        # The footer fills in after the first refresh: wait for it, never a fixed pause.
        await wait_for(pilot, lambda: "Restore" in footer_keys(app))  # the main screen's own
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen)
                       and "Close" in footer_keys(app))
        keys = footer_keys(app)
        assert "Restore" not in keys and "Quit" not in keys
        await pilot.press("escape")
        await select_folder(pilot, app)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen)
                       and "Cancel" in footer_keys(app))
        keys = footer_keys(app)
        assert "Restore" in keys and "Download" not in keys


async def select_folder(pilot: Any, app: GlacierApp) -> None:
    """The cursor on family-photos' first folder (its inventory is imported first)."""
    from glacier_tui.glacier.inventory import import_inventory

    main = main_screen(app)
    photos = main.connection.vaults["family-photos"]
    doc = {"VaultARN": photos.arn, "InventoryDate": "2026-01-14T00:00:00Z", "ArchiveList": [
        {"ArchiveId": f"a{n}", "ArchiveDescription": f"photos/IMG_{n}.jpg",
         "CreationDate": "2025-06-01T00:00:00Z", "Size": 100 + n,
         "SHA256TreeHash": "0" * 64} for n in range(3)]}
    import_inventory(app.store, vault_key(photos), io.BytesIO(json.dumps(doc).encode()))
    main.connection.on_inventory_flags(type("F", (), {"flags": {"family-photos": True}})())  # type: ignore[arg-type]
    t = tree(app)
    t.focus()
    assert t.select_vault("family-photos")
    await pilot.pause()
    node = t.vault_node("family-photos")
    assert node is not None
    node.expand()
    await wait_for(pilot, lambda: any(c.data is not None and c.data.kind == "folder"
                                      for c in node.children))
    folder = next(c for c in node.children if c.data is not None and c.data.kind == "folder")
    t.move_cursor(folder)
    await pilot.pause()


async def test_palette_lists_every_key_with_its_key(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        jobs = main_screen(app).query_one(JobTable)
        jobs.focus()
        # Download is offered on a finished job only: put the cursor on one.
        await wait_for(pilot, lambda: any(j.succeeded for j in jobs.jobs.values()))
        jobs.select_job(next(j.job_id for j in jobs.jobs.values() if j.succeeded))
        await wait_for(pilot, lambda: (job := jobs.current_job()) is not None and job.succeeded)
        titles = {c.title for c in key_commands(main_screen(app))}
        assert {"Refresh  R", "Restores  c", "Help  ?", "Quit  q", "Upload  u"} <= titles
        # Typing "down" finds Download (the main screen's key, shown with it).
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"down")
        palette = app.screen
        await wait_for(pilot, lambda: any(
            "Download" in str(palette.query_one("CommandList").get_option_at_index(i).prompt)
            for i in range(palette.query_one("CommandList").option_count)))
        await pilot.press("escape")


async def test_palette_on_a_dialog_lists_the_dialogs_keys() -> None:
    app = Host(ConfirmScreen("Delete?", ["gone"], confirm_label="Delete"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = {c.title for c in key_commands(app.screen)}
        assert any(t.startswith("Cancel  esc") for t in titles)
        provider = KeyCommands(app.screen)
        hits = [hit async for hit in provider.search("canc")]
        assert hits and "Cancel" in str(hits[0].text)


async def test_y_copies_the_id_under_the_cursor(demo_emulator: Any, tmp_path: Path) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        main = main_screen(app)
        jobs = main.query_one(JobTable)
        jobs.focus()
        await wait_for(pilot, lambda: jobs.current_job() is not None)
        await pilot.press("y")
        assert app.clipboard == jobs.current_job_id()
        assert any("job id" in (n.title or "") for n in app._notifications)
        t = tree(app)
        t.focus()
        assert t.select_vault("scratch")
        await pilot.pause()
        await pilot.press("y")
        assert app.clipboard == main.connection.vaults["scratch"].arn
        await select_folder(pilot, app)
        archives = main.query_one(ArchiveList)
        await wait_for(pilot, lambda: archives.row_count > 0)
        archives.focus()
        await wait_for(pilot, lambda: archives.current_row() is not None)
        await pilot.press("y")
        row = archives.current_row()
        assert row is not None and app.clipboard == row.archive_id


async def test_y_asks_a_widget_with_copy_value_first() -> None:
    from textual.screen import Screen
    from textual.widgets import Static

    import glacier_tui.ui.app as app_module

    class Campaign(Static, can_focus=True):
        def copy_value(self) -> tuple[str, str]:
            return "campaign id", "campaign-7"

    class Only(Screen[None]):
        def compose(self) -> Any:
            yield Campaign("x")

    class App1(GlacierApp):
        CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

        def get_default_screen(self) -> Any:
            return Only()

    app = App1(Settings())
    async with app.run_test(size=(60, 10)) as pilot:
        app.screen.query_one(Campaign).focus()
        await pilot.press("y")
        assert app.clipboard == "campaign-7"


async def test_enter_on_the_tiers_confirms_the_highlighted_tier() -> None:
    from glacier_tui.glacier.models import Tier
    from glacier_tui.ui.restore_model import ArchiveRef

    app = Host(RestoreScreen([ArchiveRef("a1", "x.jpg", 10)], {}, "Standard"))
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")  # Bulk highlighted, not picked with space
        await pilot.pause()
    assert app.result.tier is Tier.BULK


async def test_vault_settings_tabs_by_brackets_and_digits() -> None:
    from tests.app.test_screens_vault_settings import FakeService

    class SettingsHost(Host):
        pass

    app = SettingsHost(VaultSettingsScreen(FakeService(), "photos"))  # type: ignore[arg-type]
    async with app.run_test(size=(110, 34)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        tabs = app.screen.query_one(TabbedContent)
        assert tabs.active == "tab-notifications"
        await pilot.press("right_square_bracket")
        assert tabs.active == "tab-tags"
        await pilot.press("4")
        assert tabs.active == "tab-lock"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert tabs.active == "tab-tags"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert tabs.active == "tab-capacity"  # wraps around
        assert "Next tab" in [k.description for k in app.screen.query(FooterKey)]


async def test_brackets_are_typed_in_the_policy_editor() -> None:
    from tests.app.test_screens_vault_settings import FakeService

    app = Host(VaultSettingsScreen(FakeService(), "photos"))  # type: ignore[arg-type]
    async with app.run_test(size=(110, 34)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("3")
        editor = app.screen.query_one("#policy-text")
        editor.focus()
        await pilot.press("right_square_bracket")
        assert app.screen.query_one(TabbedContent).active == "tab-policy"


# -- no accidental loss -------------------------------------------------------------------


async def test_q_typed_while_a_dialog_opens_does_not_quit(
    demo_emulator: Any, tmp_path: Path
) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        await select_folder(pilot, app)
        main = main_screen(app)
        release = threading.Event()
        resolve = main.restore.resolve_archives

        def slow_resolve(selection: Any) -> Any:
            release.wait(10)  # the dialog is still being prepared when q arrives
            return resolve(selection)

        main.restore.resolve_archives = slow_resolve  # type: ignore[method-assign]
        await pilot.press("r", "q")
        await pilot.pause()
        assert app.is_running and app.screen is main
        release.set()
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


async def test_quit_while_a_campaign_runs_asks_and_says_it_resumes(
    demo_emulator: Any, tmp_path: Path
) -> None:
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        main_screen(app).campaigns.board.active.add(1)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "restore campaign" in text and "resume" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
        main_screen(app).campaigns.board.active.clear()


def test_demo_keeps_downloads_and_says_where(tmp_path: Path) -> None:
    backend = DemoBackend(url="http://127.0.0.1:1", root=tmp_path / "demo")
    (backend.root / "emulator").mkdir(parents=True)
    (backend.root / "store.sqlite3").write_bytes(b"x")
    backend.download_dir.mkdir()
    (backend.download_dir / "IMG_0001.jpg").write_bytes(b"photo")
    assert backend.stop() == backend.download_dir
    assert (backend.download_dir / "IMG_0001.jpg").read_bytes() == b"photo"
    assert sorted(p.name for p in backend.root.iterdir()) == ["downloads"]

    empty = DemoBackend(url="http://127.0.0.1:1", root=tmp_path / "demo2")
    (empty.root / "emulator").mkdir(parents=True)
    assert empty.stop() is None
    assert not empty.root.exists()  # nothing downloaded: nothing left behind


# -- the demo shows the product -----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoBackend]:
    backend = start_demo(tmp_path_factory.mktemp("demo"))
    yield backend
    backend.stop()


def test_demo_starts_with_every_inventory_imported(demo_backend: DemoBackend) -> None:
    store = Store(demo_backend.store_path)
    try:
        keys = store.vault_keys()
    finally:
        store.close()
    arn = "arn:aws:glacier:us-east-1:123456789012:vaults/"
    assert {arn + n for n in ("family-photos", "media-archive", "photo-library", "scratch")} \
        <= set(keys)
    assert demo_backend.inventories == len(keys)


def test_demo_clock_is_virtual_and_never_ahead_of_the_real_date(
    demo_backend: DemoBackend,
) -> None:
    now = demo_backend.now()
    real = datetime.now(UTC)
    assert now < real - DEMO_START_BEHIND + timedelta(days=1)  # 30 days back, less its run
    assert demo_backend.now() >= now  # and it moves on


async def test_demo_app_shows_virtual_time_and_browsable_folders(
    demo_backend: DemoBackend, tmp_path: Path
) -> None:
    from glacier_tui.ui.formatting import expires_in

    app = GlacierApp(Settings(download_dir=tmp_path / "dl", poll_interval=0.2), demo=True)
    app.demo_backend = demo_backend  # as the connect worker sets it
    async with app.run_test(size=(140, 40)) as pilot:
        await connected(pilot, app)
        main = main_screen(app)
        await wait_for(pilot, lambda: tree(app).has_inventory.get("family-photos") is True)
        assert abs((app.clock() - demo_backend.now()).total_seconds()) < 3600
        jobs = main.query_one(JobTable)
        await wait_for(pilot, lambda: bool(jobs.jobs))
        assert abs((jobs.now - demo_backend.now()).total_seconds()) < 3600  # the table's too
        for job in jobs.jobs.values():
            assert job.creation_date is None or job.creation_date <= app.clock()
            if job.output_expires is not None:  # the countdown is the emulator's: <= 24 h
                left = job.output_expires - app.clock()
                assert left <= timedelta(hours=24), expires_in(job.output_expires, app.clock())
        app._demo_backend = None  # the module fixture stops it, not the app's exit


async def test_first_run_hint_once(demo_emulator: Any, tmp_path: Path) -> None:
    for expected in (True, False):
        app = GlacierApp(make_app(demo_emulator.url, tmp_path).settings, clock=lambda: START,
                         store=Store(tmp_path / "store.sqlite3"), first_run_hint=True)
        async with app.run_test(size=(120, 34)) as pilot:
            await connected(pilot, app)
            await app.workers.wait_for_complete()
            await pilot.pause()
            titles = [n.title for n in app._notifications]
            assert ("How to restore" in titles) is expected
            assert any("press r to restore" in n.message for n in app._notifications) \
                is expected


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_dead_endpoint_error_screen_within_seconds(tmp_path: Path) -> None:
    # The default settings (retries included): the error screen still comes at once.
    app = GlacierApp(Settings(endpoint_url=f"http://127.0.0.1:{_closed_port()}",
                              region="us-east-1", download_dir=tmp_path / "dl"),
                     clock=lambda: START, store=Store(tmp_path / "store.sqlite3"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), steps=100)


# -- one key for a vault's inventory --------------------------------------------------------


def test_inventory_import_by_name_is_found_by_the_app(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from glacier_tui.cli import main

    arn = "arn:aws:glacier:us-east-1:123456789012:vaults/photos"
    doc = {"VaultARN": arn, "InventoryDate": "2026-01-14T00:00:00Z", "ArchiveList": [
        {"ArchiveId": "a1", "ArchiveDescription": "holiday/beach.jpg",
         "CreationDate": "2025-06-01T00:00:00Z", "Size": 10, "SHA256TreeHash": "0" * 64}]}
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(doc))
    db = tmp_path / "store.sqlite3"
    assert main(["inventory", "import", str(path), "--vault", "photos", "--db", str(db),
                 "--quiet"]) == 0
    app_key = vault_key(Vault(name="photos", arn=arn))
    store = Store(db)
    try:
        assert store.vault_keys() == [app_key] == [arn]
    finally:
        store.close()
    capsys.readouterr()
    assert main(["inventory", "ls", "--vault", "photos", "--db", str(db)]) == 0
    assert "holiday/" in capsys.readouterr().out


def test_vault_key_resolution_rules() -> None:
    arn = "arn:aws:glacier:us-east-1:1:vaults/photos"
    other = "arn:aws:glacier:eu-west-1:1:vaults/photos"
    assert vault_store_key("photos", arn) == arn
    assert vault_store_key("photos", arn, ["photos"]) == "photos"  # imported by name before
    assert resolve_vault_key("photos", [arn]) == arn
    assert resolve_vault_key("photos", [arn, other]) == "photos"  # ambiguous: kept as given
    assert resolve_vault_key("photos", [], document_arn=arn) == arn
    assert resolve_vault_key("photos", [], document_arn=other.replace("photos", "x")) == "photos"
    assert resolve_vault_key(other, [arn]) == other


def _dialogs() -> list[Any]:
    from glacier_tui.ui.restore_model import ArchiveRef
    from glacier_tui.ui.screens.create_vault import CreateVaultScreen
    from glacier_tui.ui.screens.delete_vault import DeleteVaultScreen
    from glacier_tui.ui.screens.duplicates import DuplicatesScreen
    from glacier_tui.ui.screens.jump import JumpScreen
    from glacier_tui.ui.screens.upload import UploadScreen

    vault = Vault(name="photos", arn="arn:aws:glacier:us-east-1:1:vaults/photos",
                  number_of_archives=0, size_in_bytes=0)
    return [
        lambda: ConfirmScreen("Delete?", ["gone"], confirm_label="Delete"),
        lambda: CreateVaultScreen(set()),
        lambda: DeleteVaultScreen(vault, 0),
        lambda: DuplicatesScreen("photos", []),
        lambda: JumpScreen(),
        lambda: UploadScreen(Path.cwd(), vault="photos"),
        lambda: RestoreScreen([ArchiveRef("a1", "x.jpg", 10)], {}, "Standard"),
        lambda: HelpScreen([("Main screen", [("r", "Restore", "restore")])]),
    ]


@pytest.mark.parametrize("make", _dialogs())
async def test_every_dialog_has_a_footer_with_its_keys(make: Any) -> None:
    screen = make()
    app = Host(screen)
    async with app.run_test(size=(100, 34)) as pilot:
        await pilot.pause()
        assert app.screen is screen
        shown = [k.description for k in screen.query(FooterKey)]
        own = {b.description for b in screen._bindings.shown_keys}
        assert own and own <= set(shown) | {""}, (shown, own)


async def test_q_after_a_dialog_closed_still_quits(demo_emulator: Any, tmp_path: Path) -> None:
    """A dialog's worker that goes on after its dialog (an upload) does not swallow q."""
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        main = main_screen(app)
        release = asyncio.Event()

        async def ask_then_work() -> None:
            await app.push_screen_wait(ConfirmScreen("Go?", ["x"], confirm_label="Go"))
            await release.wait()  # the work the dialog asked for

        main.run_worker(ask_then_work(), group="dialog", exit_on_error=False)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is main)
        assert not app.dialog_opening()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_demo_exit_says_where_the_downloads_are(demo_emulator: Any, tmp_path: Path) -> None:
    kept = tmp_path / "demo" / "downloads"

    class Backend:
        def now(self) -> datetime:
            return START

        def stop(self) -> Path:
            return kept

    app = make_app(demo_emulator.url, tmp_path)
    app.demo_backend = Backend()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
    assert any(str(kept) in note and "kept" in note for note in app.exit_notes)


async def test_a_failing_worker_of_a_part_or_widget_is_said_on_screen(
        demo_emulator: Any, tmp_path: Path) -> None:
    """Worker.StateChanged does not bubble: each node with workers reports its own."""
    app = make_app(demo_emulator.url, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await connected(pilot, app)
        main = main_screen(app)

        async def boom(where: str) -> None:
            raise RuntimeError(f"boom in the {where}")

        main.detail.run_worker(boom("detail part"), exit_on_error=False)
        main.vault_tree.run_worker(boom("vault tree"), exit_on_error=False)
        await wait_for(pilot, lambda: len([n for n in app._notifications
                                           if n.title == "Error"]) == 2)
        texts = sorted(n.message for n in app._notifications if n.title == "Error")
        assert texts == ["RuntimeError: boom in the detail part",
                         "RuntimeError: boom in the vault tree"]
