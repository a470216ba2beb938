"""No credential or signature ever reaches logs, error messages or screenshots; logs are 0600."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from glacier_tui.config import Settings
from glacier_tui.glacier.store import Store
from glacier_tui.ui.app import GlacierApp, setup_logging

KEY, SECRET, TOKEN = "AKIATESTSECRETLEAK01", "SeCrEtLeAkTeSt0123456789abcdefABCDEF0123", \
    "TOKENLEAKTEST" + "x" * 40
FORBIDDEN = (KEY, SECRET, TOKEN, "Signature=", "X-Amz-Signature", "Credential=")


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def emulator(tmp_path: Path) -> Any:
    """The emulator signs with this file's keys, so requests reach the vault and screens."""
    from glacier_tui.emulator import EmulatorThread
    from tests.conftest import emulator_config

    config = emulator_config(tmp_path / "emulator-data", credentials=f"{KEY}:{SECRET}:{TOKEN}")
    with EmulatorThread(config) as emu:
        yield emu


def _clean(text: str, where: str) -> None:
    for needle in FORBIDDEN:
        assert needle not in text, f"{needle!r} leaked into {where}"


def test_cli_failures_leak_nothing(emulator_url: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    runs = [
        ["download", "--endpoint-url", emulator_url, "--vault", "nope", "--job", "J", "-o",
         f"{tmp_path}/"],
        ["download", "--endpoint-url", "http://127.0.0.1:9", "--vault", "v", "--job", "J"],
        ["upload", "--endpoint-url", emulator_url, "--vault", "nope", str(Path(__file__))],
        ["config", "show"],
    ]
    seen = []
    for argv in runs:
        cli.main(["--region", "us-east-1", *argv] if argv[0] != "config" else argv)
        out = capsys.readouterr()
        _clean(out.out + out.err, " ".join(argv[:2]))
        seen.append(out.out + out.err)
    # The signed requests got past the signature check to the vault itself.
    assert "not found" in seen[0].lower() and "not found" in seen[2].lower(), seen


async def _drive_app(emulator: Any, tmp_path: Path) -> str:
    values: dict[str, Any] = dict(endpoint_url=emulator.url, region="us-east-1", poll_interval=0.2,
                        max_attempts=1, download_dir=tmp_path / "dl")
    settings = Settings(**values)
    app = GlacierApp(settings, store=Store(tmp_path / "store.sqlite3"))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(10):
            await pilot.pause(0.05)
        for key in ("question_mark", "escape", "s", "escape", "colon", "escape"):
            await pilot.press(key)
            await pilot.pause(0.05)
        return str(app.save_screenshot(path=str(tmp_path), filename="shot.svg"))


def test_app_log_and_screenshot_leak_nothing(emulator: Any, tmp_path: Path) -> None:
    import asyncio

    path = setup_logging()
    assert path is not None and str(path).startswith(str(tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    root = logging.getLogger("glacier_tui")
    logging.getLogger("glacier_tui.ui").error("probe %s", "error path")
    try:
        shot = asyncio.run(_drive_app(emulator, tmp_path))
        _clean(Path(shot).read_text(), "screenshot")
    finally:
        for h in list(root.handlers):
            if isinstance(h, logging.FileHandler):
                h.close()
                root.removeHandler(h)
    text = path.read_text()
    assert "probe error path" in text
    _clean(text, "app log")
    for f in (tmp_path / "state").rglob("*"):
        if f.is_file():
            _clean(f.read_text(errors="replace"), str(f))
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f


ENDPOINT_PASSWORD = "Pa:ss@w%2Frd"  # ":" and "@" inside, and a percent-encoded "/"


def _no_endpoint_password(text: str, where: str) -> None:
    for needle in (ENDPOINT_PASSWORD, "Pa:ss@w", "Pa:ss@w/rd", "w%2Frd"):
        assert needle not in text, f"the endpoint password leaked into {where}"


def test_endpoint_password_never_reaches_stdout_stderr_or_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import socket

    from glacier_tui.glacier import masking

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://bob:{ENDPOINT_PASSWORD}@127.0.0.1:{port}"
    for argv in (["config", "show", "--endpoint-url", url],
                 ["download", "--region", "us-east-1", "--endpoint-url", url, "--vault", "v",
                  "--job", "J"]):
        cli.main(argv)
        out = capsys.readouterr()
        _no_endpoint_password(out.out + out.err, " ".join(argv[:2]))
    assert "bob:***@127.0.0.1" in cli_config_show(url, capsys)

    path = setup_logging()
    assert path is not None
    root = logging.getLogger("glacier_tui")
    try:
        settings = Settings(endpoint_url=url, region="us-east-1", max_attempts=1,
                            download_dir=tmp_path / "dl")

        async def drive() -> str:
            app = GlacierApp(settings, store=Store(tmp_path / "store.sqlite3"))
            async with app.run_test(size=(140, 30)) as pilot:
                for _ in range(40):
                    await pilot.pause(0.05)
                return str(app.export_screenshot())

        _no_endpoint_password(asyncio.run(drive()), "the screen")
    finally:
        for h in list(root.handlers):
            if isinstance(h, logging.FileHandler):
                h.close()
                root.removeHandler(h)
        masking.forget_all()
    _no_endpoint_password(path.read_text(), "the app log")


def cli_config_show(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    cli.main(["config", "show", "--endpoint-url", url])
    return str(capsys.readouterr().out)
