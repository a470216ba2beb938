"""Helpers shared by the app's pilot tests: build the app, pump it, reach its widgets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glacier_tui.config import Settings
from glacier_tui.glacier.store import Store
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.screens.main import MainScreen
from glacier_tui.ui.widgets.vault_tree import VaultTree

START = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)  # the emulators' frozen clock


def make_app(url: str, tmp_path: Path, **overrides: Any) -> GlacierApp:
    """The app on ``url`` with a fixed clock, a tmp store and fast polling."""
    values: dict[str, Any] = {
        "endpoint_url": url, "region": "us-east-1", "download_dir": tmp_path / "downloads",
        "poll_interval": 0.2, "max_attempts": 1, "default_tier": "Expedited",
    }
    values.update(overrides)
    return GlacierApp(Settings(**values), clock=lambda: START,
                      store=Store(tmp_path / "store.sqlite3"))


async def wait_for(pilot: Any, cond: Callable[[], bool], steps: int = 300) -> None:
    """Pump the app until cond() holds (bounded by steps, never a wall-clock assertion)."""
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def main_screen(app: GlacierApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


def tree(app: GlacierApp) -> VaultTree:
    return main_screen(app).query_one(VaultTree)
