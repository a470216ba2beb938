"""Full garbage collections while the user is idle, not in the middle of a key press.

With thousands of jobs on screen the heap holds a few hundred thousand objects, and
CPython's automatic full (oldest generation) collection then takes 150-330 ms on a loaded
2-core machine: a key pressed meanwhile waited for it (the load bench's slowest samples).
Young collections (a few ms) stay automatic; the full one is run by :meth:`tick` (a
timer) once no input came for ``idle`` seconds, or regardless once it is long overdue, so
memory held by reference cycles never grows without bound. No Textual here: the app
reports input and calls ``tick``; the policy is tested alone.

Python 3.14's incremental collector has no such pause: there this does nothing.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

IDLE = 1.0  # seconds without input before a full collection may run
DUE = 10  # young (gen 1) collections since the last full one: CPython's own threshold
SPACING = 10.0  # seconds at least between two idle full collections
OVERDUE = 150  # this many young collections since the last full one: collect anyway
_NEVER = 1 << 30  # a gen-2 threshold that automatic collection never reaches
ACTIVE = sys.version_info < (3, 14)


class IdleCollector:
    """Defers the full collection to idle moments while started (one per app)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 collect: Callable[[], object] = gc.collect) -> None:
        self._clock = clock
        self._collect = collect
        self._saved: tuple[int, ...] | None = None
        self._last_input = -1e18
        self._last_full = -1e18
        self.collections = 0

    @property
    def started(self) -> bool:
        return self._saved is not None

    def start(self) -> None:
        """Stop automatic full collections (young ones go on)."""
        if not ACTIVE or self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.set_threshold(self._saved[0], self._saved[1], _NEVER)

    def stop(self) -> None:
        """Back to CPython's thresholds."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def due(self, young: int) -> bool:
        """Whether to collect now, ``young`` gen-1 collections after the last full one."""
        if young < DUE:
            return False
        if young >= OVERDUE:
            return True
        now = self._clock()
        return now - self._last_input >= IDLE and now - self._last_full >= SPACING

    def tick(self) -> bool:
        """A full collection if one is due (see :meth:`due`); True when it ran."""
        if self._saved is None or not self.due(gc.get_count()[2]):
            return False
        self._collect()
        self._last_full = self._clock()
        self.collections += 1
        return True
