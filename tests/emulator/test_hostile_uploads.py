"""Uploads and the client against files that change, rival uploaders, odd folder entries,
dead endpoints and endpoints that are not Glacier at all."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import stat
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from glacier_tui import transfers_cli
from glacier_tui.glacier import errors, safe_files, uploads
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.journal import upload_journal_path
from glacier_tui.glacier.transfer_files import _FileSlice
from glacier_tui.glacier.treehash import MIB
from glacier_tui.glacier.upload_sources import SkippedSource, SourceChanged, iter_sources

sys.path.insert(0, str(Path(__file__).parents[1]))
from hostile_server import HostileGlacier, hostile

__all__ = ["hostile"]

OLD = 1_600_000_000  # an mtime long past, so any rewrite during the test changes it


def options(url: str, **overrides: Any) -> ClientOptions:
    values: dict[str, Any] = {"endpoint_url": url, "region": "us-east-1", "max_attempts": 1,
                              "access_key": "testing", "secret_key": "testing"}
    values.update(overrides)
    return ClientOptions(**values)


async def upload(url: str, path: Path, tmp_path: Path, **kwargs: Any) -> uploads.UploadResult:
    kwargs.setdefault("journal_dir", tmp_path / "journals")
    kwargs.setdefault("retry_delay", 0.01)
    kwargs.setdefault("max_retries", 1)
    async with GlacierClient(options(url)) as g:
        return await uploads.upload_file(g, "v", path, **kwargs)


def ops(emulator: Any, op: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r.get("operation") == op]


def old_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


# -- 1. a file that changes while it uploads --------------------------------------------


def _rewrite(path: Path) -> None:  # same size, other bytes
    with open(path, "r+b") as fh:
        fh.write(b"X" * 100)


def _grow(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"more")


def _truncate(path: Path) -> None:
    os.truncate(path, 100)


def _replace(path: Path) -> None:  # another inode renamed over the name, same size and mtime
    st = path.stat()
    other = path.with_name("other.tmp")
    other.write_bytes(path.read_bytes())
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, path)


CHANGES: dict[str, Callable[[Path], None]] = {
    "rewritten": _rewrite, "grown": _grow, "truncated": _truncate, "replaced": _replace,
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_multipart_upload_of_a_changing_file_is_aborted(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, change: str,
) -> None:
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "big.bin", os.urandom(6 * MIB))
    real_write = uploads.atomic_write_json

    def write_then_change(p: Path, doc: dict[str, Any]) -> None:
        real_write(p, doc)
        if len(doc.get("parts", {})) == 2:  # two parts are on the server
            CHANGES[change](path)

    monkeypatch.setattr(uploads, "atomic_write_json", write_then_change)
    with pytest.raises(SourceChanged) as exc:
        await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB,
                     concurrency=1)
    assert exc.value.message == "big.bin changed while it was being uploaded; nothing was kept"
    assert len(ops(emulator, "AbortMultipartUpload")) == 1
    assert ops(emulator, "CompleteMultipartUpload") == []
    assert boto3_client.list_multipart_uploads(vaultName="v")["UploadsList"] == []
    assert list((tmp_path / "journals").glob("*")) == []  # no journal, no lock file left


async def test_change_after_the_last_part_is_caught_before_completing(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "big.bin", os.urandom(3 * MIB))
    real_check = uploads._Source.check_async
    checks = 0

    async def check_then_change(self: Any) -> None:
        nonlocal checks
        checks += 1
        await real_check(self)
        if checks == 3:  # the check after the third (last) part: change it right after
            _grow(path)

    monkeypatch.setattr(uploads._Source, "check_async", check_then_change)
    with pytest.raises(SourceChanged):
        await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB,
                     concurrency=1)
    assert len(ops(emulator, "UploadMultipartPart")) == 3
    assert ops(emulator, "CompleteMultipartUpload") == []
    assert len(ops(emulator, "AbortMultipartUpload")) == 1


async def test_single_upload_changed_after_hashing_sends_nothing(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "small.txt", b"a" * 1000)
    real_hashes = uploads._file_hashes

    def hash_then_change(fd: int, offset: int, length: int) -> tuple[str, str]:
        found = real_hashes(fd, offset, length)
        _grow(path)
        return found

    monkeypatch.setattr(uploads, "_file_hashes", hash_then_change)
    with pytest.raises(SourceChanged, match=r"small\.txt changed while it was being uploaded"):
        await upload(emulator_url, path, tmp_path)
    assert ops(emulator, "UploadArchive") == []


async def test_single_upload_changed_while_sent_deletes_the_archive(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "small.txt", b"a" * 1000)

    class ChangingSlice(_FileSlice):
        def read(self, size: int = -1, /) -> bytes:
            data = super().read(size)
            if data:
                _rewrite(path)  # the bytes already read are the old ones
            return data

    monkeypatch.setattr(uploads, "_FileSlice", ChangingSlice)
    with pytest.raises(SourceChanged, match="nothing was kept"):
        await upload(emulator_url, path, tmp_path)
    created = ops(emulator, "UploadArchive")
    assert len(created) == 1 and len(ops(emulator, "DeleteArchive")) == 1


async def test_unchanged_file_uploads_and_symlink_is_never_followed(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
) -> None:
    boto3_client.create_vault(vaultName="v")
    target = old_file(tmp_path / "real.bin", os.urandom(2 * MIB + 1))
    result = await upload(emulator_url, target, tmp_path, threshold=MIB, part_size=MIB)
    assert result.size == 2 * MIB + 1
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with pytest.raises(errors.LocalError, match=r"link\.bin is a symlink"):
        await upload(emulator_url, link, tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(errors.LocalError, match="pipe is a FIFO"):
        await upload(emulator_url, fifo, tmp_path)


# -- 2. two uploads of one file ------------------------------------------------------------


async def test_second_upload_of_the_same_file_names_the_first(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
) -> None:
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "big.bin", os.urandom(2 * MIB))
    st = path.stat()
    jpath = upload_journal_path(tmp_path / "journals", path, st.st_size, st.st_mtime_ns, "v")
    holder = safe_files.ExclusiveLock(uploads._lock_path(jpath)).acquire()  # "another run"
    try:
        with pytest.raises(safe_files.LockedError) as exc:
            await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    finally:
        holder.release()
    assert exc.value.message == (
        f"big.bin is already being uploaded by another glacier-tui (pid {os.getpid()})")
    assert ops(emulator, "InitiateMultipartUpload") == []  # nothing sent, no id shared
    result = await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert result.parts_uploaded == 2


async def test_concurrent_cli_and_upload_get_a_clear_message(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """One upload is mid-way (parked after its first part) when a CLI run starts."""
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "big.bin", os.urandom(3 * MIB))
    parked, resume = asyncio.Event(), asyncio.Event()
    real_check = uploads._Source.check_async

    async def park_after_first_part(self: Any) -> None:
        await real_check(self)
        if not parked.is_set():
            parked.set()
            await resume.wait()

    monkeypatch.setattr(uploads._Source, "check_async", park_after_first_part)
    first = asyncio.create_task(upload(emulator_url, path, tmp_path, threshold=MIB,
                                       part_size=MIB, concurrency=1))
    await asyncio.wait_for(parked.wait(), 30)
    args = cli_args([str(path), "--threshold", "1", "--part-size", "1"], tmp_path)
    code = await asyncio.to_thread(transfers_cli.run_upload, args, cli_settings(emulator_url))
    resume.set()
    result = await first
    assert code == 1
    err = capsys.readouterr().err
    assert "big.bin is already being uploaded by another glacier-tui (pid" in err
    assert "upload ID" not in err and "Traceback" not in err
    assert result.parts_uploaded == 3 and len(ops(emulator, "InitiateMultipartUpload")) == 1


async def test_upload_journal_is_private_and_never_followed(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "big.bin", os.urandom(2 * MIB))
    modes: list[int] = []
    real_write = uploads.atomic_write_json

    def record(p: Path, doc: dict[str, Any]) -> None:
        real_write(p, doc)
        modes.append(stat.S_IMODE(os.lstat(p).st_mode))

    monkeypatch.setattr(uploads, "atomic_write_json", record)
    await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert modes and set(modes) == {0o600}
    st = path.stat()
    jpath = upload_journal_path(tmp_path / "journals", path, st.st_size, st.st_mtime_ns, "v")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    jpath.symlink_to(elsewhere)
    with pytest.raises(safe_files.UnsafeFileError):
        await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert elsewhere.read_text() == "{}"


# -- 3. folders with entries that are not plain files --------------------------------------


def cli_settings(url: str, **overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "profile": None, "region": "us-east-1", "endpoint_url": url, "readonly": False,
        "transfer_concurrency": 2, "part_size_mib": 1, "upload_threshold_mib": 2,
        "retry_mode": "standard", "max_attempts": 2,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def cli_args(argv: list[str], tmp_path: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    transfers_cli.add_upload_arguments(parser)
    return parser.parse_args(["--vault", "v", *argv, "--journal-dir",
                              str(tmp_path / "journals")])


@contextlib.contextmanager
def unix_socket(path: Path) -> Iterator[None]:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(os.fsencode(path))
        yield
    finally:
        sock.close()


def test_folder_reports_every_odd_entry_and_uploads_the_rest(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    boto3_client.create_vault(vaultName="v")
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.txt").write_bytes(b"beta")
    (root / "evil\x1b[2J\x1b]0;pwned\x07.txt").write_bytes(b"escapes in the name")
    os.mkfifo(root / "fifo")
    (root / "link").symlink_to(root / "a.txt")
    (root / "dirlink").symlink_to(root / "sub")
    rootb = os.fsencode(root)
    with open(rootb + b"/caf\xe9.txt", "wb") as fh:
        fh.write(b"latin-1 name")
    os.mkdir(rootb + b"/d\xff")
    with open(rootb + b"/d\xff/inside.txt", "wb") as fh:
        fh.write(b"unreachable name")
    unreadable = root / "secret.txt"
    unreadable.write_bytes(b"no")
    unreadable.chmod(0)
    can_read_anyway = os.access(unreadable, os.R_OK)  # root reads everything
    with unix_socket(root / "sock"):
        code = transfers_cli.run_upload(cli_args([str(root)], tmp_path),
                                        cli_settings(emulator_url))
    out, err = capsys.readouterr()
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out + err
    uploaded = [line.split("\t")[1] for line in out.splitlines()]
    expected = ["a.txt", "evil.txt", "sub/b.txt"]  # escapes shown inert
    if can_read_anyway:
        expected.insert(2, "secret.txt")
    assert sorted(uploaded) == sorted(expected)
    skipped = [line for line in err.splitlines() if ": skipped: " in line]
    assert any("caf\\xe9.txt" in line and "not valid UTF-8" in line for line in skipped)
    assert any("d\\xff/" in line and "not valid UTF-8" in line for line in skipped)
    assert any("fifo: " in line and "FIFO" in line for line in skipped)
    assert any("sock: " in line and "socket" in line for line in skipped)
    assert any("link: " in line and "symlink" in line for line in skipped)
    assert any("dirlink: " in line and "symlink" in line for line in skipped)
    assert len(skipped) == 6
    failed = 0 if can_read_anyway else 1
    if failed:
        assert any("secret.txt" in line and "error:" in line for line in err.splitlines())
    summary = err.strip().splitlines()[-1]
    assert summary == (f"glacier-tui upload: {len(expected)} uploaded, 6 skipped, "
                       f"{failed} failed")
    assert len(ops(emulator, "UploadArchive")) == len(expected)


def test_iter_sources_order_and_names(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "b").mkdir(parents=True)
    (root / "z.txt").write_bytes(b"z")
    (root / "b" / "c.txt").write_bytes(b"c")
    single = tmp_path / "one.txt"
    single.write_bytes(b"1")
    found = list(iter_sources([root, single, tmp_path / "missing"]))
    assert [getattr(e, "name", None) for e in found[:3]] == ["z.txt", "b/c.txt", "one.txt"]
    assert isinstance(found[3], SkippedSource) and "cannot read it" in found[3].reason


def test_only_skipped_entries_exit_1_without_a_request(
    emulator: Any, emulator_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code = transfers_cli.run_upload(cli_args([str(fifo)], tmp_path), cli_settings(emulator_url))
    err = capsys.readouterr().err
    assert code == 1
    assert err == "glacier-tui upload: skipped: pipe: a FIFO, not a regular file\n"
    assert emulator.requests() == []


# -- 4. pagination that never ends --------------------------------------------------------


LISTS: dict[str, Callable[[GlacierClient], Awaitable[Any]]] = {
    "ListVaults": lambda g: g.list_vaults(),
    "ListJobs": lambda g: g.list_jobs("v"),
    "ListParts": lambda g: g.list_parts("v", "upload-1"),
    "ListMultipartUploads": lambda g: g.list_multipart_uploads("v"),
}


@pytest.mark.parametrize("operation", list(LISTS))
async def test_endless_markers_stop_with_an_error(hostile: HostileGlacier,
                                                   operation: str) -> None:
    hostile.endless_markers(operation)
    async with GlacierClient(options(hostile.url)) as g:
        g.max_pages = 5
        with pytest.raises(errors.NotGlacierResponse, match="more pages after 5"):
            await asyncio.wait_for(LISTS[operation](g), 30)
    assert len(hostile.calls(operation)) == 5


@pytest.mark.parametrize("operation", list(LISTS))
async def test_repeated_marker_is_an_error_not_a_silent_end(hostile: HostileGlacier,
                                                            operation: str) -> None:
    async def same_marker(request: web.Request, server: HostileGlacier) -> web.Response:
        page = await server.default(operation, request)
        assert isinstance(page, web.Response) and isinstance(page.body, bytes)
        doc = json.loads(page.body)
        doc["Marker"] = "again"
        return web.json_response(doc)

    hostile.on(operation, same_marker)
    async with GlacierClient(options(hostile.url)) as g:
        with pytest.raises(errors.NotGlacierResponse, match="same page marker twice"):
            await asyncio.wait_for(LISTS[operation](g), 30)
    assert len(hostile.calls(operation)) == 2


def test_page_limit_is_a_documented_constant() -> None:
    from glacier_tui.glacier import client

    assert client.MAX_PAGES == GlacierClient.max_pages == 10_000


# -- 5. dead endpoints -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _count_sends(g: GlacierClient) -> list[str]:
    sent: list[str] = []
    g._client.meta.events.register("before-send.glacier",
                                   lambda **kw: sent.append(kw["request"].url))
    return sent


async def test_nothing_listening_fails_after_two_attempts() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    async with GlacierClient(options(url, max_attempts=5, connect_timeout=0.5)) as g:
        sent = _count_sends(g)
        with pytest.raises(errors.EndpointUnreachable) as exc:
            await asyncio.wait_for(g.list_vaults(), 60)
    assert len(sent) == 2  # not botocore's 5 attempts with up to 20 s backoff between
    assert not exc.value.retryable  # the transfer layer does not retry it either
    assert "cannot be reached" in exc.value.user_message()


async def test_endpoint_that_accepts_but_never_answers() -> None:
    accepted = 0
    hang = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        with contextlib.suppress(Exception):
            await hang.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        opts = options(f"http://127.0.0.1:{port}", max_attempts=5, connect_timeout=0.5,
                       read_timeout=0.2, first_contact_timeout=5)
        async with GlacierClient(opts) as g:
            with pytest.raises(errors.EndpointUnreachable):
                await asyncio.wait_for(g.list_vaults(), 60)
        assert 1 <= accepted <= 2
        # The first-contact deadline holds even when the read timeout is long.
        opts = options(f"http://127.0.0.1:{port}", max_attempts=5, connect_timeout=0.5,
                       read_timeout=600, first_contact_timeout=0.3)
        async with GlacierClient(opts) as g:
            with pytest.raises(errors.EndpointUnreachable, match="no answer from"):
                await asyncio.wait_for(g.list_vaults(), 60)
    finally:
        hang.set()
        server.close()
        await server.wait_closed()


def test_default_timeouts_are_short_for_connects() -> None:
    from glacier_tui.config import Settings

    opts = Settings().client_options()
    assert opts.connect_timeout == 3.0 and opts.first_contact_timeout == 8.0
    assert opts.first_contact_attempts == 2 and opts.read_timeout == 60.0


def test_tui_connect_failure_says_unreachable() -> None:
    from glacier_tui.ui.screens.error import describe_error

    title, _text, _hint = describe_error(errors.EndpointNeverAnswered("no answer"))
    assert title == "Glacier endpoint unreachable"


def test_cli_upload_to_a_dead_endpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    a = old_file(tmp_path / "a.txt", b"a")
    b = old_file(tmp_path / "b.txt", b"b")
    url = f"http://127.0.0.1:{_free_port()}"
    code = transfers_cli.run_upload(cli_args([str(a), str(b)], tmp_path),
                                    cli_settings(url, max_attempts=5))
    err = capsys.readouterr().err
    assert code == 1
    assert "a.txt: The Glacier endpoint cannot be reached" in err
    assert "stopped: 1 more file(s) not attempted" in err and "Traceback" not in err


# -- 6. answers that are not Glacier's ---------------------------------------------------------


async def _html(_request: web.Request, _server: HostileGlacier) -> web.Response:
    return web.Response(body=b"<html><body>Welcome to the hotel Wi-Fi</body></html>",
                        status=200, content_type="text/html")


async def _not_json(_request: web.Request, _server: HostileGlacier) -> web.Response:
    return web.Response(body=b'{"VaultList": [', status=200, content_type="application/json")


async def _empty_object(_request: web.Request, _server: HostileGlacier) -> web.Response:
    return web.json_response({})


CALLS: dict[str, Callable[[GlacierClient], Awaitable[Any]]] = {
    "ListVaults": lambda g: g.list_vaults(),
    "DescribeVault": lambda g: g.describe_vault("v"),
    "ListJobs": lambda g: g.list_jobs("v"),
    "DescribeJob": lambda g: g.describe_job("v", "job-1"),
    "InitiateJob": lambda g: g.initiate_inventory_retrieval("v"),
    "UploadArchive": lambda g: g.upload_archive("v", b"data"),
    "InitiateMultipartUpload": lambda g: g.initiate_multipart_upload("v", MIB),
    "CompleteMultipartUpload": lambda g: g.complete_multipart_upload(
        "v", "upload-1", archive_size=4, checksum="00" * 32),
    "ListParts": lambda g: g.list_parts("v", "upload-1"),
}


@pytest.mark.parametrize("operation", list(CALLS))
@pytest.mark.parametrize("answer", [_html, _not_json])
async def test_non_glacier_answers_are_named(
    hostile: HostileGlacier, operation: str,
    answer: Callable[[web.Request, HostileGlacier], Awaitable[web.Response]],
) -> None:
    hostile.on(operation, answer)
    async with GlacierClient(options(hostile.url)) as g:
        with pytest.raises(errors.NotGlacierResponse) as exc:
            await asyncio.wait_for(CALLS[operation](g), 30)
    text = exc.value.user_message()
    assert text.startswith(
        "The endpoint answered with something that is not a Glacier response (")
    assert "Traceback" not in text and "\n" not in text


@pytest.mark.parametrize("operation", ["DescribeJob", "InitiateJob", "UploadArchive",
                                       "InitiateMultipartUpload", "CompleteMultipartUpload"])
async def test_answers_missing_their_id_are_not_glacier(hostile: HostileGlacier,
                                                        operation: str) -> None:
    hostile.on(operation, _empty_object)
    async with GlacierClient(options(hostile.url)) as g:
        with pytest.raises(errors.NotGlacierResponse, match=r"no .* id in the answer"):
            await asyncio.wait_for(CALLS[operation](g), 30)


def test_cli_upload_against_a_web_page_stops_at_the_first_file(
    hostile: HostileGlacier, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    hostile.on("UploadArchive", _html)
    a = old_file(tmp_path / "a.txt", b"a")
    b = old_file(tmp_path / "b.txt", b"b")
    code = transfers_cli.run_upload(cli_args([str(a), str(b)], tmp_path),
                                    cli_settings(hostile.url))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "not a Glacier response (UploadArchive: HTTP 200, text/html" in err
    assert "stopped: 1 more file(s) not attempted" in err


# -- the TUI: a marked folder uploads its files and reports what it skips --------------------


async def test_tui_folder_upload_reports_skipped_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app_harness import START, make_app, wait_for

    from glacier_tui.emulator import EmulatorConfig, EmulatorThread
    from glacier_tui.ui.messages import Notice
    from glacier_tui.ui.screens.upload import UploadScreen
    from tests.app.test_ui_actions import main, open_upload_screen, ops

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"a")
    (folder / "sub" / "b.txt").write_bytes(b"b")
    os.mkfifo(folder / "fifo")
    (folder / "link").symlink_to(folder / "a.txt")
    shown: list[Notice] = []
    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as demo:
        app = make_app(demo.url, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_upload_screen(pilot, app)
            screen = app.screen
            assert isinstance(screen, UploadScreen)
            real_post = main(app).transfers.post_message

            def spy(message: Any) -> bool:
                if isinstance(message, Notice):  # successes and warnings alike
                    shown.append(message)
                return real_post(message)

            monkeypatch.setattr(main(app).transfers, "post_message", spy)
            screen.dismiss([folder])
            await wait_for(pilot, lambda: len(ops(demo, "UploadArchive")) == 2
                           and sum(m.title == "Uploaded" for m in shown) == 2)
    warnings = [m for m in shown if m.severity == "warning"]
    assert len(warnings) == 1 and warnings[0].title == "2 not uploaded"
    assert "fifo: a FIFO" in warnings[0].text and "link: a symlink" in warnings[0].text


@pytest.mark.parametrize("operation", ["InitiateJob", "InitiateMultipartUpload"])
async def test_ids_with_foreign_characters_are_refused(hostile: HostileGlacier,
                                                       operation: str) -> None:
    async def bad_id(_request: web.Request, _server: HostileGlacier) -> web.Response:
        evil = "../../vaults/other [bold]id"  # aiohttp itself refuses control characters
        key = "x-amz-job-id" if operation == "InitiateJob" else "x-amz-multipart-upload-id"
        return web.Response(status=201, headers={key: evil})

    hostile.on(operation, bad_id)
    async with GlacierClient(options(hostile.url)) as g:
        with pytest.raises(errors.NotGlacierResponse, match="is not one") as exc:
            await asyncio.wait_for(CALLS[operation](g), 30)
    assert "../../vaults/other" in exc.value.user_message()


def test_description_of_a_non_utf8_name_is_a_clear_refusal() -> None:
    name = os.fsdecode(b"caf\xe9.txt")
    with pytest.raises(uploads.DescriptionError, match=r"caf\\xe9\.txt: the name is not valid"):
        uploads.archive_description_for(name, OLD)


def test_unreadable_file_fails_alone_and_is_counted(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """EACCES on open (simulated: the tests may run as root, who reads everything)."""
    boto3_client.create_vault(vaultName="v")
    root = tmp_path / "d"
    root.mkdir()
    (root / "a.txt").write_bytes(b"a")
    (root / "secret.txt").write_bytes(b"s")
    (root / "z.txt").write_bytes(b"z")
    real_open = safe_files.open_regular

    def deny_secret(path: Path, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(safe_files, "open_regular", deny_secret)
    code = transfers_cli.run_upload(cli_args([str(root)], tmp_path), cli_settings(emulator_url))
    out, err = capsys.readouterr()
    assert code == 1
    assert [line.split("\t")[1] for line in out.splitlines()] == ["a.txt", "z.txt"]
    assert ("glacier-tui upload: error: secret.txt: cannot open it (Permission denied). "
            "Nothing was sent for it.") in err
    assert err.strip().splitlines()[-1] == "glacier-tui upload: 2 uploaded, 0 skipped, 1 failed"


async def test_resume_never_mixes_in_the_parts_of_another_file(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed mid-way, then another file (same name, size and mtime) put in its place."""
    boto3_client.create_vault(vaultName="v")
    path = old_file(tmp_path / "big.bin", os.urandom(4 * MIB))
    real_write = uploads.atomic_write_json
    task: asyncio.Task[Any] | None = None

    def cancel_after_two(p: Path, doc: dict[str, Any]) -> None:
        real_write(p, doc)
        if len(doc.get("parts", {})) == 2 and task is not None:
            task.get_loop().call_soon_threadsafe(task.cancel)

    monkeypatch.setattr(uploads, "atomic_write_json", cancel_after_two)
    task = asyncio.create_task(upload(emulator_url, path, tmp_path, threshold=MIB,
                                      part_size=MIB, concurrency=1))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.setattr(uploads, "atomic_write_json", real_write)
    new_data = os.urandom(4 * MIB)
    other = old_file(tmp_path / "other.bin", new_data)
    os.replace(other, path)
    result = await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert (result.parts_reused, result.parts_uploaded) == (0, 4)
    assert len(ops(emulator, "AbortMultipartUpload")) == 1  # the other file's upload
    assert boto3_client.list_multipart_uploads(vaultName="v")["UploadsList"] == []
    job = boto3_client.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": result.archive_id, "Tier": "Expedited"})
    emulator.advance(6 * 3600)
    out = boto3_client.get_job_output(vaultName="v", jobId=job["jobId"])
    assert out["body"].read() == new_data
