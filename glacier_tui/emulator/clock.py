"""Virtual service clock: now = base + wall_elapsed × time_scale + advanced."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class VirtualClock:
    def __init__(self, base: float, time_scale: float, frozen: bool) -> None:
        self._lock = threading.Lock()
        self._base = base
        self._mono = time.monotonic()
        self.time_scale = time_scale
        self.frozen = frozen

    def now(self) -> float:
        with self._lock:
            if self.frozen:
                return self._base
            return self._base + (time.monotonic() - self._mono) * self.time_scale

    def set(self, t: float) -> None:
        """Jump to service time t (demo building only; ordinary callers only advance)."""
        with self._lock:
            self._base = t
            self._mono = time.monotonic()

    def advance(self, seconds: float) -> float:
        """Move the clock forward by service-seconds (unscaled)."""
        if seconds < 0:
            raise ValueError("cannot move the clock backwards")
        with self._lock:
            self._base += seconds
        return self.now()


def fmt_ms(t: float) -> str:
    """2012-03-20T17:03:43.221Z"""
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def fmt_s(t: float) -> str:
    """2014-08-01T14:30:07Z"""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 UTC date (seconds or fractions, 'Z' or offset) -> epoch seconds."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    d = datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()
