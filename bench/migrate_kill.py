"""Kill -9 a migration at random points; it must always resume to all-verified.

``python bench/migrate_kill.py [--kills 20] [--small 34] [--big 16] [--bandwidth 1MiB]
[--seed 1]``. Loopback only.

``glacier-tui migrate run`` (34 small archives and 16 of three 8 MiB parts; Glacier output
at 1 MiB/s per stream, so a 20-kill run is not over before its last kill) runs as a
subprocess and is SIGKILLed at seeded random moments (every other one while parts are
moving), then run again, until a run ends on its own.
Checks: the last run exits 0; ``migrate verify`` (HEAD only) passes; every object's
CRC64NVME equals the CRC64NVME of its source bytes; and no part is sent again once the
store recorded it as accepted (the UploadPart requests are read from a logging proxy in
front of moto's S3).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

if __package__ in (None, ""):  # `python bench/migrate_kill.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.emulator_proc import ROOT, emulator_process
from bench.migrate_bench import ENV, ThrottleProxy, _admin

MIB = 1 << 20
VAULT = "kill-migrate"
_PART = re.compile(rb"PUT /kill-bucket/(\S+?)\?(\S+) HTTP/1\.1")


class LoggingProxy(ThrottleProxy):
    """The throttling proxy, recording (key, part, upload id) of every UploadPart."""

    def __init__(self, target: str) -> None:
        super().__init__(target, 1 << 40)
        self.parts: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(*self.target)

        async def sniff() -> None:
            tail = b""
            try:
                while data := await r.read(256 * 1024):
                    seen = tail + data
                    for m in _PART.finditer(seen):
                        query = dict(parse_qsl(m.group(2).decode()))
                        if m.end() > len(tail) and "partNumber" in query:
                            with self._lock:
                                self.parts.append((m.group(1).decode(),
                                                   int(query["partNumber"]),
                                                   query.get("uploadId", "")))
                    tail = seen[-300:]
                    uw.write(data)
                    await uw.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                uw.close()

        await asyncio.gather(sniff(), self._pump(ur, w))


def _crc_b64(data: bytes) -> str:
    from awscrt.checksums import crc64nvme

    return base64.b64encode(int(crc64nvme(data)).to_bytes(8, "big")).decode()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--small", type=int, default=34, help="archives of about 1 KB")
    p.add_argument("--big", type=int, default=16, help="archives of three 8 MiB parts")
    p.add_argument("--bandwidth", default="1MiB", help="Glacier output per stream")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    os.environ.update(ENV)
    import boto3

    from glacier_tui.glacier.descriptions import encode_mt2
    from glacier_tui.local_s3 import start_local_s3

    with tempfile.TemporaryDirectory(prefix="glacier-migrate-kill-") as tmp_name:
        tmp = Path(tmp_name)
        sources: dict[str, bytes] = {f"small/{i}.txt": os.urandom(1000 + i)
                                     for i in range(args.small)}
        sources.update({f"big/{i}.bin": os.urandom(17 * MIB + i) for i in range(args.big)})
        with emulator_process(tmp / "emu", "--time-scale", "2000",
                              "--faults", f"bandwidth={args.bandwidth}") as url, \
                start_local_s3() as s3:
            g = boto3.client("glacier", endpoint_url=url, region_name="us-east-1")
            g.create_vault(vaultName=VAULT)
            from datetime import UTC, datetime

            for path, data in sources.items():
                g.upload_archive(vaultName=VAULT, body=data,
                                 archiveDescription=encode_mt2(path, datetime.now(UTC)))
            # The vault's inventory is rebuilt now, so it lists every archive just uploaded.
            _admin(url, "inventory", {"vault": VAULT})
            boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1").create_bucket(
                Bucket="kill-bucket")
            proxy = LoggingProxy(s3.url).start()
            db = tmp / "store.sqlite3"
            cmd = [sys.executable, "-m", "glacier_tui", "migrate", "--endpoint-url", url,
                   "run", "--s3-endpoint-url", proxy.url, "--vault", VAULT, "--to",
                   "s3://kill-bucket/p", "--all", "--tier", "Expedited", "--part-size-mib", "8",
                   "--yes", "--quiet", "--poll-interval", "0.2", "--db", str(db),
                   "--manifest-dir", str(tmp / "m")]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            kills = early = mid = with_parts = 0
            accepted: set[tuple[int, int]] = set()
            uploads: dict[int, str] = {}
            resent: list[Any] = []
            rc = None
            for attempt in range(args.kills + 20):
                before = len(proxy.parts)
                proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                if attempt < args.kills:
                    if attempt % 2:  # a random moment of the run
                        time.sleep(rng.uniform(1.0, 6.0))
                    else:  # a random moment once parts are moving
                        deadline = time.monotonic() + 60
                        while (len(proxy.parts) == before and proc.poll() is None
                               and time.monotonic() < deadline):
                            time.sleep(0.02)
                        time.sleep(rng.uniform(0.0, 1.5))
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGKILL)
                        kills += 1
                    else:
                        early += 1
                _out, err = proc.communicate(timeout=600)
                # Parts sent in this run that the store had recorded before it: resent.
                for key, part, upload in proxy.parts[before:]:
                    for (item, number), uid in ((k, uploads.get(k[0])) for k in accepted):
                        if number == part and uid == upload:
                            resent.append((key, part, item))
                if db.exists():
                    c = sqlite3.connect(db)
                    with c, contextlib.suppress(sqlite3.OperationalError):  # no tables yet
                        open_parts = c.execute("SELECT item, part FROM migration_parts").fetchall()
                        open_uploads = c.execute("SELECT COUNT(*) FROM migration_objects"
                                                 " WHERE upload_id IS NOT NULL").fetchone()[0]
                        mid += bool(open_uploads) and proc.returncode != 0
                        with_parts += bool(open_parts) and proc.returncode != 0
                        for item, number in open_parts:
                            accepted.add((int(item), int(number)))
                        for item, uid in c.execute(
                                "SELECT item, upload_id FROM migration_objects"
                                " WHERE upload_id IS NOT NULL"):
                            uploads[int(item)] = str(uid)
                    c.close()
                if attempt >= args.kills or proc.returncode == 0:
                    rc = proc.returncode
                    if rc == 0:
                        break
            manifest = next((tmp / "m").glob("migrate-manifest-*.csv"))
            verify = subprocess.run(
                [sys.executable, "-m", "glacier_tui", "migrate", "verify", "--s3-endpoint-url",
                 s3.url, str(manifest), "--quiet"], env=env, cwd=ROOT, capture_output=True,
                text=True, check=False)
            client = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1")

            def crc_of(key: str) -> str | None:
                try:
                    head = client.head_object(Bucket="kill-bucket", Key=key,
                                              ChecksumMode="ENABLED")
                except client.exceptions.ClientError:
                    return None
                return str(head.get("ChecksumCRC64NVME"))

            wrong = [p for p, data in sources.items() if crc_of(f"p/{p}") != _crc_b64(data)]
            ok = rc == 0 and verify.returncode == 0 and not wrong and not resent
            print(f"migrate kill/resume: {kills} kill(s) ({early} run(s) ended before their "
                  f"kill point), final exit {rc}, verify: {verify.stdout.strip()}, "
                  f"{len(sources) - len(wrong)}/{len(sources)} objects with the source "
                  f"CRC64NVME, {mid} kill(s) left an upload open ({with_parts} with accepted "
                  "parts), "
                  f"{len(proxy.parts)} UploadPart requests, accepted parts sent "
                  f"again: {len(resent)} -> {'OK' if ok else 'FAILED'}")
            if not ok:
                print(f"wrong or missing: {wrong}; last run's stderr:\n"
                      f"{err.decode(errors='replace')[-3000:]}", file=sys.stderr)
            return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
