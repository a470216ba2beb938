"""Hostile text (terminal escapes, OSC 8 links, bidi overrides, CR, Rich markup) is inert
everywhere it is shown: the TUI, the CLI's output and errors, ``config show`` and the log.
Passwords in --endpoint-url never show. CSV exports cannot inject formulas and are atomic.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from glacier_tui.glacier import descriptions, errors, masking, paths, safe_files, sanitize
from glacier_tui.glacier.inventory import import_inventory
from glacier_tui.glacier.inventory_export import csv_cell
from glacier_tui.glacier.store import Store
from glacier_tui.ui import formatting
from glacier_tui.ui.app import setup_logging
from glacier_tui.ui.messages import Notice, OperationError
from glacier_tui.ui.widgets.header import GlacierHeader
from tests.app_harness import main_screen, make_app, tree, wait_for

ANSI = "\x1b[31mred\x1b[0m"
OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
BIDI = "txt.\u202eexe\u202c\u2066x\u2069"
CR = "ok\rFAKE"
MARKUP = "[bold]b[/] [/]"
HOSTILE = {"ansi": ANSI, "osc8": OSC8, "bidi": BIDI, "cr": CR, "markup": MARKUP}
BAD = ("\x1b", "\x9b", "\x9d", "\x07", "\r", *map(chr, range(0x202A, 0x202F)),
       *map(chr, range(0x2066, 0x206A)))
PASSWORD = "pw@x:y%2Fz"  # "@" and ":" inside, and a percent-encoded "/"
SECRET_URL_TEMPLATE = "http://alice:" + PASSWORD + "@127.0.0.1:{port}"
PASSWORD_PARTS = ("pw@x:y", "y%2Fz", "pw@x:y/z")


def assert_inert(text: str, where: str, *, escaped: bool = False) -> None:
    for ch in BAD:
        assert ch not in text, f"{ch!r} reached {where}: {text!r}"
    if not escaped:  # JSON keeps the link's text, escaped ("\u001b]8;;http...")
        assert "http://evil.example" not in text, f"an OSC 8 link reached {where}"


def assert_no_password(text: str, where: str) -> None:
    for part in PASSWORD_PARTS:
        assert part not in text, f"the password reached {where}: {text!r}"


@pytest.fixture(autouse=True)
def _forget_passwords() -> Iterator[None]:
    masking.forget_all()
    yield
    masking.forget_all()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- one sanitizer ---------------------------------------------------------------------------


def test_the_old_sanitizers_are_the_one_sanitizer() -> None:
    assert descriptions.safe_text is sanitize.inert
    assert formatting.clean is masking.shown
    for module in (formatting, errors, paths, descriptions):
        assert not hasattr(module, "_CONTROL") and not hasattr(module, "_CONTROL_RE"), module


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_path_removes_the_same_things(kind: str) -> None:
    text = f"name {HOSTILE[kind]} end"
    expected = sanitize.inert(text)
    assert_inert(expected, "inert")
    assert formatting.clean(text) == expected
    assert descriptions.safe_text(text) == expected
    assert errors.GlacierError(text).detail == expected.strip()
    assert paths.sanitize_relative_name(text) == expected.strip()
    assert descriptions.normalize_path(text) == expected
    # Rich markup is inert where it meets Rich: plain() never parses it.
    assert formatting.plain(text).plain == expected
    assert sanitize.markup("[/]") == "\\[/]"


# -- CLI: inventory ls / export, errors ------------------------------------------------------


def _inventory(descs: list[str]) -> bytes:
    archives = [{"ArchiveId": f"{i:04d}" + "A" * 134, "ArchiveDescription": d,
                 "CreationDate": "2014-07-10T15:34:15Z", "Size": 10 + i,
                 "SHA256TreeHash": f"{i:064x}"} for i, d in enumerate(descs)]
    return json.dumps({"VaultARN": "arn:aws:glacier:us-east-1:123456789012:vaults/v",
                       "InventoryDate": "2014-08-01T14:30:07Z",
                       "ArchiveList": archives}).encode()


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    db = tmp_path / "inv.sqlite3"
    store = Store(db)
    try:
        descs = [f"{kind}-{text}.txt" for kind, text in HOSTILE.items()]
        descs += ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tx", "\rx"]
        import_inventory(store, "v", io.BytesIO(_inventory(descs)))
    finally:
        store.close()
    return db


def test_cli_inventory_ls_and_export_are_inert(hostile_db: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["inventory", "--region", "us-east-1"]
    assert cli.main([*base, "ls", "--vault", "v", "--db", str(hostile_db)]) == 0
    out = capsys.readouterr()
    assert_inert(out.out + out.err, "inventory ls")
    assert "markup-[bold]b[/\t" in out.out  # literal ("/" makes it a folder), not styled
    for fmt in ("csv", "json"):
        assert cli.main([*base, "export", "--vault", "v", "--db", str(hostile_db),
                         "--format", fmt]) == 0
        out = capsys.readouterr()
        # "\r\n" ends every CSV record (RFC 4180); no CR is left inside one.
        assert_inert((out.out + out.err).replace("\r\n", "\n"),
                     f"inventory export --format {fmt}", escaped=fmt == "json")
    assert cli.main([*base, "ls", "--vault", f"nope{ANSI}{BIDI}", "--db",
                     str(hostile_db)]) == 1
    err = capsys.readouterr().err
    assert "no inventory stored" in err
    assert_inert(err, "an inventory error line")


def test_csv_cells_cannot_be_formulas(hostile_db: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    assert cli.main(["inventory", "export", "--vault", "v", "--db", str(hostile_db),
                     "-o", str(out)]) == 0
    rows = list(csv.reader(out.open(newline="")))
    assert rows[0][0] == "ArchiveId"
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    paths_ = {row[1] for row in rows[1:]}
    assert {"'=HYPERLINK(\"http:/x\")", "'+1+1", "'-2", "'@SUM(A1)"} <= paths_ | {
        row[7] for row in rows[1:]}
    assert_inert(out.read_bytes().decode().replace("\r\n", "\n"), "the CSV file")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert csv_cell("=1") == "'=1" and csv_cell("\t=1") == "' =1" and csv_cell(12) == "12"
    assert csv_cell("a=b") == "a=b" and csv_cell(None) == ""


def test_export_is_atomic_on_a_full_disk(hostile_db: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exports" / "inv.csv"
    out.parent.mkdir()
    out.write_text("previous export\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safe_files.os, "fsync", full)
    rc = cli.main(["inventory", "export", "--vault", "v", "--db", str(hostile_db),
                   "-o", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "previous export kept" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out.read_text() == "previous export\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["inv.csv"]  # no temp file left


@pytest.mark.parametrize("kind", ["symlink", "fifo", "dir"])
def test_export_refuses_what_is_not_a_regular_file(kind: str, hostile_db: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.csv"
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    if kind == "symlink":
        target.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    rc = cli.main(["inventory", "export", "--vault", "v", "--db", str(hostile_db),
                   "-o", str(target)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "never written or replaced" in err or "never followed" in err, err
    assert victim.read_text() == "keep me"
    assert target.is_symlink() if kind == "symlink" else True


# -- config show -----------------------------------------------------------------------------


def test_config_show_prints_markup_literally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GLACIER_TUI_PROFILE", "[/]")
    assert cli.main(["config", "show"]) == 0
    out = capsys.readouterr()
    assert "[/]" in out.out and "Traceback" not in out.err
    monkeypatch.delenv("GLACIER_TUI_PROFILE")
    config = tmp_path / "c.toml"
    # JSON string escapes are TOML basic-string escapes ("\u001b").
    config.write_text(f"profile = {json.dumps('[bold]' + ANSI + BIDI)}\ntheme = \"[/]\"\n"
                      f"download_dir = {json.dumps('/tmp/' + OSC8)}\n")
    assert cli.main(["config", "show", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "[bold]red" in out.out and "[/]" in out.out
    assert_inert(out.out + out.err, "config show")


@pytest.mark.parametrize("password", [PASSWORD, "plain-secret-1", "p%40ss%3Aword"])
def test_config_show_masks_the_endpoint_password(password: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://alice:{password}@127.0.0.1:9/"
    assert cli.main(["config", "show", "--endpoint-url", url]) == 0
    out = capsys.readouterr().out
    assert "alice:***@127.0.0.1" in out
    assert password not in out and masking.unquote(password) not in out


def test_mask_url_forms() -> None:
    assert masking.mask_url("http://u:p@host:1/x") == "http://u:***@host:1/x"
    assert masking.mask_url("http://u:p@s:s@host/") == "http://u:***@host/"
    assert masking.mask_url("https://token@host") == "https://***@host"
    assert masking.mask_url("http://u:p/q@host/x") == "http://u:***@host/x"
    assert masking.mask_url("http://127.0.0.1:9/a") == "http://127.0.0.1:9/a"
    masking.remember_url("http://u:hunter2%21@h")
    assert masking.mask_text("hunter2! and hunter2%21") == "*** and ***"


def test_botocore_errors_that_echo_the_url_are_masked() -> None:
    from botocore.exceptions import EndpointConnectionError

    url = SECRET_URL_TEMPLATE.format(port=9)
    exc = EndpointConnectionError(endpoint_url=url)
    assert PASSWORD in str(exc)  # botocore echoes it whole
    err = errors.translate(exc)
    assert "alice:***@127.0.0.1:9" in err.user_message()
    assert_no_password(err.user_message() + str(err) + err.detail, "the error message")


def test_cli_error_line_masks_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = SECRET_URL_TEMPLATE.format(port=_closed_port())
    rc = cli.main(["download", "--region", "us-east-1", "--endpoint-url", url,
                   "--vault", "v", "--job", "J"])
    assert rc != 0
    out = capsys.readouterr()
    assert "error:" in out.err
    assert_no_password(out.out + out.err, "the CLI's error line")


# -- logs ------------------------------------------------------------------------------------


@pytest.fixture
def log_path() -> Iterator[Path]:
    path = setup_logging()
    assert path is not None
    yield path
    root = logging.getLogger("glacier_tui")
    for h in list(root.handlers):
        if isinstance(h, logging.FileHandler):
            h.close()
            root.removeHandler(h)


def test_log_is_private_inert_and_masked(log_path: Path) -> None:
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700
    masking.remember_url(SECRET_URL_TEMPLATE.format(port=9))
    log = logging.getLogger("glacier_tui.ui")
    for kind, text in HOSTILE.items():
        log.warning("vault %s: %s", kind, text)
    log.warning("line one\nFORGED 2026 ERROR fake entry")
    try:
        raise RuntimeError(f"cannot reach {SECRET_URL_TEMPLATE.format(port=9)} {ANSI}")
    except RuntimeError:
        log.exception("connect failed %s", OSC8)
    text = log_path.read_text()
    assert_inert(text, "the log")
    assert_no_password(text, "the log")
    assert "[bold]b[/]" in text and "alice:***@127.0.0.1:9" in text
    assert "\nFORGED" not in text  # a message cannot start a log line of its own
    assert "Traceback" in text  # tracebacks are kept, only cleaned


def test_log_never_follows_a_symlink(tmp_path: Path) -> None:
    import platformdirs

    directory = Path(platformdirs.user_state_dir("glacier-tui"))
    directory.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (directory / "glacier-tui.log").symlink_to(victim)
    assert setup_logging() is None
    logging.getLogger("glacier_tui.ui").error("probe")
    assert victim.read_text() == "keep me"


# -- the TUI ---------------------------------------------------------------------------------


async def _settle(pilot: Any) -> None:
    for _ in range(4):
        await pilot.pause(0.05)


async def test_tui_renders_hostile_names_inert(emulator: Any, boto3_client: Any,
                                               tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="hostile")
    arn = boto3_client.describe_vault(vaultName="hostile")["VaultARN"]
    # A job description is printable ASCII on the wire, but may be Rich markup.
    archive_id = boto3_client.upload_archive(vaultName="hostile", body=b"x")["archiveId"]
    boto3_client.initiate_job(vaultName="hostile", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive_id, "Description": "[/] [bold]job"})
    app = make_app(emulator.url, tmp_path)
    store = app.store
    descs = [f"dir/{kind}-{text}.txt" for kind, text in HOSTILE.items()]
    import_inventory(store, arn, io.BytesIO(_inventory(descs)), force=True)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: "hostile" in screen.connection.vaults)
        from glacier_tui.ui.widgets.job_table import JobTable

        await wait_for(pilot, lambda: bool(screen.query_one(JobTable).jobs))
        t = tree(app)
        await wait_for(pilot, lambda: t.has_inventory.get("hostile", False))
        t.focus()
        assert t.select_vault("hostile")
        await pilot.press("enter")
        node = t.vault_node("hostile")
        assert node is not None
        await wait_for(pilot, lambda: any(c.data is not None and c.data.kind == "folder"
                                          for c in node.children))
        folder = next(c for c in node.children if c.data is not None
                      and c.data.kind == "folder")
        t.move_cursor(folder)
        from glacier_tui.ui.widgets.archive_list import ArchiveList

        lst = screen.query_one(ArchiveList)
        flat = [k for k in HOSTILE if k != "markup"]  # "[/]" makes folders
        await wait_for(pilot, lambda: lst.row_count == len(flat)
                       and lst.row_at(len(flat) - 1) is not None)
        await _settle(pilot)
        lines = "\n".join(lst.render_line(y).text for y in range(len(flat)))
        assert_inert(lines, "the archive list")
        assert "cr-okFAKE.txt" in lines and "osc8-click.txt" in lines
        # The markup name became folders; their labels show it literally.
        folder.expand()
        await _settle(pilot)
        labels = " ".join(str(c.label) for c in folder.children)
        assert "markup-[bold]b[" in labels, labels
        shot = app.export_screenshot()
        assert_inert(shot, "the screenshot")
        assert "[/]" in shot  # the job's description, shown literally (no MarkupError)
        # The command palette lists vaults and jobs: it must open and close cleanly.
        await pilot.press("ctrl+p")
        await _settle(pilot)
        await pilot.press(*"hostile")
        await _settle(pilot)
        await pilot.press("escape")
        await _settle(pilot)


async def test_header_and_error_screen_mask_the_password(tmp_path: Path) -> None:
    url = SECRET_URL_TEMPLATE.format(port=_closed_port())
    log = setup_logging()
    assert log is not None
    try:
        app = make_app(url, tmp_path, profile=f"[/]{ANSI}")
        async with app.run_test(size=(140, 30)) as pilot:
            from glacier_tui.ui.screens.error import ErrorScreen

            await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), steps=400)
            error_shot = app.export_screenshot()
            screen = app.screen
            assert isinstance(screen, ErrorScreen)
            assert_no_password(f"{screen.title_text} {screen.message} {screen.hint}",
                               "the error screen")
            await pilot.press("escape")
            header = main_screen(app).query_one(GlacierHeader)
            assert "alice:***@127.0.0.1" in header.endpoint
            shown = str(header.render())
            assert "[/]" in shown and "alice:***@127.0.0.1" in shown
            assert_inert(shown, "the header")
            assert_no_password(shown + error_shot, "the header or error screen")
    finally:
        root = logging.getLogger("glacier_tui")
        for h in list(root.handlers):
            if isinstance(h, logging.FileHandler):
                h.close()
                root.removeHandler(h)
    assert_no_password(log.read_text(), "the log")


async def test_success_is_shown_as_success(emulator: Any, tmp_path: Path) -> None:
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = main_screen(app)
        screen.post_message(Notice(f"{ANSI} → /tmp/x", title="Downloaded"))
        screen.post_message(OperationError("slow down", title="Throttled", severity="warning"))
        screen.post_message(OperationError("it broke", title="Download failed"))
        await wait_for(pilot, lambda: len(list(app._notifications)) >= 3)
        got = {n.title: n for n in app._notifications}
        assert got["Downloaded"].severity == "information"
        assert got["Throttled"].severity == "warning"
        assert got["Download failed"].severity == "error"
        assert_inert(got["Downloaded"].message, "a toast")


async def test_crash_traceback_is_masked_without_frame_variables(tmp_path: Path) -> None:
    url = SECRET_URL_TEMPLATE.format(port=_closed_port())
    app = make_app(url, tmp_path)
    async with app.run_test(size=(120, 30)):
        secret_local = url  # Textual's own crash report would show this variable
        try:
            raise RuntimeError(f"boom at {secret_local} {ANSI}")
        except RuntimeError:
            app._fatal_error()
        text = "".join(str(r.plain) for r in app._exit_renderables if hasattr(r, "plain"))
    assert "RuntimeError" in text and "boom at http://alice:***@127.0.0.1" in text
    assert " locals " not in text  # no panel of frame variables (they hold settings, URLs)
    assert_no_password(text, "the crash traceback")
    assert_inert(text, "the crash traceback")


def test_usage_errors_echo_arguments_inert(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["config", "show", f"--x{ANSI}{BIDI}{OSC8}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err
    assert_inert(err, "a usage error")
