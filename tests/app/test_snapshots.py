"""Snapshot tests of the main app (frozen emulator clock, fixed app clock, seed 0)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.config import Settings
from glacier_tui.glacier.store import Store
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.screens.error import ErrorScreen
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.vault_tree import VaultTree

START = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as e:
        yield e


def _app(url: str, tmp_path: Path, **overrides: Any) -> GlacierApp:
    values: dict[str, Any] = {"endpoint_url": url, "region": "us-east-1",
                              "download_dir": tmp_path / "dl", "poll_interval": 3600,
                              "max_attempts": 1}
    values.update(overrides)
    return GlacierApp(Settings(**values), clock=lambda: START,
                      store=Store(tmp_path / "store.sqlite3"))


async def _loaded(pilot: Any, extra: Callable[[Any], Any] | None = None) -> None:
    app = pilot.app
    main = app.screen_stack[0]
    for _ in range(200):
        if main.connection.vaults and main.query_one(JobTable).jobs:
            break
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.pause(0.5)  # the settings worker debounces
    await app.workers.wait_for_complete()
    # The emulator's port changes every run: show a fixed endpoint.
    main.query_one(GlacierHeader).set_info(endpoint="http://127.0.0.1:PORT")
    # Rows arrive vault by vault and the cursor follows its job: start from the top.
    table = main.query_one(JobTable)
    table.move_cursor(row=0, animate=False)
    table.scroll_home(animate=False)
    await _settle(pilot)
    if extra is not None:
        result = extra(pilot)
        if result is not None:
            await result
    await _settle(pilot)


async def _settle(pilot: Any, rounds: int = 60) -> None:
    """Wait until two screenshots 0.1 s apart agree: a slow machine gets more time."""
    previous = None
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)
        shot = pilot.app.export_screenshot()
        if shot == previous:
            return
        previous = shot


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40)])
def test_main_screen(snap_compare: Any, emu: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(_app(emu.url, tmp_path), terminal_size=size, run_before=_loaded)


def test_readonly_main_screen(snap_compare: Any, emu: Any, tmp_path: Path) -> None:
    assert snap_compare(_app(emu.url, tmp_path, readonly=True), terminal_size=(120, 40),
                        run_before=_loaded)


def test_help_screen(snap_compare: Any, emu: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        async def more(p: Any) -> None:
            await p.press("question_mark")
            await p.pause()
        await _loaded(pilot, more)

    assert snap_compare(_app(emu.url, tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_job_details(snap_compare: Any, emu: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        async def more(p: Any) -> None:
            table = p.app.screen.query_one(JobTable)
            table.focus()
            await p.press("down", "down", "down")
            await p.pause()
        await _loaded(pilot, more)

    assert snap_compare(_app(emu.url, tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_job_json(snap_compare: Any, emu: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        async def more(p: Any) -> None:
            p.app.screen.query_one(JobTable).focus()
            await p.pause()
            p.app.screen.query_one("#detail").active = "tab-json"
            await p.pause()
        await _loaded(pilot, more)

    assert snap_compare(_app(emu.url, tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_empty_vault(snap_compare: Any, emu: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        async def more(p: Any) -> None:
            tree = p.app.screen.query_one(VaultTree)
            tree.focus()
            tree.select_vault("empty-vault")
            await p.press("enter")
            await p.pause(0.5)
        await _loaded(pilot, more)

    assert snap_compare(_app(emu.url, tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_error_screen(snap_compare: Any, tmp_path: Path) -> None:
    port = 9  # discard: nothing listens there on loopback, and the text stays fixed

    async def run_before(pilot: Any) -> None:
        for _ in range(400):
            if isinstance(pilot.app.screen, ErrorScreen):
                break
            await pilot.pause(0.05)
        await _settle(pilot)

    app = _app(f"http://127.0.0.1:{port}", tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_archive_list(snap_compare: Any, emu: Any, tmp_path: Path) -> None:
    """A folder's archives in the virtual list (inventory loaded with `d`), at 80x24."""
    async def run_before(pilot: Any) -> None:
        async def more(p: Any) -> None:
            from glacier_tui.ui.widgets.archive_list import ArchiveList

            main = p.app.screen
            table = main.query_one(JobTable)
            inv = next(j for j in table.jobs.values() if j.is_inventory_retrieval
                       and j.succeeded and j.vault_name == "family-photos")
            table.focus()
            table.select_job(inv.job_id)
            await p.pause()
            await p.press("d")
            tree = main.query_one(VaultTree)
            for _ in range(300):
                node = tree.vault_node("family-photos")
                if node is not None and any(c.data is not None and c.data.kind == "folder"
                                            for c in node.children):
                    break
                await p.pause(0.05)
            tree.focus()
            tree.select_vault("family-photos")
            await p.pause()
            await p.press("down")
            await p.app.workers.wait_for_complete()
            await p.pause(0.3)
            await p.app.workers.wait_for_complete()
            main.query_one(ArchiveList).focus()
            await p.pause(0.3)
        await _loaded(pilot, more)

    assert snap_compare(_app(emu.url, tmp_path), terminal_size=(80, 24), run_before=run_before)
