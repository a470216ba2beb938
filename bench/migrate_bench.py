"""Vault -> S3 migration: streamed (ranged GetJobOutput straight into multipart parts)
against the naive path (boto3 ``get_job_output`` to a local file, then ``upload_file``).

``python bench/migrate_bench.py [--size-mib 64] [--cap 64MiB]``. Loopback only; one run
of each. Full size: ``python bench/migrate_bench.py --size-mib 512``.

* capped: every stream limited to 64 MiB/s, on the Glacier side by the emulator's
  ``bandwidth`` fault (per connection), on the S3 side by a throttling TCP proxy in
  front of moto's S3 server (per connection, each direction);
* unthrottled: the same on plain loopback, for CPU seconds per GiB.

The Glacier emulator and moto run in their own processes and each transfer in a child
process, so CPU time and peak RSS are the transfer's own (the child's imports and client
set-up are excluded from CPU time; peak RSS is the child's whole life).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def _serve_s3(conn: Any) -> None:
    from glacier_tui.local_s3 import start_local_s3

    with start_local_s3() as s3:
        conn.send(s3.url)
        conn.recv()


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


def _rusage_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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
        t0, c0 = time.perf_counter(), _rusage_cpu()
        body = g.get_job_output(vaultName="bench", jobId=args["job"])["body"]
        with open(local, "wb") as fh:
            for chunk in body.iter_chunks(MIB):
                fh.write(chunk)
        s3.upload_file(str(local), BUCKET, args["key"])
        out["seconds"], out["cpu"] = time.perf_counter() - t0, _rusage_cpu() - c0
        local.unlink()
    else:
        from glacier_tui.glacier.client import ClientOptions, GlacierClient
        from glacier_tui.glacier.migrate_stream import StreamTarget, stream_archive
        from glacier_tui.glacier.s3_client import S3Client, S3Options
        from glacier_tui.glacier.store import Store

        store = Store(Path(args["tmp"]) / "store.sqlite3")

        async def main() -> tuple[float, float]:
            gopts = ClientOptions(endpoint_url=args["glacier"], region="us-east-1",
                                  read_timeout=300)
            async with GlacierClient(gopts) as g, S3Client(
                S3Options(endpoint_url=args["s3"], region="us-east-1")
            ) as s3:
                job = await g.describe_job("bench", args["job"])
                target = StreamTarget(1, args["archive"], BUCKET, args["key"], "DEEP_ARCHIVE",
                                      {"glacier-archive-id": args["archive"]}, args["size"],
                                      args["tree_hash"], args["part"])
                t0, c0 = time.perf_counter(), _rusage_cpu()
                r = await stream_archive(g, s3, store, "bench", job, target,
                                         concurrency=args["concurrency"])
                assert r.tree_hash == args["tree_hash"]
                return time.perf_counter() - t0, _rusage_cpu() - c0

        out["seconds"], out["cpu"] = asyncio.run(main())
        store.close()
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _measure(args: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)],
                          capture_output=True, text=True, env={**os.environ, **ENV},
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{args['op']} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _servers(tmp: Path) -> Iterator[tuple[str, str]]:
    ctx = mp.get_context("spawn")
    gp, gc = ctx.Pipe()
    sp, sc = ctx.Pipe()
    glacier = ctx.Process(target=_serve_glacier, args=(str(tmp / "emulator"), gc), daemon=True)
    s3 = ctx.Process(target=_serve_s3, args=(sc,), daemon=True)
    glacier.start()
    s3.start()
    try:
        yield gp.recv(), sp.recv()
    finally:
        for pipe, proc in ((gp, glacier), (sp, s3)):
            with contextlib.suppress(Exception):
                pipe.send("stop")
            proc.join(30)
            if proc.is_alive():
                proc.terminate()


def run(size_mib: int, cap: str, part_mib: int, concurrency: int) -> list[tuple[str, str]]:
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
            _servers(Path(tmp_name)) as (glacier_url, s3_url):
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
        boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1").create_bucket(
            Bucket=BUCKET)
        proxy = ThrottleProxy(s3_url, rate).start()
        base = {"glacier": glacier_url, "job": job, "archive": archive, "size": size,
                "tree_hash": digest, "part": part_mib * MIB, "concurrency": concurrency,
                "tmp": str(tmp)}
        results: dict[str, dict[str, Any]] = {}
        for mode, s3 in (("capped", proxy.url), ("loopback", s3_url)):
            _admin(glacier_url, "faults", {"bandwidth": cap} if mode == "capped" else {})
            for op in ("naive", "streamed"):
                results[f"{mode}-{op}"] = _measure(
                    {**base, "op": op, "s3": s3, "key": f"{mode}/{op}"})
        proxy.loop.call_soon_threadsafe(proxy.loop.stop)

    def mib_s(r: dict[str, Any]) -> float:
        return size / MIB / float(r["seconds"])

    def cpu_gib(r: dict[str, Any]) -> float:
        return float(r["cpu"]) / (size / (1 << 30))

    for mode, label in (("capped", f"each stream capped at {cap}/s"),
                        ("loopback", "unthrottled loopback")):
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
    return rows


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(json.loads(sys.argv[2]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mib", type=int, default=64, help="archive size (full run: 512)")
    p.add_argument("--cap", default="64MiB", help="per-stream bandwidth cap")
    p.add_argument("--part-mib", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=4)
    args = p.parse_args()
    socket.setdefaulttimeout(600)
    rows = run(args.size_mib, args.cap, args.part_mib, args.concurrency)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
