"""Transfers engine against the emulator: verified, parallel, resumable downloads and uploads."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier import downloads, errors, transfer_files, transfers, uploads
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.descriptions import decode_description
from glacier_tui.glacier.journal import UploadJournal, upload_journal_path
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.transfers import (
    DiskFull,
    TargetExists,
    TransferProgress,
    TransferState,
    VerificationFailed,
    download_job_output,
    upload_file,
)
from glacier_tui.glacier.treehash import MIB, tree_hash

SEG = MIB
DATA_SIZE = 8 * MIB + 12345  # 9 segments of 1 MiB, the last one short
N_SEGMENTS = 9


def options(url: str, attempts: int = 1) -> ClientOptions:
    return ClientOptions(endpoint_url=url, region="us-east-1", access_key="testing",
                         secret_key="testing", max_attempts=attempts, read_timeout=20)


def make_job(c: Any, emulator: Any, data: bytes, *, description: str = "file",
             vault: str = "v") -> str:
    c.create_vault(vaultName=vault)
    archive = c.upload_archive(vaultName=vault, body=data, archiveDescription=description)
    job = c.initiate_job(vaultName=vault, jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive["archiveId"], "Tier": "Expedited"})
    emulator.advance(6 * 3600)
    return str(job["jobId"])


def output_gets(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r.get("operation") == "GetJobOutput"]


async def describe(url: str, job_id: str, vault: str = "v") -> Job:
    async with GlacierClient(options(url)) as g:
        return await g.describe_job(vault, job_id)


async def download(url: str, job: Job, dest: Path, attempts: int = 1,
                   **kwargs: Any) -> transfers.DownloadResult:
    kwargs.setdefault("segment_size", SEG)
    kwargs.setdefault("retry_delay", 0.01)
    async with GlacierClient(options(url, attempts)) as g:
        return await download_job_output(g, "v", job, dest, **kwargs)


@pytest.fixture
def data() -> bytes:
    return os.urandom(DATA_SIZE)


# -- downloads -----------------------------------------------------------------------


async def test_download_verified_parallel(boto3_client: Any, emulator: Any, emulator_url: str,
                                          data: bytes, tmp_path: Path) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    emulator.clear_requests()
    seen: list[TransferProgress] = []
    dest = tmp_path / "out" / "file.bin"
    result = await download(emulator_url, job, dest, concurrency=4, on_progress=seen.append)
    assert dest.read_bytes() == data
    assert result.tree_hash == tree_hash(data) and result.bytes == len(data)
    assert (result.segments_fetched, result.segments_reused) == (N_SEGMENTS, 0)
    gets = output_gets(emulator)
    assert len(gets) == N_SEGMENTS and all(g["status"] == 206 for g in gets)
    assert not (tmp_path / "out" / "file.bin.part").exists()
    assert not (tmp_path / "out" / "file.bin.part.journal").exists()
    assert seen[-1].state == TransferState.DONE and seen[-1].done == len(data)
    assert {p.state for p in seen} >= {TransferState.RUNNING, TransferState.VERIFYING}


@pytest.mark.parametrize("cancel_after", [0, 1, 3, 5, 8])
async def test_resume_after_cancel_at_segment_boundaries(
    boto3_client: Any, emulator: Any, emulator_url: str, data: bytes, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, cancel_after: int,
) -> None:
    """Cancel right after the N-th segment is journalled; the rerun fetches only the rest."""
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    dest = tmp_path / "f.bin"
    real_write = downloads.atomic_write_json
    writes = 0
    task: asyncio.Task[Any] | None = None

    def counting_write(path: Path, doc: dict[str, Any]) -> None:
        nonlocal writes
        real_write(path, doc)
        if len(doc.get("segments", {})) >= cancel_after and task is not None:
            writes += 1
            if writes == 1:
                task.get_loop().call_soon_threadsafe(task.cancel)

    monkeypatch.setattr(downloads, "atomic_write_json", counting_write)
    task = asyncio.create_task(download(emulator_url, job, dest, concurrency=1))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not dest.exists()
    journal = json.loads((tmp_path / "f.bin.part.journal").read_text())
    done = len(journal["segments"])
    assert done >= cancel_after
    monkeypatch.setattr(downloads, "atomic_write_json", real_write)
    emulator.clear_requests()
    result = await download(emulator_url, job, dest, concurrency=3)
    assert dest.read_bytes() == data
    assert result.segments_reused == done
    assert len(output_gets(emulator)) == N_SEGMENTS - done == result.segments_fetched


@pytest.mark.parametrize("cancel_at_block", [1, 4, 7])
async def test_resume_after_cancel_mid_segment(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, cancel_at_block: int,
) -> None:
    """Cancel while a segment's bytes are being written: that segment is fetched again."""
    data = os.urandom(6 * MIB + 99)  # 4 segments of 2 MiB (the last short), 1 MiB blocks
    monkeypatch.setattr(downloads, "WRITE_BLOCK", MIB)
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    dest = tmp_path / "f.bin"
    real = downloads._hash_and_write
    calls = 0
    task: asyncio.Task[Any] | None = None

    def hooked(fd: int, block: bytearray, offset: int) -> list[bytes]:
        nonlocal calls
        calls += 1
        if calls == cancel_at_block and task is not None:
            task.get_loop().call_soon_threadsafe(task.cancel)
            time.sleep(0.05)
        return real(fd, block, offset)

    monkeypatch.setattr(downloads, "_hash_and_write", hooked)
    task = asyncio.create_task(download(emulator_url, job, dest, concurrency=1,
                                        segment_size=2 * MIB))
    with pytest.raises(asyncio.CancelledError):
        await task
    done = len(json.loads((tmp_path / "f.bin.part.journal").read_text())["segments"])
    assert done == (cancel_at_block - 1) // 2  # only whole, verified segments count
    monkeypatch.setattr(downloads, "_hash_and_write", real)
    emulator.clear_requests()
    result = await download(emulator_url, job, dest, segment_size=2 * MIB)
    assert dest.read_bytes() == data and result.segments_reused == done
    assert len(output_gets(emulator)) == 4 - done


_KILL_SCRIPT = """
import asyncio, sys
from pathlib import Path
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.transfers import download_job_output

async def main():
    opts = ClientOptions(endpoint_url=sys.argv[1], region="us-east-1", access_key="testing",
                         secret_key="testing", max_attempts=1)
    async with GlacierClient(opts) as g:
        job = await g.describe_job("v", sys.argv[2])
        await download_job_output(g, "v", job, Path(sys.argv[3]), segment_size=1 << 20,
                                  concurrency=2)

asyncio.run(main())
"""


async def test_resume_after_sigkill(boto3_client: Any, emulator: Any, emulator_url: str,
                                    data: bytes, tmp_path: Path) -> None:
    job_id = make_job(boto3_client, emulator, data)
    # DescribeJob and 4 segments go through, then the network "hangs": the kill lands at
    # an exact point however slow or busy the machine is.
    emulator.set_faults({"stall_after": 5})
    dest = tmp_path / "k.bin"
    journal = tmp_path / "k.bin.part.journal"
    # A real process, killed for real: the journal must survive SIGKILL.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-c", _KILL_SCRIPT, emulator_url, job_id, str(dest)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = json.loads(journal.read_text()) if journal.exists() else {}
            if len(doc.get("segments", {})) >= 4:
                break
            await asyncio.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL and not dest.exists()
    done = len(json.loads(journal.read_text())["segments"])
    assert done == 4
    emulator.set_faults(None)
    emulator.clear_requests()
    result = await download(emulator_url, await describe(emulator_url, job_id), dest)
    assert dest.read_bytes() == data
    assert (result.segments_reused, result.segments_fetched) == (done, N_SEGMENTS - done)
    served = [r for r in output_gets(emulator) if r.get("fault") != "stall"]
    assert len(served) == N_SEGMENTS - done


async def test_damaged_part_file_is_refetched(boto3_client: Any, emulator: Any,
                                              emulator_url: str, data: bytes,
                                              tmp_path: Path) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    dest = tmp_path / "f.bin"
    part = tmp_path / "f.bin.part"
    journal = tmp_path / "f.bin.part.journal"
    await download(emulator_url, job, dest)
    # Pretend a run stopped after all segments were journalled, then flip a byte on disk.
    doc = {"job_id": job.job_id, "vault": "v", "total": len(data), "segment_size": SEG,
           "expected_hash": tree_hash(data), "version": 1,
           "segments": {str(i): tree_hash(data[i * SEG:(i + 1) * SEG])
                        for i in range(N_SEGMENTS)}}
    damaged = bytearray(data)
    damaged[3 * SEG + 7] ^= 1
    part.write_bytes(damaged)
    journal.write_text(json.dumps(doc))
    dest.unlink()
    emulator.clear_requests()
    result = await download(emulator_url, job, dest)
    assert dest.read_bytes() == data
    assert result.segments_fetched == 1 and len(output_gets(emulator)) == 1


@pytest.mark.parametrize("seed", [7, 11])
async def test_faults_still_byte_exact(boto3_client: Any, emulator: Any, emulator_url: str,
                                       data: bytes, tmp_path: Path, seed: int) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    emulator.set_faults({"throttle": 0.15, "error5xx": 0.1, "reset": 0.1, "corrupt": 0.15,
                         "seed": seed})
    dest = tmp_path / "f.bin"
    result = await download(emulator_url, job, dest, attempts=2, concurrency=4, max_retries=12)
    assert dest.read_bytes() == data and result.tree_hash == tree_hash(data)
    faults = [r for r in output_gets(emulator) if r.get("fault")]
    assert faults, "the fault injector should have hit some requests"


async def test_corruption_that_never_heals(boto3_client: Any, emulator: Any, emulator_url: str,
                                           data: bytes, tmp_path: Path) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    emulator.set_faults({"corrupt": 1.0})
    dest = tmp_path / "f.bin"
    states: list[TransferState] = []
    with pytest.raises(VerificationFailed) as err:
        await download(emulator_url, job, dest, max_retries=2,
                       on_progress=lambda p: states.append(p.state))
    assert "after 3 attempts" in str(err.value) and "resume" in err.value.user_message()
    assert not dest.exists() and (tmp_path / "f.bin.part").exists()
    assert states[-1] == TransferState.FAILED


async def test_expired_output(boto3_client: Any, emulator: Any, emulator_url: str,
                              data: bytes, tmp_path: Path) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    emulator.advance(25 * 3600)
    with pytest.raises(errors.JobOutputExpired) as err:
        await download(emulator_url, job, tmp_path / "f.bin")
    msg = err.value.user_message()
    assert "24 hours" in msg and "initiate the retrieval job again" in msg
    assert not (tmp_path / "f.bin").exists()


async def test_job_not_ready(boto3_client: Any, emulator: Any, emulator_url: str,
                             data: bytes, tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    archive = boto3_client.upload_archive(vaultName="v", body=data)
    job_id = boto3_client.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive["archiveId"]})["jobId"]
    job = await describe(emulator_url, job_id)
    emulator.clear_requests()
    with pytest.raises(errors.JobOutputNotReady) as err:
        await download(emulator_url, job, tmp_path / "f.bin")
    assert "Succeeded" in err.value.user_message()
    assert output_gets(emulator) == []
    # A stale "Succeeded" view of a running job: the service's answer is mapped too.
    forged = job.model_copy(update={"status_code": "Succeeded", "completed": True})
    with pytest.raises(errors.JobOutputNotReady):
        await download(emulator_url, forged, tmp_path / "f.bin")


async def test_existing_target_and_overwrite(boto3_client: Any, emulator: Any,
                                             emulator_url: str, data: bytes,
                                             tmp_path: Path) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"precious")
    emulator.clear_requests()
    with pytest.raises(TargetExists):
        await download(emulator_url, job, dest)
    assert dest.read_bytes() == b"precious" and output_gets(emulator) == []
    await download(emulator_url, job, dest, overwrite=True)
    assert dest.read_bytes() == data


async def test_free_space_checked_before_start(boto3_client: Any, emulator: Any,
                                               emulator_url: str, data: bytes,
                                               tmp_path: Path) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    emulator.clear_requests()
    with pytest.raises(DiskFull) as err:
        await download(emulator_url, job, tmp_path / "f.bin", free_space=lambda p: MIB)
    assert f"{len(data):,}" in str(err.value)
    assert output_gets(emulator) == []


async def test_disk_full_while_writing(boto3_client: Any, emulator: Any, emulator_url: str,
                                       data: bytes, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    job = await describe(emulator_url, make_job(boto3_client, emulator, data))
    real = transfer_files._pwrite_all
    calls = 0

    def full_after_three(fd: int, buf: Any, offset: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, buf, offset)

    monkeypatch.setattr(transfer_files, "_pwrite_all", full_after_three)
    dest = tmp_path / "f.bin"
    with pytest.raises(DiskFull) as err:
        await download(emulator_url, job, dest, concurrency=1)
    assert "disk filled up" in str(err.value) and "kept" in err.value.user_message()
    assert not dest.exists() and (tmp_path / "f.bin.part").exists()
    monkeypatch.setattr(transfer_files, "_pwrite_all", real)
    result = await download(emulator_url, job, dest)
    assert dest.read_bytes() == data and result.segments_reused == 3


async def test_inventory_download(boto3_client: Any, emulator: Any, emulator_url: str,
                                  tmp_path: Path) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    for i in range(30):
        c.upload_archive(vaultName="v", body=b"x" * (i + 1), archiveDescription=f"file {i}")
    emulator.rebuild_inventory("v")
    job_id = c.initiate_job(vaultName="v", jobParameters={"Type": "inventory-retrieval"})["jobId"]
    emulator.advance(6 * 3600)
    job = await describe(emulator_url, job_id)
    assert job.is_inventory_retrieval
    expected = c.get_job_output(vaultName="v", jobId=job_id)["body"].read()
    name = transfers.default_output_name(job, "v", None)
    assert name.startswith("inventory-v-") and name.endswith(".json")
    dest = tmp_path / name
    result = await download(emulator_url, job, dest)
    assert dest.read_bytes() == expected and result.bytes == len(expected)
    assert len(json.loads(expected)["ArchiveList"]) == 30


# -- names and paths -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "etc/passwd"),
    ("/abs/path.txt", "abs/path.txt"),
    ("C:\\Windows\\evil.dll", "Windows/evil.dll"),
    ("a/./b/../c.txt", "a/b/c.txt"),
    ("bad\x1b[31mred\x07\nname.txt", "badred name.txt"),
    ("spaces/ ok .txt", "spaces/ok .txt"),
    ("résumé.pdf", "résumé.pdf"),
])
def test_safe_download_path(tmp_path: Path, name: str, expected: str) -> None:
    path = transfers.safe_download_path(tmp_path, name)
    assert path == tmp_path.resolve() / expected
    assert path.is_relative_to(tmp_path.resolve())


@pytest.mark.parametrize("name", ["", "..", "../..", "/", "\x00\x01", " / . "])
def test_safe_download_path_refuses_empty(tmp_path: Path, name: str) -> None:
    with pytest.raises(transfers.UnsafePathError):
        transfers.safe_download_path(tmp_path, name)


def test_safe_download_path_refuses_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "dl"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(transfers.UnsafePathError):
        transfers.safe_download_path(root, "link/x.txt")
    (root / "evil.txt").symlink_to(outside / "x.txt")
    with pytest.raises(transfers.UnsafePathError):
        transfers.safe_download_path(root, "evil.txt")
    (root / "inside").mkdir()
    (root / "ok").symlink_to(root / "inside")
    assert transfers.safe_download_path(root, "ok/y") == (root / "inside" / "y").resolve()


def test_default_output_name_from_descriptions() -> None:
    job = Job.from_api({"JobId": "J1", "Action": "ArchiveRetrieval", "StatusCode": "Succeeded",
                        "ArchiveId": "A1"})
    mt2 = transfers.archive_description_for("../../etc/passwd", 0)
    assert transfers.default_output_name(job, "v", mt2) == "etc/passwd"
    assert transfers.default_output_name(job, "v", "plain\x1b[2Jname") == "plainname"
    assert transfers.default_output_name(job, "v", None) == "J1.bin"
    assert transfers.default_output_name(job, "v", "") == "J1.bin"
    assert transfers.default_output_name(job, "v", "mt2 !!!notbase64") == "J1.bin"


# -- uploads -------------------------------------------------------------------------------


def test_description_non_ascii_and_too_long() -> None:
    mtime = datetime(2024, 5, 1, 10, 0, 59, tzinfo=UTC).timestamp()
    text = transfers.archive_description_for("Fotos/Ünïcødé 日本.jpg", mtime)
    assert text.isascii() and text.startswith("mt2 ") and len(text) <= 1024
    decoded = decode_description(text, "x")
    assert decoded.path == "Fotos/Ünïcødé 日本.jpg" and decoded.source == "mt2"
    assert decoded.mtime == datetime(2024, 5, 1, 10, 0, 59, tzinfo=UTC)
    with pytest.raises(transfers.DescriptionError) as err:
        transfers.archive_description_for("d/" * 400 + "f", mtime)
    assert "1024" in err.value.user_message()


def test_choose_part_size_boundaries() -> None:
    choose = transfers.choose_part_size
    assert choose(1, MIB) == MIB
    assert choose(10_000 * MIB, MIB) == MIB  # exactly 10,000 parts
    assert choose(10_000 * MIB + 1, MIB) == 2 * MIB
    assert choose(100 * MIB, 3 * MIB) == 4 * MIB  # rounded up to a power of two
    assert choose(5 * MIB, 8 * MIB) == 8 * MIB
    assert choose(10_000 * 4096 * MIB, MIB) == 4096 * MIB  # 4 GiB parts, 10,000 of them
    assert choose(10_000 * 2048 * MIB + 1, MIB) == 4096 * MIB
    with pytest.raises(transfers.FileTooLarge):
        choose(10_000 * 4096 * MIB + 1, MIB)
    with pytest.raises(transfers.InvalidTransferSettings):
        choose(MIB, 8192 * MIB)


async def test_too_long_name_fails_before_any_request(emulator: Any, emulator_url: str,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello")
    emulator.clear_requests()
    async with GlacierClient(options(emulator_url)) as g:
        with pytest.raises(transfers.DescriptionError):
            await upload_file(g, "v", path, relative_name="x/" * 500 + "f.txt")
    assert emulator.requests() == []


async def upload(url: str, path: Path, tmp_path: Path, attempts: int = 1,
                 **kwargs: Any) -> transfers.UploadResult:
    kwargs.setdefault("journal_dir", tmp_path / "journals")
    kwargs.setdefault("retry_delay", 0.01)
    async with GlacierClient(options(url, attempts)) as g:
        return await upload_file(g, "v", path, **kwargs)


def roundtrip(c: Any, emulator: Any, archive_id: str) -> tuple[bytes, str]:
    job_id = c.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Expedited"})["jobId"]
    emulator.advance(6 * 3600)
    out = c.get_job_output(vaultName="v", jobId=job_id)
    return out["body"].read(), out["archiveDescription"]


def uploads_of(emulator: Any, op: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r.get("operation") == op]


async def test_upload_single(boto3_client: Any, emulator: Any, emulator_url: str,
                             tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    data = os.urandom(3 * MIB + 5)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    seen: list[TransferProgress] = []
    result = await upload(emulator_url, path, tmp_path, relative_name="trip/photo.jpg",
                          on_progress=seen.append)
    assert result.tree_hash == tree_hash(data) and result.size == len(data)
    assert len(uploads_of(emulator, "UploadArchive")) == 1
    body, description = roundtrip(boto3_client, emulator, result.archive_id)
    assert body == data
    decoded = decode_description(description, "x")
    assert decoded.path == "trip/photo.jpg"
    assert decoded.mtime == datetime.fromtimestamp(1_700_000_000, UTC)
    assert seen[-1].state == TransferState.DONE and seen[-1].done == len(data)


async def test_upload_multipart(boto3_client: Any, emulator: Any, emulator_url: str,
                                tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    data = os.urandom(5 * MIB + 333)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    result = await upload(emulator_url, path, tmp_path, threshold=MIB, min_part_size=MIB,
                          concurrency=3)
    assert result.parts_uploaded == 6 and result.tree_hash == tree_hash(data)
    assert len(uploads_of(emulator, "UploadMultipartPart")) == 6
    assert list((tmp_path / "journals").glob("*.json")) == []
    assert roundtrip(boto3_client, emulator, result.archive_id)[0] == data


async def test_upload_multipart_faults(boto3_client: Any, emulator: Any, emulator_url: str,
                                       tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    data = os.urandom(6 * MIB + 1)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    emulator.set_faults({"throttle": 0.15, "error5xx": 0.1, "reset": 0.1, "seed": 3})
    result = await upload(emulator_url, path, tmp_path, attempts=2, threshold=MIB,
                          part_size=MIB, max_retries=12)
    emulator.set_faults(None)
    assert roundtrip(boto3_client, emulator, result.archive_id)[0] == data


@pytest.mark.parametrize("abort_on_cancel", [False, True])
async def test_upload_multipart_resume_after_cancel(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, abort_on_cancel: bool,
) -> None:
    boto3_client.create_vault(vaultName="v")
    data = os.urandom(7 * MIB + 10)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    real_write = uploads.atomic_write_json
    task: asyncio.Task[Any] | None = None

    def counting_write(p: Path, doc: dict[str, Any]) -> None:
        real_write(p, doc)
        if len(doc.get("parts", {})) == 3 and task is not None:
            task.get_loop().call_soon_threadsafe(task.cancel)

    monkeypatch.setattr(uploads, "atomic_write_json", counting_write)
    task = asyncio.create_task(upload(emulator_url, path, tmp_path, threshold=MIB,
                                      part_size=MIB, concurrency=1,
                                      abort_on_cancel=abort_on_cancel))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.setattr(uploads, "atomic_write_json", real_write)
    journals = list((tmp_path / "journals").glob("*.json"))
    listed = boto3_client.list_multipart_uploads(vaultName="v")["UploadsList"]
    if abort_on_cancel:
        assert journals == [] and listed == []
        return
    assert len(journals) == 1 and len(listed) == 1
    emulator.clear_requests()
    result = await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert result.parts_reused >= 3 and result.parts_reused + result.parts_uploaded == 8
    assert len(uploads_of(emulator, "ListParts")) == 1
    assert len(uploads_of(emulator, "UploadMultipartPart")) == result.parts_uploaded
    assert uploads_of(emulator, "InitiateMultipartUpload") == []
    assert roundtrip(boto3_client, emulator, result.archive_id)[0] == data


async def test_upload_resume_when_journal_lags(boto3_client: Any, emulator: Any,
                                               emulator_url: str, tmp_path: Path) -> None:
    """Parts on the server but missing from the journal (kill between the two) are reused."""
    boto3_client.create_vault(vaultName="v")
    data = os.urandom(4 * MIB)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    st = path.stat()
    description = transfers.archive_description_for("f.bin", st.st_mtime)
    upload_id = boto3_client.initiate_multipart_upload(
        vaultName="v", partSize=str(MIB), archiveDescription=description)["uploadId"]
    for i in (0, 2):
        boto3_client.upload_multipart_part(vaultName="v", uploadId=upload_id,
                                           range=f"bytes {i * MIB}-{(i + 1) * MIB - 1}/*",
                                           body=data[i * MIB:(i + 1) * MIB])
    jdir = tmp_path / "journals"
    jpath = upload_journal_path(jdir, path, st.st_size, st.st_mtime_ns, "v")
    UploadJournal(str(path), st.st_size, st.st_mtime_ns, "v", upload_id, MIB,
                  description, {0: tree_hash(data[:MIB])}).save(jpath)
    emulator.clear_requests()
    result = await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert (result.parts_reused, result.parts_uploaded) == (2, 2)
    assert roundtrip(boto3_client, emulator, result.archive_id)[0] == data


async def test_upload_expired_upload_starts_over(boto3_client: Any, emulator: Any,
                                                 emulator_url: str, tmp_path: Path) -> None:
    boto3_client.create_vault(vaultName="v")
    data = os.urandom(2 * MIB + 1)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    st = path.stat()
    jdir = tmp_path / "journals"
    jpath = upload_journal_path(jdir, path, st.st_size, st.st_mtime_ns, "v")
    UploadJournal(str(path), st.st_size, st.st_mtime_ns, "v", "gone" * 23, MIB,
                  transfers.archive_description_for("f.bin", st.st_mtime),
                  {0: "00" * 32}).save(jpath)
    result = await upload(emulator_url, path, tmp_path, threshold=MIB, part_size=MIB)
    assert (result.parts_reused, result.parts_uploaded) == (0, 3)
    assert roundtrip(boto3_client, emulator, result.archive_id)[0] == data


async def test_upload_empty_and_bad_part_size(emulator: Any, emulator_url: str,
                                              tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(transfers.TransferError, match="empty"):
        await upload(emulator_url, empty, tmp_path)
    small = tmp_path / "small"
    small.write_bytes(b"x" * (3 * MIB))
    with pytest.raises(transfers.InvalidTransferSettings):
        await upload(emulator_url, small, tmp_path, threshold=MIB, part_size=3 * MIB)
    assert emulator.requests() == []
