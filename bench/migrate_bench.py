"""Vault -> S3 migration: streamed (ranged GetJobOutput straight into multipart parts)
against the naive path (boto3 ``get_job_output`` to a local file, then ``upload_file``
with boto3's defaults).

``python bench/migrate_bench.py [--size-mib 64] [--cap 64MiB] [--part-mib 8]
[--concurrency 12] [--modes capped,loopback] [--no-profile]``. Loopback only; one run of
each. Full size: ``--size-mib 512``.

* capped: every stream limited to 64 MiB/s, on the Glacier side by the emulator's
  ``bandwidth`` fault (per response), on the S3 side by moto's server reading each
  request body at that pace (per request; ``--s3-cap proxy``: the older throttling TCP
  proxy, which burns ~1.2 s of CPU per GiB in this process);
* unthrottled: the same on plain loopback, for CPU seconds per GiB;
* then a third streamed run on loopback under cProfile: where the client's CPU goes.

CPU is given per process, user+system: the transfer's child (its imports and client
set-up excluded), the Glacier emulator, moto, and this process (the cap, when it is the
proxy). All share the machine's cores, so on a 2-core box the streamed path's speed is
the sum of them. moto is set up alike for both paths: objects in memory (its temp files
cost ~3 s of system CPU per GiB written on this VM), freed memory kept by glibc, and a
FULL_OBJECT CRC64NVME computed part by part at Complete instead of over a second
whole-object copy (see ``_incremental_full_object_crc``), and its large buffers on
transparent huge pages (``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``, moto's process only:
on this VM a 4 KiB page fault costs ~3 s of system CPU per GiB, and moto copies each
completed object three times). Peak RSS is the child's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing as mp
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/migrate_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIB = 1 << 20
BUCKET = "bench"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


# -- servers --------------------------------------------------------------------------------


def _serve_glacier(data_dir: str, conn: Any) -> None:
    from datetime import UTC, datetime

    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    cfg = EmulatorConfig(data_dir=Path(data_dir), port=0, frozen=True,
                         start_time=datetime(2026, 1, 15, 12, tzinfo=UTC))
    with EmulatorThread(cfg) as emu:
        conn.send(emu.url)
        conn.recv()


class _PacedInput(io.RawIOBase):
    """A request body read at most ``rate`` bytes/s since the request began: the
    server's thread sleeps and TCP flow control holds the sender back."""

    def __init__(self, raw: Any, rate: int) -> None:
        super().__init__()
        self.raw = raw
        self.rate = rate
        self.start = time.monotonic()
        self.moved = 0

    def readable(self) -> bool:
        return True

    def _pace(self, n: int) -> None:
        self.moved += n
        ahead = self.start + self.moved / self.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)

    def readinto(self, b: Any) -> int:
        n: int = self.raw.readinto(b) or 0
        self._pace(n)
        return n

    def readline(self, size: int | None = -1) -> bytes:
        line: bytes = self.raw.readline(size)
        self._pace(len(line))
        return line


def _incremental_full_object_crc() -> None:
    """moto's FULL_OBJECT checksum builder copies every part into a second whole-object
    buffer, then copies that again, to CRC it once at Complete (~1.2 s of its CPU per
    256 MiB, all of it while the client waits). Same value, computed part by part
    (awscrt's CRC64NVME continues from a previous CRC): real S3 bills none of this to the
    client, and the naive path's COMPOSITE CRC32 is already computed part by part."""
    import base64

    from awscrt.checksums import crc64nvme
    from moto.s3 import models

    builder = models.MultipartChecksumBuilder
    add_part, build = builder.addPart, builder.build

    def incremental(self: Any) -> bool:
        return bool(self.checksum_type == "FULL_OBJECT"
                    and self.checksum_algorithm == "CRC64NVME")

    def add(self: Any, part: bytes) -> None:
        if not incremental(self):
            add_part(self, part)
            return
        self.crc64 = crc64nvme(part, getattr(self, "crc64", 0))
        self.part_count += 1

    def done(self: Any) -> Any:
        if not incremental(self):
            return build(self)
        value = getattr(self, "crc64", crc64nvme(b""))
        return self.checksum_type, base64.b64encode(value.to_bytes(8, "big")).decode(), 1

    builder.addPart, builder.build = add, done


def _keep_freed_memory() -> None:
    """glibc: serve moto's per-request buffers (8 MiB bodies and their copies) from the
    heap and keep freed pages, instead of a fresh mmap, page-faulted in, per buffer."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD (its maximum on 64-bit)
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def _serve_s3(conn: Any, rate: int, buffer: int) -> None:
    """moto's S3 on two ports sharing one backend: plain, and with every request body
    capped at ``rate`` (the S3-side cap: no proxy, so no extra copy or loopback hop).
    Objects up to ``buffer`` bytes stay in moto's memory instead of its temp files
    (this VM's page-cache writes cost ~3 s of system CPU per GiB, an emulator artefact
    that would fall on both paths alike)."""
    import logging

    os.environ["MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"] = str(buffer)
    _keep_freed_memory()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _incremental_full_object_crc()
    # moto lists its own package directory (~180 stat calls) on every request to find
    # the service: ~6 ms of its CPU per request, for both paths. The listing never
    # changes while it runs.
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: iter(modules)
    app = DomainDispatcherApplication(create_backend_app)

    def capped(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input"] = _PacedInput(environ["wsgi.input"], rate)
        return app(environ, start_response)

    servers = [make_server("127.0.0.1", 0, a, threaded=True) for a in (app, capped)]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    conn.send([f"http://127.0.0.1:{srv.server_port}" for srv in servers])
    conn.recv()
    for srv in servers:
        srv.shutdown()


def _admin(url: str, what: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{url}/_emulator/{what}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


class ThrottleProxy:
    """TCP proxy on 127.0.0.1 capping each connection at ``rate`` bytes/s per direction."""

    def __init__(self, target: str, rate: int) -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self.target = (host, int(port))
        self.rate = rate
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        start, sent = time.monotonic(), 0
        try:
            while data := await reader.read(256 * 1024):
                writer.write(data)
                await writer.drain()
                sent += len(data)
                ahead = start + sent / self.rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            w.close()
            return
        await asyncio.gather(self._pump(r, uw), self._pump(ur, w))

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> ThrottleProxy:
        self._thread.start()
        self._ready.wait(10)
        return self


# -- the measured transfers (children) -----------------------------------------------------------


def _own_cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of this process, every thread."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _since(c0: tuple[float, float]) -> tuple[float, float]:
    c1 = _own_cpu()
    return c1[0] - c0[0], c1[1] - c0[1]


def _child(args: dict[str, Any]) -> dict[str, Any]:
    op = args["op"]
    out: dict[str, Any] = {}
    if op == "naive":
        import boto3
        from botocore.config import Config

        g = boto3.client("glacier", endpoint_url=args["glacier"], region_name="us-east-1",
                         config=Config(read_timeout=300))
        s3 = boto3.client("s3", endpoint_url=args["s3"], region_name="us-east-1")
        local = Path(args["tmp"]) / "naive.bin"
        t0, c0 = time.perf_counter(), _own_cpu()
        body = g.get_job_output(vaultName="bench", jobId=args["job"])["body"]
        with open(local, "wb") as fh:
            for chunk in body.iter_chunks(MIB):
                fh.write(chunk)
        s3.upload_file(str(local), BUCKET, args["key"])
        out["seconds"], out["cpu_us"] = time.perf_counter() - t0, _since(c0)
        local.unlink()
    else:
        from bench.migrate_profile import profiled
        from glacier_tui.glacier.client import ClientOptions, GlacierClient
        from glacier_tui.glacier.migrate_stream import StreamTarget, stream_archive
        from glacier_tui.glacier.s3_client import S3Client, S3Options
        from glacier_tui.glacier.store import Store

        store = Store(Path(args["tmp"]) / "store.sqlite3")

        async def main() -> tuple[float, tuple[float, float]]:
            gopts = ClientOptions(endpoint_url=args["glacier"], region="us-east-1",
                                  read_timeout=300)
            async with GlacierClient(gopts) as g, S3Client(
                S3Options(endpoint_url=args["s3"], region="us-east-1")
            ) as s3:
                job = await g.describe_job("bench", args["job"])
                target = StreamTarget(1, args["archive"], BUCKET, args["key"], "DEEP_ARCHIVE",
                                      {"glacier-archive-id": args["archive"]}, args["size"],
                                      args["tree_hash"], args["part"])
                t0, c0 = time.perf_counter(), _own_cpu()
                with profiled(out) if args.get("profile") else contextlib.nullcontext():
                    r = await stream_archive(g, s3, store, "bench", job, target,
                                             concurrency=args["concurrency"])
                assert r.tree_hash == args["tree_hash"]
                return time.perf_counter() - t0, _since(c0)

        out["seconds"], out["cpu_us"] = asyncio.run(main())
        store.close()
    out["max_rss_mib"] = _peak_rss_mib()
    return out


def _peak_rss_mib() -> float:
    """This process's own peak RSS. ``ru_maxrss`` is not it on Linux: a child starts with
    its parent's peak (kept across fork and exec), and the parent held the archive."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a whole process (every thread), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def _own_cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _measure(args: dict[str, Any], servers: dict[str, int]) -> dict[str, Any]:
    """Run one transfer in a child; adds the CPU each server process (and this one, which
    runs the S3-side cap) spent meanwhile."""
    before = {name: _proc_cpu(pid) for name, pid in servers.items()}
    own = _own_cpu()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)],
                          capture_output=True, text=True, env={**os.environ, **ENV},
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{args['op']} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    after = {name: _proc_cpu(pid) for name, pid in servers.items()}
    own_after = _own_cpu()
    # name -> (user, system) seconds
    result["cpu_by"] = {
        "client": result["cpu_us"],
        **{n: (after[n][0] - before[n][0], after[n][1] - before[n][1]) for n in servers},
        "cap": (own_after[0] - own[0], own_after[1] - own[1]),
    }
    return result


# -- the run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _servers(tmp: Path, rate: int, buffer: int
             ) -> Iterator[tuple[str, list[str], dict[str, int]]]:
    ctx = mp.get_context("spawn")
    gp, gc = ctx.Pipe()
    sp, sc = ctx.Pipe()
    glacier = ctx.Process(target=_serve_glacier, args=(str(tmp / "emulator"), gc), daemon=True)
    s3 = ctx.Process(target=_serve_s3, args=(sc, rate, buffer), daemon=True)
    glacier.start()
    # moto's process only: glibc backs its large buffers with transparent huge pages
    # (madvise mode), so storing an object faults 2 MiB pages, not 4 KiB ones.
    before = os.environ.get("GLIBC_TUNABLES")
    os.environ["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=1"
    try:
        s3.start()
    finally:
        if before is None:
            os.environ.pop("GLIBC_TUNABLES")
        else:
            os.environ["GLIBC_TUNABLES"] = before
    try:
        pids = {"emulator": glacier.pid or 0, "moto": s3.pid or 0}
        yield gp.recv(), sp.recv(), pids
    finally:
        for pipe, proc in ((gp, glacier), (sp, s3)):
            with contextlib.suppress(Exception):
                pipe.send("stop")
            proc.join(30)
            if proc.is_alive():
                proc.terminate()


def run(size_mib: int, cap: str, part_mib: int, concurrency: int,
        modes: tuple[str, ...] = ("capped", "loopback"), s3_cap: str = "server",
        profile: bool = True) -> list[tuple[str, str]]:
    import boto3

    from glacier_tui.emulator.faults import parse_bandwidth
    from glacier_tui.glacier.treehash import tree_hash

    os.environ.update(ENV)
    size = size_mib * MIB
    rate = parse_bandwidth(cap)
    rows: list[tuple[str, str]] = [
        ("archive", f"{size_mib} MiB; streamed: {part_mib} MiB parts x {concurrency} in "
                    f"flight; one run each"),
    ]
    with tempfile.TemporaryDirectory(prefix="glacier-migrate-bench-") as tmp_name, \
            _servers(Path(tmp_name), rate, size + 1) as (glacier_url, (s3_url, s3_capped), pids):
        tmp = Path(tmp_name)
        data = os.urandom(size)
        g = boto3.client("glacier", endpoint_url=glacier_url, region_name="us-east-1")
        g.create_vault(vaultName="bench")
        archive = g.upload_archive(vaultName="bench", body=data)["archiveId"]
        digest = tree_hash(data)
        del data
        job = g.initiate_job(vaultName="bench", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": archive, "Tier": "Expedited"})["jobId"]
        _admin(glacier_url, "clock", {"advance_seconds": 6 * 3600})
        s3c = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
        s3c.create_bucket(Bucket=BUCKET)
        proxy = ThrottleProxy(s3_url, rate).start() if s3_cap == "proxy" else None
        capped_url = proxy.url if proxy is not None else s3_capped
        base = {"glacier": glacier_url, "job": job, "archive": archive, "size": size,
                "tree_hash": digest, "part": part_mib * MIB, "concurrency": concurrency,
                "tmp": str(tmp)}
        results: dict[str, dict[str, Any]] = {}
        for mode, s3 in (("capped", capped_url), ("loopback", s3_url)):
            if mode not in modes:
                continue
            _admin(glacier_url, "faults", {"bandwidth": cap} if mode == "capped" else {})
            for op in ("naive", "streamed"):
                results[f"{mode}-{op}"] = _measure(
                    {**base, "op": op, "s3": s3, "key": f"{mode}/{op}"}, pids)
                s3c.delete_object(Bucket=BUCKET, Key=f"{mode}/{op}")  # frees moto's copy
        if profile:  # a third streamed run on loopback, under the profiler
            _admin(glacier_url, "faults", {})
            results["profile"] = _measure(
                {**base, "op": "streamed", "s3": s3_url, "key": "profile", "profile": True},
                pids)
            s3c.delete_object(Bucket=BUCKET, Key="profile")
        if proxy is not None:
            proxy.loop.call_soon_threadsafe(proxy.loop.stop)

    def mib_s(r: dict[str, Any]) -> float:
        return size / MIB / float(r["seconds"])

    def cpu_gib(r: dict[str, Any]) -> float:
        return sum(r["cpu_us"]) / (size / (1 << 30))

    for mode, label in (("capped", f"each stream capped at {cap}/s"),
                        ("loopback", "unthrottled loopback")):
        if f"{mode}-naive" not in results:
            continue
        naive, streamed = results[f"{mode}-naive"], results[f"{mode}-streamed"]
        for name, r in (("naive (get_job_output to file, upload_file)", naive),
                        ("streamed (ranged parts, verified)", streamed)):
            rows.append((f"{label}: {name}",
                         f"{r['seconds']:.2f} s, {mib_s(r):.0f} MiB/s, CPU "
                         f"{cpu_gib(r):.2f} s/GiB, peak RSS {r['max_rss_mib']:.0f} MiB"))
        rows.append((f"{label}: throughput streamed / naive",
                     f"{naive['seconds'] / streamed['seconds']:.2f}x"))
        rows.append((f"{label}: CPU per GiB streamed / naive",
                     f"{cpu_gib(streamed) / cpu_gib(naive):.2f}x"))
        for name, r in (("naive", naive), ("streamed", streamed)):
            by = r["cpu_by"]
            gib = size / (1 << 30)
            rows.append((f"{label}: {name} CPU s/GiB by process (user+sys)",
                         ", ".join(f"{k} {u / gib:.2f}+{s / gib:.2f}" for k, (u, s) in by.items())
                         + f"; all {sum(sum(v) for v in by.values()) / gib:.2f}"))
    if "profile" in results:
        by = results["profile"]["breakdown"]
        total = sum(by.values())
        gib = size / (1 << 30)
        rows.append(("where the streamed client's CPU goes (loopback, profiled run)",
                     f"{total / gib:.2f} s/GiB in all (profiler included)"))
        for cat, seconds in sorted(by.items(), key=lambda kv: -kv[1]):
            rows.append((f"  {cat}", f"{seconds / gib:.2f} s/GiB, {100 * seconds / total:.0f}%"))
    return rows


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(json.loads(sys.argv[2]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mib", type=int, default=64, help="archive size (full run: 512)")
    p.add_argument("--cap", default="64MiB", help="per-stream bandwidth cap")
    p.add_argument("--part-mib", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=12,
                   help="parts in flight (memory: about one part size each)")
    p.add_argument("--modes", default="capped,loopback",
                   help="which runs: capped, loopback or both (comma-separated)")
    p.add_argument("--s3-cap", choices=("server", "proxy"), default="server",
                   help="S3-side cap: paced request bodies in moto's server, or the old "
                        "throttling TCP proxy (costs CPU in this process)")
    p.add_argument("--no-profile", action="store_true",
                   help="skip the profiled streamed run (where the client's CPU goes)")
    args = p.parse_args()
    socket.setdefaulttimeout(600)
    rows = run(args.size_mib, args.cap, args.part_mib, args.concurrency,
               tuple(args.modes.split(",")), args.s3_cap, not args.no_profile)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
