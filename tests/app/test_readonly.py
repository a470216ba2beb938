"""--readonly: every main-screen binding pressed, settings screen opened, CLI upload refused;
the emulator's request log shows no mutating operation at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from glacier_tui.config import Settings
from glacier_tui.glacier.store import Store
from glacier_tui.ui.app import GlacierApp

START = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
READ_PREFIXES = ("Describe", "List", "Get")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as emu:
        yield emu


def _mutating(emu: Any) -> list[str]:
    return [str(e.get("operation")) for e in emu.requests()
            if not str(e.get("operation") or "").startswith(READ_PREFIXES)]


async def test_app_readonly_sends_nothing_mutating(demo: Any, tmp_path: Path) -> None:
    demo.clear_requests()
    values: dict[str, Any] = dict(endpoint_url=demo.url, region="us-east-1", readonly=True,
                        poll_interval=0.2, max_attempts=1, download_dir=tmp_path / "dl")
    settings = Settings(**values)
    app = GlacierApp(settings, clock=lambda: START, store=Store(tmp_path / "s.sqlite3"))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(20):
            await pilot.pause(0.05)
        keys: list[str] = []
        for _title, rows in app.help_sections():
            for key_list, _desc, _id in rows:
                for key in key_list.split(","):
                    if key not in ("q", "ctrl+p") and key not in keys:
                        keys.append(key)
        # Mutating bindings are hidden from help in readonly mode: press them anyway.
        keys += ["r", "i", "u", "n", "delete", "D", "d", "enter", "R", "s"]
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            if len(app.screen_stack) > 1:
                # Confirm anything that asks, then back out to the main screen.
                await pilot.press("y", "enter")
                for _ in range(3):
                    if len(app.screen_stack) > 1:
                        await pilot.press("escape")
        # Workers started by the keys get time to send whatever they would.
        for _ in range(10):
            await pilot.pause(0.05)
        demo.advance(6 * 3600)
        for _ in range(10):
            await pilot.pause(0.05)
    assert demo.requests(), "the app made no requests at all"
    assert _mutating(demo) == []


def test_cli_upload_refused(emulator: Any, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    emulator.clear_requests()
    f = tmp_path / "a.txt"
    f.write_text("a")
    rc = cli.main(["upload", "--readonly", "--endpoint-url", emulator.url, "--region",
                   "us-east-1", "--vault", "v", str(f)])
    assert rc == 2
    assert "uploads are refused in read-only mode" in capsys.readouterr().err
    assert emulator.requests() == []
