"""Downloads against an endpoint that lies, a second run, and a hostile file system.

Each class of defect has a regression test: one run per target (the lock), no
symlink followed and nothing but a regular file written, a stall deadline on every
body, and results that say exactly what was verified and kept.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientSession, web
from hostile_server import HOSTILE_TEXT, HostileGlacier, OutputLie, hostile  # noqa: F401

from glacier_tui import transfers_cli
from glacier_tui.glacier import download_files, safe_files, transfer_files
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.paths import UnsafePathError, safe_download_path
from glacier_tui.glacier.transfer_common import NotGlacierResponse, OutputChanged, Stalled
from glacier_tui.glacier.transfers import (
    DiskFull,
    DownloadResult,
    TransferProgress,
    TransferState,
    VerificationFailed,
    download_job_output,
)
from glacier_tui.glacier.treehash import MIB

SIZE = 4 * MIB + 777  # five 1 MiB segments, the last one short
N_SEGMENTS = 5


def options(url: str) -> ClientOptions:
    return ClientOptions(endpoint_url=url, region="us-east-1", access_key="testing",
                         secret_key="testing", max_attempts=1, read_timeout=20)


async def download(server: HostileGlacier, job_id: str, dest: Path,
                   **kwargs: Any) -> DownloadResult:
    kwargs.setdefault("segment_size", MIB)
    kwargs.setdefault("retry_delay", 0.001)
    kwargs.setdefault("max_retries", 2)
    async with GlacierClient(options(server.url)) as g:
        job = await g.describe_job("v", job_id)
        return await download_job_output(g, "v", job, dest, **kwargs)


@pytest.fixture
def data() -> bytes:
    return os.urandom(SIZE)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- one run per target -------------------------------------------------------------------


def _held_output(server: HostileGlacier) -> tuple[threading.Event, threading.Event]:
    """GetJobOutput waits for ``release`` (after setting ``entered``): a run in flight."""
    entered, release = threading.Event(), threading.Event()

    async def held(request: web.Request, srv: HostileGlacier) -> web.StreamResponse:
        entered.set()
        await asyncio.to_thread(release.wait, 60)
        return await srv.default("GetJobOutput", request)

    server.on("GetJobOutput", held)
    return entered, release


async def test_second_run_is_refused_while_the_first_holds_the_lock(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    """The first run is held inside GetJobOutput; a second run of the same download
    stops at once naming the holder, and the first still finishes byte-exact."""
    job_id = hostile.add_job(data)
    dest = tmp_path / "f.bin"
    entered, release = _held_output(hostile)
    first = asyncio.create_task(download(hostile, job_id, dest, concurrency=1))
    assert await asyncio.to_thread(entered.wait, 30)  # the first run holds its lock now
    with pytest.raises(safe_files.LockedError) as err:
        await download(hostile, job_id, dest)
    assert f"already being downloaded by another glacier-tui (pid {os.getpid()})" in str(
        err.value)
    assert len(hostile.calls("GetJobOutput")) == 1  # the second run fetched nothing
    release.set()
    result = await first
    assert dest.read_bytes() == data and result.verified
    assert leftovers(tmp_path) == ["f.bin"]  # no .part, journal or lock left behind


def cli_settings(url: str, tmp_path: Path, **extra: Any) -> SimpleNamespace:
    return SimpleNamespace(
        profile=None, region="us-east-1", endpoint_url=url, readonly=False,
        download_dir=tmp_path / "downloads", transfer_concurrency=2, part_size_mib=1,
        segment_size_mib=1, upload_threshold_mib=2, retry_mode="standard", max_attempts=1,
        **extra)


def cli_download(url: str, tmp_path: Path, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    transfers_cli.add_download_arguments(parser)
    return transfers_cli.run_download(parser.parse_args(argv), cli_settings(url, tmp_path))


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_second_run_exits_1_and_leaves_the_part_alone(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another glacier-tui (here: a lock held by this process on its own descriptor)
    is downloading: the CLI says so in one line, exits 1, and does not touch the .part."""
    job_id = hostile.add_job(data)
    dest = tmp_path / "f.bin"
    part = tmp_path / "f.bin.part"
    part.write_bytes(b"the other run's bytes")
    with safe_files.ExclusiveLock(tmp_path / "f.bin.part.lock", what="held"):
        rc = cli_download(hostile.url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                                  str(dest), "--quiet"])
    line = one_line(capsys.readouterr().err)
    assert rc == 1
    assert f"already being downloaded by another glacier-tui (pid {os.getpid()})" in line
    assert part.read_bytes() == b"the other run's bytes" and not dest.exists()
    assert hostile.calls("GetJobOutput") == []


def _cli_process(url: str, job_id: str, dest: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "glacier_tui", "download", "--endpoint-url", url, "--region",
         "us-east-1", "--vault", "v", "--job", job_id, "-o", str(dest), "--quiet",
         "--segment-size", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_cli_processes_one_download(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real first process holds the download; a second run names its pid, exits 1,
    and the first one ends with the exact bytes."""
    job_id = hostile.add_job(data)
    dest = tmp_path / "f.bin"
    entered, release = _held_output(hostile)
    first = _cli_process(hostile.url, job_id, dest)
    try:
        assert entered.wait(60)
        rc = cli_download(hostile.url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                                  str(dest), "--quiet"])
        line = one_line(capsys.readouterr().err)
        assert rc == 1
        assert f"already being downloaded by another glacier-tui (pid {first.pid})" in line
    finally:
        release.set()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out.strip() == str(dest) and dest.read_bytes() == data
    assert leftovers(tmp_path) == ["f.bin"]


def test_the_kernel_drops_the_lock_of_a_killed_run(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_id = hostile.add_job(data)
    dest = tmp_path / "f.bin"
    entered, release = _held_output(hostile)
    first = _cli_process(hostile.url, job_id, dest)
    try:
        assert entered.wait(60)
        first.kill()
    finally:
        first.communicate(timeout=60)
        release.set()
    assert (tmp_path / "f.bin.part.lock").exists()  # left behind, but nobody holds it
    hostile.on("GetJobOutput", None)
    rc = cli_download(hostile.url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                              str(dest), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert dest.read_bytes() == data and leftovers(tmp_path) == ["f.bin"]


def test_part_replaced_or_resized_before_rename_is_not_called_verified(tmp_path: Path) -> None:
    """Just before the rename, the .part must still be the inode written, at full size."""
    paths = download_files.DownloadPaths.of(tmp_path / "f.bin")
    paths.part.write_bytes(b"x" * 10)
    fd = os.open(paths.part, os.O_RDWR)
    try:
        with safe_files.dir_fd(tmp_path) as dfd:
            download_files.check_part_unchanged(fd, dfd, paths, 10)  # all well
            with pytest.raises(VerificationFailed, match="holds 10 bytes, expected 11"):
                download_files.check_part_unchanged(fd, dfd, paths, 11)
            os.ftruncate(fd, 3)  # someone else truncated it
            with pytest.raises(VerificationFailed, match="holds 3 bytes"):
                download_files.check_part_unchanged(fd, dfd, paths, 10)
            os.unlink(paths.part)
            paths.part.write_bytes(b"y" * 3)  # and replaced it
            with pytest.raises(VerificationFailed, match="replaced"):
                download_files.check_part_unchanged(fd, dfd, paths, 3)
    finally:
        os.close(fd)


# -- never through a symlink, never into a non-regular file ------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("kind", ["symlink", "dangling", "fifo", "dir"])
async def test_target_that_is_not_a_regular_file_is_never_replaced(
    hostile: HostileGlacier, data: bytes, tmp_path: Path, kind: str,  # noqa: F811
    overwrite: bool,
) -> None:
    job_id = hostile.add_job(data)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    dest = tmp_path / "f.bin"
    if kind == "symlink":
        dest.symlink_to(victim)
    elif kind == "dangling":
        dest.symlink_to(tmp_path / "nowhere")
    elif kind == "fifo":
        os.mkfifo(dest)
    else:
        dest.mkdir()
    with pytest.raises(safe_files.UnsafeFileError, match="never"):
        await download(hostile, job_id, dest, overwrite=overwrite)
    assert victim.read_bytes() == b"precious"
    mode = os.lstat(dest).st_mode
    expected = {"symlink": stat.S_ISLNK, "dangling": stat.S_ISLNK, "fifo": stat.S_ISFIFO,
                "dir": stat.S_ISDIR}[kind]
    assert expected(mode)
    assert not (tmp_path / "nowhere").exists()
    assert hostile.calls("GetJobOutput") == []
    assert leftovers(tmp_path) == sorted(["f.bin", "victim"])


@pytest.mark.parametrize("which", ["part", "journal", "lock"])
async def test_symlinked_part_journal_or_lock_is_refused(
    hostile: HostileGlacier, data: bytes, tmp_path: Path, which: str,  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    dest = tmp_path / "f.bin"
    link = {"part": "f.bin.part", "journal": "f.bin.part.journal",
            "lock": "f.bin.part.lock"}[which]
    (tmp_path / link).symlink_to(victim)
    with pytest.raises(safe_files.UnsafeFileError, match="symlink"):
        await download(hostile, job_id, dest)
    assert victim.read_bytes() == b"precious" and not dest.exists()
    assert (tmp_path / link).is_symlink()


def test_cli_force_onto_a_fifo_is_refused_in_one_line(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_id = hostile.add_job(data)
    dest = tmp_path / "pipe"
    os.mkfifo(dest)
    rc = cli_download(hostile.url, tmp_path, ["--vault", "v", "--job", job_id, "-o", str(dest),
                                              "--force", "--quiet"])
    assert rc == 1
    assert "is a FIFO; it is never written or replaced" in one_line(capsys.readouterr().err)
    assert stat.S_ISFIFO(os.lstat(dest).st_mode)


async def test_journal_and_lock_are_private_in_a_private_new_folder(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = hostile.add_job(data)
    dest = tmp_path / "new" / "deeper" / "f.bin"
    seen: dict[str, int] = {}
    real = transfer_files._pwrite_all

    def spy(fd: int, buf: Any, offset: int) -> None:
        for name in ("f.bin.part.journal", "f.bin.part.lock"):
            path = dest.parent / name
            if path.exists():
                seen[name] = stat.S_IMODE(os.lstat(path).st_mode)
        real(fd, buf, offset)

    monkeypatch.setattr(transfer_files, "_pwrite_all", spy)
    await download(hostile, job_id, dest)
    assert seen == {"f.bin.part.journal": 0o600, "f.bin.part.lock": 0o600}
    assert stat.S_IMODE(os.stat(dest.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert dest.read_bytes() == data


def test_safe_download_path_refuses_any_symlink_or_non_file(tmp_path: Path) -> None:
    root = tmp_path / "dl"
    root.mkdir()
    (root / "inside.txt").write_text("x")
    (root / "link.txt").symlink_to(root / "inside.txt")  # inside, but still a link
    with pytest.raises(UnsafePathError, match="symlink"):
        safe_download_path(root, "link.txt")
    os.mkfifo(root / "pipe")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        safe_download_path(root, "pipe")
    assert safe_download_path(root, "inside.txt") == (root / "inside.txt").resolve()


# -- stall deadlines ----------------------------------------------------------------------


async def test_trickling_server_fails_the_segment_within_the_deadline(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    """One byte every 0.05 s never stops a per-read timeout, but never brings 1 KiB in a
    0.5 s window either: each attempt is dropped, and the retries are bounded."""
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(trickle_delay=0.05))
    dest = tmp_path / "f.bin"
    with pytest.raises(Stalled) as err:
        await download(hostile, job_id, dest, concurrency=1, max_retries=1, stall_timeout=0.5)
    assert "stalled in each of 2 attempts" in str(err.value)
    assert "nothing downloaded is kept" in str(err.value)
    assert len(hostile.calls("GetJobOutput")) == 2 and not dest.exists()


async def test_a_stall_heals_on_retry(hostile: HostileGlacier, data: bytes,  # noqa: F811
                                      tmp_path: Path) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(trickle_delay=0.05, times=1))
    seen: list[TransferProgress] = []
    result = await download(hostile, job_id, tmp_path / "f.bin", concurrency=1,
                            stall_timeout=0.5, on_progress=seen.append)
    assert (tmp_path / "f.bin").read_bytes() == data and result.verified
    assert len(hostile.calls("GetJobOutput")) == N_SEGMENTS + 1
    assert any("retry 1" in p.message for p in seen)


# -- truthful results ------------------------------------------------------------------


async def test_html_with_200_is_called_not_glacier(hostile: HostileGlacier,  # noqa: F811
                                                   data: bytes, tmp_path: Path) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(html=True))
    with pytest.raises(NotGlacierResponse) as err:
        await download(hostile, job_id, tmp_path / "f.bin", concurrency=1)
    assert "not a Glacier response (text/html)" in str(err.value)
    assert "not finished" not in err.value.user_message()
    assert len(hostile.calls("GetJobOutput")) == 1  # final: no pointless retries
    assert not (tmp_path / "f.bin").exists()
    assert b"html" not in (tmp_path / "f.bin.part").read_bytes()


def test_cli_html_with_200_one_line(hostile: HostileGlacier, data: bytes,  # noqa: F811
                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(html=True))
    rc = cli_download(hostile.url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                              str(tmp_path / "f.bin"), "--quiet"])
    assert rc == 1
    assert "not a Glacier response (text/html)" in one_line(capsys.readouterr().err)


async def test_html_job_description_is_not_called_job_not_finished(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)

    async def page(_request: web.Request, _server: HostileGlacier) -> web.Response:
        return web.Response(body=b"<html>log in</html>", content_type="text/html")

    hostile.on("DescribeJob", page)
    with pytest.raises(NotGlacierResponse) as err:
        await download(hostile, job_id, tmp_path / "f.bin")
    assert "not a Glacier response (DescribeJob" in str(err.value)
    assert "not finished" not in err.value.user_message()
    assert leftovers(tmp_path) == []


async def test_ranged_answer_without_content_range_is_not_glacier(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(no_content_range=True))
    with pytest.raises(NotGlacierResponse, match="without Content-Range"):
        await download(hostile, job_id, tmp_path / "f.bin")


@pytest.mark.parametrize("lie", [
    OutputLie(claim_shift=MIB, times=2),  # says it is another range
    OutputLie(range_shift=MIB, times=2),  # is another range, and says so
    OutputLie(body_delta=-100, chunked=True, times=2),  # ends early, cleanly
    OutputLie(body_delta=-100, times=2),  # ends early, connection dropped
    OutputLie(body_delta=100, times=2),  # runs on past the range
    OutputLie(wrong_tree_hash=True, times=2),
], ids=["claims-other-range", "serves-other-range", "short-clean", "short-dropped", "long",
        "wrong-hash"])
async def test_lies_are_retried_and_never_written_at_the_wrong_offset(
    hostile: HostileGlacier, data: bytes, tmp_path: Path, lie: OutputLie,  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(lie)
    result = await download(hostile, job_id, tmp_path / "f.bin", concurrency=1)
    assert (tmp_path / "f.bin").read_bytes() == data and result.verified
    assert len(hostile.calls("GetJobOutput")) == N_SEGMENTS + 2


async def test_a_lying_range_forever_fails_with_what_is_kept(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(claim_shift=MIB))
    with pytest.raises(VerificationFailed) as err:
        await download(hostile, job_id, tmp_path / "f.bin", concurrency=1)
    assert "asked for bytes 0-1048575, the answer says it holds 1048576-2097151" in str(err.value)
    assert "nothing downloaded is kept" in str(err.value)


async def test_without_tree_hash_headers_the_whole_hash_still_verifies(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(omit_tree_hash=True))
    result = await download(hostile, job_id, tmp_path / "f.bin")
    assert result.verified and "whole output matches the job's tree hash" in result.verification


async def test_without_any_tree_hash_the_result_says_not_verified(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
) -> None:
    job_id = hostile.add_job(data, tree_hash_known=False)
    hostile.lie(OutputLie(omit_tree_hash=True))
    seen: list[TransferProgress] = []
    result = await download(hostile, job_id, tmp_path / "f.bin", on_progress=seen.append)
    assert not result.verified
    assert result.verification.startswith("not verified: the endpoint sent no "
                                          "x-amz-sha256-tree-hash for 5 of 5 segment(s)")
    assert seen[-1].state == TransferState.DONE and seen[-1].message == result.verification


def test_cli_says_not_verified_when_nothing_vouched_for_the_bytes(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_id = hostile.add_job(data, tree_hash_known=False)
    hostile.lie(OutputLie(omit_tree_hash=True))
    rc = cli_download(hostile.url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                              str(tmp_path / "g.bin"), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0 and out.strip() == str(tmp_path / "g.bin")
    assert ": not verified: the endpoint sent no" in one_line(err)


async def test_a_partly_unverified_journal_says_so(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    """Segments that came without a header are recorded as unchecked across a resume."""
    job_id = hostile.add_job(data, tree_hash_known=False)
    hostile.lie(OutputLie(omit_tree_hash=True, times=2))
    result = await download(hostile, job_id, tmp_path / "f.bin", concurrency=1)
    assert not result.verified and "for 2 of 5 segment(s)" in result.verification


async def test_changed_total_is_called_a_changed_output(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(total=SIZE + MIB))
    with pytest.raises(OutputChanged) as err:
        await download(hostile, job_id, tmp_path / "f.bin", concurrency=1)
    assert (f"the endpoint now says the job output is {SIZE + MIB:,} bytes; {SIZE:,} were "
            "expected; nothing downloaded so far is kept") in str(err.value)
    assert len(hostile.calls("GetJobOutput")) == 1
    journal = json.loads((tmp_path / "f.bin.part.journal").read_text())
    assert journal["segments"] == {}


async def test_changed_bytes_are_discarded_and_the_next_run_starts_over(
    hostile: HostileGlacier, data: bytes, tmp_path: Path  # noqa: F811
) -> None:
    """The endpoint serves other bytes (each segment consistent with its own header):
    the whole hash fails, nothing is kept, and an honest rerun fetches everything."""
    job_id = hostile.add_job(data)
    hostile.lie(OutputLie(data=os.urandom(SIZE)))
    with pytest.raises(VerificationFailed) as err:
        await download(hostile, job_id, tmp_path / "f.bin")
    assert "nothing downloaded is kept" in str(err.value)
    assert not (tmp_path / "f.bin").exists()
    hostile.lie(None)
    result = await download(hostile, job_id, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == data
    assert (result.segments_reused, result.segments_fetched) == (0, N_SEGMENTS)


async def test_disk_full_says_exactly_what_is_kept(
    hostile: HostileGlacier, data: bytes, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = hostile.add_job(data)
    real = transfer_files._pwrite_all
    calls = 0

    def full_after_three(fd: int, buf: Any, offset: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, buf, offset)

    monkeypatch.setattr(transfer_files, "_pwrite_all", full_after_three)
    with pytest.raises(DiskFull) as err:
        await download(hostile, job_id, tmp_path / "f.bin", concurrency=1)
    assert f"3 complete segment(s), {3 * MIB:,} bytes, are kept in f.bin.part" in str(err.value)
    monkeypatch.setattr(transfer_files, "_pwrite_all", real)
    result = await download(hostile, job_id, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == data and result.segments_reused == 3


# -- the hostile server itself --------------------------------------------------------------


async def test_hostile_server_endless_markers_and_hostile_names(
    hostile: HostileGlacier,  # noqa: F811
) -> None:
    hostile.hostile_names()
    hostile.endless_markers("ListVaults")
    async with ClientSession() as s:
        markers = set()
        for _ in range(3):
            async with s.get(f"{hostile.url}/-/vaults") as resp:
                doc = await resp.json()
            markers.add(doc["Marker"])
        assert len(markers) == 3 and doc["VaultList"][0]["VaultName"] == HOSTILE_TEXT
    assert [c["operation"] for c in hostile.calls()] == ["ListVaults"] * 3


async def test_hostile_server_as_an_async_context_manager(data: bytes, tmp_path: Path) -> None:
    async with HostileGlacier.serving() as server:
        job_id = server.add_job(data)
        result = await download(server, job_id, tmp_path / "f.bin")
    assert result.verified and (tmp_path / "f.bin").read_bytes() == data
