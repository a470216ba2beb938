"""Core emulator flows through unmodified boto3: vaults, uploads, multipart, jobs."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from glacier_tui.glacier.treehash import tree_hash

MIB = 1 << 20


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_vault_lifecycle(boto3_client: Any) -> None:
    c = boto3_client
    r = c.create_vault(vaultName="photos")
    assert r["location"] == "/123456789012/vaults/photos"
    assert r["ResponseMetadata"]["RequestId"]
    c.create_vault(vaultName="photos")  # idempotent
    d = c.describe_vault(vaultName="photos")
    assert d["VaultARN"] == "arn:aws:glacier:us-east-1:123456789012:vaults/photos"
    assert d["CreationDate"] == "2026-01-15T12:00:00.000Z"
    assert d["NumberOfArchives"] == 0 and "LastInventoryDate" not in d
    assert [v["VaultName"] for v in c.list_vaults()["VaultList"]] == ["photos"]
    c.delete_vault(vaultName="photos")
    with pytest.raises(ClientError) as e:
        c.describe_vault(vaultName="photos")
    assert code(e) == "ResourceNotFoundException"
    assert "Vault not found for ARN: arn:aws:glacier" in str(e.value)


def test_upload_retrieve_roundtrip(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    data = os.urandom(3 * MIB + 17)
    r = c.upload_archive(vaultName="v", body=data, archiveDescription="my file")
    assert r["checksum"] == tree_hash(data) and len(r["archiveId"]) == 138
    j = c.initiate_job(
        vaultName="v",
        jobParameters={
            "Type": "archive-retrieval",
            "ArchiveId": r["archiveId"],
            "Tier": "Expedited",
        },
    )
    assert len(j["jobId"]) == 92
    assert c.describe_job(vaultName="v", jobId=j["jobId"])["StatusCode"] == "InProgress"
    with pytest.raises(ClientError) as e:
        c.get_job_output(vaultName="v", jobId=j["jobId"])
    assert "not currently available for download" in str(e.value)
    emulator.advance(301)
    d = c.describe_job(vaultName="v", jobId=j["jobId"])
    assert d["StatusCode"] == "Succeeded" and d["SHA256TreeHash"] == tree_hash(data)
    out = c.get_job_output(vaultName="v", jobId=j["jobId"])
    assert out["status"] == 200 and out["body"].read() == data
    assert out["checksum"] == tree_hash(data)
    assert out["archiveDescription"] == "my file"
    part = c.get_job_output(vaultName="v", jobId=j["jobId"], range=f"bytes={2 * MIB}-{3 * MIB - 1}")
    assert part["status"] == 206 and part["body"].read() == data[2 * MIB : 3 * MIB]
    assert part["contentRange"] == f"bytes {2 * MIB}-{3 * MIB - 1}/{len(data)}"
    assert part["checksum"] == tree_hash(data[2 * MIB : 3 * MIB])
    odd = c.get_job_output(vaultName="v", jobId=j["jobId"], range="bytes=10-99")
    assert odd["body"].read() == data[10:100] and "checksum" not in odd


def test_multipart(boto3_client: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    data = os.urandom(2 * MIB + 5)
    u = c.initiate_multipart_upload(vaultName="v", partSize=str(MIB), archiveDescription="mp")
    uid = u["uploadId"]
    assert len(uid) == 92
    for start in range(0, len(data), MIB):
        chunk = data[start : start + MIB]
        r = c.upload_multipart_part(
            vaultName="v",
            uploadId=uid,
            body=chunk,
            range=f"bytes {start}-{start + len(chunk) - 1}/*",
        )
        assert r["checksum"] == tree_hash(chunk)
    parts = c.list_parts(vaultName="v", uploadId=uid)
    assert [p["RangeInBytes"] for p in parts["Parts"]] == [
        f"0-{MIB - 1}",
        f"{MIB}-{2 * MIB - 1}",
        f"{2 * MIB}-{2 * MIB + 4}",
    ]
    assert "Marker" not in parts
    ups = c.list_multipart_uploads(vaultName="v")["UploadsList"]
    assert ups[0]["MultipartUploadId"] == uid and ups[0]["ArchiveDescription"] == "mp"
    with pytest.raises(ClientError) as e:
        c.complete_multipart_upload(
            vaultName="v", uploadId=uid, archiveSize=str(len(data)), checksum="0" * 64
        )
    assert code(e) == "InvalidParameterValueException"
    r = c.complete_multipart_upload(
        vaultName="v", uploadId=uid, archiveSize=str(len(data)), checksum=tree_hash(data)
    )
    assert r["checksum"] == tree_hash(data)
    again = c.complete_multipart_upload(
        vaultName="v", uploadId=uid, archiveSize=str(len(data)), checksum=tree_hash(data)
    )
    assert again["archiveId"] == r["archiveId"]
    assert c.list_multipart_uploads(vaultName="v")["UploadsList"] == []
    u2 = c.initiate_multipart_upload(vaultName="v", partSize=str(MIB))
    c.abort_multipart_upload(vaultName="v", uploadId=u2["uploadId"])
    with pytest.raises(ClientError) as e:
        c.list_parts(vaultName="v", uploadId=u2["uploadId"])
    assert code(e) == "ResourceNotFoundException"


def test_inventory_and_delete(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    a = c.upload_archive(vaultName="v", body=b"abc", archiveDescription='x,"y"')["archiveId"]
    assert c.describe_vault(vaultName="v")["NumberOfArchives"] == 0  # lags like AWS
    with pytest.raises(ClientError) as e:
        c.delete_vault(vaultName="v")
    assert "Vault not empty or recently written to" in str(e.value)
    emulator.rebuild_inventory("v")
    d = c.describe_vault(vaultName="v")
    assert d["NumberOfArchives"] == 1 and d["LastInventoryDate"]
    j = c.initiate_job(
        vaultName="v", jobParameters={"Type": "inventory-retrieval", "Format": "CSV"}
    )
    emulator.advance(5 * 3600)
    body = c.get_job_output(vaultName="v", jobId=j["jobId"])["body"].read().decode()
    assert body.splitlines()[1].startswith(f'{a},"x,\\"y\\"",2026-01-15T12:00:00Z,3,')
    c.delete_archive(vaultName="v", archiveId=a)
    with pytest.raises(ClientError):
        c.delete_vault(vaultName="v")
    emulator.rebuild_inventory("v")
    c.delete_vault(vaultName="v")
