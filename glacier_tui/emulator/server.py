"""aiohttp server: auth check, model routing, streaming bodies, faults, admin endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from datetime import UTC
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from glacier_tui.emulator.clock import VirtualClock, fmt_ms
from glacier_tui.emulator.config import CENTURY, EmulatorConfig, finite_number
from glacier_tui.emulator.data_dir import check_data_dir, store_error
from glacier_tui.emulator.errors import GlacierError, ipv, mpv
from glacier_tui.emulator.faults import Decision, FaultInjector, Pacer
from glacier_tui.emulator.ids import make_id
from glacier_tui.emulator.json_body import load_json_object
from glacier_tui.emulator.lenient_http import LenientAppRunner
from glacier_tui.emulator.model import Operation, load_model
from glacier_tui.emulator.service import BlobRef, Notification, RangeHash, Service, StreamSink
from glacier_tui.emulator.sigv4 import Verifier, body_hash, parse_credentials
from glacier_tui.emulator.store import Store, remove
from glacier_tui.glacier.treehash import TreeHasher

log = logging.getLogger(__name__)

CHUNK = 1 << 20
UPLOAD_BLOCK = 1 << 20  # bytes of a request body handed to a hashing thread at once
MAX_JSON_BODY = 1 << 20  # JSON bodies are small (policies are at most 20 KB)
TICK_SECONDS = 0.2


class Emulator:
    """The emulator server; ``await start()`` then use ``url``; ``await stop()``."""

    def __init__(self, cfg: EmulatorConfig) -> None:
        self.cfg = cfg
        self.model = load_model()
        self.faults = FaultInjector(cfg.faults)
        creds = parse_credentials(cfg.credentials) if cfg.credentials is not None else None
        self.verifier = Verifier(creds, cfg.region)
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._request_counter = 0
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._session: ClientSession | None = None
        self.store: Store | None = None
        self.service: Service | None = None
        self.clock: VirtualClock | None = None
        self.port = 0

    # ------------------------------------------------------------------ life cycle
    @property
    def url(self) -> str:
        return f"http://{self.cfg.host}:{self.port}"

    async def start(self) -> None:
        await asyncio.to_thread(self._open)
        app = web.Application(client_max_size=MAX_JSON_BODY)
        app.router.add_route("*", "/_emulator/{what}", self._admin)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A client holding a request open cannot delay a stop by aiohttp's default 60 s.
        self._runner = LenientAppRunner(app, access_log=None, handle_signals=False,
                                        shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.host, self.cfg.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ticker = asyncio.create_task(self._tick_loop())

    def _open(self) -> None:
        check_data_dir(self.cfg.data_dir)  # EmulatorStartError: one line saying what is wrong
        try:
            self.store = Store(self.cfg.data_dir)
        except (sqlite3.Error, OSError) as exc:
            raise store_error(self.cfg.data_dir, exc) from exc
        saved = _saved_clock(self.store.get_meta("clock"))
        if saved is not None:
            base = saved
            if self.cfg.start_time is None and not self.cfg.frozen:
                base = max(base, time.time())  # real-time mode: downtime counts, as on AWS
        elif self.cfg.start_time is not None:
            start = self.cfg.start_time
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            base = start.timestamp()
        else:
            base = time.time()
        self.clock = VirtualClock(base, self.cfg.time_scale, self.cfg.frozen)
        self.service = Service(self.cfg, self.store, self.clock)
        if self.cfg.seed_demo and self.store.get_meta("demo") is None:
            from glacier_tui.emulator.demo import build_demo

            build_demo(self.service)
        self.service.tick()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.store is not None:
            store, self.store = self.store, None
            if self.service is not None:
                await asyncio.to_thread(self.service.tick)  # persist the clock
            await asyncio.to_thread(store.close)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                if self.service is not None and not self.cfg.frozen:
                    await asyncio.to_thread(self.service.tick)
                await self._deliver()
            except Exception:  # keep ticking whatever one round did
                log.exception("emulator tick failed")

    async def _deliver(self) -> None:
        """POST recorded SNS messages to notify_url, if configured."""
        svc = self.service
        if svc is None or not svc.outbox:
            return
        with svc.store.lock:
            batch: list[Notification] = list(svc.outbox)
            svc.outbox.clear()
        url = self.cfg.notify_url
        if not url:
            return
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=5))
        for n in batch:
            body = {
                "Type": "Notification",
                "TopicArn": n.topic,
                "Subject": n.event,
                "Message": json.dumps(n.message),
                "Timestamp": fmt_ms(n.time),
            }
            try:
                async with self._session.post(url, json=body) as resp:
                    await resp.read()
            except Exception as exc:  # a dead receiver must not stop the emulator
                log.warning("notification POST to %s failed: %s", url, exc)

    # ------------------------------------------------------------------ sync helpers
    def advance(self, seconds: float) -> str:
        assert self.clock is not None and self.service is not None
        self.clock.advance(seconds)
        self.service.tick()
        return fmt_ms(self.clock.now())

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(e) for e in self._log]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def set_faults(self, spec: str | dict[str, Any] | None) -> None:
        self.faults.set(spec)

    def rebuild_inventory(self, vault: str | None = None) -> list[str]:
        assert self.service is not None
        return self.service.rebuild_inventory(vault)

    def notifications(self) -> list[dict[str, Any]]:
        assert self.service is not None
        return self.service.notifications()

    def set_config(self, **values: Any) -> dict[str, Any]:
        self.cfg.update(values)
        return self.cfg.switches()

    # ------------------------------------------------------------------ admin
    async def _admin(self, request: web.Request) -> web.StreamResponse:
        refused = self._admin_refusal(request)
        if refused is not None:
            return web.json_response({"error": refused}, status=403)
        what = request.match_info["what"]
        body: Any = {}
        if request.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            # Only JSON: an HTML form or a "simple" cross-site request cannot send it
            # without a CORS preflight, which this server never grants.
            if request.content_type != "application/json":
                return web.json_response(
                    {"error": "admin requests with a body must be Content-Type: application/json"},
                    status=415,
                )
            try:
                data = await _read_capped(request, MAX_JSON_BODY)
                body = load_json_object(data) if data else {}
            except GlacierError as exc:
                return web.json_response({"error": exc.message}, status=exc.status)
        try:
            result = await self._admin_call(request.method, what, body)
        except (ValueError, TypeError, OverflowError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except GlacierError as exc:
            return web.json_response(exc.body(), status=exc.status)
        if result is None:
            return web.json_response(
                {"error": f"unknown admin call {request.method} {what}"}, status=404
            )
        return web.json_response(result)

    async def _admin_call(self, method: str, what: str, body: dict[str, Any]) -> Any:
        assert self.clock is not None
        if what == "requests" and method == "GET":
            return self.requests()
        if what == "requests" and method == "DELETE":
            self.clear_requests()
            return {"cleared": True}
        if what == "notifications" and method == "GET":
            return await asyncio.to_thread(self.notifications)
        if what == "notifications" and method == "DELETE":
            assert self.service is not None
            await asyncio.to_thread(self.service.clear_notifications)
            return {"cleared": True}
        if what == "faults" and method == "GET":
            return self.faults.spec.as_dict()
        if what == "faults" and method == "POST":
            self.set_faults(body)
            return self.faults.spec.as_dict()
        if what == "clock" and method == "GET":
            return {
                "now": fmt_ms(self.clock.now()),
                "epoch": self.clock.now(),
                "time_scale": self.clock.time_scale,
                "frozen": self.clock.frozen,
            }
        if what == "clock" and method == "POST":
            seconds = finite_number("advance_seconds", body.get("advance_seconds", 0), 0, CENTURY)
            if self.clock.now() + seconds > MAX_CLOCK:
                raise ValueError("advance_seconds would move the clock past the year 9000")
            now = await asyncio.to_thread(self.advance, seconds)
            await self._deliver()
            return {"now": now}
        if what == "inventory" and method == "POST":
            vault = body.get("vault")
            if vault is not None and not isinstance(vault, str):
                raise ValueError("vault must be a vault name")
            vaults = await asyncio.to_thread(self.rebuild_inventory, vault)
            return {"rebuilt": vaults}
        if what == "config" and method == "GET":
            return self.cfg.switches()
        if what == "config" and method == "POST":
            return self.set_config(**body)
        if what == "health" and method == "GET":
            return {"ok": True, "url": self.url}
        return None

    def _admin_refusal(self, request: web.Request) -> str | None:
        """Why a request may not drive the admin API (None: it may).

        A web page the user visits can make the browser send requests to this port; the
        browser then names the page in ``Origin`` (and ``Sec-Fetch-Site``)."""
        host = request.host.rsplit(":", 1)[0].strip("[]").lower()
        if host not in {*LOOPBACK_NAMES, self.cfg.host.lower()} or host in ANY_ADDRESS:
            # A page that re-points its own DNS name at this machine (DNS rebinding) is
            # "same-origin" to the browser; only the names of this server are accepted.
            return f"admin requests must be addressed to this server, not {host[:100]!r}"
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"http://{request.host}":
            return f"cross-origin admin requests are refused (Origin: {origin[:200]})"
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return "cross-site admin requests are refused"
        return None

    # ------------------------------------------------------------------ API requests
    def _request_id(self) -> str:
        with self._log_lock:
            self._request_counter += 1
            n = self._request_counter
        return make_id(self.cfg.seed, "request", n)

    def _record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self._log.append({k: v for k, v in entry.items() if v is not None})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rid = self._request_id()
        entry: dict[str, Any] = {
            "operation": None,
            "method": request.method,
            "path": request.path,
            "status": 0,
            "bytes_in": 0,
            "bytes_out": 0,
            "range": request.headers.get("Range") or request.headers.get("Content-Range"),
            "fault": None,
            # Monotonic seconds (this process's clock): when the handler started and ended,
            # so concurrency on the wire can be read from the log.
            "t_start": time.monotonic(),
        }
        try:
            resp = await self._dispatch(request, rid, entry)
        except GlacierError as exc:
            resp = self._error(exc, rid)
        except ConnectionResetError:
            entry["status"] = entry["status"] or 0
            self._record(entry)
            raise
        except Exception as exc:  # a bug must still look like a service error to clients
            log.exception("emulator handler crashed")
            resp = self._error(
                GlacierError("ServiceUnavailableException", f"Internal error: {exc}", 500), rid
            )
        entry["status"] = resp.status
        if isinstance(resp, web.Response) and resp.body is not None:
            entry["bytes_out"] = len(resp.body)  # type: ignore[arg-type]
        entry["t_end"] = time.monotonic()
        self._record(entry)
        return resp

    def _error(self, exc: GlacierError, rid: str) -> web.Response:
        return web.Response(
            status=exc.status,
            body=json.dumps(exc.body()).encode(),
            headers={
                "Content-Type": "application/json",
                "x-amzn-RequestId": rid,
                "x-amzn-ErrorType": exc.code,
            },
        )

    async def _dispatch(
        self, request: web.Request, rid: str, entry: dict[str, Any]
    ) -> web.StreamResponse:
        assert self.service is not None
        query = dict(request.query)
        op, labels = self.model.route(request.method, request.raw_path, query)
        entry["operation"] = op.name
        parsed, cred = self.verifier.authenticate(
            request.headers, self._wall_now(), query_signed="X-Amz-Signature" in request.query
        )
        self._check_request(request, labels)
        body: bytes | None = None
        if op.streaming_input:
            # "When uploading an archive, you must include both the x-amz-sha256-tree-hash and
            # x-amz-content-sha256 headers" (https://docs.aws.amazon.com/amazonglacier/latest/dev/checksum-calculations.html).
            # The body is not here yet: the declared hash stands for it in the signature and
            # is checked against the body once it has arrived.
            payload_hash = request.headers.get("x-amz-content-sha256")
            if not payload_hash:
                raise mpv("Required parameter missing: x-amz-content-sha256")
        else:
            body = await _read_capped(request, MAX_JSON_BODY) if request.can_read_body else None
            entry["bytes_in"] = len(body or b"")
            payload_hash = body_hash(body)
        url = f"http://{request.host}{request.raw_path}"
        self.verifier.verify(parsed, cred, request.method, url, request.headers, payload_hash)
        decision = self.faults.decide(op.streaming_output)
        if decision.names:
            entry["fault"] = ",".join(decision.names)
        if decision.stall:
            # Faults are set from other threads too (EmulatorThread), so poll the generation.
            while self.faults.generation == decision.generation:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError("client went away while the request was stalled")
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.throttle:
            raise GlacierError("ThrottlingException", "Rate exceeded")
        if decision.error5xx:
            raise GlacierError(
                "ServiceUnavailableException", "Service is unavailable. Try again later."
            )
        if self.cfg.no_longer_supported:
            raise GlacierError(
                "NoLongerSupportedException",
                "Amazon Glacier is no longer accepting new customers; this account has no "
                "Glacier storage.",
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        params = self.model.parse(op, labels, query, headers, body)
        if op.streaming_input:
            result = await self._streaming_upload(request, op, params, decision, entry)
        else:
            result = await asyncio.to_thread(self.service.call, op.handler, params)
        if isinstance(result, dict) and isinstance(result.get("checksum"), RangeHash):
            result["checksum"] = await asyncio.to_thread(result["checksum"].compute)
        status, out_headers, payload = self.model.serialise(op, result)
        out_headers["x-amzn-RequestId"] = rid
        if isinstance(payload, BlobRef):
            return await self._stream_output(request, status, out_headers, payload, decision, entry)
        if decision.reset:  # drop the connection instead of answering
            self._abort(request)
        data = b"" if payload is None else json.dumps(payload).encode()
        out_headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=data, headers=out_headers)

    def _wall_now(self) -> float:
        """The time signatures and session tokens are checked against: the real clock
        (clients sign with it), never the virtual service clock, which tests freeze."""
        return time.time() + self.cfg.auth_clock_offset_seconds

    def _check_request(self, request: web.Request, labels: dict[str, str]) -> None:
        if self.cfg.require_version_header and "x-amz-glacier-version" not in request.headers:
            raise GlacierError(
                "MissingParameterValueException", "Required header missing: x-amz-glacier-version"
            )
        account = labels.get("accountId")
        if account not in ("-", self.cfg.account_id):
            raise GlacierError(
                "AccessDeniedException",
                f"Access denied: account {account} does not match the credentials' account",
            )

    @staticmethod
    def _abort(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("fault injection: connection reset")

    async def _streaming_upload(
        self,
        request: web.Request,
        op: Operation,
        params: dict[str, Any],
        decision: Decision,
        entry: dict[str, Any],
    ) -> dict[str, Any]:
        assert self.service is not None
        svc = self.service
        params["_content_length"] = request.content_length
        params["_content_sha256"] = request.headers.get("x-amz-content-sha256")
        sink: StreamSink = await asyncio.to_thread(
            svc.call, op.handler + "_begin", params, tick=False
        )
        try:
            return await self._receive(request, op, params, decision, entry, sink)
        finally:
            if sink.release is not None:
                sink.release()

    async def _receive(
        self,
        request: web.Request,
        op: Operation,
        params: dict[str, Any],
        decision: Decision,
        entry: dict[str, Any],
        sink: StreamSink,
    ) -> dict[str, Any]:
        """Stream the body to ``sink`` (hashing it on the way), fsync, then commit it."""
        assert self.service is not None
        svc = self.service
        tree, sha = TreeHasher(), hashlib.sha256()
        # Private temp files are created; the shared per-upload file is written in place.
        flags = os.O_WRONLY if sink.shared else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd: int | None = await asyncio.to_thread(os.open, sink.tmp, flags, 0o644)
        loop = asyncio.get_running_loop()
        pacer = Pacer(decision.bandwidth, loop.time()) if decision.bandwidth else None
        size = 0
        written = sink.offset  # file offset of the next block
        # Two blocks: one fills from the socket while a thread writes and hashes the other.
        blocks = [bytearray(UPLOAD_BLOCK), bytearray(UPLOAD_BLOCK)]
        current, filled = 0, 0
        pending: asyncio.Future[None] | None = None

        async def flush(final: bool = False) -> None:
            nonlocal pending, current, filled, written, fd
            if pending is not None:
                await pending
                pending = None
            view = memoryview(blocks[current])[:filled]
            assert fd is not None
            if final:
                at_close, fd = fd, None
                await asyncio.to_thread(_write_hash, at_close, written, tree, sha, view, True)
            else:
                pending = asyncio.ensure_future(
                    asyncio.to_thread(_write_hash, fd, written, tree, sha, view)
                )
            written += filled
            current, filled = 1 - current, 0

        try:
            limit = sink.expected_length
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if limit is not None and size > limit:
                    raise ipv(f"Request body longer than Content-Length: {limit}")
                if decision.reset and size >= (limit or 0) // 2:
                    self._abort(request)
                view = memoryview(chunk)
                while view:
                    take = min(len(view), UPLOAD_BLOCK - filled)
                    blocks[current][filled : filled + take] = view[:take]
                    filled += take
                    view = view[take:]
                    if filled == UPLOAD_BLOCK:
                        await flush()
                if pacer is not None:
                    delay = pacer.delay(len(chunk), loop.time())
                    if delay > 0:
                        await asyncio.sleep(delay)
            entry["t_body"] = time.monotonic()
            await flush(final=True)
            entry["t_synced"] = time.monotonic()
            entry["bytes_in"] = size
            if limit is not None and size < limit:
                raise GlacierError(
                    "RequestTimeoutException", "The request body was not received in time"
                )
            sink.context["leaves"] = _leaves_of(tree)
            result: dict[str, Any] = await asyncio.to_thread(
                svc.call, op.handler + "_end", params, sink, tree.hexdigest(), sha.hexdigest(), size
            )
            return result
        finally:
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await pending
            if fd is not None:
                await asyncio.to_thread(os.close, fd)
            if not sink.shared and sink.tmp.exists():
                await asyncio.to_thread(remove, sink.tmp)

    async def _stream_output(
        self,
        request: web.Request,
        status: int,
        headers: dict[str, str],
        blob: BlobRef,
        decision: Decision,
        entry: dict[str, Any],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = blob.length
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        pacer = Pacer(decision.bandwidth, loop.time()) if decision.bandwidth else None
        # Paced streams go in slices of about 20 ms, each sent only when it is due.
        step = min(CHUNK, max(16 * 1024, decision.bandwidth // 50)) if pacer else CHUNK
        intact = not (decision.corrupt or decision.reset)
        if intact and blob.length > 0 and await self._sendfile(request, blob, pacer, step):
            entry["bytes_out"] = blob.length
            await resp.write_eof()
            return resp
        fd = await asyncio.to_thread(os.open, blob.path, os.O_RDONLY)
        sent = 0
        flip_at = blob.length // 2 if decision.corrupt else -1
        try:
            while sent < blob.length:
                n = min(step, blob.length - sent)
                data = await asyncio.to_thread(os.pread, fd, n, blob.offset + sent)
                if not data:
                    raise OSError("job output file is shorter than recorded")
                if sent <= flip_at < sent + len(data):
                    mutable = bytearray(data)
                    mutable[flip_at - sent] ^= 0xFF
                    data = bytes(mutable)
                if decision.reset and sent + len(data) >= blob.length // 2 and blob.length > 1:
                    half = blob.length // 2 - sent
                    if half > 0:
                        await resp.write(data[:half])
                    entry["bytes_out"] = sent + max(half, 0)
                    entry["status"] = status
                    self._abort(request)
                if pacer is not None:
                    delay = pacer.delay(len(data), loop.time())
                    if delay > 0:
                        await asyncio.sleep(delay)
                await resp.write(data)
                sent += len(data)
        finally:
            await asyncio.to_thread(os.close, fd)
        entry["bytes_out"] = sent
        await resp.write_eof()
        return resp

    @staticmethod
    async def _sendfile(request: web.Request, blob: BlobRef, pacer: Pacer | None = None,
                        step: int = CHUNK) -> bool:
        """Send the range with ``loop.sendfile`` (zero-copy: no read into Python, no
        copy into the transport), paced in ``step`` slices when there is a ``pacer``;
        False if sendfile cannot be used (then nothing was sent)."""
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("Connection lost")
        loop = asyncio.get_running_loop()
        fobj = await asyncio.to_thread(open, blob.path, "rb")
        try:
            if pacer is None:
                await loop.sendfile(transport, fobj, blob.offset, blob.length)
                return True
            sent = 0
            while sent < blob.length:
                n = min(step, blob.length - sent)
                delay = pacer.delay(n, loop.time())
                if delay > 0:
                    await asyncio.sleep(delay)
                if transport.is_closing():  # the client went away (sendfile would say
                    raise ConnectionResetError("Connection lost")  # RuntimeError)
                try:
                    await loop.sendfile(transport, fobj, blob.offset + sent, n, fallback=False)
                except asyncio.SendfileNotAvailableError:
                    if sent:
                        raise
                    return False
                except RuntimeError as exc:  # "Transport is closing": closed meanwhile
                    raise ConnectionResetError(str(exc)) from exc
                sent += n
        except NotImplementedError:
            return False
        finally:
            await asyncio.to_thread(fobj.close)
        return True


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})
MAX_CLOCK = 222_000_000_000.0  # about the year 9000: every date still formats


def _saved_clock(text: str | None) -> float | None:
    """The persisted service clock, or None when it is missing or unusable (then the
    configured start time is used, so a bad value can never stop the emulator starting)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= MAX_CLOCK:
        log.warning("ignoring the saved emulator clock %r: not a usable time", text[:40])
        return None
    return value


async def _read_capped(request: web.Request, cap: int) -> bytes:
    """The whole request body (however many TCP segments it came in), at most ``cap`` bytes;
    a longer one is refused before it is read."""
    length = request.content_length
    if length is not None and length > cap:
        raise GlacierError("BadRequest", f"Request body too large: at most {cap} bytes", 413)
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(cap + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if size > cap:
            raise GlacierError("BadRequest", f"Request body too large: at most {cap} bytes", 413)
    return b"".join(parts)


def _leaves_of(tree: TreeHasher) -> list[bytes]:
    """The 1 MiB leaf digests behind a finished :class:`TreeHasher` (last one may be short)."""
    leaves = list(tree._leaves)
    if tree._pending_len or not leaves:
        leaves.append(tree._pending.digest())
    return leaves


def _load_sync_file_range() -> Any:
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):  # not Linux/glibc: the final fdatasync does it all
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load_sync_file_range()
SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start (not wait for) writing a just-written range to disk.

    The body's final fdatasync then has little left to wait for: the disk works while
    the rest of the body is still arriving, and parallel parts sharing one upload file
    do not each wait for the others' dirty pages.
    """
    if _sync_file_range is not None and length > 0:
        _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)  # best effort


def _write_hash(
    fd: int, offset: int, tree: TreeHasher, sha: Any, data: memoryview, final: bool = False
) -> None:
    """Write ``data`` at ``offset`` and hash it; ``final``: then make it durable and close."""
    if data:
        start = offset
        view = data
        while view:
            n = os.pwrite(fd, view, offset)
            view = view[n:]
            offset += n
        if not final:
            _start_writeback(fd, start, len(data))
        tree.update(data)
        sha.update(data)
    if final:
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
