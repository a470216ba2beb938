"""Fault soak: uploads, restores and downloads through the service layer under injected
faults, while the app runs headless against the same emulator and polls the jobs.

`python -m bench.soak [--quick]`. Loopback only, bounded in count. The emulator runs
with ``throttle=0.1,error5xx=0.05,reset=0.02,corrupt=0.01`` (seeded); afterwards every
upload must be in the vault with its tree hash, every download byte-exact, and every
restore job present, both in ListJobs and in the app's job table. The app (``run_test``,
poll interval 0.2 s, its log under a temporary XDG_STATE_HOME) must still be running,
show no error screen and have logged no error. Prints one summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FAULTS = "throttle=0.1,error5xx=0.05,reset=0.02,corrupt=0.01,seed=7"
MIB = 1024 * 1024


def _sizes(n: int, rng: random.Random) -> list[int]:
    base = [1, 1023, 4096, MIB, MIB + 1, 3 * MIB - 5]
    return [base[i] if i < len(base) else rng.randrange(1, 3 * MIB) for i in range(n)]


APP_POLL = 0.2  # seconds between the app's poll cycles during the soak


async def _soak(work: Path, restores: int, transfers_n: int, seed: int) -> dict[str, Any]:
    from bench.load import CycleProbe, error_screens
    from glacier_tui.config import Settings
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread
    from glacier_tui.glacier import errors
    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.store import Store
    from glacier_tui.glacier.transfers import download_job_output, upload_file
    from glacier_tui.glacier.treehash import tree_hash
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.widgets.job_table import JobTable

    rng = random.Random(seed)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # injected resets
    cfg = EmulatorConfig(data_dir=work / "emu", host="127.0.0.1", port=0, seed=seed,
                         start_time=datetime(2026, 1, 15, 12, tzinfo=UTC), frozen=True)
    stats: dict[str, Any] = {"failures": 0}
    with EmulatorThread(cfg) as emu:
        options = ClientOptions(endpoint_url=emu.url, region="us-east-1", max_attempts=10)
        settings: dict[str, Any] = {"endpoint_url": emu.url, "region": "us-east-1",
                                    "poll_interval": APP_POLL, "download_dir": work / "app-dl"}
        app = GlacierApp(Settings(**settings), store=Store(work / "app.sqlite3"))
        async with GlacierClient(options) as client, app.run_test(size=(120, 40)) as pilot:
            await client.create_vault("soak")
            main = app.screen_stack[0]
            probe = CycleProbe(main)
            for _ in range(600):  # connected and polling before the faults start
                if probe.cycles:
                    break
                await pilot.pause(0.05)
            emu.set_faults(FAULTS)
            src = work / "src"
            src.mkdir()
            uploads: dict[str, tuple[str, bytes]] = {}
            for i, size in enumerate(_sizes(transfers_n, rng)):
                data = rng.randbytes(size)
                path = src / f"f{i:03d}.bin"
                path.write_bytes(data)
                try:
                    res = await upload_file(client, "soak", path, threshold=MIB,
                                            min_part_size=MIB, concurrency=3,
                                            journal_dir=work / "journals", retry_delay=0.01,
                                            max_retries=10)
                except errors.GlacierError as exc:
                    stats["failures"] += 1
                    print(f"upload {path.name} failed: {exc.user_message()}", file=sys.stderr)
                    continue
                assert res.tree_hash == tree_hash(data), path
                uploads[res.archive_id] = (res.tree_hash, data)
            ids = list(uploads)
            jobs: dict[str, str] = {}
            for i in range(restores):
                archive = ids[i % len(ids)]
                try:
                    jobs[await client.initiate_archive_retrieval(
                        "soak", archive, tier="Expedited")] = archive
                except errors.GlacierError as exc:
                    stats["failures"] += 1
                    print(f"restore failed: {exc.user_message()}", file=sys.stderr)
            emu.advance(6 * 3600)
            listed = {j.job_id for j in await client.list_jobs("soak")}
            stats["jobs_lost"] = len(set(jobs) - listed)
            out = work / "out"
            out.mkdir()
            downloaded = 0
            seen: set[str] = set()
            for job_id, archive in jobs.items():
                if archive in seen:
                    continue
                seen.add(archive)
                job = await client.describe_job("soak", job_id)
                dest = out / f"{downloaded:03d}.bin"
                try:
                    await download_job_output(client, "soak", job, dest, segment_size=MIB,
                                              concurrency=3, retry_delay=0.01, max_retries=10)
                except errors.GlacierError as exc:
                    stats["failures"] += 1
                    print(f"download failed: {exc.user_message()}", file=sys.stderr)
                    continue
                got = dest.read_bytes()
                want_hash, want = uploads[archive]
                assert got == want and tree_hash(got) == want_hash, dest
                downloaded += 1
            # The app, polling under the same faults, shows every restore job, done.
            table = main.query_one(JobTable)

            def app_done() -> bool:
                return all(j in table.jobs and table.jobs[j].completed for j in jobs)

            for _ in range(1200):
                if app_done():
                    break
                await pilot.pause(0.05)
            stats["app_jobs_lost"] = sum(1 for j in jobs if j not in table.jobs)
            stats["app_jobs_unfinished"] = sum(
                1 for j in jobs if j in table.jobs and not table.jobs[j].completed)
            stats["app_cycles"] = len(probe.cycles)
            stats["app_cycles_failed"] = sum(1 for c in probe.cycles if c.failures)
            stats["app_error_screens"] = error_screens(app)
            stats["app_running"] = app.is_running and app._exception is None
            emu.set_faults(None)
            emu.rebuild_inventory("soak")
            # Every acknowledged upload is in the service's own inventory, hash included.
            inv_job = await client.initiate_inventory_retrieval("soak")
            emu.advance(6 * 3600)
            async with client.job_output("soak", inv_job) as stream:
                inventory = json.loads(await stream.read_all())
            hashes = {a["ArchiveId"]: a["SHA256TreeHash"] for a in inventory["ArchiveList"]}
            present = {a for a, (h, _) in uploads.items() if hashes.get(a) == h}
            stats["uploads_missing"] = len(uploads) - len(present)
        log = emu.requests()
    faults = [e for e in log if e.get("fault")]
    stats.update(
        requests=len(log), faults=len(faults),
        fault_kinds={k: sum(1 for e in faults if k in str(e["fault"]).split(","))
                     for k in ("throttle", "error5xx", "reset", "corrupt")},
        uploads=len(uploads), restores=len(jobs), downloads=downloaded, archives=len(present),
    )
    return stats


def _app_log_errors(path: Path | None) -> list[str]:
    """ERROR/CRITICAL lines and tracebacks in the app's log file."""
    if path is None or not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")]


def soak(quick: bool, seed: int = 7) -> dict[str, Any]:
    from glacier_tui.ui.app import setup_logging

    restores, n = (20, 6) if quick else (200, 20)
    with tempfile.TemporaryDirectory(prefix="glacier-soak-") as tmp:
        saved = os.environ.get("XDG_STATE_HOME")
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        root = logging.getLogger("glacier_tui")
        level, handlers = root.level, list(root.handlers)
        try:
            log_path = setup_logging()
            stats = asyncio.run(_soak(Path(tmp), restores, n, seed))
            for handler in root.handlers:
                handler.flush()
            stats["app_log_errors"] = _app_log_errors(log_path)
            stats["app_log"] = log_path is not None
        finally:
            for handler in root.handlers[:]:
                if handler not in handlers:
                    root.removeHandler(handler)
                    handler.close()
            root.setLevel(level)
            if saved is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = saved
        return stats


def ok(s: dict[str, Any]) -> bool:
    return (s["failures"] == 0 and s["jobs_lost"] == 0 and not s["uploads_missing"]
            and s["app_jobs_lost"] == 0 and s["app_jobs_unfinished"] == 0
            and s["app_running"] and s["app_error_screens"] == 0 and not s["app_log_errors"])


def summary(s: dict[str, Any]) -> str:
    kinds = ", ".join(f"{v} {k}" for k, v in s["fault_kinds"].items())
    return (f"soak: {s['requests']} requests, {s['faults']} faults injected ({kinds}), "
            f"all absorbed by retries (botocore, transfer engine, next poll) with "
            f"{s['failures']} failures; {s['uploads']} uploads, "
            f"{s['uploads_missing']} missing from the inventory; {s['restores']} restores "
            f"({s['jobs_lost']} lost), {s['downloads']} downloads verified; app: "
            f"{s['app_cycles']} poll cycles ({s['app_cycles_failed']} backed off), "
            f"{s['restores'] - s['app_jobs_lost']}/{s['restores']} restore jobs in the job "
            f"table ({s['app_jobs_unfinished']} not shown done), "
            f"{len(s['app_log_errors'])} errors logged, {s['app_error_screens']} error screens, "
            f"{'running' if s['app_running'] else 'NOT RUNNING'}")


def run(quick: bool) -> list[tuple[str, str]]:
    s = soak(quick)
    return [("soak requests", str(s["requests"])), ("soak faults injected", str(s["faults"])),
            ("soak failures", str(s["failures"])), ("soak jobs lost", str(s["jobs_lost"])),
            ("soak app: restore jobs missing from the job table", str(s["app_jobs_lost"])),
            ("soak app: poll cycles (backed off)",
             f"{s['app_cycles']} ({s['app_cycles_failed']})"),
            ("soak app: errors logged / error screens / running",
             f"{len(s['app_log_errors'])} / {s['app_error_screens']} / {s['app_running']}"),
            ("soak uploads/restores/downloads",
             f"{s['uploads']}/{s['restores']}/{s['downloads']}")]


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "soak")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "soak")
    s = soak(args.quick, args.seed)
    print(summary(s))
    for line in s["app_log_errors"][:10]:
        print(f"  app log: {line}", file=sys.stderr)
    return 0 if ok(s) else 1


if __name__ == "__main__":
    raise SystemExit(main())
