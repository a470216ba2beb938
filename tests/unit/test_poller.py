"""The refresh schedule alone (no Textual): one-shot cycles, back-off, no overlap."""

from __future__ import annotations

from collections.abc import Callable

from glacier_tui.ui.poller import MAX_DELAY, Poller


class FakeTimer:
    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay, self.callback, self.stopped = delay, callback, False

    def stop(self) -> None:
        self.stopped = True


class Harness:
    def __init__(self, interval: float = 30.0) -> None:
        self.timers: list[FakeTimer] = []
        self.started: list[bool] = []
        self.paused = False
        self.poller = Poller(interval=lambda: interval, set_timer=self.set_timer,
                             start_cycle=self.started.append, paused=lambda: self.paused)

    def set_timer(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, callback)
        self.timers.append(timer)
        return timer


def test_a_cycle_never_overlaps_and_every_fifth_is_full() -> None:
    h = Harness(interval=30.0)
    p = h.poller
    assert p.fire() and p.running
    assert not p.fire()  # one running: the second press does nothing
    p.cycle_done()
    for _ in range(4):
        p.fire()
        p.cycle_done()
    assert h.started == [False, False, False, False, True]  # 30 s interval: full every 5
    assert p.fire(force_full=True) and h.started[-1] is True


def test_arming_replaces_the_armed_timer() -> None:
    h = Harness()
    h.poller.arm(5)
    h.poller.arm(7)
    assert h.timers[0].stopped and not h.timers[1].stopped and h.timers[1].delay == 7


def test_under_a_modal_the_cycle_waits() -> None:
    h = Harness(interval=30.0)
    h.paused = True
    assert not h.poller.fire()
    assert h.started == [] and h.timers[-1].delay == 30.0
    assert h.poller.fire(force_full=True)  # R still refreshes


def test_back_off_on_throttling_and_errors_and_recovery() -> None:
    p = Harness(interval=10.0).poller
    assert [p.throttled() for _ in range(3)] == [20.0, 40.0, 80.0]
    assert p.succeeded() == 10.0 and p.failures == 0
    delay, tell = p.failed("connection refused")
    assert (delay, tell) == (20.0, True)
    delay, tell = p.failed("connection refused")
    assert tell is False  # the same error is told once
    for _ in range(10):
        delay, _ = p.failed("connection refused")
    assert delay == 160.0  # capped at 2**4 intervals
    assert Poller(interval=lambda: 100.0, set_timer=Harness().set_timer,
                  start_cycle=lambda full: None).throttled() <= MAX_DELAY
