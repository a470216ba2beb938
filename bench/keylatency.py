"""Key-to-frame latency: what a user feels, not how long the whole process takes to go idle.

``Pilot.press`` waits until the *process* is idle (it compares CPU and wall time), so
any background thread - a poller parsing responses - inflates it; even a bare 1,000-row
DataTable measures ~60 ms that way. Here each key is sent the way the terminal driver
sends it, and the sample ends when the first frame after the widget reacted has been
composited (``App._display``), which is when a real terminal would show the change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from textual import events
from textual.app import App


async def key_to_frame(
    app: App[Any],
    keys: list[str],
    changed: Callable[[], object],
    gap: float = 0.03,
    max_wait: float = 1.0,
) -> list[float]:
    """Seconds from each key's arrival to the first frame showing its effect.

    ``changed`` returns a value that differs once the key took effect (e.g. the
    table's cursor row). ``gap`` spaces the presses like a held key (about 30/s).
    """
    samples: list[float] = []
    with frame_times(app) as frames:
        driver = app._driver
        assert driver is not None
        for key in keys:
            before = changed()
            start = time.perf_counter()
            driver.send_message(events.Key(key, None))
            deadline = start + max_wait
            # Wait until the state changed, then for the next frame after that moment.
            # Sampling on purpose: an Event would need hooks inside the widget under test.
            while changed() == before and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.0005)
            reacted = len(frames)
            while len(frames) <= reacted and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.0005)
            if len(frames) > reacted:
                samples.append(frames[reacted] - start)
            await asyncio.sleep(gap)
    return samples


@contextmanager
def frame_times(app: App[Any]) -> Iterator[list[float]]:
    """Collects the moment each frame is composited (``App._display``) while open."""
    frames: list[float] = []
    original = app._display

    def spy(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            frames.append(time.perf_counter())
        original(screen, renderable)

    app._display = spy  # type: ignore[method-assign]
    try:
        yield frames
    finally:
        app._display = original  # type: ignore[method-assign]


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in seconds."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan"), float("nan")
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return p50, p95
