"""Every remaining operation and the error paths, through sync boto3."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from glacier_tui.glacier.treehash import tree_hash

MIB = 1 << 20


def err(fn: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return dict(
        e.value.response["Error"], status=e.value.response["ResponseMetadata"]["HTTPStatusCode"]
    )


def test_error_body_shape_and_auth(emulator_url: str) -> None:
    r = requests.get(f"{emulator_url}/-/vaults")
    assert r.status_code == 400 and r.json()["code"] == "MissingAuthenticationTokenException"
    assert set(r.json()) == {"code", "message", "type"} and r.headers["x-amzn-RequestId"]
    auth = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260115/us-east-1/glacier/aws4_request"
    }
    r = requests.get(f"{emulator_url}/-/vaults", headers=auth)  # no Signature, no SignedHeaders
    assert r.status_code == 400 and r.json()["code"] == "IncompleteSignatureException"


def test_account_id_must_be_the_callers(boto3_client: Any) -> None:
    assert boto3_client.list_vaults(accountId="123456789012")["VaultList"] == []
    assert err(boto3_client.list_vaults, accountId="999999999999")["status"] == 403
    assert err(boto3_client.list_vaults, accountId="999999999999")["Code"] == (
        "AccessDeniedException"
    )


def test_vault_rules_and_paging(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    assert err(c.create_vault, vaultName="bad/name")["Code"] in (
        "InvalidParameterValueException",
        "ResourceNotFoundException",
    )
    assert err(c.create_vault, vaultName="x" * 256)["Code"] == "InvalidParameterValueException"
    for i in range(23):
        c.create_vault(vaultName=f"v{i:02d}")
    first = c.list_vaults()
    assert len(first["VaultList"]) == 10
    assert first["Marker"] == "arn:aws:glacier:us-east-1:123456789012:vaults/v10"
    second = c.list_vaults(marker=first["Marker"])
    assert second["VaultList"][0]["VaultName"] == "v10"  # inclusive marker
    names = [
        v["VaultName"] for p in c.get_paginator("list_vaults").paginate() for v in p["VaultList"]
    ]
    assert names == [f"v{i:02d}" for i in range(23)]
    assert len(c.list_vaults(limit="3")["VaultList"]) == 3
    emulator.set_config(max_vaults=23)
    assert err(c.create_vault, vaultName="one-too-many")["Code"] == "LimitExceededException"


def test_upload_errors(boto3_client: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    e = err(c.upload_archive, vaultName="v", body=b"data", checksum="ab" * 32)
    assert e["Code"] == "InvalidParameterValueException" and "Checksum mismatch" in e["Message"]
    e = err(c.upload_archive, vaultName="v", body=b"data", archiveDescription="é")
    assert e["Code"] == "InvalidParameterValueException"
    e = err(c.upload_archive, vaultName="v", body=b"data", archiveDescription="x" * 1025)
    assert e["Code"] == "InvalidParameterValueException"
    assert err(c.upload_archive, vaultName="nope", body=b"d")["status"] == 404
    assert err(c.delete_archive, vaultName="v", archiveId="x" * 138)["status"] == 404
    c.create_vault(vaultName="w")
    a = c.upload_archive(vaultName="w", body=b"d")["archiveId"]
    assert "Invalid vault name" in err(c.delete_archive, vaultName="v", archiveId=a)["Message"]


def test_multipart_errors(boto3_client: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    for bad in ("1000", "3145728", str(8 * 1024**3), "abc"):
        e = err(c.initiate_multipart_upload, vaultName="v", partSize=bad)
        assert e["Message"].startswith(f"Invalid part size: {bad}.")
    uid = c.initiate_multipart_upload(vaultName="v", partSize=str(MIB))["uploadId"]
    part = os.urandom(MIB)
    e = err(c.upload_multipart_part, vaultName="v", uploadId=uid, body=part, range="bytes 0-5")
    assert e["Message"] == "Invalid Content-Range: bytes 0-5"
    e = err(
        c.upload_multipart_part,
        vaultName="v",
        uploadId=uid,
        body=part[:100],
        range=f"bytes 0-{MIB - 1}/*",
    )
    assert "is incompatible with Content-Length: 100" in e["Message"]
    e = err(
        c.upload_multipart_part, vaultName="v", uploadId=uid, body=part[:100], range="bytes 5-104/*"
    )
    assert e["Code"] == "InvalidParameterValueException"
    e = err(
        c.upload_multipart_part,
        vaultName="v",
        uploadId=uid,
        body=part,
        range=f"bytes 0-{MIB - 1}/*",
        checksum="00" * 32,
    )
    assert "Checksum mismatch" in e["Message"]
    assert c.list_parts(vaultName="v", uploadId=uid)["Parts"] == []  # nothing stored
    c.upload_multipart_part(vaultName="v", uploadId=uid, body=part[:10], range="bytes 0-9/*")
    c.upload_multipart_part(
        vaultName="v", uploadId=uid, body=part, range=f"bytes {MIB}-{2 * MIB - 1}/*"
    )
    e = err(
        c.complete_multipart_upload,
        vaultName="v",
        uploadId=uid,
        archiveSize=str(MIB + 10),
        checksum="00" * 32,
    )
    assert e["Code"] == "InvalidParameterValueException"  # short non-last part
    e = err(c.complete_multipart_upload, vaultName="v", uploadId=uid, archiveSize="1")
    assert e["Code"] == "MissingParameterValueException"
    assert err(c.list_parts, vaultName="v", uploadId="nope")["status"] == 404


def test_list_parts_and_uploads_paging(boto3_client: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    uid = c.initiate_multipart_upload(vaultName="v", partSize=str(MIB))["uploadId"]
    chunk = b"z" * MIB
    for i in range(5):
        c.upload_multipart_part(
            vaultName="v", uploadId=uid, body=chunk, range=f"bytes {i * MIB}-{(i + 1) * MIB - 1}/*"
        )
    p1 = c.list_parts(vaultName="v", uploadId=uid, limit="2")
    assert len(p1["Parts"]) == 2 and p1["Marker"] and p1["Marker"] != "null"
    allparts = [
        p
        for page in c.get_paginator("list_parts").paginate(
            vaultName="v", uploadId=uid, PaginationConfig={"PageSize": 2}
        )
        for p in page["Parts"]
    ]
    assert len(allparts) == 5
    for _ in range(3):
        c.initiate_multipart_upload(vaultName="v", partSize=str(MIB))
    pages = list(
        c.get_paginator("list_multipart_uploads").paginate(
            vaultName="v", PaginationConfig={"PageSize": 3}
        )
    )
    assert sum(len(p["UploadsList"]) for p in pages) == 4 and len(pages) == 2


def test_jobs_ranges_listing(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    data = os.urandom(6 * MIB + MIB // 2)
    a = c.upload_archive(vaultName="v", body=data)["archiveId"]
    for bad in ("0-100", "1-1048576", f"0-{len(data)}", "abc"):
        e = err(
            c.initiate_job,
            vaultName="v",
            jobParameters={"Type": "archive-retrieval", "ArchiveId": a, "RetrievalByteRange": bad},
        )
        assert e["Code"] == "InvalidParameterValueException"
    ids = {}
    for rng in ("0-2097151", f"4194304-{len(data) - 1}", "1048576-3145727"):
        ids[rng] = c.initiate_job(
            vaultName="v",
            jobParameters={
                "Type": "archive-retrieval",
                "ArchiveId": a,
                "RetrievalByteRange": rng,
                "Tier": "Bulk",
            },
        )["jobId"]
    d = c.describe_job(vaultName="v", jobId=ids["0-2097151"])
    assert d["SHA256TreeHash"] == tree_hash(data[: 2 * MIB])
    assert d["ArchiveSHA256TreeHash"] == tree_hash(data)
    assert d["ArchiveSizeInBytes"] == len(data)
    assert "SHA256TreeHash" not in c.describe_job(vaultName="v", jobId=ids["1048576-3145727"])
    e = err(c.initiate_job, vaultName="v", jobParameters={"Type": "select", "ArchiveId": a})
    assert e["Message"] == "Select jobs are not supported"
    e = err(
        c.initiate_job, vaultName="v", jobParameters={"Type": "inventory-retrieval", "ArchiveId": a}
    )
    assert e["Code"] == "InvalidParameterValueException"
    assert len(c.list_jobs(vaultName="v", completed="false")["JobList"]) == 3
    page = c.list_jobs(vaultName="v", limit="2")
    assert len(page["JobList"]) == 2 and page["Marker"] == page["JobList"][-1]["JobId"]
    assert len(c.list_jobs(vaultName="v", marker=page["Marker"])["JobList"]) == 1
    e = err(c.list_jobs, vaultName="v", statuscode="finished")
    assert e["Message"] == "The job status code is not valid: finished"
    emulator.advance(12 * 3600 + 1)
    assert len(c.list_jobs(vaultName="v", statuscode="Succeeded")["JobList"]) == 3
    out = c.get_job_output(vaultName="v", jobId=ids[f"4194304-{len(data) - 1}"])
    assert out["body"].read() == data[4 * MIB :] and out["checksum"] == tree_hash(data[4 * MIB :])
    mid = c.get_job_output(vaultName="v", jobId=ids["1048576-3145727"])
    assert mid["body"].read() == data[MIB : 3 * MIB] and "checksum" not in mid
    emulator.advance(24 * 3600 + 1)
    e = err(c.describe_job, vaultName="v", jobId=ids["0-2097151"])
    assert e["Message"] == f"The job ID was not found: {ids['0-2097151']}"
    assert c.list_jobs(vaultName="v")["JobList"] == []


def test_inventory_json_paging_and_filters(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    e = c.initiate_job(vaultName="v", jobParameters={"Type": "inventory-retrieval"})
    emulator.advance(5 * 3600)
    assert c.describe_job(vaultName="v", jobId=e["jobId"])["StatusCode"] == "Failed"
    made = []
    for i in range(5):
        made.append(
            c.upload_archive(vaultName="v", body=b"x" * (i + 1), archiveDescription=f"file {i}")[
                "archiveId"
            ]
        )
        emulator.advance(60)
    emulator.rebuild_inventory("v")
    seen: list[str] = []
    marker = None
    while True:
        params: dict[str, Any] = {"Limit": "2"}
        if marker:
            params["Marker"] = marker
        j = c.initiate_job(
            vaultName="v",
            jobParameters={"Type": "inventory-retrieval", "InventoryRetrievalParameters": params},
        )["jobId"]
        emulator.advance(5 * 3600)
        doc = json.loads(c.get_job_output(vaultName="v", jobId=j)["body"].read())
        assert doc["VaultARN"].endswith("vaults/v") and doc["InventoryDate"].endswith("Z")
        seen += [a["ArchiveId"] for a in doc["ArchiveList"]]
        d = c.describe_job(vaultName="v", jobId=j)
        assert d["InventoryRetrievalParameters"]["Format"] == "JSON"
        marker = d["InventoryRetrievalParameters"].get("Marker")
        if not marker:
            break
    assert seen == made
    j = c.initiate_job(
        vaultName="v",
        jobParameters={
            "Type": "inventory-retrieval",
            "InventoryRetrievalParameters": {
                "StartDate": "2026-01-15T17:01:00Z",
                "EndDate": "2026-01-15T17:03:00Z",
            },
        },
    )["jobId"]
    emulator.advance(5 * 3600)
    doc = json.loads(c.get_job_output(vaultName="v", jobId=j)["body"].read())
    assert [a["ArchiveDescription"] for a in doc["ArchiveList"]] == ["file 1", "file 2"]
    assert doc["ArchiveList"][0]["Size"] == 2


def test_tags_policies_notifications_lock_capacity(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    assert c.list_tags_for_vault(vaultName="v")["Tags"] == {}
    c.add_tags_to_vault(vaultName="v", Tags={"a": "1", "b": "2"})
    c.add_tags_to_vault(vaultName="v", Tags={"a": "3"})
    c.remove_tags_from_vault(vaultName="v", TagKeys=["b", "missing"])
    assert c.list_tags_for_vault(vaultName="v")["Tags"] == {"a": "3"}
    e = err(c.add_tags_to_vault, vaultName="v", Tags={f"k{i}": "v" for i in range(50)})
    assert e["Code"] == "LimitExceededException"

    pol = json.dumps({"Version": "2012-10-17", "Statement": []})
    assert err(c.get_vault_access_policy, vaultName="v")["status"] == 404
    c.set_vault_access_policy(vaultName="v", policy={"Policy": pol})
    assert c.get_vault_access_policy(vaultName="v")["policy"]["Policy"] == pol
    c.delete_vault_access_policy(vaultName="v")
    c.delete_vault_access_policy(vaultName="v")

    assert err(c.get_vault_notifications, vaultName="v")["status"] == 404
    cfg = {
        "SNSTopic": "arn:aws:sns:us-east-1:123456789012:t",
        "Events": ["ArchiveRetrievalCompleted"],
    }
    c.set_vault_notifications(vaultName="v", vaultNotificationConfig=cfg)
    assert c.get_vault_notifications(vaultName="v")["vaultNotificationConfig"] == cfg
    a = c.upload_archive(vaultName="v", body=b"abc" * 10)["archiveId"]
    j = c.initiate_job(
        vaultName="v",
        jobParameters={
            "Type": "archive-retrieval",
            "ArchiveId": a,
            "Tier": "Expedited",
            "SNSTopic": "arn:aws:sns:us-east-1:123456789012:mine",
        },
    )["jobId"]
    emulator.advance(301)
    notes = emulator.notifications()
    assert {n["topic"] for n in notes} == {
        cfg["SNSTopic"],
        "arn:aws:sns:us-east-1:123456789012:mine",
    }
    # SNS gets DescribeJob's document with every key; empty ones are null (botocore drops them).
    assert {k: v for k, v in notes[0]["message"].items() if v is not None} == {
        k: v for k, v in c.describe_job(vaultName="v", jobId=j).items() if k != "ResponseMetadata"
    }
    assert notes[0]["message"]["InventorySizeInBytes"] is None
    c.delete_vault_notifications(vaultName="v")
    c.delete_vault_notifications(vaultName="v")

    assert c.get_data_retrieval_policy()["Policy"] == {"Rules": [{"Strategy": "None"}]}
    e = err(
        c.set_data_retrieval_policy, Policy={"Rules": [{"Strategy": "FreeTier", "BytesPerHour": 5}]}
    )
    assert e["Code"] == "InvalidParameterValueException"
    c.set_data_retrieval_policy(Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 1}]})
    e = err(
        c.initiate_job, vaultName="v", jobParameters={"Type": "archive-retrieval", "ArchiveId": a}
    )
    assert e["Code"] == "PolicyEnforcedException"
    c.initiate_job(
        vaultName="v", jobParameters={"Type": "archive-retrieval", "ArchiveId": a, "Tier": "Bulk"}
    )

    emulator.set_config(insufficient_capacity=True)
    e = err(
        c.initiate_job,
        vaultName="v",
        jobParameters={"Type": "archive-retrieval", "ArchiveId": a, "Tier": "Expedited"},
    )
    assert e["Code"] == "InsufficientCapacityException" and e["status"] == 503
    cap = c.purchase_provisioned_capacity()["capacityId"]
    assert len(cap) == 24
    c.initiate_job(
        vaultName="v",
        jobParameters={"Type": "archive-retrieval", "ArchiveId": a, "Tier": "Expedited"},
    )
    c.purchase_provisioned_capacity()
    assert err(c.purchase_provisioned_capacity)["Code"] == "LimitExceededException"
    caps = c.list_provisioned_capacity()["ProvisionedCapacityList"]
    assert caps[0]["StartDate"] == "2026-01-15T12:05:01.000Z"
    assert caps[0]["ExpirationDate"] == "2026-02-15T12:05:01.000Z"

    assert err(c.get_vault_lock, vaultName="v")["status"] == 404
    lock = c.initiate_vault_lock(vaultName="v", policy={"Policy": pol})["lockId"]
    assert len(lock) == 24
    assert err(c.initiate_vault_lock, vaultName="v", policy={"Policy": pol})["status"] == 403
    assert c.get_vault_lock(vaultName="v")["State"] == "InProgress"
    assert err(c.complete_vault_lock, vaultName="v", lockId="wrong")["status"] == 400
    c.abort_vault_lock(vaultName="v")
    lock = c.initiate_vault_lock(vaultName="v", policy={"Policy": pol})["lockId"]
    emulator.advance(24 * 3600 + 1)
    assert err(c.get_vault_lock, vaultName="v")["status"] == 404  # expired
    lock = c.initiate_vault_lock(vaultName="v", policy={"Policy": pol})["lockId"]
    c.complete_vault_lock(vaultName="v", lockId=lock)
    c.complete_vault_lock(vaultName="v", lockId=lock)  # idempotent
    assert c.get_vault_lock(vaultName="v")["State"] == "Locked"
    assert err(c.abort_vault_lock, vaultName="v")["status"] == 403
    assert err(c.complete_vault_lock, vaultName="v", lockId="x" * 24)["status"] == 403


def test_switches(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    emulator.set_config(no_longer_supported=True)
    assert err(c.list_vaults)["Code"] == "NoLongerSupportedException"
    emulator.set_config(no_longer_supported=False, never_inventoried_jobs="reject")
    c.create_vault(vaultName="v")
    assert (
        err(c.initiate_job, vaultName="v", jobParameters={"Type": "inventory-retrieval"})["status"]
        == 404
    )
    with pytest.raises(ValueError):
        emulator.set_config(nonsense=1)
