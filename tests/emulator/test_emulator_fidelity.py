"""The emulator against AWS's documented behaviour: SigV4 checks, required upload headers,
hostile header values and JSON bodies, SNS message shape, the admin API and start-up."""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from glacier_tui.emulator import EmulatorThread
from tests.conftest import emulator_config

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
STAMP = r"\d{8}T\d{6}Z"


def client(url: str, key: str = "testing", secret: str = "testing",
           token: str | None = "testing") -> Any:
    return boto3.client(
        "glacier", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def error(fn: Any, **kw: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as e:
        fn(**kw)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def signed_headers(url: str, method: str, body: bytes = b"",
                   headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a request to ``url`` signed with the test credentials by botocore."""
    req = AWSRequest(method=method, url=url, data=body,
                     headers={"x-amz-glacier-version": "2012-06-01", **(headers or {})})
    SigV4Auth(Credentials("testing", "testing", "testing"), "glacier", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def archives_stored(emulator: Any) -> int:
    store = emulator.emulator.store
    with store.lock:
        return int(store.db.execute("SELECT COUNT(*) FROM archives").fetchone()[0])


# --------------------------------------------------------------------------- signatures
def test_signed_requests_with_the_configured_key_succeed(boto3_client: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    c.upload_archive(vaultName="v", body=b"x" * 3000, archiveDescription="a b/c")
    uid = c.initiate_multipart_upload(vaultName="v", partSize=str(1 << 20))["uploadId"]
    c.upload_multipart_part(vaultName="v", uploadId=uid, range="bytes 0-9/*", body=b"0123456789")
    assert c.list_jobs(vaultName="v", limit="5", statuscode="InProgress")["JobList"] == []
    assert [v["VaultName"] for v in c.list_vaults()["VaultList"]] == ["v"]


def test_signatures_cover_encoded_queries_and_odd_header_values(boto3_client: Any) -> None:
    """Markers are ARNs (':' and '/' percent-encoded in the query); header values with runs
    of spaces are trimmed the same way on both sides."""
    c = boto3_client
    for i in range(12):
        c.create_vault(vaultName=f"v-{i:02d}.x_y")
    first = c.list_vaults(limit="5")
    assert first["Marker"].startswith("arn:aws:glacier:")
    second = c.list_vaults(limit="5", marker=first["Marker"])
    assert len(second["VaultList"]) == 5
    c.upload_archive(vaultName="v-00.x_y", body=b"z", archiveDescription="a  b   c ~!*'()")
    paginator = c.get_paginator("list_vaults")
    assert sum(len(p["VaultList"]) for p in paginator.paginate(limit="3")) == 12


def test_wrong_secret_unknown_key_and_wrong_token_are_refused(emulator_url: str) -> None:
    status, code, message = error(client(emulator_url, secret="wrong").list_vaults)
    assert (status, code, message) == (403, "InvalidSignatureException", MISMATCH)
    bad_token = "The security token included in the request is invalid."
    assert error(client(emulator_url, key="AKIDUNKNOWN").list_vaults)[1:] == (
        "UnrecognizedClientException", bad_token)
    assert error(client(emulator_url, token="other").list_vaults)[1:] == (
        "UnrecognizedClientException", bad_token)


def test_a_request_changed_after_signing_is_refused(boto3_client: Any) -> None:
    """The body, the query and every signed header take part in the signature."""
    c = boto3_client
    c.create_vault(vaultName="v")

    def tamper_body(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"JSON", b"json")  # same length

    c.meta.events.register("before-send.glacier.InitiateJob", tamper_body)
    params = {"Type": "inventory-retrieval", "Format": "JSON"}
    assert error(c.initiate_job, vaultName="v", jobParameters=params)[1:] == (
        "InvalidSignatureException", MISMATCH)
    c.meta.events.unregister("before-send.glacier.InitiateJob", tamper_body)

    def tamper_header(request: Any, **_: Any) -> None:
        request.headers["x-amz-archive-description"] = "changed"

    c.meta.events.register("before-send.glacier.UploadArchive", tamper_header)
    assert error(c.upload_archive, vaultName="v", body=b"data", archiveDescription="orig")[1] == (
        "InvalidSignatureException")


def test_clock_skew_beyond_15_minutes_is_refused_with_aws_message(
        emulator: Any, emulator_url: str) -> None:
    # The server's wall clock runs 30 minutes ahead of the signing client's.
    emulator.set_config(auth_clock_offset_seconds=1800)
    status, code, message = error(client(emulator_url).list_vaults)
    assert (status, code) == (403, "InvalidSignatureException")
    assert re.fullmatch(
        rf"Signature expired: {STAMP} is now earlier than {STAMP} \({STAMP} - 15 min\.\)",
        message), message
    emulator.set_config(auth_clock_offset_seconds=-1800)  # the client's clock is ahead
    assert error(client(emulator_url).list_vaults)[2].startswith("Signature not yet current: ")
    emulator.set_config(auth_clock_offset_seconds=600)  # within 15 minutes: accepted
    assert client(emulator_url).list_vaults()["VaultList"] == []


def test_signatures_use_the_wall_clock_not_the_frozen_service_clock(emulator: Any) -> None:
    """The service clock is frozen in January 2026; clients sign with the real time."""
    emulator.advance(400 * 86400)  # a year later in service time
    assert client(emulator.url).list_vaults()["VaultList"] == []


def test_expired_session_token_is_refused(tmp_path: Path) -> None:
    creds = ("old:oldsecret:oldtoken:2020-01-01T00:00:00Z,"
             "new:newsecret:newtoken:2999-01-01T00:00:00Z")
    with EmulatorThread(emulator_config(tmp_path / "d", credentials=creds)) as emu:
        status, code, message = error(client(emu.url, "old", "oldsecret", "oldtoken").list_vaults)
        assert (status, code, message) == (
            403, "ExpiredTokenException", "The security token included in the request is expired")
        assert client(emu.url, "new", "newsecret", "newtoken").list_vaults()["VaultList"] == []


def test_malformed_authorization_is_refused_with_or_without_credentials(tmp_path: Path) -> None:
    for creds in ("testing:testing:testing", None):
        with EmulatorThread(emulator_config(tmp_path / f"d{creds is None}",
                                            credentials=creds)) as emu:
            url = f"{emu.url}/-/vaults"
            for auth in ("AWS4-HMAC-SHA256 Credential=x/20260115/us-east-1/glacier/aws4_request",
                         "AWS4-HMAC-SHA256 garbage", "Basic dXNlcjpwYXNz"):
                headers = signed_headers(url, "GET")
                headers["Authorization"] = auth
                r = requests.get(url, headers=headers, timeout=10)
                assert r.status_code == 400, (auth, r.text)
                assert r.json()["code"] == "IncompleteSignatureException"
                assert r.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
            r = requests.get(url, timeout=10)
            assert r.json()["code"] == "MissingAuthenticationTokenException"
    with EmulatorThread(emulator_config(tmp_path / "any", credentials=None)) as emu:
        # Without credentials any well-formed signature is accepted, whatever its secret.
        assert client(emu.url, "whoever", "whatever", None).list_vaults()["VaultList"] == []


def test_credentials_are_validated_at_start(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from glacier_tui.emulator import cli

    for bad in ("nosecret", "k:s:t:not-a-date", "k:s,k:s"):
        with pytest.raises(SystemExit) as e:
            cli.main(["--data-dir", str(tmp_path / "d"), "--credentials", bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "credentials" in err
    monkeypatch.setenv("GLACIER_EMULATOR_CREDENTIALS", "envkey:envsecret")
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    cfg = cli.config_from_args(parser.parse_args(["--data-dir", str(tmp_path / "d")]))
    assert cfg.credentials == "envkey:envsecret"


# --------------------------------------------------------------------------- upload headers
def test_uploads_without_x_amz_content_sha256_are_refused(
        boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    uid = c.initiate_multipart_upload(vaultName="v", partSize=str(1 << 20))["uploadId"]

    def drop(request: Any, **_: Any) -> None:
        del request.headers["x-amz-content-sha256"]

    c.meta.events.register("before-send.glacier.UploadArchive", drop)
    c.meta.events.register("before-send.glacier.UploadMultipartPart", drop)
    expected = (400, "MissingParameterValueException",
                "Required parameter missing: x-amz-content-sha256")
    assert error(c.upload_archive, vaultName="v", body=b"data") == expected
    assert error(c.upload_multipart_part, vaultName="v", uploadId=uid, range="bytes 0-3/*",
                 body=b"data") == expected
    assert archives_stored(emulator) == 0
    c.meta.events.unregister("before-send.glacier.UploadMultipartPart", drop)
    assert c.list_parts(vaultName="v", uploadId=uid)["Parts"] == []


# --------------------------------------------------------------------------- header values
@pytest.mark.parametrize("bad", ["a\x01b", "tab\x7fdel", "caf\u00e9"])
def test_control_and_non_ascii_descriptions_get_a_json_ipv(
        boto3_client: Any, emulator: Any, bad: str) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    status, code, _ = error(c.upload_archive, vaultName="v", body=b"data",
                            archiveDescription=bad)
    assert (status, code) == (400, "InvalidParameterValueException")
    status, code, _ = error(c.initiate_multipart_upload, vaultName="v",
                            partSize=str(1 << 20), archiveDescription=bad)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert archives_stored(emulator) == 0


def test_header_injection_is_still_refused(emulator_url: str) -> None:
    """CR, LF and NUL in a header value never reach a handler (no request splitting)."""
    host = urlsplit(emulator_url)
    with socket.create_connection((host.hostname, host.port), timeout=10) as s:
        s.sendall(b"GET /-/vaults HTTP/1.1\r\nHost: x\r\nx-amz-archive-description: a\x00b\r\n"
                  b"Content-Length: 0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.")  # a 400, not a hang or a crash
    assert requests.get(f"{emulator_url}/_emulator/health", timeout=10).json()["ok"]


# --------------------------------------------------------------------------- SNS shape
def test_sns_messages_carry_every_key_with_nulls(boto3_client: Any, emulator: Any) -> None:
    c = boto3_client
    c.create_vault(vaultName="v")
    c.upload_archive(vaultName="v", body=b"data")
    emulator.rebuild_inventory("v")
    topic = "arn:aws:sns:us-east-1:123456789012:inv"
    job = c.initiate_job(vaultName="v", jobParameters={
        "Type": "inventory-retrieval", "Format": "CSV", "SNSTopic": topic,
        "InventoryRetrievalParameters": {"Limit": "10"}})["jobId"]
    emulator.advance(24 * 3600)
    [note] = [n for n in emulator.notifications() if n["topic"] == topic]
    message = note["message"]
    for key in ("JobId", "JobDescription", "Action", "ArchiveId", "VaultARN", "CreationDate",
                "Completed", "StatusCode", "StatusMessage", "ArchiveSizeInBytes",
                "InventorySizeInBytes", "SNSTopic", "CompletionDate", "SHA256TreeHash",
                "ArchiveSHA256TreeHash", "RetrievalByteRange", "Tier",
                "InventoryRetrievalParameters"):
        assert key in message, key
    for key in ("ArchiveId", "ArchiveSizeInBytes", "SHA256TreeHash", "ArchiveSHA256TreeHash",
                "RetrievalByteRange", "JobDescription"):
        assert message[key] is None, key
    assert isinstance(message["InventorySizeInBytes"], int)
    described = c.describe_job(vaultName="v", jobId=job)
    assert message["InventoryRetrievalParameters"] == described["InventoryRetrievalParameters"]
    assert message["InventoryRetrievalParameters"] == {"Format": "CSV", "Limit": "10"}


# --------------------------------------------------------------------------- JSON bodies
def test_deeply_nested_json_gets_a_400(emulator_url: str, boto3_client: Any) -> None:
    boto3_client.create_vault(vaultName="v")
    url = f"{emulator_url}/-/vaults/v/jobs"
    for body in (b"[" * 100_000 + b"]" * 100_000,
                 b'{"Type":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}"):
        r = requests.post(url, data=body, headers=signed_headers(url, "POST", body), timeout=30)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "SerializationException"
        assert set(r.json()) == {"code", "message", "type"}


def test_oversized_json_body_is_refused(emulator_url: str) -> None:
    url = f"{emulator_url}/-/vaults/v/access-policy"
    body = b'{"Policy": "' + b"x" * (2 << 20) + b'"}'
    r = requests.put(url, data=body, headers=signed_headers(url, "PUT", body), timeout=30)
    assert r.status_code == 413 and r.json()["code"] == "BadRequest"


def test_json_body_split_across_tcp_writes_is_read_whole(
        emulator_url: str, boto3_client: Any) -> None:
    boto3_client.create_vault(vaultName="v")
    url = f"{emulator_url}/-/vaults/v/jobs"
    body = json.dumps({"Type": "inventory-retrieval", "Format": "JSON",
                       "Description": "split " + "y" * 500}).encode()
    headers = signed_headers(url, "POST", body, {"Content-Length": str(len(body))})
    host = urlsplit(emulator_url)
    head = f"POST /-/vaults/v/jobs HTTP/1.1\r\nHost: {host.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((host.hostname, host.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(head.encode())
        for i in range(0, len(body), 150):
            time.sleep(0.02)  # separate segments; the server must wait for Content-Length
            s.sendall(body[i:i + 150])
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 202"), reply[:300]


# --------------------------------------------------------------------------- admin API
def test_admin_api_refuses_cross_origin_and_non_json(emulator_url: str) -> None:
    url = f"{emulator_url}/_emulator/clock"
    r = requests.post(url, json={"advance_seconds": 1},
                      headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = requests.get(f"{emulator_url}/_emulator/requests",
                     headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403
    r = requests.post(url, data='{"advance_seconds": 1}',
                      headers={"Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 415
    r = requests.post(url, data="advance_seconds=1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 415
    r = requests.post(url, json={"advance_seconds": 1}, headers={"Origin": emulator_url},
                      timeout=10)
    assert r.status_code == 200  # its own origin is fine


HOSTILE = ["NaN", "Infinity", "-Infinity", "1e300", "-5", '"soon"', "true", "[]", "null"]


@pytest.mark.parametrize("value", HOSTILE)
def test_admin_values_are_validated(emulator_url: str, value: str) -> None:
    def post(what: str, body: str) -> requests.Response:
        return requests.post(f"{emulator_url}/_emulator/{what}", data=body,
                             headers={"Content-Type": "application/json"}, timeout=10)

    for what, key in (("clock", "advance_seconds"), ("config", "max_vaults"),
                      ("config", "job_output_ttl_seconds"), ("config", "auth_clock_offset_seconds"),
                      ("faults", "latency"), ("faults", "bandwidth"), ("faults", "throttle"),
                      ("faults", "stall_after"), ("faults", "seed")):
        if value == "null" and what == "clock":
            continue  # null: "no advance", the same as leaving the key out
        if value == "-5" and key == "auth_clock_offset_seconds":
            continue  # a clock may be behind
        r = post(what, f'{{"{key}": {value}}}')
        assert r.status_code == 400, (what, key, value, r.text)
        assert key in r.json()["error"] or "must" in r.json()["error"]
    assert post("config", '{"notify_url": "file:///etc/passwd"}').status_code == 400
    assert post("config", '{"never_inventoried_jobs": "explode"}').status_code == 400
    assert post("config", "[" * 50_000 + "]" * 50_000).status_code == 400
    assert post("inventory", '{"vault": {"x": 1}}').status_code == 400


def test_hostile_admin_values_never_stop_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with EmulatorThread(emulator_config(data)) as emu:
        for body in ('{"advance_seconds": 1e300}', '{"advance_seconds": Infinity}',
                     '{"advance_seconds": NaN}', '{"advance_seconds": 3.2e9}'):
            r = requests.post(f"{emu.url}/_emulator/clock", data=body,
                              headers={"Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 400, body
        before = requests.get(f"{emu.url}/_emulator/clock", timeout=10).json()["now"]
    with EmulatorThread(emulator_config(data)) as emu:
        assert requests.get(f"{emu.url}/_emulator/clock", timeout=10).json()["now"] == before
        # A clock value that is unusable (written by an older version) is ignored at start.
        store = emu.emulator.store
        with store.lock:
            store.db.execute("UPDATE meta SET value='inf' WHERE key='clock'")
    with EmulatorThread(emulator_config(data)) as emu:
        assert client(emu.url).list_vaults()["VaultList"] == []


# --------------------------------------------------------------------------- start-up
def _start(capsys: pytest.CaptureFixture[str], data_dir: Path) -> tuple[int, str]:
    from glacier_tui.emulator import cli

    code = cli.main(["--data-dir", str(data_dir)])
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_data_dir_that_is_a_file_gets_one_line(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, err = _start(capsys, tmp_path / "file")
    assert code == 1 and "is not a directory" in one_line(err)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "blobs").write_text("x")
    code, err = _start(capsys, tmp_path / "d")
    assert code == 1 and "blobs is not a directory" in one_line(err)
    code, err = _start(capsys, tmp_path / "file" / "below")
    assert code == 1 and "cannot create data dir" in one_line(err)


def test_read_only_data_dir_gets_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from glacier_tui.emulator import data_dir

    def read_only(path: Path) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(data_dir, "_probe", read_only)
    code, err = _start(capsys, tmp_path / "ro")
    assert code == 1
    assert one_line(err) == (
        f"glacier-tui emulator: data dir {tmp_path / 'ro'} is not writable: "
        "the file system is read-only")


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o555)
    yield d
    d.chmod(0o755)


def test_permission_denied_data_dir(capsys: pytest.CaptureFixture[str],
                                    unwritable_dir: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into a 0555 directory")
    code, err = _start(capsys, unwritable_dir)
    assert code == 1 and "permission denied" in one_line(err)


def test_hash_of_empty_body_matches_botocore() -> None:
    from glacier_tui.emulator.sigv4 import body_hash

    assert body_hash(None) == hashlib.sha256(b"").hexdigest()


# --------------------------------------------------------------------------- AWS CLI
@pytest.mark.skipif(shutil.which("aws") is None, reason="AWS CLI not installed")
def test_aws_cli_signatures_are_checked(boto3_client: Any, emulator_url: str,
                                        tmp_path: Path) -> None:
    import os
    import subprocess

    boto3_client.create_vault(vaultName="cli")
    body = tmp_path / "body.bin"
    body.write_bytes(b"aws cli upload " * 1000)

    def aws(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["aws", "glacier", *args, "--account-id", "-", "--endpoint-url", emulator_url],
            capture_output=True, text=True, env={**os.environ, **env}, timeout=120)

    r = aws("upload-archive", "--vault-name", "cli", "--body", str(body),
            "--archive-description", "from the cli")
    if r.returncode != 0 and "Traceback" in r.stderr:
        pytest.skip("AWS CLI is broken in this environment")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["archiveId"]
    r = aws("list-vaults", AWS_SECRET_ACCESS_KEY="wrong")
    assert r.returncode != 0 and "InvalidSignatureException" in r.stderr


def test_admin_api_refuses_foreign_host_names(emulator_url: str) -> None:
    """A DNS-rebinding page sends its own name as Host (and as Origin)."""
    port = urlsplit(emulator_url).port
    headers = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    r = requests.post(f"{emulator_url}/_emulator/clock", json={"advance_seconds": 1},
                      headers=headers, timeout=10)
    assert r.status_code == 403 and "addressed to this server" in r.json()["error"]
    r = requests.get(f"{emulator_url}/_emulator/health", headers={"Host": f"localhost:{port}"},
                     timeout=10)
    assert r.status_code == 200


def test_a_header_that_is_not_utf8_is_an_error_not_a_crash(
        emulator_url: str, boto3_client: Any) -> None:
    boto3_client.create_vault(vaultName="v")
    url = f"{emulator_url}/-/vaults/v/multipart-uploads"
    headers = signed_headers(url, "POST", b"", {"x-amz-part-size": str(1 << 20),
                                                "x-amz-archive-description": "caf?"})
    host = urlsplit(emulator_url)
    head = f"POST /-/vaults/v/multipart-uploads HTTP/1.1\r\nHost: {host.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Content-Length: 0\r\n\r\n"
    raw = head.encode().replace(b"caf?", b"caf\xe9")  # Latin-1, not UTF-8
    with socket.create_connection((host.hostname, host.port), timeout=10) as s:
        s.sendall(raw)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 403"), reply[:300]
    assert b"InvalidSignatureException" in reply
