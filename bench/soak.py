"""Fault soak: uploads, restores and downloads through the service layer under injected faults.

`python -m bench.soak [--quick]`. Loopback only, bounded in count. The emulator runs
with ``throttle=0.1,error5xx=0.05,reset=0.02,corrupt=0.01`` (seeded); afterwards every
upload must be in the vault with its tree hash, every download byte-exact, and every
restore job present. Prints one summary line.
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


async def _soak(work: Path, restores: int, transfers_n: int, seed: int) -> dict[str, Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread
    from glacier_tui.glacier import errors
    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.transfers import download_job_output, upload_file
    from glacier_tui.glacier.treehash import tree_hash

    rng = random.Random(seed)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # injected resets
    cfg = EmulatorConfig(data_dir=work / "emu", host="127.0.0.1", port=0, seed=seed,
                         start_time=datetime(2026, 1, 15, 12, tzinfo=UTC), frozen=True)
    stats: dict[str, Any] = {"failures": 0, "retries": 0}
    with EmulatorThread(cfg) as emu:
        options = ClientOptions(endpoint_url=emu.url, region="us-east-1", max_attempts=10)
        async with GlacierClient(options) as client:
            await client.create_vault("soak")
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
    stats.update(
        requests=len(log), faults=sum(1 for e in log if e.get("fault")),
        uploads=len(uploads), restores=len(jobs), downloads=downloaded, archives=len(present),
        retries=sum(1 for e in log if e.get("fault")),  # each injected fault forced a retry
    )
    return stats


def soak(quick: bool, seed: int = 7) -> dict[str, Any]:
    restores, n = (20, 6) if quick else (200, 20)
    with tempfile.TemporaryDirectory(prefix="glacier-soak-") as tmp:
        return asyncio.run(_soak(Path(tmp), restores, n, seed))


def summary(s: dict[str, Any]) -> str:
    return (f"soak: {s['requests']} requests, {s['faults']} faults injected, "
            f"{s['retries']} retries, {s['failures']} failures; {s['uploads']} uploads, "
            f"{s['uploads_missing']} missing from the inventory; {s['restores']} restores "
            f"({s['jobs_lost']} lost), {s['downloads']} downloads verified")


def run(quick: bool) -> list[tuple[str, str]]:
    s = soak(quick)
    return [("soak requests", str(s["requests"])), ("soak faults injected", str(s["faults"])),
            ("soak failures", str(s["failures"])), ("soak jobs lost", str(s["jobs_lost"])),
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
    return 0 if s["failures"] == 0 and s["jobs_lost"] == 0 and not s["uploads_missing"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
