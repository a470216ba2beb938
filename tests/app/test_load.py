"""The poller under load, small: requests per cycle follow the vaults with unfinished jobs,
and throttling slows it down instead of failing. Counts requests and cycles, never time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.load import Cycle, CycleProbe, error_screens, seed_world
from glacier_tui.config import Settings
from glacier_tui.glacier.store import Store
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.screens.main import MainScreen
from glacier_tui.ui.widgets.job_table import JobTable
from tests.conftest import EMULATOR_START, emulator_config

pytestmark = pytest.mark.slow

VAULTS, JOBS, LIVE = 30, 60, 5  # 2 jobs a vault; unfinished in 5 vaults (2 Standard, 3 Bulk)
INTERVAL = 0.2


@pytest.fixture
def world_emulator(tmp_path: Path) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorThread

    data = tmp_path / "emu"
    seed_world(data, VAULTS, JOBS, start=EMULATOR_START.timestamp(), live=LIVE)
    with EmulatorThread(emulator_config(data)) as emu:  # frozen: goes on from the saved clock
        yield emu


def make_app(url: str, tmp_path: Path) -> GlacierApp:
    values: dict[str, Any] = {
        "endpoint_url": url, "region": "us-east-1", "download_dir": tmp_path / "dl",
        "poll_interval": INTERVAL, "max_attempts": 1,
    }
    return GlacierApp(Settings(**values), store=Store(tmp_path / "app.sqlite3"))


def probe_for(app: GlacierApp, emu: Any) -> CycleProbe:
    async def log() -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = emu.requests()
        return entries

    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return CycleProbe(screen, log)


async def pump(pilot: Any, cond: Callable[[], bool], steps: int = 400) -> None:
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def check_cycles(cycles: list[Cycle], live: int) -> None:
    ordinary = [c for c in cycles if not c.full]
    full = [c for c in cycles if c.full]
    assert len(ordinary) >= 5 and full, [(c.full, c.to_poll, c.list_jobs) for c in cycles]
    for c in ordinary:  # one ListJobs per vault with unfinished jobs, nothing else
        assert (c.to_poll, c.list_jobs, c.list_vaults) == (live, live, 0), c
    for c in full:  # the periodic full refresh: every vault, ListVaults in pages of 10
        assert (c.list_jobs, c.list_vaults) == (VAULTS, VAULTS // 10), c


async def test_requests_per_cycle_follow_unfinished_vaults(world_emulator: Any,
                                                           tmp_path: Path) -> None:
    emu = world_emulator
    app = make_app(emu.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        probe = probe_for(app, emu)
        screen = app.screen_stack[0]
        assert isinstance(screen, MainScreen)
        table = screen.query_one(JobTable)
        await pump(pilot, lambda: len(table.jobs) == JOBS)
        await pump(pilot, lambda: len(probe.cycles) >= 1)
        probe.count = True
        # A cycle may be in flight, begun before counting was on: leave it out.
        start = len(probe.cycles) + 1
        await pump(pilot, lambda: len(probe.cycles) >= start + 11)
        check_cycles(probe.cycles[start:], LIVE)

        # The Standard jobs finish (3-5 h); the Bulk ones (5-12 h) go on: 3 vaults left.
        emu.advance(5 * 3600 + 300)
        await pump(pilot, lambda: len(screen.poll.vaults_to_poll) == 3)
        start = len(probe.cycles) + 1  # the cycle in flight may have begun with 5 vaults
        await pump(pilot, lambda: len(probe.cycles) >= start + 11)
        check_cycles(probe.cycles[start:], 3)
        assert len(table.jobs) == JOBS


async def test_throttling_backs_off_and_recovers(world_emulator: Any, tmp_path: Path) -> None:
    emu = world_emulator
    app = make_app(emu.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        probe = probe_for(app, emu)
        screen = app.screen_stack[0]
        assert isinstance(screen, MainScreen)
        delays: list[float] = []
        arm = screen.poll.arm

        def record(delay: float) -> None:
            delays.append(delay)
            arm(delay)

        setattr(screen.poll, "arm", record)  # noqa: B010 - instance override
        table = screen.query_one(JobTable)
        await pump(pilot, lambda: len(table.jobs) == JOBS)
        await pump(pilot, lambda: len(probe.cycles) >= 2)
        assert screen.poll.failures == 0 and delays[-1] == INTERVAL

        emu.set_faults("throttle=1.0")
        start = len(delays)
        await pump(pilot, lambda: screen.poll.failures >= 3)
        backoff = delays[start:]
        assert backoff[:3] == [INTERVAL * 2, INTERVAL * 4, INTERVAL * 8], backoff
        assert app.is_running and error_screens(app) == 0
        assert len(table.jobs) == JOBS  # a failed cycle drops nothing
        throttled = [e for e in emu.requests() if e.get("fault") == "throttle"]
        assert throttled and all(e["status"] == 400 for e in throttled)

        emu.set_faults(None)
        cycles = len(probe.cycles)
        await pump(pilot, lambda: len(probe.cycles) > cycles and screen.poll.failures == 0)
        start = len(delays)
        await pump(pilot, lambda: len(delays) > start)
        assert delays[-1] == INTERVAL  # back to the normal interval
        assert app.is_running and app._exception is None and error_screens(app) == 0
        assert len(table.jobs) == JOBS
