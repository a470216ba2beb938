"""When the next refresh runs: one-shot cycles re-armed with a timer, with back-off.

The :class:`Poller` holds the refresh schedule and nothing else: how many cycles ran,
whether one is running, the failures in a row, the last error told. It imports no
Textual: the screen gives it a timer function and a way to start a cycle, so the
schedule is tested alone. A cycle never overlaps the previous one (the next is armed
only when one ends), and a cycle under a modal waits for the screen to be on top again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

MAX_DELAY = 600.0  # seconds: the longest back-off between cycles


class Timer(Protocol):
    def stop(self) -> None: ...


class Poller:
    """The refresh schedule of the main screen.

    ``set_timer(delay, callback)`` arms a one-shot timer; ``start_cycle(full)`` starts
    one cycle (a worker) whose end the owner reports with :meth:`cycle_done`;
    ``paused()`` says that the screen is not on top; ``interval()`` is the normal delay.
    """

    def __init__(self, *, interval: Callable[[], float],
                 set_timer: Callable[[float, Callable[[], None]], Timer],
                 start_cycle: Callable[[bool], None],
                 paused: Callable[[], bool] = lambda: False) -> None:
        self._interval = interval
        self._set_timer = set_timer
        self._start_cycle = start_cycle
        self._paused = paused
        self._timer: Timer | None = None
        self.cycles = 0
        self.running = False
        self.failures = 0
        self.last_error = ""
        # The vaults a partial cycle lists (those with unfinished jobs), set by the owner
        # when it starts the cycle.
        self.targets: list[str] = []

    @property
    def full_every(self) -> int:
        """Every this many cycles, a full one (list the vaults and all their jobs)."""
        return 10 if self._interval() < 10 else 5

    def arm(self, delay: float) -> None:
        """The next cycle in ``delay`` seconds (replacing an armed one)."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self._set_timer(delay, self._on_timer)

    def _on_timer(self) -> None:
        self.fire()

    def fire(self, force_full: bool = False) -> bool:
        """Start a cycle now unless one runs; under a modal, wait. True when started."""
        self._timer = None
        if self.running:
            return False
        if self._paused() and not force_full:
            self.arm(self._interval())
            return False
        self.running = True
        self.cycles += 1
        self._start_cycle(force_full or self.cycles % self.full_every == 0)
        return True

    # -- a cycle's outcome (called by the cycle, on the UI loop) -------------------------

    def succeeded(self) -> float:
        self.failures = 0
        return self._interval()

    def throttled(self) -> float:
        """The service asked us to slow down: double the delay per failure in a row."""
        self.failures += 1
        return min(self._interval() * 2.0 ** self.failures, MAX_DELAY)

    def failed(self, text: str) -> tuple[float, bool]:
        """Another failure: the next delay, and whether to tell (once per distinct error)."""
        self.failures += 1
        tell = text != self.last_error
        self.last_error = text
        return min(self._interval() * 2.0 ** min(self.failures, 4), MAX_DELAY), tell

    def cycle_done(self) -> None:
        """The cycle ended (the owner arms the next one with the delay it was given)."""
        self.running = False
