"""Tree hash of a large file: project (threads) vs single-stream sha256 vs botocore.

Each contender reads the same file from the page cache, best of a few runs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from botocore.utils import calculate_tree_hash

from glacier_tui.glacier.treehash import MIB, tree_hash_file


def _best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _sha256_stream(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb", buffering=0) as fh:
        while chunk := fh.read(MIB):
            h.update(chunk)
    return h.hexdigest()


def _botocore(path: Path) -> str:
    with path.open("rb") as fh:
        return str(calculate_tree_hash(fh))


def run(quick: bool = False) -> list[tuple[str, str]]:
    size = (64 if quick else 512) * MIB
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "payload.bin"
        with path.open("wb") as fh:
            block = os.urandom(MIB)
            for i in range(size // MIB):
                fh.write(block[i % 251 :] + block[: i % 251])
        _sha256_stream(path)  # warm the page cache
        runs = 3
        ours = _best_of(runs, lambda: tree_hash_file(path))
        sha = _best_of(runs, lambda: _sha256_stream(path))
        boto = _best_of(runs, lambda: _botocore(path))
        assert tree_hash_file(path) == _botocore(path)
    mb = size / MIB
    return [
        (f"tree hash {mb:.0f} MiB: glacier-tui ({os.cpu_count()} cores)",
         f"{ours:.3f} s ({mb / ours:.0f} MiB/s)"),
        ("tree hash: single-stream hashlib.sha256", f"{sha:.3f} s ({mb / sha:.0f} MiB/s)"),
        ("tree hash: botocore.utils.calculate_tree_hash", f"{boto:.3f} s ({mb / boto:.0f} MiB/s)"),
        ("tree hash speed-up vs sha256 (target >= 1.6x)", f"{sha / ours:.2f}x"),
        ("tree hash speed-up vs botocore", f"{boto / ours:.2f}x"),
    ]


if __name__ == "__main__":
    for name, value in run():
        print(f"{name:55} {value}")
