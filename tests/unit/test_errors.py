"""Every error class, triggered from a real HTTP response or a real condition.

A tiny loopback server answers with the status and error body each case names,
so the whole botocore parsing path runs; conditions such as missing credentials
or a closed port are produced for real.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from glacier_tui.glacier import errors
from glacier_tui.glacier.client import ClientOptions, GlacierClient


class CannedServer:
    """Answers every request with ``self.status`` and an error body for ``self.code``."""

    def __init__(self) -> None:
        self.status = 400
        self.code = "InvalidParameterValueException"
        self.message = "bad"
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = json.dumps({"code": self.code, "message": self.message, "type": "Client"})
        return web.Response(status=self.status, body=body, content_type="application/json",
                            headers={"x-amzn-RequestId": "req-1"})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> CannedServer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def canned() -> Iterator[CannedServer]:
    with CannedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _creds(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def _describe(url: str, **opts: Any) -> None:
    options = ClientOptions(endpoint_url=url, region="us-east-1", max_attempts=1, **opts)
    async with GlacierClient(options) as glacier:
        await glacier.describe_vault("photos")


CASES: list[tuple[int, str, str, type[errors.GlacierError]]] = [
    (404, "ResourceNotFoundException",
     "Vault not found for ARN: arn:aws:glacier:us-east-1:123456789012:vaults/photos",
     errors.ResourceNotFound),
    (404, "ResourceNotFoundException", "The job ID was not found: abc", errors.JobOutputExpired),
    (400, "InvalidParameterValueException", "Invalid part size: 3", errors.InvalidParameterValue),
    (400, "InvalidParameterValueException",
     "The job is not currently available for download: abc", errors.JobOutputNotReady),
    (400, "InvalidParameterValueException",
     "Vault not empty or recently written to: arn:aws:glacier:us-east-1:1:vaults/v",
     errors.VaultNotEmpty),
    (400, "MissingParameterValueException", "Required parameter missing: x",
     errors.MissingParameterValue),
    (400, "PolicyEnforcedException", "InitiateJob request denied by current data retrieval policy.",
     errors.PolicyEnforced),
    (503, "InsufficientCapacityException", "no capacity", errors.InsufficientCapacity),
    (400, "InsufficientCapacityException", "no capacity", errors.InsufficientCapacity),
    (400, "LimitExceededException", "too many vaults", errors.LimitExceeded),
    (400, "ThrottlingException", "Rate exceeded", errors.Throttling),
    (408, "RequestTimeoutException", "timed out", errors.RequestTimeout),
    (500, "ServiceUnavailableException", "try later", errors.ServiceUnavailable),
    (403, "AccessDeniedException", "User is not authorized", errors.AccessDenied),
    (403, "RequestTimeTooSkewed", "clock", errors.ClockSkew),
    (400, "NoLongerSupportedException", "no longer supported", errors.NoLongerSupported),
    (403, "ExpiredTokenException", "The security token included in the request is expired",
     errors.ExpiredToken),
    (502, "", "", errors.ServiceUnavailable),
]


@pytest.mark.parametrize(("status", "code", "message", "cls"), CASES)
async def test_wire_errors_map_to_typed_errors(
    canned: CannedServer, status: int, code: str, message: str, cls: type[errors.GlacierError]
) -> None:
    canned.status, canned.code, canned.message = status, code, message
    with pytest.raises(errors.GlacierError) as info:
        await _describe(f"http://127.0.0.1:{canned.port}")
    err = info.value
    assert type(err) is cls
    assert err.operation == "describe_vault"
    text = err.user_message()
    assert text and err.hint and "Traceback" not in text
    if message:
        assert message in text


async def test_markup_and_escapes_in_server_messages_are_cleaned(canned: CannedServer) -> None:
    canned.status, canned.code = 400, "InvalidParameterValueException"
    canned.message = "bad \x1b[31mred\x1b[0m value\x07"
    with pytest.raises(errors.InvalidParameterValue) as info:
        await _describe(f"http://127.0.0.1:{canned.port}")
    assert "\x1b" not in str(info.value) and "\x07" not in str(info.value)
    assert "bad red value" in str(info.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_endpoint_unreachable() -> None:
    with pytest.raises(errors.EndpointUnreachable) as info:
        await _describe(f"http://127.0.0.1:{_closed_port()}", connect_timeout=2)
    assert "--endpoint-url" in info.value.user_message()


async def test_no_credentials(monkeypatch: pytest.MonkeyPatch, canned: CannedServer) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    before = canned.requests
    with pytest.raises(errors.NoCredentials) as info:
        await _describe(f"http://127.0.0.1:{canned.port}")
    assert "--demo" in info.value.user_message()
    assert canned.requests == before  # nothing was sent unsigned


async def test_unknown_profile(monkeypatch: pytest.MonkeyPatch, canned: CannedServer) -> None:
    with pytest.raises(errors.ConfigurationError):
        await _describe(f"http://127.0.0.1:{canned.port}", profile="does-not-exist")


async def test_policy_that_is_not_json_is_refused_before_sending(canned: CannedServer) -> None:
    before = canned.requests
    options = ClientOptions(endpoint_url=f"http://127.0.0.1:{canned.port}", region="us-east-1")
    async with GlacierClient(options) as glacier:
        with pytest.raises(errors.InvalidParameterValue, match="not valid JSON"):
            await glacier.set_vault_access_policy("photos", "{not json")
        with pytest.raises(errors.InvalidParameterValue, match="JSON object"):
            await glacier.initiate_vault_lock("photos", "[1, 2]")
    assert canned.requests == before
