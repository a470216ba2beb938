"""Load bench: 1,000 vaults and 5,000 jobs in the emulator while the app runs headless.

``python -m bench.load [--quick]`` (``--quick``: 200 vaults / 1,000 jobs); ``run(quick)``
returns (name, value) rows. The world is written straight into the emulator's store (one
transaction, no HTTP) and then served by an emulator *subprocess*, so the figures measure
the app, not a server sharing its GIL. A tenth of the vaults hold unfinished jobs (half
Standard, half Bulk); the rest hold jobs that already succeeded.

Measured:

* key-to-frame latency (p50/p95) moving through the job table while the poller runs
  (``bench/keylatency.py``: from the key's arrival to the first frame showing it);
* ListJobs requests per poll cycle against the number of vaults with unfinished jobs at
  the start of that cycle, from the emulator's request log, over several cycles; then the
  Standard jobs are completed (clock advanced 5 h) and the same is measured again;
* with ``throttle=0.5`` faults: the time between poll cycles grows (botocore retries inside
  a cycle, the poller's backoff between cycles), no error screen, the app keeps running;
  after the faults are cleared polling recovers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.emulator_proc import emulator_process as _emulator_process
from bench.keylatency import key_to_frame

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    vaults: list[str]
    live_standard: list[str]  # vaults whose jobs are Standard (done after ~5 h)
    live_bulk: list[str]  # vaults whose jobs are Bulk (done after 5-12 h)
    jobs: int
    unfinished: int
    seconds: float = 0.0


def seed_world(data_dir: Path, n_vaults: int, n_jobs: int, live_fraction: float = 0.1,
               start: float | None = None, live: int | None = None) -> World:
    """Write vaults, one small archive each and ``n_jobs`` jobs straight into the store.

    Jobs are spread evenly; ``live_fraction`` of the vaults (or ``live`` vaults) get
    unfinished jobs (half Standard, half Bulk), the others Expedited jobs that are
    completed by moving the clock one hour on before the unfinished ones are created.
    The emulator saves its clock in the store, so a server started later on ``data_dir``
    goes on from there.
    """
    from glacier_tui.emulator.clock import VirtualClock
    from glacier_tui.emulator.config import EmulatorConfig
    from glacier_tui.emulator.service import Service
    from glacier_tui.emulator.store import Store, commit_file
    from glacier_tui.glacier.treehash import tree_hash

    t0 = time.perf_counter()
    cfg = EmulatorConfig(data_dir=data_dir, frozen=True, max_vaults=max(1000, n_vaults))
    store = Store(data_dir)
    clock = VirtualClock(time.time() if start is None else start, 1.0, True)
    svc = Service(cfg, store, clock)
    names = [f"load-{i:04d}" for i in range(n_vaults)]
    if live is None:
        live = max(2, int(n_vaults * live_fraction)) if live_fraction > 0 else 0
    n_live = live
    live_names = names[:n_live]
    per_vault = [n_jobs // n_vaults + (1 if i < n_jobs % n_vaults else 0)
                 for i in range(n_vaults)]
    data = b"load-bench archive\n"
    archives: dict[str, str] = {}
    try:
        with store.tx() as db:
            blob = store.blob_path("blobs", "load-bench")
            tmp = store.tmp_path("load")
            tmp.write_bytes(data)
            commit_file(tmp, blob)
            digest = tree_hash(data)
            for i, name in enumerate(names):
                svc.call("create_vault", {"vaultName": name})
                archive_id = svc.new_id("archive")
                db.execute(
                    "INSERT INTO archives(id, vault, description, creation, size, tree_hash, "
                    "blob) VALUES(?,?,?,?,?,?,?)",
                    (archive_id, name, f"file-{i}.txt", clock.now(), len(data), digest,
                     store.rel(blob)))
                archives[name] = archive_id

            def jobs(vault: str, tier: str, count: int) -> None:
                for _ in range(count):
                    svc.call("initiate_job", {"vaultName": vault, "jobParameters": {
                        "Type": "archive-retrieval", "ArchiveId": archives[vault],
                        "Tier": tier}})

            for i, name in enumerate(names[n_live:], start=n_live):
                jobs(name, "Expedited", per_vault[i])
            clock.advance(3600.0)
            svc._tick(db)  # the Expedited jobs succeed
            half = n_live // 2
            for i, name in enumerate(live_names):
                jobs(name, "Standard" if i < half else "Bulk", per_vault[i])
            svc._tick(db)  # saves the clock
    finally:
        store.close()
    return World(names, live_names[:n_live // 2], live_names[n_live // 2:], sum(per_vault),
                 sum(per_vault[:n_live]), time.perf_counter() - t0)


# --------------------------------------------------------------------------- emulator


def emulator_process(data_dir: Path, faults: str = "") -> contextlib.AbstractContextManager[str]:
    """The emulator subprocess on ``data_dir``, with ``faults`` if any; yields its URL."""
    return _emulator_process(data_dir, *(["--faults", faults] if faults else []))


def admin(url: str, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
    """One call to the emulator's admin API (``/_emulator/<what>``)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/_emulator/{what}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


# --------------------------------------------------------------------------- poll cycles


@dataclass
class Cycle:
    full: bool
    to_poll: int  # vaults with unfinished jobs in the app's table when the cycle started
    start: float
    end: float = 0.0
    list_jobs: int = -1  # ListJobs requests seen by the emulator during the cycle (-1: not counted)
    list_vaults: int = -1
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # the poller's consecutive failures after the cycle


class CycleProbe:
    """Wraps the main screen's poll part's ``_poll_cycle`` to record each cycle.

    With ``count`` set, the emulator's request log is read after the cycle (``log`` gives
    the entries recorded so far; ``reset`` forgets them); cycles never overlap (the next
    one is armed only after this one is done), so the delta belongs to this cycle.
    """

    def __init__(self, screen: Any,
                 log: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
                 reset: Callable[[], Awaitable[None]] | None = None) -> None:
        self.poll = screen.poll  # the main screen's poll part
        self.cycles: list[Cycle] = []
        self.count = False
        self._log = log
        self._reset = reset
        self._orig = self.poll._poll_cycle
        setattr(self.poll, "_poll_cycle", self._cycle)  # noqa: B010 - instance override

    async def _cycle(self, full: bool, interval: float) -> None:
        counting = self.count and self._log is not None
        seen = 0
        if counting and self._reset is not None:
            await self._reset()
        elif counting and self._log is not None:
            seen = len(await self._log())
        c = Cycle(full, len(self.poll.vaults_to_poll), time.perf_counter())
        try:
            await self._orig(full, interval)
        finally:
            c.end = time.perf_counter()
            c.failures = self.poll.failures
            if counting and self._log is not None:
                entries = (await self._log())[seen:]
                c.list_jobs = sum(1 for e in entries if e.get("operation") == "ListJobs")
                c.list_vaults = sum(1 for e in entries if e.get("operation") == "ListVaults")
                for e in entries:
                    c.statuses[int(e.get("status", 0))] = \
                        c.statuses.get(int(e.get("status", 0)), 0) + 1
            self.cycles.append(c)

    async def wait_cycles(self, pilot: Any, n: int, limit: float) -> list[Cycle]:
        """The next ``n`` completed cycles (bounded by ``limit`` seconds)."""
        first = len(self.cycles)
        deadline = time.monotonic() + limit
        while len(self.cycles) < first + n and time.monotonic() < deadline:
            await pilot.pause(0.05)
        return self.cycles[first:]


def error_screens(app: Any) -> int:
    from glacier_tui.ui.screens.error import ErrorScreen

    return sum(1 for s in app.screen_stack if isinstance(s, ErrorScreen))


# --------------------------------------------------------------------------- the bench


def _p(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[max(0, int(len(s) * q) - 1)]


async def _bench(n_vaults: int, n_jobs: int, presses: int, cycles: int,
                 throttle_cycles: int) -> dict[str, Any]:
    from glacier_tui.config import Settings
    from glacier_tui.glacier.store import Store
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.widgets.job_table import JobTable

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmpname:
        tmp = Path(tmpname)
        world = seed_world(tmp / "emu", n_vaults, n_jobs)
        out.update(vaults=len(world.vaults), jobs=world.jobs, unfinished=world.unfinished,
                   live_vaults=len(world.live_standard) + len(world.live_bulk),
                   seed_s=world.seconds)
        with emulator_process(tmp / "emu") as url:
            async def log() -> list[dict[str, Any]]:
                result: list[dict[str, Any]] = await asyncio.to_thread(
                    admin, url, "GET", "requests")
                return result

            async def reset() -> None:
                await asyncio.to_thread(admin, url, "DELETE", "requests")

            interval = 1.0
            values: dict[str, Any] = {"endpoint_url": url, "region": "us-east-1",
                                      "poll_interval": interval, "download_dir": tmp / "dl"}
            app = GlacierApp(Settings(**values), store=Store(tmp / "app.db"))
            t0 = time.perf_counter()
            async with app.run_test(size=(120, 40)) as pilot:
                screen = app.screen_stack[0]
                probe = CycleProbe(screen, log, reset)
                table = screen.query_one(JobTable)
                while len(table.jobs) < world.jobs and time.perf_counter() - t0 < 300:
                    await pilot.pause(0.05)
                out["loaded_s"] = time.perf_counter() - t0
                out["table_jobs"] = len(table.jobs)

                # 1. key latency while the poller runs (no request-log reads meanwhile)
                table.focus()
                table.move_cursor(row=0)
                await pilot.pause()
                first = len(probe.cycles)
                keys = ["down" if (i // 100) % 2 == 0 else "up" for i in range(presses)]
                samples = await key_to_frame(app, keys, lambda: table.cursor_row)
                out["p50_ms"] = statistics.median(samples) * 1000
                out["p95_ms"] = _p(samples, 0.95) * 1000
                out["max_ms"] = max(samples) * 1000
                out["key_cycles"] = len(probe.cycles) - first
                out["key_full_cycles"] = sum(1 for c in probe.cycles[first:] if c.full)

                # 2. ListJobs per cycle vs vaults with unfinished jobs
                probe.count = True
                before = await probe.wait_cycles(pilot, cycles, 600)
                await asyncio.to_thread(admin, url, "POST", "clock",
                                        {"advance_seconds": 5 * 3600 + 300})
                await probe.wait_cycles(pilot, 2, 120)  # the Standard jobs are seen done
                after = await probe.wait_cycles(pilot, cycles, 600)
                out["before"] = before
                out["after"] = after

                # 3. throttle=0.5: slower cycles, no error screen, then recovery
                calm = [c for c in after if not c.full]
                calm_gaps = [b.start - a.end for a, b in itertools.pairwise(after)]
                out["calm_cycle_s"] = statistics.median(c.end - c.start for c in calm)
                out["calm_gap_s"] = statistics.median(calm_gaps) if calm_gaps else 0.0
                await asyncio.to_thread(admin, url, "POST", "faults",
                                        {"throttle": 0.5, "seed": 3})
                throttled = await probe.wait_cycles(pilot, throttle_cycles, 900)
                await asyncio.to_thread(admin, url, "POST", "faults", {})
                # Recovery: the first cycle after the backoff that ends without a failure.
                recovered: list[Cycle] = []
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    got = await probe.wait_cycles(pilot, 1, 900)
                    recovered += got
                    if got and got[-1].failures == 0 and got[-1].statuses.get(400, 0) == 0:
                        break
                out["throttled"] = throttled
                out["throttle_gaps"] = [b.start - a.end for a, b in
                                        itertools.pairwise(throttled)]
                out["recovered"] = recovered
                out["error_screens"] = error_screens(app)
                out["running"] = app.is_running and app._exception is None
                out["table_after"] = len(table.jobs)
    return out


def _ratio(cycles: list[Cycle]) -> tuple[str, float]:
    ordinary = [c for c in cycles if not c.full and c.to_poll > 0]
    lj = sum(c.list_jobs for c in ordinary)
    vaults = sum(c.to_poll for c in ordinary)
    per = [f"{c.list_jobs}/{c.to_poll}" for c in ordinary]
    return ", ".join(sorted(set(per))), (lj / vaults if vaults else float("nan"))


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    out = [
        ("load: world", f"{r['vaults']} vaults, {r['jobs']} jobs ({r['unfinished']} unfinished "
                        f"in {r['live_vaults']} vaults), seeded in {r['seed_s']:.1f} s"),
        ("load: all jobs in the table after", f"{r['loaded_s']:.1f} s ({r['table_jobs']} rows)"),
        ("load: key latency p50", f"{r['p50_ms']:.1f} ms"),
        ("load: key latency p95", f"{r['p95_ms']:.1f} ms (target < 50 ms)"),
        ("load: key latency max", f"{r['max_ms']:.1f} ms"),
        ("load: poll cycles during the key test",
         f"{r['key_cycles']} ({r['key_full_cycles']} full)"),
    ]
    for label, key in (("before", "before"), ("after 5 h", "after")):
        cycles: list[Cycle] = r[key]
        per, ratio = _ratio(cycles)
        full = [c for c in cycles if c.full]
        full_txt = "; full refresh: " + ", ".join(
            f"{c.list_jobs} ListJobs + {c.list_vaults} ListVaults" for c in full) if full else ""
        out.append((f"load: ListJobs/live vaults ({label})",
                    f"{ratio:.2f} per vault, per cycle {per}{full_txt}"))
    thr: list[Cycle] = r["throttled"]
    rec: list[Cycle] = r["recovered"]
    thr_429 = sum(c.statuses.get(400, 0) for c in thr)  # Glacier throttling is a 400
    out += [
        ("load: calm cycle / gap between cycles",
         f"{r['calm_cycle_s']:.2f} s / {r['calm_gap_s']:.2f} s"),
        ("load: throttle=0.5 cycles (duration)",
         ", ".join(f"{c.end - c.start:.1f} s" for c in thr) + f"; {thr_429} throttled requests"),
        ("load: throttle=0.5 gaps (backoff)",
         ", ".join(f"{g:.1f} s" for g in r["throttle_gaps"]) or "-"),
        ("load: poller failures under throttle", ", ".join(str(c.failures) for c in thr)),
        ("load: recovered after faults cleared",
         f"{'yes' if rec and rec[-1].failures == 0 else 'NO'} after {len(rec)} cycle(s)"),
        ("load: error screens / app running",
         f"{r['error_screens']} / {'yes' if r['running'] else 'NO'}"),
    ]
    return out


def measure(quick: bool) -> dict[str, Any]:
    if quick:
        return asyncio.run(_bench(200, 1000, 100, 6, 3))
    return asyncio.run(_bench(1000, 5000, 400, 12, 3))


def run(quick: bool) -> list[tuple[str, str]]:
    return rows(measure(quick))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load")
    p.add_argument("--quick", action="store_true", help="200 vaults / 1,000 jobs")
    args = p.parse_args(argv)
    r = measure(args.quick)
    for name, value in rows(r):
        print(f"{name:42} {value}")
    per_before = _ratio(r["before"])[1]
    per_after = _ratio(r["after"])[1]
    ok = (r["p95_ms"] < 50 and abs(per_before - 1) < 1e-9 and abs(per_after - 1) < 1e-9
          and r["error_screens"] == 0 and r["running"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
