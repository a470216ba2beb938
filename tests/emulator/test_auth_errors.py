"""Credentials the emulator refuses, as the user sees them: the app's error screen and the
CLI's one-line message, for a wrong key, a wrong secret, a skewed clock and an expired token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_harness import make_app, wait_for

from glacier_tui import cli
from glacier_tui.emulator import EmulatorThread
from glacier_tui.ui.screens.error import ErrorScreen
from tests.conftest import emulator_config

EXPIRED = "testing:testing:testing:2020-01-01T00:00:00Z"


@pytest.fixture
def expired_emulator(tmp_path: Path) -> Iterator[Any]:
    with EmulatorThread(emulator_config(tmp_path / "emu-expired", credentials=EXPIRED)) as emu:
        yield emu


def refuse(how: str, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "wrong-key":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDNOTKNOWN")
    elif how == "wrong-secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    elif how == "clock-skew":
        emulator.set_config(auth_clock_offset_seconds=3600)  # this machine is an hour slow


# (how, the emulator fixture, error-screen title, text in message + hint, CLI text)
CASES = [
    ("wrong-key", "emulator", "Access denied",
     "The AWS credentials were not accepted: The security token included in the request is "
     "invalid. Check the access key ID",
     "The AWS credentials were not accepted: The security token included in the request is "
     "invalid."),
    ("wrong-secret", "emulator", "Access denied",
     "The AWS credentials were not accepted: The request signature we calculated does not "
     "match the signature you provided.",
     "The AWS credentials were not accepted: The request signature we calculated does not "
     "match"),
    ("clock-skew", "emulator", "Access denied",
     "The request was signed with a clock that is too far off: Signature expired: ",
     "Correct this machine's clock (enable NTP)"),
    ("expired-token", "expired_emulator", "Credentials expired",
     "The AWS session token has expired: The security token included in the request is "
     "expired Refresh the credentials",
     "The AWS session token has expired: The security token included in the request is "
     "expired"),
]


@pytest.mark.parametrize(("how", "fixture", "title", "screen_text", "_cli"), CASES,
                         ids=[c[0] for c in CASES])
async def test_refused_credentials_show_an_error_screen(
        how: str, fixture: str, title: str, screen_text: str, _cli: str,
        request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = request.getfixturevalue(fixture)
    refuse(how, emulator, monkeypatch)
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), steps=400)
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert screen.title_text == title
        shown = " ".join(f"{screen.message} {screen.hint}".split())
        assert screen_text in shown
        await pilot.press("q")


@pytest.mark.parametrize(("how", "fixture", "_title", "_screen", "cli_text"), CASES,
                         ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["download", "upload"])
def test_refused_credentials_give_one_cli_line(
        how: str, fixture: str, _title: str, _screen: str, cli_text: str, command: str,
        request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    emulator = request.getfixturevalue(fixture)
    refuse(how, emulator, monkeypatch)
    monkeypatch.chdir(tmp_path)
    common = ["--endpoint-url", emulator.url, "--region", "us-east-1", "--vault", "v"]
    if command == "download":
        argv = ["download", *common, "--job", "JOB", "-o", f"{tmp_path}/"]
    else:
        (tmp_path / "f.txt").write_text("data")
        argv = ["upload", *common, str(tmp_path / "f.txt")]
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 1, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert cli_text in lines[0]
    assert list(tmp_path.glob("JOB*")) == []
