"""Restore campaigns at scale: scheduler CPU and requests per archive; plan time and memory.

`python bench/campaign_bench.py [--quick] [--archives N] [--plan-archives M]`. Loopback only.

* run: N small archives (10,000; 1,000 with --quick) in an emulator subprocess whose clock
  runs 2,000x (an Expedited job takes 30-150 ms, an output lives 43 s). One campaign
  restores them all; this
  process's CPU time per archive (scheduler, HTTP client, tiny downloads) and the
  emulator's request log per archive (InitiateJob, GetJobOutput, ListJobs) are reported.
* plan: an inventory of M archives (1,000,000; 100,000 with --quick) is imported with the
  CLI, then a whole-vault campaign is planned in a fresh process: its time against the
  import's, and its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/campaign_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.emulator_proc import ROOT, emulator_process

VAULT = "bench-campaign"


def _admin(url: str, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/_emulator/{what}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _boto(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("glacier", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                      max_pool_connections=16))


def _seed(url: str, n: int) -> bytes:
    """Upload n archives in folders (8 threads); return the vault's inventory JSON."""
    from concurrent.futures import ThreadPoolExecutor

    from glacier_tui.glacier.descriptions import encode_mt2

    c = _boto(url)
    c.create_vault(vaultName=VAULT)
    when = datetime(2024, 1, 1, tzinfo=UTC)

    def put(i: int) -> None:
        c.upload_archive(vaultName=VAULT, body=i.to_bytes(4, "big") * 64,
                         archiveDescription=encode_mt2(f"y{i % 10}/m{i % 12}/f{i:06d}.jpg",
                                                       when))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(n)))
    _admin(url, "POST", "inventory", {"vault": VAULT})
    job = c.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})
    while c.describe_job(vaultName=VAULT, jobId=job["jobId"])["StatusCode"] != "Succeeded":
        time.sleep(0.05)
    body: bytes = c.get_job_output(vaultName=VAULT, jobId=job["jobId"])["body"].read()
    return body


def bench_run(n: int) -> list[tuple[str, str]]:
    import io

    from glacier_tui.glacier.campaigns import (
        CampaignRunner,
        CampaignSpec,
        EngineOptions,
        Limits,
        Selection,
        plan_campaign,
    )
    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.inventory import import_inventory
    from glacier_tui.glacier.store import Store

    with tempfile.TemporaryDirectory(prefix="glacier-campaign-bench-") as tmp:
        work = Path(tmp)
        with emulator_process(work / "emu", "--time-scale", "2000") as url:
            inventory = _seed(url, n)
            store = Store(work / "store.sqlite3")
            import_inventory(store, VAULT, io.BytesIO(inventory))
            t0 = time.perf_counter()
            info = plan_campaign(store, CampaignSpec(
                VAULT, VAULT, Selection.whole_vault(), "Expedited", work / "out",
                Limits(max_jobs_in_flight=500, batch_size=250)))
            plan_s = time.perf_counter() - t0
            _admin(url, "DELETE", "requests")
            options = EngineOptions(poll_interval=0.05, download_parallel=16,
                                    initiate_concurrency=16, progress_interval=1.0)

            async def go() -> Any:
                client_opts = ClientOptions(endpoint_url=url, region="us-east-1",
                                            max_pool_connections=40, access_key="testing",
                                            secret_key="testing")
                async with GlacierClient(client_opts) as client:
                    runner = CampaignRunner(client, store, info.id, options=options)
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                    final = await runner.run()
                    return final, runner, time.process_time() - cpu0, time.perf_counter() - wall0

            final, runner, cpu, wall = asyncio.run(go())
            log = _admin(url, "GET", "requests")
            store.close()
    ops: dict[str, int] = {}
    for r in log:
        ops[str(r.get("operation"))] = ops.get(str(r.get("operation")), 0) + 1
    total = sum(ops.values())
    main = ("InitiateJob", "GetJobOutput", "ListJobs")
    other = total - sum(ops.get(k, 0) for k in main)
    verified = final.counts.get("verified", 0)
    return [
        ("campaign run", f"{n:,} archives, status {final.status.value}, {verified:,} verified, "
                         f"{final.re_requests:,} re-requested, {runner.cycles} cycles"),
        ("campaign plan (SQL)", f"{plan_s * 1000:.0f} ms for {n:,} archives"),
        ("campaign scheduler CPU per archive",
         f"{runner.scheduler_cpu / n * 1000:.3f} ms (bookkeeping; no HTTP, no downloads)"),
        ("campaign process CPU per archive", f"{cpu / n * 1000:.2f} ms (scheduler + HTTP "
                                             f"client + downloads; wall {wall:.1f} s)"),
        ("campaign requests per archive",
         f"{total / n:.2f} (InitiateJob {ops.get('InitiateJob', 0) / n:.2f}, GetJobOutput "
         f"{ops.get('GetJobOutput', 0) / n:.2f}, ListJobs {ops.get('ListJobs', 0) / n:.3f}, "
         f"other {other / n:.3f})"),
    ]


_PLAN_SCRIPT = """
import json, sys, time
from pathlib import Path
from glacier_tui.glacier.campaigns import CampaignSpec, Selection, plan_campaign
from glacier_tui.glacier.store import Store
store = Store(sys.argv[1])
t0 = time.perf_counter()
info = plan_campaign(store, CampaignSpec("v", "v", Selection.whole_vault(), "Bulk",
                                         Path(sys.argv[2])))
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec on Linux.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM:"))
print(json.dumps({"s": time.perf_counter() - t0, "items": info.total_items,
                  "rss_mib": hwm / 1024}))
"""


def bench_plan(m: int) -> list[tuple[str, str]]:
    from bench.gen_inventory import generate

    with tempfile.TemporaryDirectory(prefix="glacier-plan-bench-") as tmp:
        work = Path(tmp)
        inv = generate(m, work / "inventory.json")
        db = work / "store.sqlite3"
        imported = subprocess.run(
            [sys.executable, "-m", "glacier_tui", "inventory", "import", str(inv), "--vault",
             "v", "--force", "--db", str(db), "--quiet"], check=True, cwd=ROOT, capture_output=True,
            text=True)
        # "imported N archives in F folders (... bytes, json) in 2.34 s"
        import_s = float(imported.stdout.split(" in ")[-1].split()[0])
        done = subprocess.run([sys.executable, "-c", _PLAN_SCRIPT, str(db), str(work / "o")],
                              check=True, cwd=ROOT, capture_output=True, text=True)
        res = json.loads(done.stdout)
    return [
        ("campaign plan of an inventory",
         f"{res['items']:,} archives in {res['s']:.2f} s = {res['s'] / import_s:.2f}x the "
         f"import ({import_s:.2f} s, importer time); peak RSS {res['rss_mib']:.0f} MiB"),
    ]


def run(quick: bool) -> list[tuple[str, str]]:
    return bench_run(1000 if quick else 10_000) + bench_plan(100_000 if quick else 1_000_000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/campaign_bench.py")
    p.add_argument("--quick", action="store_true", help="1,000 archives, a 100,000 plan")
    p.add_argument("--archives", type=int, default=None, help="archives in the run")
    p.add_argument("--plan-archives", type=int, default=None, help="archives in the plan")
    p.add_argument("--plan-only", action="store_true", help="skip the run")
    args = p.parse_args(argv)
    from bench import print_rows

    rows = [] if args.plan_only else bench_run(args.archives or (1000 if args.quick else 10_000))
    rows += bench_plan(args.plan_archives or (100_000 if args.quick else 1_000_000))
    print_rows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
