"""A fake Glacier endpoint that lies, for tests of what the client does with bad answers.

Loopback only (127.0.0.1, port 0). Every REST path of the Glacier API (taken from
botocore's service model, so all 33 operations route) answers with a plain, honest
default; a test then makes chosen operations misbehave.

Use it from any test (sync or async): it runs its own event loop in a thread::

    from hostile_server import HOSTILE_TEXT, HostileGlacier, OutputLie

    def test_x(hostile: HostileGlacier) -> None:          # the pytest fixture below
        job_id = hostile.add_job(b"data" * 1000, description="f.bin")
        hostile.lie(OutputLie(wrong_tree_hash=True, times=2))   # then honest again
        hostile.endless_markers("ListJobs", "ListVaults")       # a new Marker forever
        hostile.fail("DescribeVault", 400, "InvalidParameterValueException", HOSTILE_TEXT)
        hostile.on("DescribeJob", my_handler)                   # anything else
        ... ClientOptions(endpoint_url=hostile.url, ...) ...
        hostile.calls("GetJobOutput")                           # what was asked

or ``with HostileGlacier.running() as server:`` outside pytest. The fixture is
``hostile`` (import it into a test module, or into conftest.py, with
``from hostile_server import hostile``).

Handlers: ``async def handler(request: web.Request, server: HostileGlacier) ->
web.StreamResponse``; ``request.match_info`` holds ``vaultName``, ``jobId``, ...

The data: one vault ``v`` (``server.vaults`` is the ListVaults list, edit it freely),
and the jobs added with :meth:`add_job` (Succeeded archive retrievals whose output is
the given bytes; ``server.jobs[job_id]``).

GetJobOutput lies (:class:`OutputLie`, set with :meth:`lie`; each lie may apply to
only the first ``times`` responses): wrong or missing ``x-amz-sha256-tree-hash``,
short or long bodies (``body_delta``; the connection closes early, or the body runs
on with chunked encoding), a ``Content-Range`` other than the range served
(``range_shift``), a different total or different bytes (a changed job output),
an HTML page with status 200, a ranged answer without ``Content-Range``, and a
slowloris trickle (``trickle_delay`` seconds between single bytes).

Hostile strings: :data:`HOSTILE_TEXT` holds ANSI/OSC escapes, bidi overrides, Rich
markup and a CR; :meth:`hostile_names` puts it into vault names, descriptions and
the job's fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from glacier_tui.glacier.treehash import tree_hash

# ANSI colour + clear screen, an OSC 8 hyperlink and an OSC 52 clipboard write,
# bidi overrides, Rich markup (closing tags too), a carriage return and a bell.
HOSTILE_TEXT = (
    "evil\x1b[31mRED\x1b[2J\x1b]8;;http://x.invalid\x07link\x1b]8;;\x07"
    "\x1b]52;c;cm0gLXJmIH4=\x07\u202egnp.exe\u202c[bold]B[/bold][/][link=http://x]L"
    "\rOVERWRITE\x07"
)

ARN = "arn:aws:glacier:us-east-1:012345678901:vaults/"
DATE = "2026-01-15T12:00:00.000Z"

Handler = Callable[[web.Request, "HostileGlacier"], Awaitable[web.StreamResponse]]


@dataclass
class OutputLie:
    """How GetJobOutput misbehaves. All fields default to honest."""

    wrong_tree_hash: bool = False  # x-amz-sha256-tree-hash of other bytes
    omit_tree_hash: bool = False  # no x-amz-sha256-tree-hash header at all
    body_delta: int = 0  # < 0: that many bytes short (connection closed); > 0: extra bytes
    chunked: bool = False  # no Content-Length (a short body then ends cleanly)
    range_shift: int = 0  # serve and announce bytes shifted by this much from the asked range
    claim_shift: int = 0  # announce a Content-Range shifted by this much, serve the asked bytes
    total: int | None = None  # the total announced in Content-Range
    data: bytes | None = None  # serve these bytes instead of the job's (output changed)
    html: bool = False  # an HTML error page with status 200 (a captive portal, a proxy)
    no_content_range: bool = False  # answer a ranged request with 200 and the whole body
    content_type: str | None = None  # announce this Content-Type
    trickle_delay: float = 0.0  # > 0: one byte, then this many seconds, repeatedly
    times: int | None = None  # lie in this many responses, then answer honestly

    def use(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class HostileJob:
    data: bytes
    description: str = "file.bin"
    job_id: str = field(default_factory=lambda: "job-" + uuid.uuid4().hex)
    archive_id: str = field(default_factory=lambda: "arch-" + uuid.uuid4().hex)
    status: str = "Succeeded"

    def describe(self, vault: str) -> dict[str, Any]:
        th = tree_hash(self.data)
        return {
            "JobId": self.job_id, "VaultARN": ARN + vault, "Action": "ArchiveRetrieval",
            "ArchiveId": self.archive_id, "ArchiveSizeInBytes": len(self.data),
            "ArchiveSHA256TreeHash": th, "SHA256TreeHash": th, "Completed":
            self.status != "InProgress", "StatusCode": self.status, "CreationDate": DATE,
            "CompletionDate": DATE, "RetrievalByteRange": f"0-{max(0, len(self.data) - 1)}",
            "Tier": "Standard", "JobDescription": self.description,
        }


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(doc).encode(), status=status, content_type="application/json",
        headers={"x-amzn-RequestId": uuid.uuid4().hex},
    )


def _error(status: int, code: str, message: str) -> web.Response:
    return _json({"code": code, "message": message, "type": "Client"}, status)


def _model_routes() -> dict[tuple[str, str], list[tuple[dict[str, str], str]]]:
    """(method, path) -> [(required query, operation name)] from botocore's model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("glacier")
    routes: dict[tuple[str, str], list[tuple[dict[str, str], str]]] = {}
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        wanted = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        routes.setdefault((http["method"], path), []).append((wanted, name))
    for candidates in routes.values():  # the most specific query first
        candidates.sort(key=lambda c: -len(c[0]))
    return routes


class HostileGlacier:
    """The server. ``start()``/``stop()`` from a thread; see the module docstring."""

    def __init__(self) -> None:
        self.url = ""
        self.vaults: list[dict[str, Any]] = [self.vault_doc("v")]
        self.jobs: dict[str, HostileJob] = {}
        self.output_lie: OutputLie | None = None
        self._handlers: dict[str, Handler] = {}
        self._calls: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- behaviour chosen by the test ------------------------------------------------

    @staticmethod
    def vault_doc(name: str, description_size: int = 0) -> dict[str, Any]:
        return {"VaultName": name, "VaultARN": ARN + name, "CreationDate": DATE,
                "NumberOfArchives": 0, "SizeInBytes": description_size}

    def add_job(self, data: bytes, *, description: str = "file.bin",
                status: str = "Succeeded") -> str:
        job = HostileJob(data, description, status=status)
        self.jobs[job.job_id] = job
        return job.job_id

    def lie(self, lie: OutputLie | None) -> None:
        """How GetJobOutput misbehaves from now on (None: honest)."""
        self.output_lie = lie

    def on(self, operation: str, handler: Handler | None) -> None:
        """Answer ``operation`` (botocore name, e.g. ``ListJobs``) with ``handler``."""
        if handler is None:
            self._handlers.pop(operation, None)
        else:
            self._handlers[operation] = handler

    def fail(self, operation: str, status: int, code: str, message: str) -> None:
        """``operation`` answers with a Glacier error body (code, message) and ``status``."""

        async def failing(_request: web.Request, _server: HostileGlacier) -> web.Response:
            return _error(status, code, message)

        self.on(operation, failing)

    def endless_markers(self, *operations: str) -> None:
        """Each list operation named returns one item and a new ``Marker`` forever."""
        keys = {"ListJobs": "JobList", "ListVaults": "VaultList", "ListParts": "Parts",
                "ListMultipartUploads": "UploadsList"}
        counter = itertools.count()
        for op in operations:
            key = keys[op]

            async def endless(request: web.Request, server: HostileGlacier,
                              key: str = key, op: str = op) -> web.Response:
                page = await server.default(op, request)
                doc = json.loads(page.body) if isinstance(page.body, bytes) else {}
                doc[key] = (doc.get(key) or [])[:1]
                doc["Marker"] = f"marker-{next(counter)}"
                return _json(doc)

            self.on(op, endless)

    def hostile_names(self) -> None:
        """Vault names, archive descriptions and job descriptions full of escapes."""
        self.vaults = [self.vault_doc(HOSTILE_TEXT), self.vault_doc("v")]
        for job in self.jobs.values():
            job.description = HOSTILE_TEXT

    def calls(self, operation: str | None = None) -> list[dict[str, str]]:
        """Requests received (operation, method, path, range), oldest first."""
        with self._lock:
            return [dict(info) for op, info in self._calls if operation in (None, op)]

    # -- honest defaults ---------------------------------------------------------------

    async def default(self, op: str, request: web.Request) -> web.StreamResponse:
        vault = request.match_info.get("vaultName", "v")
        if op == "ListVaults":
            return _json({"VaultList": self.vaults})
        if op == "DescribeVault":
            for doc in self.vaults:
                if doc["VaultName"] == vault:
                    return _json(doc)
            return _error(404, "ResourceNotFoundException",
                          f"Vault not found for ARN: {ARN}{vault}")
        if op == "ListJobs":
            return _json({"JobList": [j.describe(vault) for j in self.jobs.values()]})
        if op in ("DescribeJob", "GetJobOutput"):
            job = self.jobs.get(request.match_info.get("jobId", ""))
            if job is None:
                return _error(404, "ResourceNotFoundException",
                              f"The job ID was not found: {request.match_info.get('jobId')}")
            if op == "DescribeJob":
                return _json(job.describe(vault))
            return await self._job_output(request, job)
        if op == "ListParts":
            return _json({"Parts": [], "ArchiveDescription": "", "PartSizeInBytes": 1 << 20,
                          "MultipartUploadId": request.match_info.get("uploadId", ""),
                          "VaultARN": ARN + vault, "CreationDate": DATE})
        if op == "ListMultipartUploads":
            return _json({"UploadsList": []})
        if op == "InitiateJob":
            return _json({"jobId": "job-" + uuid.uuid4().hex}, 202)
        if op == "ListTagsForVault":
            return _json({"Tags": {}})
        return _json({})

    async def _job_output(self, request: web.Request, job: HostileJob) -> web.StreamResponse:
        lie = self.output_lie if self.output_lie is not None and self.output_lie.use() else None
        lie = lie or OutputLie()
        data = lie.data if lie.data is not None else job.data
        total = len(data) if lie.total is None else lie.total
        asked = request.headers.get("Range", "")
        start, end = 0, len(data) - 1
        ranged = asked.startswith("bytes=")
        if ranged:
            first, _, last = asked[6:].partition("-")
            start, end = int(first), min(int(last), len(data) - 1)
        start, end = max(0, start + lie.range_shift), end + lie.range_shift
        if lie.no_content_range:
            start, end, ranged = 0, len(data) - 1, False
        body = data[start : end + 1]
        if lie.html:
            page = b"<html><body><h1>Welcome to the hotel Wi-Fi</h1></body></html>"
            return web.Response(body=page, status=200, content_type="text/html")
        headers = {"x-amzn-RequestId": uuid.uuid4().hex, "Accept-Ranges": "bytes",
                   "x-amz-archive-description": job.description
                   if job.description.isascii() else "",
                   "Content-Type": lie.content_type or "application/octet-stream"}
        if not lie.omit_tree_hash:
            headers["x-amz-sha256-tree-hash"] = (
                tree_hash(body + b"!") if lie.wrong_tree_hash else tree_hash(body)
            )
        if ranged:
            s, e = start + lie.claim_shift, end + lie.claim_shift
            headers["Content-Range"] = f"bytes {s}-{e}/{total}"
        sent = body
        if lie.body_delta > 0:
            sent = body + hashlib.sha256(body).digest() * (lie.body_delta // 32 + 1)
            sent = sent[: len(body) + lie.body_delta]
        resp = web.StreamResponse(status=206 if ranged else 200, headers=headers)
        if lie.chunked or lie.body_delta > 0:
            resp.enable_chunked_encoding()
        else:
            resp.content_length = len(body)
        if lie.body_delta < 0:
            sent = body[: max(0, len(body) + lie.body_delta)]
        await resp.prepare(request)
        if lie.trickle_delay > 0:
            for i in range(len(sent)):
                await resp.write(sent[i : i + 1])
                await asyncio.sleep(lie.trickle_delay)
        else:
            await resp.write(sent)
        if lie.body_delta < 0 and not lie.chunked:
            # Fewer bytes than Content-Length promised: drop the connection.
            transport = request.transport
            if transport is not None:
                transport.close()
            return resp
        await resp.write_eof()
        return resp

    # -- plumbing ------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        for (method, path), candidates in _model_routes().items():

            async def route(request: web.Request,
                            candidates: list[tuple[dict[str, str], str]] = candidates
                            ) -> web.StreamResponse:
                op = next((name for wanted, name in candidates
                           if all(request.query.get(k) == v for k, v in wanted.items())),
                          candidates[-1][1])
                with self._lock:
                    self._calls.append((op, {"operation": op, "method": request.method,
                                             "path": request.path,
                                             "range": request.headers.get("Range", "")}))
                if request.can_read_body:
                    await request.read()
                handler = self._handlers.get(op)
                if handler is not None:
                    return await handler(request, self)
                return await self.default(op, request)

            app.router.add_route(method, path, route)
        return app

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> HostileGlacier:
        """Serve from a background thread (its own event loop); returns when listening."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start())
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="hostile-glacier", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[HostileGlacier]:
        server = cls().start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def hostile() -> Iterator[HostileGlacier]:
    """A running :class:`HostileGlacier` (honest until the test says otherwise)."""
    with HostileGlacier.running() as server:
        yield server
