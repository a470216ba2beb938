"""Kill/resume: SIGKILL downloads, uploads, imports, restore campaigns and the emulator.

`python bench/kill_resume.py [--points N] [--seed S] [--quick]`. Loopback only.

* download / upload / import: the real CLI runs as a subprocess and is SIGKILLed at N
  seeded random points (uniform over the time one uninterrupted run takes); each run
  resumes from what the last one left. Then one run to completion, and the result must
  be exact: the downloaded file equals the source bytes, the uploaded archive is in the
  service's inventory with the file's tree hash, the store holds every archive. After
  every import kill the store passes ``PRAGMA integrity_check`` and still shows the
  previous complete snapshot (the switch is atomic).
* campaign: ``glacier-tui restore --all`` over a vault of small archives (200; 40 with
  --quick), killed at N points and re-run each time (the same command resumes the
  unfinished campaign). The last run must exit 0 with every file equal to its source,
  and the service must hold exactly one retrieval job per archive (InitiateJob counted
  in the emulator's request log and in ListJobs): no retrieval was started twice.
* emulator: the emulator itself is SIGKILLed mid multipart upload and restarted on the
  same data dir. An archive acknowledged before the kill is still there, every part that
  ListParts shows matches the file's bytes, and the resumed upload completes with the
  right tree hash.

Prints one summary line per kind; exit status 1 if any final check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/kill_resume.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIB = 1024 * 1024
VAULT = "kill-resume"
LATENCY = 0.03  # seconds per request while killing, so kills land mid-transfer


@dataclass
class Outcome:
    kind: str
    kills: int = 0
    finished_early: int = 0  # the process was already done when its kill point came
    resumes: int = 0
    ok: bool = False
    notes: list[str] = field(default_factory=list)
    info: str = ""

    def line(self) -> str:
        status = "ok" if self.ok else "FAILED"
        extra = f" ({'; '.join(self.notes)})" if self.notes else ""
        extra += f", {self.info}" if self.info else ""
        return (f"{self.kind}: {self.kills} kills, {self.finished_early} finished before "
                f"the kill, {self.resumes} resumes, final {status}{extra}")


# -- processes ---------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
        HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"), XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_ENDPOINT_URL_GLACIER", None)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "glacier_tui", *args]


class Emulator:
    """``glacier_tui emulator`` as a subprocess (so it can be SIGKILLed for real)."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env = data_dir, env
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.start_args: tuple[str, ...] = ("--time-scale", "1")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            _cli("emulator", "--host", "127.0.0.1", "--port", "0",
                 "--data-dir", str(self.data_dir), *self.start_args),
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("emulator exited before listening")
            if "listening on" in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
                # Keep draining stdout: a full pipe would block the emulator.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        raise RuntimeError("emulator did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def admin(self, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{what}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def boto(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "glacier", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 3, "mode": "standard"}))

    def inventory(self) -> dict[str, str]:
        """ArchiveId -> SHA256TreeHash from a fresh inventory job."""
        self.admin("POST", "inventory", {"vault": VAULT})
        c = self.boto()
        job = c.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})
        self.admin("POST", "clock", {"advance_seconds": 6 * 3600})
        body = c.get_job_output(vaultName=VAULT, jobId=job["jobId"])["body"].read()
        return {a["ArchiveId"]: a["SHA256TreeHash"] for a in json.loads(body)["ArchiveList"]}


def _run_until(cmd: list[str], env: dict[str, str], delay: float) -> int | None:
    """Start ``cmd``, SIGKILL it after ``delay`` s; None if killed, else its exit status."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    return time.monotonic() - t0, done


def _delays(rng: random.Random, points: int, expected: float) -> list[float]:
    return [rng.uniform(0.02, max(expected, 0.1)) for _ in range(points)]


# -- download ----------------------------------------------------------------------------


def _download(emu: Emulator, env: dict[str, str], work: Path, data: bytes,
              rng: random.Random, points: int) -> Outcome:
    from glacier_tui.glacier.treehash import tree_hash

    out = Outcome("download")
    c = emu.boto()
    archive = c.upload_archive(vaultName=VAULT, archiveDescription="dl.bin", body=data)
    job = c.initiate_job(vaultName=VAULT, jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive["archiveId"], "Tier": "Expedited"})
    emu.admin("POST", "clock", {"advance_seconds": 6 * 3600})
    dest = work / "download.bin"
    cmd = _cli("download", "--endpoint-url", emu.url, "--vault", VAULT, "--job", job["jobId"],
               "-o", str(dest), "--segment-size", "1", "--concurrency", "2", "--quiet")
    emu.admin("POST", "faults", {"latency": LATENCY})
    expected, first = _timed(cmd, env)
    if first.returncode != 0 or dest.read_bytes() != data:
        out.notes.append(f"uninterrupted run failed: {first.stderr.strip()}")
        return out
    dest.unlink()
    started = False
    for delay in _delays(rng, points, expected):
        out.resumes += started
        rc = _run_until(cmd, env, delay)
        if rc is None:
            out.kills += 1
            started = True
            if not dest.exists():
                continue
            # Killed after the atomic rename: the transfer is complete, check it.
            rc = 0
        else:
            out.finished_early += 1
        if rc != 0 or dest.read_bytes() != data:
            out.notes.append(f"a run that finished gave exit {rc} / wrong bytes")
            return out
        dest.unlink()  # start the next transfer from scratch
        started = False
    emu.admin("POST", "faults", {})
    out.resumes += started
    _, final = _timed(cmd, env)
    got = dest.read_bytes() if dest.exists() else b""
    out.ok = final.returncode == 0 and got == data and tree_hash(got) == tree_hash(data)
    if not out.ok:
        out.notes.append(f"final exit {final.returncode}: {final.stderr.strip()[:200]}")
    leftovers = [p.name for p in work.iterdir() if p.name.startswith("download.bin") and p != dest]
    if leftovers:
        out.notes.append(f"left behind: {leftovers}")
    return out


# -- upload ------------------------------------------------------------------------------


def _upload_cmd(url: str, src: Path, journal: Path) -> list[str]:
    return _cli("upload", "--endpoint-url", url, "--vault", VAULT, str(src), "--part-size", "1",
                "--threshold", "1", "--concurrency", "2", "--journal-dir", str(journal),
                "--quiet")


def _uploaded_id(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.strip().splitlines()[-1].split("\t", 1)[0] if done.stdout.strip() else ""


def _upload(emu: Emulator, env: dict[str, str], work: Path, data: bytes,
            rng: random.Random, points: int) -> Outcome:
    from glacier_tui.glacier.treehash import tree_hash

    out = Outcome("upload")
    src = work / "upload.bin"
    src.write_bytes(data)
    journal = work / "journals"
    cmd = _upload_cmd(emu.url, src, journal)
    emu.admin("POST", "faults", {"latency": LATENCY})
    expected, first = _timed(cmd, env)
    if first.returncode != 0:
        out.notes.append(f"uninterrupted run failed: {first.stderr.strip()}")
        return out
    started = False
    for delay in _delays(rng, points, expected):
        out.resumes += started
        rc = _run_until(cmd, env, delay)
        if rc is None:
            out.kills += 1
            started = True
        else:
            out.finished_early += 1
            started = False
            if rc != 0:
                out.notes.append(f"a run that finished gave exit {rc}")
                return out
    emu.admin("POST", "faults", {})
    out.resumes += started
    _, final = _timed(cmd, env)
    archive_id = _uploaded_id(final)
    hashes = emu.inventory()
    out.ok = final.returncode == 0 and hashes.get(archive_id) == tree_hash(data)
    if not out.ok:
        out.notes.append(f"final exit {final.returncode}: {final.stderr.strip()[:200]}")
    pending = emu.boto().list_multipart_uploads(vaultName=VAULT).get("UploadsList", [])
    if pending:
        out.notes.append(f"{len(pending)} multipart uploads left open")
    return out


# -- inventory import --------------------------------------------------------------------


def _store_check(db: Path) -> tuple[str, int | None]:
    """(PRAGMA integrity_check, archives in the current snapshot or None)."""
    from glacier_tui.glacier.store import Store

    with sqlite3.connect(db) as conn:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    conn.close()
    with Store(db) as store:
        if store.current_snapshot_id(VAULT) is None:
            return integrity, None
        return integrity, sum(1 for _ in store.iter_archives(VAULT))


def _import(env: dict[str, str], work: Path, n: int, rng: random.Random,
            points: int) -> Outcome:
    from bench.gen_inventory import generate

    out = Outcome("import")
    inv = generate(n, work / "inventory.json")
    want = len(json.loads(inv.read_text(encoding="utf-8"))["ArchiveList"])
    db = work / "store.sqlite3"
    # --force: the generated inventory's VaultARN names the vault "bench".
    cmd = _cli("inventory", "import", str(inv), "--vault", VAULT, "--db", str(db), "--quiet",
               "--force")
    expected, first = _timed(cmd, env)
    if first.returncode != 0 or _store_check(db) != ("ok", want):
        out.notes.append(f"uninterrupted import failed: {first.stderr.strip()[:200]}")
        return out
    bad = 0
    for delay in _delays(rng, points, expected):
        rc = _run_until(cmd, env, delay)
        if rc is None:
            out.kills += 1
        else:
            out.finished_early += 1
        out.resumes += 1
        # Killed or not, the store is sound and shows a complete snapshot.
        if _store_check(db) != ("ok", want):
            bad += 1
    if bad:
        out.notes.append(f"{bad} kills left a damaged or partial store")
    _, final = _timed(cmd, env)
    out.ok = final.returncode == 0 and _store_check(db) == ("ok", want) and not bad
    return out


# -- restore campaigns -------------------------------------------------------------------

CAMPAIGN_VAULT = "kill-campaign"


def _campaign(env: dict[str, str], work: Path, n: int, rng: random.Random,
              points: int) -> Outcome:
    from glacier_tui.glacier.descriptions import encode_mt2

    out = Outcome("campaign")
    emu = Emulator(work / "emu-campaign", env)
    # Expedited jobs take 60-300 service-seconds: 2-10 s here, so that with 10 jobs in
    # flight the campaign works for minutes and the kills land inside it.
    emu.start_args = ("--time-scale", "30")
    emu.start()
    try:
        # Outputs never expire during the run: every extra job would be a double start.
        emu.admin("POST", "config", {"job_output_ttl_seconds": 1e9})  # ~30 years
        c = emu.boto()
        c.create_vault(vaultName=CAMPAIGN_VAULT)
        when = datetime(2024, 1, 1, tzinfo=UTC)
        sources: dict[str, bytes] = {}
        for i in range(n):
            path = f"set{i % 7}/day{i % 5}/file-{i:04d}.bin"
            data = rng.randbytes(rng.randint(100, 3000))
            sources[path] = data
            c.upload_archive(vaultName=CAMPAIGN_VAULT, body=data,
                             archiveDescription=encode_mt2(path, when))
        emu.admin("POST", "inventory", {"vault": CAMPAIGN_VAULT})
        job = c.initiate_job(vaultName=CAMPAIGN_VAULT,
                             jobParameters={"Type": "inventory-retrieval"})
        emu.admin("POST", "clock", {"advance_seconds": 6 * 3600})
        deadline = time.monotonic() + 60
        while c.describe_job(vaultName=CAMPAIGN_VAULT, jobId=job["jobId"])["StatusCode"] != (
            "Succeeded"
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        inv = work / "campaign-inventory.json"
        inv.write_bytes(c.get_job_output(vaultName=CAMPAIGN_VAULT, jobId=job["jobId"])[
            "body"].read())
        db = work / "campaign-store.sqlite3"
        subprocess.run(_cli("inventory", "import", str(inv), "--vault", CAMPAIGN_VAULT,
                            "--db", str(db), "--quiet"), env=env, check=True,
                       capture_output=True)
        emu.admin("DELETE", "requests")
        dest = work / "restored"
        cmd = _cli("restore", "--endpoint-url", emu.url, "--vault", CAMPAIGN_VAULT, "--all",
                   "--tier", "Expedited", "-o", str(dest), "--db", str(db), "--yes",
                   "--quiet", "--poll-interval", "0.2", "--max-jobs", "10")
        # Each run lives 0.5-4 s (about 1.5 s of it is start-up): a kill lands in the
        # plan, an InitiateJob batch, a listing or a download, at random.
        for delay in [rng.uniform(0.5, 4.0) for _ in range(points)]:
            rc = _run_until(cmd, env, delay)
            if rc is None:
                out.kills += 1
            else:
                out.finished_early += 1
            out.resumes += 1
        _, final = _timed(cmd, env)
        files_ok = all((dest / p).is_file() and (dest / p).read_bytes() == d
                       for p, d in sources.items())
        log = emu.admin("GET", "requests")
        initiated = sum(1 for r in log if r.get("operation") == "InitiateJob"
                        and r.get("status") == 202)
        per_archive: dict[str, int] = {}
        for j in c.get_paginator("list_jobs").paginate(vaultName=CAMPAIGN_VAULT).search(
                "JobList[]"):
            if j.get("Action") == "ArchiveRetrieval":
                per_archive[j["ArchiveId"]] = per_archive.get(j["ArchiveId"], 0) + 1
        twice = sum(1 for v in per_archive.values() if v > 1)
        out.info = (f"{initiated} InitiateJob for {n} archives, {twice} archive(s) "
                    "retrieved twice")
        if final.returncode != 0:
            out.notes.append(f"final run exit {final.returncode}: {final.stderr.strip()[:200]}")
        if not files_ok:
            out.notes.append("restored files differ from the sources")
        out.ok = (final.returncode == 0 and files_ok and initiated == n and twice == 0
                  and len(per_archive) == n)
    finally:
        emu.kill()
    return out


# -- the emulator itself -----------------------------------------------------------------


def _emulator_kill(env: dict[str, str], work: Path, data: bytes, rng: random.Random,
                   points: int) -> Outcome:
    from glacier_tui.glacier.treehash import tree_hash

    out = Outcome("emulator")
    emu = Emulator(work / "emu-data", env)
    emu.start()
    try:
        c = emu.boto()
        c.create_vault(vaultName=VAULT)
        small = rng.randbytes(1000)
        acked = {c.upload_archive(vaultName=VAULT, body=small)["archiveId"]: tree_hash(small)}
        src = work / "emu-upload.bin"
        src.write_bytes(data)
        journal = work / "emu-journals"
        n_parts = -(-len(data) // MIB)
        parts_checked = 0
        for _ in range(max(1, points)):
            emu.admin("POST", "faults", {"latency": 0.1})
            upload = subprocess.Popen(_upload_cmd(emu.url, src, journal), env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            target = rng.randint(1, max(1, n_parts - 1))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and upload.poll() is None:
                parts = [r for r in emu.admin("GET", "requests")
                         if r.get("operation") == "UploadMultipartPart"]
                if len(parts) >= target:
                    break
                time.sleep(0.02)
            emu.kill()
            out.kills += 1
            if upload.poll() is None:
                os.kill(upload.pid, signal.SIGKILL)
            upload.wait()
            emu.start()
            out.resumes += 1
            c = emu.boto()
            # Only whole parts are visible, each matching the file's bytes.
            for u in c.list_multipart_uploads(vaultName=VAULT).get("UploadsList", []):
                listed = c.list_parts(vaultName=VAULT, uploadId=u["MultipartUploadId"])
                size = int(listed["PartSizeInBytes"])
                for p in listed.get("Parts", []):
                    lo, hi = (int(x) for x in p["RangeInBytes"].split("-"))
                    chunk = data[lo:hi + 1]
                    if hi + 1 - lo > size or p["SHA256TreeHash"] != tree_hash(chunk):
                        out.notes.append(f"part {p['RangeInBytes']} does not match the file")
                    parts_checked += 1
        out.info = f"{parts_checked} listed parts checked against the file"
        done = subprocess.run(_upload_cmd(emu.url, src, journal), env=env, capture_output=True,
                              text=True, timeout=300)
        archive_id = _uploaded_id(done)
        hashes = emu.inventory()
        lost = [a for a, h in acked.items() if hashes.get(a) != h]
        if lost:
            out.notes.append(f"{len(lost)} acknowledged archives lost")
        out.ok = (done.returncode == 0 and hashes.get(archive_id) == tree_hash(data)
                  and not lost and not out.notes)
        if done.returncode != 0:
            out.notes.append(f"final upload exit {done.returncode}: {done.stderr.strip()[:200]}")
    finally:
        emu.kill()
    return out


# -- driver ------------------------------------------------------------------------------


def kill_resume(quick: bool, points: int | None = None, seed: int = 7) -> list[Outcome]:
    points = (3 if quick else 20) if points is None else points
    size = (4 if quick else 24) * MIB + 12345
    rng = random.Random(seed)
    data = rng.randbytes(size)
    with tempfile.TemporaryDirectory(prefix="glacier-kill-") as tmp:
        work = Path(tmp)
        env = _env(work / "home")
        results: list[Outcome] = []
        emu = Emulator(work / "emu", env)
        emu.start()
        try:
            emu.boto().create_vault(vaultName=VAULT)
            results.append(_download(emu, env, work, data, rng, points))
            results.append(_upload(emu, env, work, data, rng, points))
        finally:
            emu.kill()
        results.append(_import(env, work, 20_000 if quick else 200_000, rng, points))
        results.append(_emulator_kill(env, work, data, rng, min(points, 3 if quick else 5)))
        results.append(_campaign(env, work, 40 if quick else 200, rng, points))
    return results


def campaign_kill_resume(quick: bool, points: int | None = None,
                         seed: int = 7) -> list[Outcome]:
    """Only the restore-campaign part (``--only-campaign``)."""
    points = (3 if quick else 20) if points is None else points
    with tempfile.TemporaryDirectory(prefix="glacier-kill-") as tmp:
        work = Path(tmp)
        return [_campaign(_env(work / "home"), work, 40 if quick else 200,
                          random.Random(seed), points)]


def run(quick: bool) -> list[tuple[str, str]]:
    return [(f"kill_resume {o.kind}", o.line().split(": ", 1)[1])
            for o in kill_resume(quick)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/kill_resume.py")
    p.add_argument("--points", type=int, default=None, help="kill points per kind (default 20)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="3 points, small files")
    p.add_argument("--only-campaign", action="store_true",
                   help="only the restore campaign (200 archives)")
    args = p.parse_args(argv)
    if args.only_campaign:
        results = campaign_kill_resume(args.quick, args.points, args.seed)
    else:
        results = kill_resume(args.quick, args.points, args.seed)
    for o in results:
        print(o.line(), flush=True)
    return 0 if all(o.ok for o in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
