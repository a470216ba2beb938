"""Where the streamed migration's client CPU goes: hashing, HTTP, SigV4, the SDK, other.

Used by ``bench/migrate_bench.py`` in its child process. The event loop's thread runs
under cProfile with a per-thread CPU clock (so a sleeping loop costs nothing and a
system call's kernel time counts where it is made); the tree hash and CRC64NVME run
in worker threads and are timed there; whatever else the process spent (other worker
threads, the profiler's own overhead is not in it) is "other threads".
"""

from __future__ import annotations

import cProfile
import os
import pstats
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# (category, substrings of a profiled function's file, or of a builtin's name)
_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hashing", ("treehash.py", "hashlib", "checksums")),
    ("SigV4", ("botocore/auth.py", "botocore/crt/auth.py", "awscrt/auth.py",
               "botocore/signers.py")),
    ("HTTP", ("aiohttp/", "asyncio/", "selectors.py", "socket.py", "ssl.py", "yarl/",
              "multidict/", "aiobotocore/httpsession.py", "aiobotocore/_endpoint_helpers.py",
              "aiobotocore/response.py", "s3_client.py(readinto", "glacier/client.py")),
    ("SDK (serialise, parse, events, endpoints)", ("botocore/", "aiobotocore/", "boto3/",
                                                   "aioboto3/", "jmespath/", "dateutil/")),
)
_BUILTINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hashing", ("_hashlib", "sha256", "crc64nvme", "checksums")),
    ("SigV4", ("_awscrt.signing", "hmac", "signing")),
    ("HTTP", ("socket", "select", "epoll", "_ssl", "send", "recv", "_asyncio",
              "_http_parser", "_http_writer", "aiohttp")),
)


def _category(file: str, name: str) -> str:
    if file == "~":  # a builtin: classify by its name
        for cat, keys in _BUILTINS:
            if any(k in name for k in keys):
                return cat
        return "other (copies, allocations, the app's own code)"
    key = f"{file}({name}"
    for cat, keys in _FILES:
        if any(k in key for k in keys):
            return cat
    return "other (copies, allocations, the app's own code)"


class _Timed:
    """A function whose CPU time (of the thread it runs in) is added up."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.seconds = 0.0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        try:
            return self.fn(*args, **kwargs)
        finally:
            spent = time.thread_time() - t0
            with self._lock:
                self.seconds += spent


@contextmanager
def profiled(out: dict[str, Any]) -> Iterator[None]:
    """Profile the block (run on the event loop's thread); ``out["breakdown"]`` gets
    category -> CPU seconds."""
    from glacier_tui.glacier import migrate_stream

    timed = [_Timed(migrate_stream.tree_hash), _Timed(migrate_stream._crc)]
    saved = migrate_stream.tree_hash, migrate_stream._crc
    migrate_stream.tree_hash, migrate_stream._crc = timed  # type: ignore[assignment]
    prof = cProfile.Profile(time.thread_time)
    c0, loop0 = time.process_time(), time.thread_time()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        loop_cpu = time.thread_time() - loop0
        total = time.process_time() - c0
        migrate_stream.tree_hash, migrate_stream._crc = saved
    if os.environ.get("MIGRATE_PROFILE_DUMP"):  # for a closer look: pstats file
        prof.dump_stats(os.environ["MIGRATE_PROFILE_DUMP"])
    by: dict[str, float] = {}
    stats: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    for (file, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        cat = _category(file, name)
        by[cat] = by.get(cat, 0.0) + tottime
    # The profiler's own bookkeeping is in no tottime: spread it pro rata so the
    # loop thread's categories add up to what that thread spent.
    scale = loop_cpu / sum(by.values()) if sum(by.values()) > 0 else 1.0
    by = {cat: seconds * scale for cat, seconds in by.items()}
    hashed = sum(t.seconds for t in timed)
    by["hashing"] = by.get("hashing", 0.0) + hashed
    by["other threads"] = max(0.0, total - loop_cpu - hashed)
    out["breakdown"] = by
    out["profile_total"] = total
