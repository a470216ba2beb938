"""The idle collector: full collections only while no input comes, or when long overdue."""

from __future__ import annotations

import gc

import pytest

from glacier_tui.ui import idle_gc
from glacier_tui.ui.idle_gc import DUE, IDLE, OVERDUE, SPACING, IdleCollector


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_due_only_when_idle_and_spaced() -> None:
    clock = Clock()
    c = IdleCollector(clock)
    assert not c.due(DUE - 1)  # nothing worth a full collection yet
    assert c.due(DUE)
    c.input_seen()
    assert not c.due(DUE)  # a key just came: wait
    clock.t += IDLE
    assert c.due(DUE)


def test_overdue_collects_even_while_typing() -> None:
    c = IdleCollector(Clock())
    c.input_seen()
    assert not c.due(OVERDUE - 1)
    assert c.due(OVERDUE)


@pytest.mark.skipif(not idle_gc.ACTIVE, reason="incremental collector: nothing deferred")
def test_start_stop_restores_thresholds_and_tick_collects() -> None:
    clock = Clock()
    ran: list[int] = []
    c = IdleCollector(clock, collect=lambda: ran.append(1))
    before = gc.get_threshold()
    c.start()
    try:
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 10**6  # no automatic full collection
        for _ in range(DUE + 1):
            gc.collect(1)  # each counts as a young collection towards the full one
        clock.t += SPACING
        assert c.tick()
        assert ran == [1] and c.collections == 1
        assert not c.due(DUE)  # spaced: not again at once
    finally:
        c.stop()
    assert gc.get_threshold() == before
    assert not c.tick()  # stopped: never collects
