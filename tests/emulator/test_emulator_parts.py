"""Multipart part storage: in place in one per-upload file, re-uploads kept apart until they
verify, completion without copying, cleanup after the commit, one write transaction per part."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from glacier_tui.glacier.treehash import tree_hash

MIB = 1 << 20


def _archive(emulator: Any, c: Any, archive_id: str) -> bytes:
    job = c.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Expedited"})["jobId"]
    emulator.advance(6 * 3600)
    return bytes(c.get_job_output(vaultName="v", jobId=job)["body"].read())


def _put(c: Any, uid: str, data: bytes, start: int, **extra: Any) -> Any:
    return c.upload_multipart_part(vaultName="v", uploadId=uid, body=data,
                                   range=f"bytes {start}-{start + len(data) - 1}/*", **extra)


def _start(c: Any) -> str:
    """A vault "v" and a multipart upload of 1 MiB parts in it; the upload id."""
    c.create_vault(vaultName="v")
    return str(c.initiate_multipart_upload(vaultName="v", partSize=str(MIB))["uploadId"])


def _complete(c: Any, uid: str, data: bytes) -> Any:
    return c.complete_multipart_upload(vaultName="v", uploadId=uid, archiveSize=str(len(data)),
                                       checksum=tree_hash(data))


def _upload_dir(emulator: Any, uid: str) -> Path:
    return Path(emulator.emulator.store.upload_dir(uid))


def test_parts_in_place_complete_without_copy(emulator: Any, boto3_client: Any) -> None:
    c = boto3_client
    uid = _start(c)
    data = os.urandom(3 * MIB + 123)
    for start in (2 * MIB, 0, 3 * MIB, MIB):  # any order
        _put(c, uid, data[start : start + MIB], start)
    shared = _upload_dir(emulator, uid) / "upload.bin"
    assert shared.stat().st_size == len(data)
    assert [p.name for p in _upload_dir(emulator, uid).iterdir()] == ["upload.bin"]
    inode = shared.stat().st_ino
    r = _complete(c, uid, data)
    assert r["checksum"] == tree_hash(data)
    row = emulator.emulator.store.db.execute("SELECT blob FROM archives WHERE id=?",
                                    (r["archiveId"],)).fetchone()
    assert emulator.emulator.store.abs(row["blob"]).stat().st_ino == inode  # linked, not copied
    assert not _upload_dir(emulator, uid).exists()  # the upload's name went after the commit
    assert _archive(emulator, c, r["archiveId"]) == data


def test_reupload_of_acknowledged_part_keeps_old_bytes_until_it_verifies(
    emulator: Any, boto3_client: Any
) -> None:
    c = boto3_client
    uid = _start(c)
    first, second = os.urandom(MIB), os.urandom(MIB)
    tail = os.urandom(1000)
    _put(c, uid, first, 0)
    _put(c, uid, tail, MIB)
    # A re-upload that fails verification must not have touched the acknowledged bytes.
    with pytest.raises(ClientError):
        _put(c, uid, second, 0, checksum=tree_hash(first))
    whole = first + tail
    r = _complete(c, uid, whole)
    assert _archive(emulator, c, r["archiveId"]) == whole

    # A good re-upload replaces the part: its bytes are put in place at completion.
    uid = c.initiate_multipart_upload(vaultName="v", partSize=str(MIB))["uploadId"]
    _put(c, uid, first, 0)
    _put(c, uid, tail, MIB)
    _put(c, uid, second, 0)
    whole = second + tail
    r = _complete(c, uid, whole)
    assert _archive(emulator, c, r["archiveId"]) == whole


def test_failed_body_past_the_end_is_not_in_the_archive(emulator: Any, boto3_client: Any) -> None:
    c = boto3_client
    uid = _start(c)
    data = os.urandom(MIB + 10)
    _put(c, uid, data[:MIB], 0)
    _put(c, uid, data[MIB:], MIB)
    with pytest.raises(ClientError):  # written in place at 2 MiB, then refused
        _put(c, uid, os.urandom(MIB), 2 * MIB, checksum="0" * 64)
    r = _complete(c, uid, data)
    assert _archive(emulator, c, r["archiveId"]) == data


def test_abort_removes_the_upload_files(emulator: Any, boto3_client: Any) -> None:
    c = boto3_client
    uid = _start(c)
    _put(c, uid, os.urandom(MIB), 0)
    _put(c, uid, os.urandom(MIB), 0)  # a second copy, stored apart
    assert len(list(_upload_dir(emulator, uid).iterdir())) == 2
    c.abort_multipart_upload(vaultName="v", uploadId=uid)
    assert not _upload_dir(emulator, uid).exists()


def test_part_upload_is_one_write_transaction(emulator: Any, boto3_client: Any) -> None:
    """Only the part's final transaction changes the database (the begin step reads)."""
    c = boto3_client
    uid = _start(c)
    db = emulator.emulator.store.db
    before = db.total_changes
    _put(c, uid, os.urandom(MIB), 0)
    # The part row and the upload's last_activity: both in one transaction.
    assert db.total_changes - before == 2


def test_capped_parallel_parts_overlap_on_the_wire(
    emulator: Any, boto3_client: Any, tmp_path: Path
) -> None:
    """With each stream capped, upload_file's parts are in flight together (request log)."""
    import asyncio

    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.transfers import upload_file

    boto3_client.create_vault(vaultName="v")
    src = tmp_path / "src.bin"
    data = os.urandom(8 * MIB)
    src.write_bytes(data)
    emulator.set_faults("bandwidth=8MiB")
    emulator.clear_requests()
    opts = ClientOptions(endpoint_url=emulator.url, region="us-east-1", access_key="testing",
                         secret_key="testing", max_attempts=1)

    async def run() -> str:
        async with GlacierClient(opts) as g:
            r = await upload_file(g, "v", src, part_size=MIB, threshold=MIB, concurrency=4,
                                  journal_dir=tmp_path / "j")
            return r.tree_hash

    assert asyncio.run(run()) == tree_hash(data)
    emulator.set_faults("")
    parts = [e for e in emulator.requests() if e["operation"] == "UploadMultipartPart"]
    assert len(parts) == 8 and all(e["status"] < 300 for e in parts)
    # Most parts in flight at once: a start counts up, an end counts down (ends first on ties).
    events = sorted([(e["t_start"], 1) for e in parts] + [(e["t_end"], -1) for e in parts],
                    key=lambda ev: (ev[0], ev[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert 2 <= peak <= 4
