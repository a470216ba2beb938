"""Vault close-out (purge) at scale, and SIGKILLed purges that must end exact.

`python bench/purge_bench.py [--archives N] [--kill-archives M] [--kills K] [--seed S]
[--quick]`. Loopback only.

* bench: N archives (10,000; 1,000 with --quick; the issue's figure is 100,000) are
  seeded straight into an emulator data dir, the emulator runs as a subprocess, and one
  purge deletes them all (proof: a restore manifest with a recent recorded verify). This
  process's scheduler CPU per archive (the runner's bookkeeping: SQLite batches,
  choosing, recording; no HTTP) and the emulator's request log per archive are reported.
* kill: M archives (2,000; 200 with --quick), a tenth unproven (no proof, or a proof of
  another tree hash). `glacier-tui purge run` is SIGKILLed K times (20; 3 with --quick)
  after a seeded number of DeleteArchive requests, and run again each time. Finally
  every proven archive is gone from the vault, every unproven one is still there and
  was never the subject of a DeleteArchive (the emulator's request log), and the
  purge's manifest lists every proven archive as deleted.

Prints one line per figure; exit status 1 if a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/purge_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.emulator_proc import ROOT, emulator_process

VAULT = "bench-purge"
REGION, ACCOUNT = "us-east-1", "123456789012"
ARN = f"arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/{VAULT}"
START = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)  # archives are a year old: not young


@dataclass
class Seeded:
    """What was put in the vault: (archive id, tree hash, size) per archive."""

    archives: list[tuple[str, str, int]]
    proven: set[str] = field(default_factory=set)
    unproven: set[str] = field(default_factory=set)


def seed_service(svc: Any, vault: str, n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """Create ``vault`` with ``n`` tiny archives in one transaction, then its inventory."""
    from glacier_tui.glacier.treehash import tree_hash

    rng = random.Random(f"purge-bench:{seed}")
    svc.call("create_vault", {"vaultName": vault})
    store = svc.store
    rows: list[tuple[Any, ...]] = []
    out: list[tuple[str, str, int]] = []
    now = svc.clock.now()
    with store.tx() as db:
        for i in range(n):
            data = rng.randbytes(16 + i % 48)
            archive_id = svc.new_id("archive")
            final = store.blob_path("blobs", archive_id)
            final.parent.mkdir(parents=True, exist_ok=True)
            final.write_bytes(data)
            h = tree_hash(data)
            rows.append((archive_id, vault, f"file-{i:07d}.bin", now - 400 * 86400 + i,
                         len(data), h, store.rel(final)))
            out.append((archive_id, h, len(data)))
        db.executemany(
            "INSERT INTO archives(id, vault, description, creation, size, tree_hash, blob)"
            " VALUES(?,?,?,?,?,?,?)", rows)
        svc._mark_written(db, vault, now)
    svc.rebuild_inventory(vault)
    return out


def seed_data_dir(data_dir: Path, n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """Seed a fresh emulator data dir offline (before the emulator process starts)."""
    from glacier_tui.emulator.clock import VirtualClock
    from glacier_tui.emulator.config import EmulatorConfig
    from glacier_tui.emulator.service import Service
    from glacier_tui.emulator.store import Store

    cfg = EmulatorConfig(data_dir=data_dir, account_id=ACCOUNT, region=REGION)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir)
    try:
        svc = Service(cfg, store, VirtualClock(time.time(), 1.0, False))
        archives = seed_service(svc, VAULT, n, seed)
        svc.tick()
    finally:
        store.close()
    return archives


def write_inventory(path: Path, archives: list[tuple[str, str, int]], *,
                    created_at: datetime = START) -> Path:
    created = created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {"VaultARN": ARN, "InventoryDate": "2026-01-01T00:00:00Z", "ArchiveList": [
        {"ArchiveId": a, "ArchiveDescription": f"file-{i:07d}.bin", "CreationDate": created,
         "Size": size, "SHA256TreeHash": h} for i, (a, h, size) in enumerate(archives)]}
    path.write_text(json.dumps(doc))
    return path


def write_restore_manifest(path: Path, vault: str,
                           rows: list[tuple[str, str, int, str]]) -> Path:
    """A restore campaign manifest (JSON, one row per line) naming ``vault``; rows are
    (archive id, tree hash, size, verified-at) with state verified."""
    head = {"manifest": "glacier-tui restore", "version": 1, "campaign": 1, "vault": vault,
            "tier": "Bulk", "selection": "the whole vault", "status": "completed",
            "written_at": rows[0][3] if rows else ""}
    lines = [json.dumps(head)[:-1] + ', "items": [']
    for i, (archive_id, h, size, verified_at) in enumerate(rows):
        doc = {"path": f"files/{archive_id[:16]}.bin", "archive_id": archive_id, "size": size,
               "tree_hash": h, "state": "verified", "verified_at": verified_at,
               "job_id": "", "reason": ""}
        lines.append(("," if i else "") + json.dumps(doc))
    path.write_text("\n".join(lines) + "\n]}\n")
    return path


def split_proofs(archives: list[tuple[str, str, int]], seed: int) -> tuple[
        Seeded, list[tuple[str, str, int, str]]]:
    """Every tenth archive unproven: half with no proof, half with a proof of another
    tree hash. Returns the split and the manifest rows."""
    rng = random.Random(f"purge-split:{seed}")
    seeded = Seeded(archives)
    rows: list[tuple[str, str, int, str]] = []
    verified_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i, (a, h, size) in enumerate(archives):
        if i % 10 == 9:
            seeded.unproven.add(a)
            if rng.random() < 0.5:
                rows.append((a, "0" * 64, size, verified_at))  # another tree hash
            continue
        seeded.proven.add(a)
        rows.append((a, h, size, verified_at))
    return seeded, rows


def admin(url: str, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/_emulator/{what}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_EC2_METADATA_DISABLED="true", HOME=str(home),
               XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"))
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_ENDPOINT_URL_GLACIER", None)
    return env


def import_inventory_cli(url: str, home: Path, db: Path, inventory: Path) -> None:
    subprocess.run([sys.executable, "-m", "glacier_tui", "--endpoint-url", url, "inventory",
                    "import", "--vault", VAULT, "--arn", ARN, str(inventory), "--db", str(db)],
                   env=env_for(home), cwd=ROOT, check=True, capture_output=True, text=True)


def import_inventory_direct(db: Path, inventory: Path) -> None:
    from glacier_tui.glacier.inventory import import_inventory
    from glacier_tui.glacier.store import Store

    with Store(db) as store:
        import_inventory(store, ARN, inventory)


def deletes_of(log: list[dict[str, Any]]) -> dict[str, int]:
    """DeleteArchive requests per archive id, from the emulator's request log."""
    counts: dict[str, int] = {}
    for entry in log:
        if entry.get("operation") == "DeleteArchive":
            archive_id = str(entry.get("path", "")).rsplit("/", 1)[-1]
            counts[archive_id] = counts.get(archive_id, 0) + 1
    return counts


# -- kill / resume -------------------------------------------------------------------------


@dataclass
class KillOutcome:
    archives: int
    kills: int = 0
    finished_early: int = 0
    resends: int = 0  # DeleteArchive requests beyond one per proven archive
    ok: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        status = "ok" if self.ok else "FAILED"
        extra = f" ({'; '.join(self.notes)})" if self.notes else ""
        return (f"purge kill/resume: {self.archives:,} archives, {self.kills} kills, "
                f"{self.finished_early} finished before the kill, {self.resends} requests "
                f"sent again after a kill, final {status}{extra}")


def kill_resume(url: str, workdir: Path, seeded: Seeded, manifest: Path, *, kills: int,
                seed: int = 0, extra_env: dict[str, str] | None = None) -> KillOutcome:
    """SIGKILL ``purge run`` after seeded numbers of DeleteArchive requests; check exact."""
    home = workdir / "home"
    db = workdir / "store.sqlite3"
    env = env_for(home) | (extra_env or {})
    out = KillOutcome(len(seeded.archives))
    rng = random.Random(f"purge-kill:{seed}")
    n = len(seeded.proven)
    points = sorted(rng.sample(range(1, max(2, n)), min(kills, max(1, n - 1))))
    cmd = [sys.executable, "-m", "glacier_tui", "--endpoint-url", url, "purge", "run",
           "--vault", VAULT, "--proof", str(manifest), "--yes", "--quiet", "--db", str(db),
           "--keep-vault", "--concurrency", "4", "--max-proof-age-days", "1",
           "--manifest", str(workdir / "purge.csv")]
    for point in points:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        while proc.poll() is None:
            if sum(deletes_of(admin(url, "GET", "requests")).values()) >= point:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                out.kills += 1
                break
            time.sleep(0.02)
        else:
            out.finished_early += 1
    final = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if final.returncode != 0:
        out.notes.append(f"final run exit {final.returncode}: {final.stderr.strip()[-300:]}")
    counts = deletes_of(admin(url, "GET", "requests"))
    touched = set(counts) & seeded.unproven
    if touched:
        out.notes.append(f"{len(touched)} unproven archive(s) got a DeleteArchive")
    missing = seeded.proven - set(counts)
    if missing:
        out.notes.append(f"{len(missing)} proven archive(s) never deleted")
    out.resends = sum(counts.values()) - len(counts)
    import csv

    with open(workdir / "purge.csv", encoding="utf-8", newline="") as fh:
        states = {r["archive_id"]: r["state"] for r in csv.DictReader(fh)}
    not_deleted = [a for a in seeded.proven if states.get(a) != "deleted"]
    if not_deleted:
        out.notes.append(f"{len(not_deleted)} proven archive(s) not 'deleted' in the manifest")
    wrongly = [a for a in seeded.unproven if states.get(a) != "kept"]
    if wrongly:
        out.notes.append(f"{len(wrongly)} unproven archive(s) not 'kept' in the manifest")
    out.ok = final.returncode == 0 and not touched and not missing and not not_deleted \
        and not wrongly
    return out


def run_kill(archives: int, kills: int, seed: int) -> KillOutcome:
    with tempfile.TemporaryDirectory(prefix="purge-kill-") as tmp:
        work = Path(tmp)
        seededs = seed_data_dir(work / "emu", archives, seed)
        seeded, rows = split_proofs(seededs, seed)
        manifest = write_restore_manifest(work / "restore-manifest-1.json", VAULT, rows)
        import_inventory_direct(work / "store.sqlite3", write_inventory(work / "inv.json",
                                                                        seededs))
        # A little latency per request so kills land in the middle of the deleting.
        with emulator_process(work / "emu", "--faults", "latency=3ms") as url:
            return kill_resume(url, work, seeded, manifest, kills=kills, seed=seed,
                               extra_env={})


# -- throughput ----------------------------------------------------------------------------


def run_bench(n: int, seed: int) -> list[tuple[str, str]]:
    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.purge import (
        PurgeOptions,
        PurgeRunner,
        PurgeSpec,
        plan_purge,
        write_purge_manifest,
    )
    from glacier_tui.glacier.purge_types import RunOptions
    from glacier_tui.glacier.store import Store

    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_EC2_METADATA_DISABLED", "true")):
        os.environ.setdefault(key, value)
    with tempfile.TemporaryDirectory(prefix="purge-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        archives = seed_data_dir(work / "emu", n, seed)
        seed_s = time.perf_counter() - t0
        verified_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        manifest = write_restore_manifest(work / "restore-manifest-1.json", VAULT,
                                          [(a, h, s, verified_at) for a, h, s in archives])
        import_inventory_direct(work / "store.sqlite3", write_inventory(work / "inv.json",
                                                                        archives))
        with emulator_process(work / "emu") as url:
            admin(url, "DELETE", "requests")

            async def go() -> tuple[Any, PurgeRunner, float, float, float]:
                options = ClientOptions(endpoint_url=url, region=REGION,
                                        max_pool_connections=32)
                with Store(work / "store.sqlite3") as store:
                    async with GlacierClient(options) as glacier:
                        p0 = time.perf_counter()
                        info = await plan_purge(glacier, store, PurgeSpec(
                            VAULT, ARN, (manifest,), max_proof_age_days=1, keep_vault=True),
                            options=PurgeOptions())
                        plan_s = time.perf_counter() - p0
                        runner = PurgeRunner(glacier, store, info.id,
                                             options=RunOptions(max_concurrency=16))
                        cpu0, wall0 = time.process_time(), time.perf_counter()
                        final = await runner.run()
                        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                        m0 = time.perf_counter()
                        write_purge_manifest(store, info.id, work / "purge-manifest.csv")
                        manifest_s[0] = time.perf_counter() - m0
                        return final, runner, cpu, wall, plan_s

            manifest_s = [0.0]
            final, runner, cpu, wall, plan_s = asyncio.run(go())
            log = admin(url, "GET", "requests")
    deletes = sum(1 for e in log if e.get("operation") == "DeleteArchive")
    during_run = len(log)
    return [
        ("archives", f"{n:,} (seeded in {seed_s:.1f} s)"),
        ("plan (proof check + classification)", f"{plan_s:.2f} s"),
        ("deleted", f"{final.removed:,} in {wall:.1f} s ({n / wall:,.0f}/s)"),
        ("DeleteArchive requests per archive", f"{deletes / n:.3f}"),
        ("all requests per archive", f"{during_run / n:.3f} (plan + run)"),
        ("scheduler CPU per archive", f"{runner.scheduler_cpu / n * 1000:.3f} ms "
                                      "(bookkeeping; no HTTP)"),
        ("process CPU per archive", f"{cpu / n * 1000:.2f} ms (scheduler + HTTP client)"),
        ("per-archive manifest written", f"{manifest_s[0]:.2f} s (atomic CSV)"),
        ("status", final.status.value),
    ]


def run(quick: bool = False) -> list[tuple[str, str]]:
    """For ``python -m bench``: the throughput figures and one kill/resume line."""
    rows = [(f"purge {name}", value) for name, value in run_bench(1000 if quick else 10_000, 7)]
    outcome = run_kill(200 if quick else 2000, 3 if quick else 20, 7)
    rows.append(("purge kill/resume", outcome.line()))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archives", type=int, default=None, help="bench size (default 10,000)")
    p.add_argument("--kill-archives", type=int, default=None, help="default 2,000")
    p.add_argument("--kills", type=int, default=None, help="default 20")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="1,000 / 200 archives, 3 kills")
    p.add_argument("--only", choices=("bench", "kill"), default=None)
    args = p.parse_args(argv)
    ok = True
    if args.only in (None, "bench"):
        n = args.archives or (1000 if args.quick else 10_000)
        for name, value in run_bench(n, args.seed):
            print(f"{name}: {value}")
    if args.only in (None, "kill"):
        outcome = run_kill(args.kill_archives or (200 if args.quick else 2000),
                           args.kills or (3 if args.quick else 20), args.seed)
        print(outcome.line())
        ok = ok and outcome.ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
