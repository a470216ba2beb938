"""Same calls against moto's server and ours: same response keys and value types."""

from __future__ import annotations

import socket
from typing import Any

import boto3
import pytest
from botocore.config import Config


def _client(url: str) -> Any:
    return boto3.client(
        "glacier",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(c: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["create_vault"] = c.create_vault(vaultName="parity")
    out["describe_vault"] = c.describe_vault(vaultName="parity")
    out["list_vaults"] = c.list_vaults()
    out["upload_archive"] = a = c.upload_archive(
        vaultName="parity", body=b"hello parity", archiveDescription="d"
    )
    out["initiate_job"] = j = c.initiate_job(
        vaultName="parity",
        jobParameters={
            "Type": "archive-retrieval",
            "ArchiveId": a["archiveId"],
            "Tier": "Standard",
        },
    )
    out["describe_job"] = c.describe_job(vaultName="parity", jobId=j["jobId"])
    out["list_jobs"] = c.list_jobs(vaultName="parity")
    out["delete_archive"] = c.delete_archive(vaultName="parity", archiveId=a["archiveId"])
    return out


def _shape(value: Any) -> Any:
    """Keys and types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_same_keys_and_types_as_moto(boto3_client: Any) -> None:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(
        ip_address="127.0.0.1", port=_free_port(), verbose=False
    )
    server.start()
    try:
        port = server._server.server_port
        theirs = _script(_client(f"http://127.0.0.1:{port}"))
    finally:
        server.stop()
    ours = _script(boto3_client)
    for op, moto_resp in theirs.items():
        m, o = _shape(moto_resp), _shape(ours[op])
        if op in ("describe_job", "list_jobs"):
            # moto completes jobs at once and omits optional members; compare what it sends.
            m_job = m if op == "describe_job" else m["JobList"][0]
            o_job = o if op == "describe_job" else o["JobList"][0]
            for key, typ in m_job.items():
                if key in (
                    "Completed",
                    "StatusCode",
                    "CompletionDate",
                    "StatusMessage",
                    "InventorySizeInBytes",
                    "SNSTopic",
                    "JobDescription",
                ):
                    continue  # state-dependent or null-in-moto members
                assert o_job.get(key) == typ, (op, key)
            continue
        _assert_covers(o, m, op)


def _assert_covers(ours: Any, theirs: Any, where: str) -> None:
    """Every key moto sends, we send too, with the same type (we may send more: moto omits
    some modelled members, e.g. CreateVault's Location header)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        for key, value in theirs.items():
            if key == "LastInventoryDate":
                continue  # moto always sends it; AWS omits it before the first inventory
            assert key in ours, f"{where}.{key} missing"
            _assert_covers(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), where
        if theirs and ours:
            _assert_covers(ours[0], theirs[0], f"{where}[0]")
    else:
        assert ours == theirs, where
