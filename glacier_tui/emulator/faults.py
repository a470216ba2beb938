"""Fault injection, deterministic by seed: throttling, 5xx, resets, latency, corrupt output.

``stall_after=N`` is not random either: the first N requests after the faults
were set go through, every later one hangs (as on a dead network) until the
faults are set again. It lets a test stop a transfer at an exact point.

``bandwidth`` is not random: it caps every request body and every streamed
response body at that many bytes per second *per connection* (parallel
streams add up), the way real Glacier/S3 throughput behaves over a network.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

PROBABILITY_KEYS = ("throttle", "error5xx", "reset", "corrupt")


@dataclass
class FaultSpec:
    throttle: float = 0.0
    error5xx: float = 0.0
    reset: float = 0.0
    corrupt: float = 0.0
    latency: float = 0.0  # seconds added to every request
    bandwidth: int = 0  # bytes per second per body stream; 0 = unlimited
    stall_after: int = -1  # requests that go through before every later one hangs; -1 = off
    seed: int = 0

    def active(self) -> bool:
        return any(getattr(self, k) > 0 for k in (*PROBABILITY_KEYS, "latency"))

    def as_dict(self) -> dict[str, Any]:
        keys = (*PROBABILITY_KEYS, "latency", "bandwidth", "stall_after", "seed")
        return {k: getattr(self, k) for k in keys}


MAX_LATENCY_SECONDS = 3600.0
MAX_BANDWIDTH = 1 << 50  # bytes per second
MAX_COUNT = 1 << 53  # stall_after and seed: whole JSON-safe numbers


def _finite(key: str, value: Any) -> float:
    """A number (or numeric text) that is finite; booleans are not numbers here."""
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number, not {value!r}")
    try:
        n = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key} must be a number, got {value!r}") from exc
    if not math.isfinite(n):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    return n


def _whole(key: str, value: Any, low: int) -> int:
    n = _finite(key, value)
    if n != int(n) or not low <= n <= MAX_COUNT:
        raise ValueError(f"{key} must be a whole number from {low} to {MAX_COUNT}, got {value!r}")
    return int(n)


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000**2, "mb": 1000**2,
          "mib": 1 << 20, "g": 1000**3, "gb": 1000**3, "gib": 1 << 30}


def parse_bandwidth(value: Any) -> int:
    """Bytes per second: a bare number, or e.g. ``64MiB``, ``500KB``, ``1GiB`` (``/s`` optional)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        n = _finite("bandwidth", value)
    else:
        m = re.fullmatch(r"\s*([0-9.]+)\s*([a-z]*?)(?:/s)?\s*", str(value).lower())
        if not m or m.group(2) not in _UNITS:
            raise ValueError(f"bad bandwidth: {value!r} (use e.g. 64MiB or 500KB, per second)")
        n = _finite("bandwidth", m.group(1)) * _UNITS[m.group(2)]
    if not 0 <= n <= MAX_BANDWIDTH:
        raise ValueError(f"bandwidth {value!r} must be from 0 to {MAX_BANDWIDTH} bytes/s")
    return int(n)


def parse_latency(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = _finite("latency", value) / 1000.0  # bare numbers are ms, like "20" in a spec
    else:
        m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s)?\s*", str(value))
        if not m:
            raise ValueError(f"bad latency: {value!r} (use e.g. 20ms or 0.5s)")
        n = _finite("latency", m.group(1))
        seconds = n if m.group(2) == "s" else n / 1000.0
    if not 0 <= seconds <= MAX_LATENCY_SECONDS:
        raise ValueError(f"latency {value!r} must be from 0 to {MAX_LATENCY_SECONDS:g} s")
    return seconds


def parse_spec(spec: str | dict[str, Any] | None) -> FaultSpec:
    """'throttle=0.1,error5xx=0.05,reset=0.02,latency=20ms,corrupt=0.01,bandwidth=64MiB,seed=7'.

    Or the same as a dict.
    """
    if not spec:
        return FaultSpec()
    items: dict[str, Any]
    if isinstance(spec, dict):
        items = spec
    else:
        items = {}
        for part in spec.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"bad fault item {part!r}: expected key=value")
            items[key.strip()] = value.strip()
    out = FaultSpec()
    for key, value in items.items():
        if key in PROBABILITY_KEYS:
            p = _finite(key, value)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"fault probability {key}={value} must be between 0 and 1")
            setattr(out, key, p)
        elif key == "latency":
            out.latency = parse_latency(value)
        elif key == "bandwidth":
            out.bandwidth = parse_bandwidth(value)
        elif key == "stall_after":
            out.stall_after = _whole("stall_after", value, -1)  # -1: off
        elif key == "seed":
            out.seed = _whole("seed", value, 0)
        else:
            raise ValueError(
                f"unknown fault key {key!r}; known: {', '.join(FaultSpec().as_dict())}"
            )
    return out


@dataclass
class Decision:
    throttle: bool = False
    error5xx: bool = False
    reset: bool = False
    corrupt: bool = False
    latency: float = 0.0
    bandwidth: int = 0  # bytes per second for this request's body streams; 0 = unlimited
    stall: bool = False  # hang until the faults are set again
    generation: int = 0  # which setting of the faults this decision came from
    names: list[str] = field(default_factory=list)


class FaultInjector:
    def __init__(self, spec: str | dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self.set(spec)

    def set(self, spec: str | dict[str, Any] | None) -> None:
        parsed = parse_spec(spec)
        with self._lock:
            self.spec = parsed
            self._rng = random.Random(parsed.seed)
            self._seen = 0
            self.generation += 1  # releases requests stalled under the previous setting

    def decide(self, streams_output: bool) -> Decision:
        """One draw per fault kind per request, so a given seed gives a fixed sequence."""
        with self._lock:
            s = self.spec
            d = Decision(latency=s.latency, bandwidth=s.bandwidth, generation=self.generation)
            self._seen += 1
            if 0 <= s.stall_after < self._seen:
                d.stall = True
                d.names.append("stall")
            if not s.active():  # no draws: a bandwidth cap leaves the random sequence alone
                if d.bandwidth:
                    d.names.append("bandwidth")
                return d
            draws = {k: self._rng.random() for k in PROBABILITY_KEYS}
        if draws["throttle"] < s.throttle:
            d.throttle = True
            d.names.append("throttle")
        elif draws["error5xx"] < s.error5xx:
            d.error5xx = True
            d.names.append("error5xx")
        elif draws["reset"] < s.reset:
            d.reset = True
            d.names.append("reset")
        elif streams_output and draws["corrupt"] < s.corrupt:
            d.corrupt = True
            d.names.append("corrupt")
        if d.latency:
            d.names.append("latency")
        if d.bandwidth:
            d.names.append("bandwidth")
        return d


class Pacer:
    """Holds one body stream to ``rate`` bytes per second (token bucket, no burst).

    ``delay(n)`` after moving ``n`` more bytes says how long to sleep so the
    stream has not run ahead of ``rate``. Deterministic: time only, no randomness.
    """

    def __init__(self, rate: int, now: float) -> None:
        self.rate = rate
        self._start = now
        self._moved = 0

    def delay(self, n: int, now: float) -> float:
        self._moved += n
        return max(0.0, self._start + self._moved / self.rate - now) if self.rate > 0 else 0.0
