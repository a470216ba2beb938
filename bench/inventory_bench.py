"""Inventory at scale: import time vs json.load, peak RSS, time to first listing, filter.

Usage: python bench/inventory_bench.py [--quick] [--n N] [--src CACHED.json] [--rounds R]

``--src`` reuses a previously generated inventory (``python bench/gen_inventory.py
1000000 /tmp/inv1m.json``) instead of generating one per run (~25 s for 1M).
Targets (1M archives): import <= 1.5x json.load, RSS <= 250 MB, root listing <= 1 s
after import, filter first page <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import print_rows  # noqa: E402

_CHILD = r"""
import json, os, resource, sys, threading, time
mode, src, db = sys.argv[1], sys.argv[2], sys.argv[3]

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0

def children():
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                out += f.read().split()
        except OSError:
            pass
    return out

combined = [0]
stop = threading.Event()
def sample():
    # This process plus its helper process at the same moment, every 20 ms.
    while not stop.wait(0.02):
        combined[0] = max(combined[0], rss_kib("self") + sum(rss_kib(c) for c in children()))
threading.Thread(target=sample, daemon=True).start()
t = time.perf_counter()
if mode == "json":
    with open(src, "rb") as f:
        data = json.load(f)
    n = len(data["ArchiveList"])
else:
    from glacier_tui.glacier.inventory import import_inventory
    from glacier_tui.glacier.store import Store
    s = Store(db)
    n = import_inventory(s, "bench", src).archives
    s.close()
el = time.perf_counter() - t
stop.set()
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
# Peak RSS of this process and of any helper process it ran (reported separately).
print(json.dumps({"n": n, "s": el, "cpu": cpu, "rss": me.ru_maxrss, "child_rss": kids.ru_maxrss,
                  "combined_rss": combined[0]}))
"""


def _child(mode: str, src: Path, db: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(src), str(db)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    res: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return res


def _ratios(bases: list[dict[str, float]], imps: list[dict[str, float]]) -> str:
    return ", ".join(f"{m['s'] / b['s']:.2f}" for b, m in zip(bases, imps, strict=True))


def run(
    quick: bool, n: int | None = None, src: Path | None = None, rounds: int = 3
) -> list[tuple[str, str]]:
    from bench.gen_inventory import generate
    from glacier_tui.glacier.store import Store

    n = n or (100_000 if quick else 1_000_000)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if src is None:
            src = generate(n, Path(tmp) / "inv.json")
        db = Path(tmp) / "store.sqlite3"
        mb = src.stat().st_size / 1e6
        rows.append(("inventory archives / file size", f"{n:,} / {mb:.0f} MB"))
        # Alternating rounds: this machine's speed drifts by tens of percent from one
        # second to the next, and json.load's own time (page faults of ~1.6 GB) more so.
        bases, imps = [], []
        for i in range(rounds):
            bases.append(_child("json", src, db))
            if i:
                db.unlink()
                for extra in db.parent.glob(db.name + "-*"):
                    extra.unlink()
            imps.append(_child("import", src, db))
        base_s = sorted(b["s"] for b in bases)
        imp_s = sorted(m["s"] for m in imps)
        base_med, imp_med = statistics.median(base_s), statistics.median(imp_s)
        rows.append((f"json.load time, median (min..max) of {rounds} / peak RSS",
                     f"{base_med:.2f} s ({base_s[0]:.2f}..{base_s[-1]:.2f})"
                     f" / {max(b['rss'] for b in bases) / 1024:.0f} MB"))
        imp = max(imps, key=lambda m: m["combined_rss"])
        rows.append((f"import time, median (min..max) of {rounds} / peak RSS (helper)",
                     f"{imp_med:.2f} s ({imp_s[0]:.2f}..{imp_s[-1]:.2f})"
                     f" / {imp['rss'] / 1024:.0f} MB ({imp['child_rss'] / 1024:.0f} MB)"))
        rows.append(("import CPU time (both processes), median",
                     f"{statistics.median(m['cpu'] for m in imps):.2f} s"))
        rows.append(("import peak RSS, both processes at once (target <= 250 MB)",
                     f"{imp['combined_rss'] / 1024:.0f} MB (sampled every 20 ms)"))
        rows.append(("import / json.load, medians (target <= 1.5x)",
                     f"{imp_med / base_med:.2f}x (best runs: {imp_s[0] / base_s[0]:.2f}x;"
                     f" per round: {_ratios(bases, imps)})"))

        t = time.perf_counter()
        s = Store(db)
        root = s.folder("bench", "")
        subs = s.subfolders("bench", "", limit=200)
        files = s.archives("bench", "", limit=200)
        el = time.perf_counter() - t
        assert root is not None
        rows.append(("open + root listing (target <= 1 s)",
                     f"{el * 1000:.0f} ms ({len(subs)} folders, {len(files)} files)"))

        biggest = max(subs, key=lambda f: f.direct_count)
        t = time.perf_counter()
        s.archives("bench", biggest.path, offset=biggest.direct_count // 2, limit=100)
        rows.append(("page in the middle of the largest folder",
                     f"{(time.perf_counter() - t) * 1000:.0f} ms ({biggest.direct_count:,} rows)"))

        for text in ("file-00123", "7.mkv", "zzzz-none"):
            t = time.perf_counter()
            hits = s.search("bench", text, limit=100)
            rows.append((f"filter {text!r}, first page, LIKE scan (target <= 200 ms)",
                         f"{(time.perf_counter() - t) * 1000:.0f} ms ({len(hits)} hits)"))
        t = time.perf_counter()
        built = s.ensure_search_index("bench")
        rows.append(("build FTS5 trigram index (once, lazily)",
                     f"{time.perf_counter() - t:.1f} s" if built else "unavailable"))
        if built:
            for text in ("file-00123", "zzzz-none"):
                t = time.perf_counter()
                hits = s.search("bench", text, limit=100)
                rows.append((f"filter {text!r}, first page, FTS5",
                             f"{(time.perf_counter() - t) * 1000:.0f} ms ({len(hits)} hits)"))
        t = time.perf_counter()
        s.archives("bench", biggest.path, sort="size", limit=100)
        rows.append(("first sort by size (builds index lazily)",
                     f"{(time.perf_counter() - t) * 1000:.0f} ms"))
        t = time.perf_counter()
        groups = s.duplicates("bench", limit=10)
        rows.append(("duplicate groups (first call builds hash index)",
                     f"{(time.perf_counter() - t) * 1000:.0f} ms ({len(groups)} groups)"))
        s.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100k archives instead of 1M")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--src", type=Path, default=None, help="use this generated inventory")
    ap.add_argument("--rounds", type=int, default=3, help="alternating json.load/import runs")
    a = ap.parse_args(argv)
    print_rows(run(a.quick, a.n, a.src, a.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
