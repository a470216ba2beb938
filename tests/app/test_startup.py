"""Start-up through the CLI's path (``cli.build_app``): the boot screen is the first frame,
then the settings load and the main screen replaces it; bad settings exit 2 with one line."""

from __future__ import annotations

import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_harness import wait_for
from textual import events

from glacier_tui import cli
from glacier_tui.config import ConfigError, Settings
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.boot import BootScreen
from glacier_tui.ui.screens.main import MainScreen
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.vault_tree import VaultTree

ROOT = Path(__file__).resolve().parents[2]
# Not loaded at the first frame. (textual.widgets._tree is: textual.app imports it.)
HEAVY = ("botocore", "aioboto3", "aiobotocore", "pydantic", "pydantic_settings",
         "glacier_tui.config", "glacier_tui.ui.screens.main", "glacier_tui.ui.widgets",
         "glacier_tui.demo", "glacier_tui.emulator", "glacier_tui.glacier",
         "textual.widgets._data_table", "textual.widgets._tabbed_content")


@pytest.fixture
def _restore_log_handlers() -> Iterator[None]:
    """The CLI path sets up the log file; drop its handler after the test."""
    logger = logging.getLogger("glacier_tui")
    before = list(logger.handlers)
    yield
    for handler in [h for h in logger.handlers if h not in before]:
        logger.removeHandler(handler)
        handler.close()


def _first_frame_hook(app: GlacierApp, seen: dict[str, Any]) -> Any:
    """On the app's Mount, ask for a callback after the next screen refresh (the first frame)."""

    def at_first_frame() -> None:
        screen = app.screen
        seen["screen"] = screen
        seen["header"] = str(screen.query_one("#boot-header").render()) \
            if isinstance(screen, BootScreen) else ""
        seen["panes"] = [str(w.render()) for w in screen.query(".boot-pane")]
        seen["booting"] = app.booting

    def hook(message: Any) -> None:
        if "armed" not in seen and isinstance(message, events.Mount) \
                and message._sender is app:
            seen["armed"] = True
            app.call_after_refresh(at_first_frame)

    return hook


@pytest.mark.usefixtures("_restore_log_handlers")
async def test_cli_demo_boot_screen_then_main_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLACIER_TUI_POLL_INTERVAL", "3600")
    args = cli.build_parser(["--demo"]).parse_args(["--demo"])
    app = cli.build_app(args)
    assert app.booting
    seen: dict[str, Any] = {}
    async with app.run_test(size=(120, 40), message_hook=_first_frame_hook(app, seen)) \
            as pilot:
        await wait_for(pilot, lambda: "screen" in seen)
        # The first frame: the boot screen's title bar and the skeleton of the main layout.
        assert isinstance(seen["screen"], BootScreen) and seen["booting"]
        assert "glacier-tui" in seen["header"] and "DEMO" in seen["header"]
        assert "starting" in seen["header"]
        assert "Loading vaults…" in seen["panes"] and "Starting…" in seen["panes"]
        # Then the settings load (from the environment, as the CLI does) and the main
        # screen replaces the boot screen, filled by its workers as usual.
        await wait_for(pilot, lambda: isinstance(app.screen_stack[0], MainScreen), steps=400)
        main = app.screen_stack[0]
        assert isinstance(main, MainScreen) and app.screen is main
        assert not app.booting and app.settings.poll_interval == 3600
        await wait_for(pilot, lambda: bool(main.connection.vaults), steps=600)
        tree = main.query_one(VaultTree)
        assert {"family-photos", "media-archive"} <= set(main.connection.vaults)
        assert tree.vault_node("family-photos") is not None
        header = str(main.query_one(GlacierHeader).render())
        assert "DEMO" in header
        await pilot.press("q")
    assert app.return_code in (0, None) and not app.startup_error


async def test_boot_screen_is_responsive_and_quits() -> None:
    """While the settings load, the boot screen answers keys: q quits, the palette waits."""
    release = threading.Event()

    def slow_settings() -> Settings:
        release.wait(30)
        return Settings()

    app = GlacierApp(load_settings=slow_settings, demo=True)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, BootScreen) and app.booting
            assert app.check_action("command_palette", ()) is False
            with pytest.raises(RuntimeError):
                _ = app.settings
            await pilot.press("ctrl+p")
            assert isinstance(app.screen, BootScreen)
            await pilot.press("q")
    finally:
        release.set()
    assert app.return_code in (0, None)


async def test_bad_settings_after_first_frame_exit_2() -> None:
    def bad_settings() -> Settings:
        raise ConfigError("environment GLACIER_TUI_POLL_INTERVAL: poll_interval: bad")

    app = GlacierApp(load_settings=bad_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.return_code == 2)
    assert app.return_code == 2
    assert app.startup_error == "environment GLACIER_TUI_POLL_INTERVAL: poll_interval: bad"


def test_glacier_app_needs_settings_or_a_loader() -> None:
    with pytest.raises(TypeError):
        GlacierApp()
    with pytest.raises(TypeError):
        GlacierApp(Settings(), load_settings=Settings)


_FIRST_FRAME_MODULES = r"""
import asyncio, json, sys
from textual import events
from glacier_tui import cli
HEAVY = %r
async def main():
    args = cli.build_parser(["--demo"]).parse_args(["--demo"])
    app = cli.build_app(args)
    seen = {}
    def at_first_frame():
        seen["screen"] = type(app.screen).__name__
        seen["loaded"] = sorted({m for m in sys.modules if m.startswith(HEAVY)})
    def hook(message):
        if "armed" not in seen and isinstance(message, events.Mount) \
                and message._sender is app:
            seen["armed"] = True
            app.call_after_refresh(at_first_frame)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        def vaults():
            connection = getattr(app.screen_stack[0], "connection", None)
            return sorted(connection.vaults) if connection is not None else []
        for _ in range(3000):
            if "screen" in seen and vaults():
                break
            await pilot.pause(0.01)
        seen["filled"] = type(app.screen_stack[0]).__name__ if vaults() else "nothing"
        seen.pop("armed")
        print(json.dumps(seen))
asyncio.run(main())
"""


def test_cli_first_frame_loads_no_botocore_settings_or_main_screen(tmp_path: Path) -> None:
    """The first frame of `glacier-tui --demo` comes before aioboto3, pydantic and the main
    screen's widgets are imported (fresh interpreter); the vaults are filled later."""
    import json

    env = {**os.environ, "PYTHONPATH": str(ROOT), "GLACIER_TUI_POLL_INTERVAL": "3600"}
    out = subprocess.run([sys.executable, "-c", _FIRST_FRAME_MODULES % (HEAVY,)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=90)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"screen": "BootScreen", "loaded": [], "filled": "MainScreen"}


_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]")


def _run_in_pty(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, bytes]:
    """Run the CLI on a pseudo-terminal (as a user would); return status and all output."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "glacier_tui", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("GLACIER_TUI_POLL_INTERVAL", "-1",
     "glacier-tui: environment GLACIER_TUI_POLL_INTERVAL: poll_interval: "
     "Input should be greater than 0; got '-1'"),
    ("GLACIER_TUI_DEFAULT_TIER", "Fast",
     "glacier-tui: environment GLACIER_TUI_DEFAULT_TIER: default_tier: "),
])
def test_app_bad_setting_exits_2_with_one_line_after_the_terminal_is_restored(
    tmp_path: Path, setting: str, value: str, expected: str
) -> None:
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    env = {**os.environ, setting: value, "GLACIER_TUI_CONFIG": str(cfg),
           "TERM": "xterm-256color"}
    status, out = _run_in_pty([], env)
    assert status == 2
    assert b"\x1b[?1049l" in out  # the app had started and restored the terminal
    after = _ANSI.sub(b"", out.rsplit(b"\x1b[?1049l", 1)[1]).decode()
    lines = [line for line in after.splitlines() if line.strip()]
    assert len(lines) == 1, after
    assert lines[0].startswith(expected), lines[0]
    assert "Traceback" not in out.decode(errors="replace")
    if setting == "GLACIER_TUI_DEFAULT_TIER":
        assert "Expedited" in lines[0]


# -- the keymap is checked at start-up -------------------------------------------------

@pytest.mark.parametrize(("keymap", "expected"), [
    ('nosuch = "ctrl+n"', "glacier-tui: keymap: unknown binding id 'nosuch'"),
    ('restore = "d"', "glacier-tui: keymap: restore = 'd' clashes with 'download'"),
])
def test_bad_keymap_exits_2_with_one_line(tmp_path: Path, keymap: str, expected: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[keymap]\n{keymap}\n")
    env = {**os.environ, "GLACIER_TUI_CONFIG": str(cfg), "TERM": "xterm-256color"}
    status, out = _run_in_pty([], env)
    assert status == 2
    after = _ANSI.sub(b"", out.rsplit(b"\x1b[?1049l", 1)[1]).decode()
    lines = [line for line in after.splitlines() if line.strip()]
    assert len(lines) == 1, after
    assert lines[0].startswith(expected), lines[0]


def test_keymap_check_accepts_a_good_keymap_and_knows_every_id() -> None:
    from glacier_tui.ui.keymap import KeymapError, check_keymap, known_ids

    check_keymap({"restore": "ctrl+r", "quit": "ctrl+q", "mark": "m"})
    # The archive list's keys have ids (one id rebinds the list's and the tree's mark).
    assert {"mark", "sort", "duplicates", "detail_next_tab", "detail_prev_tab"} <= known_ids()
    with pytest.raises(KeymapError, match="clashes with 'duplicates'"):
        check_keymap({"sort": "D"})
    with pytest.raises(KeymapError, match="clashes with 'select_cursor'"):
        check_keymap({"mark": "enter"})
