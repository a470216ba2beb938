"""A close-out in the TUI's campaigns pane (the Restores screen): its row, live from the
purge runner's progress, the DeleteVault stage it waits in, x to stop or cancel it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input

from bench.purge_bench import VAULT
from glacier_tui.glacier.purge import PurgeStatus, get_purge
from glacier_tui.glacier.store import Store
from glacier_tui.ui.screens.confirm import ConfirmScreen
from glacier_tui.ui.screens.restores import RestoresScreen
from glacier_tui.ui.widgets.restores_panel import RestoresPanel
from tests.app_harness import main_screen, make_app, wait_for
from tests.emulator.test_purge import _open_close_out, _ops, _restored, _seed, _store


async def _confirm_close_out(pilot: Any, app: Any, manifest: Path,
                             before_start: Any = None) -> int:
    screen = await _open_close_out(pilot, app)
    screen.query_one("#proofs", Input).value = str(manifest)
    screen.query_one("#proofs", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.info is not None, steps=400)
    if before_start is not None:
        before_start()
    screen.query_one("#typed", Input).value = VAULT
    screen.query_one("#typed", Input).focus()
    await pilot.press("enter")
    return int(screen.info.id)


def _block_text(app: Any, purge_id: int) -> str:
    block = app.screen.query_one(RestoresPanel).purges[purge_id]
    return " | ".join(str(block.query_one(f".{c}").render())
                      for c in ("title", "status", "stats", "stage"))


async def test_a_close_out_is_a_row_of_the_restores_screen_and_x_stops_then_cancels_it(
        emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 5)
    emulator.advance(13 * 3600)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives[:3])
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        main = main_screen(app)
        # Every request after the plan hangs: the deletions are under way, none done.
        pid = await _confirm_close_out(pilot, app, manifest,
                                       lambda: emulator.set_faults("stall_after=0"))
        await wait_for(pilot, lambda: pid in main.close_out.rows
                       and main.close_out.rows[pid].status == "running", steps=400)
        assert pid in main.close_out.running
        assert app.running_transfers() == 0  # no longer a transfer
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        text = _block_text(app, pid)
        assert f"close-out {VAULT}" in text and "running" in text and "0/3 deleted" in text
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert str(app.screen.query_one("#title").render()) == f"Stop closing out {VAULT}?"
        await pilot.press("y")
        await wait_for(pilot, lambda: pid not in main.close_out.running
                       and main.close_out.rows[pid].status == "paused", steps=400)
        emulator.set_faults("")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        await wait_for(pilot, lambda: "stopped" in _block_text(app, pid))
        assert "P on the vault resumes it" in _block_text(app, pid)
        with Store(tmp_path / "store.sqlite3") as store:
            assert get_purge(store, pid).status is PurgeStatus.PAUSED  # resumable
        # x again: not running here, so it is cancelled for good.
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "for good" in str(app.screen.query_one("#title").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: main.close_out.rows[pid].status == "cancelled")
        await wait_for(pilot, lambda: "cancelled" in _block_text(app, pid))
    # The next start lists it from the store.
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        main = main_screen(app)
        await wait_for(pilot, lambda: pid in main.close_out.rows)
        assert main.close_out.rows[pid].status == "cancelled" and not main.close_out.running


async def test_a_close_out_waiting_for_its_inventory_shows_when_it_is_expected(
        emulator: Any, tmp_path: Path) -> None:
    archives = _seed(emulator, 3)
    emulator.advance(13 * 3600)
    _store(tmp_path, archives).close()
    manifest = _restored(tmp_path, archives)
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        main = main_screen(app)
        pid = await _confirm_close_out(pilot, app, manifest)
        await wait_for(pilot, lambda: pid in main.close_out.rows and main.close_out.rows[pid]
                       .status == "awaiting-inventory" and not main.close_out.running,
                       steps=600)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        text = _block_text(app, pid)
        assert "waiting for inventory" in text and "3/3 deleted" in text
        assert "DeleteVault: waiting for inventory, expected around 20" in text
        titles = [n.title for n in app._notifications]
    assert f"Close-out {VAULT}" in titles
    assert len(_ops(emulator, "DeleteArchive")) == 3
