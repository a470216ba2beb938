"""UI benchmarks: start-up (first frame, filled vault list) vs Textual hello world, and
key-press latency in a 1,000-job table while the poller runs.

``python -m bench.ui_bench [--quick] [--latency-only | --startup-only] [--inproc]``;
``run(quick)`` returns (name, value) rows. Each start-up figure comes from a fresh
interpreter (imports included), headless at 120x40: `glacier-tui --demo` through the CLI's
own start path (``cli.build_app``, settings from the environment) and Textual's hello
world, with the same first-frame event (see ``_MARK``). The key-latency test runs the
emulator in a subprocess (so the figure measures the app, not the emulator sharing its
GIL); ``--inproc`` runs it in-process as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.emulator_proc import emulator_process
from bench.keylatency import key_to_frame, percentiles

ROOT = Path(__file__).resolve().parent.parent

# Both start-up scripts define the first frame the same way: when the app's Mount event
# is dispatched, ``app.call_after_refresh(mark)``; Textual runs ``mark`` once the screen
# has been refreshed (composed, laid out, rendered) with nothing left pending. t0 is the
# first line of each script, before any import.
_MARK = r"""
import time
t0 = time.perf_counter()
import asyncio, json
marks = {}
def hook_for(get_app):
    def hook(message):
        from textual import events
        app = get_app()
        if "mount" not in marks and isinstance(message, events.Mount) \
                and message._sender is app:
            marks["mount"] = time.perf_counter() - t0
            app.call_after_refresh(lambda: marks.setdefault("first", time.perf_counter() - t0))
    return hook
"""

_HELLO = _MARK + r"""
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("Hello, world")
async def main():
    app = Hello()
    async with app.run_test(size=(120, 40), message_hook=hook_for(lambda: app)) as pilot:
        while "first" not in marks:
            await asyncio.sleep(0.001)
        print(json.dumps({"first_frame": marks["first"]}))
asyncio.run(main())
"""

# The real start path of `glacier-tui --demo`: cli.build_app is what cli.main runs.
_GLACIER = _MARK + r"""
from glacier_tui import cli
async def main():
    args = cli.build_parser(["--demo"]).parse_args(["--demo"])
    app = cli.build_app(args)
    async with app.run_test(size=(120, 40), message_hook=hook_for(lambda: app)) as pilot:
        while "first" not in marks:
            await asyncio.sleep(0.001)
        first = marks["first"]
        for _ in range(4000):
            main = app.screen_stack[0]
            connection = getattr(main, "connection", None)  # the boot screen has none
            if connection is not None and connection.vaults:
                break
            await asyncio.sleep(0.005)  # pilot.pause would do work of its own
        filled = time.perf_counter() - t0
        assert type(main).__name__ == "MainScreen" and main.connection.vaults, "vaults not shown"
        print(json.dumps({"first_frame": first, "filled": filled}))
asyncio.run(main())
"""


def _child(code: str) -> dict[str, float]:
    # The demo's settings come from the environment as a user's would (no polling here).
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=str(ROOT),
               GLACIER_TUI_POLL_INTERVAL="3600")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def _emulator(data_dir: Path, inproc: bool) -> Iterator[str]:
    """The emulator's URL: in a subprocess (default) or a thread of this process."""
    if inproc:
        from glacier_tui.emulator import EmulatorConfig, EmulatorThread

        with EmulatorThread(EmulatorConfig(data_dir=data_dir, port=0, seed=0,
                                           seed_demo=True, frozen=True)) as emu:
            yield emu.url
        return
    with emulator_process(data_dir, "--seed", "0", "--seed-demo") as url:
        yield url


async def _latency(n_jobs: int, presses: int, inproc: bool = False,
                   size: tuple[int, int] = (120, 40)) -> tuple[float, float, int]:
    import boto3
    from botocore.config import Config

    from glacier_tui.config import Settings
    from glacier_tui.glacier.store import Store
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.widgets.job_table import JobTable

    tmp = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with _emulator(tmp / "emu", inproc) as url:
        glacier = boto3.client("glacier", endpoint_url=url, region_name="us-east-1",
                               aws_access_key_id="bench", aws_secret_access_key="bench",
                               config=Config(retries={"max_attempts": 1}))
        body = b"x" * 1024
        archive = glacier.upload_archive(vaultName="scratch", body=body)["archiveId"]
        # Bulk jobs stay InProgress on the frozen clock: the poller lists them every cycle.
        for _ in range(n_jobs):
            glacier.initiate_job(vaultName="scratch", jobParameters={
                "Type": "archive-retrieval", "ArchiveId": archive, "Tier": "Bulk"})
        app = GlacierApp(Settings(endpoint_url=url, region="us-east-1", poll_interval=1.0,
                                  download_dir=tmp / "dl"), store=Store(tmp / "s.db"))
        async with app.run_test(size=size) as pilot:
            main = app.screen_stack[0]
            table = main.query_one(JobTable)
            for _ in range(3000):
                if len(table.jobs) >= n_jobs:
                    break
                await pilot.pause(0.02)
            table.focus()
            table.move_cursor(row=0)  # start at the top: 100 downs, 100 ups, ...
            await pilot.pause()  # focus moves on the next message loop turn
            keys = ["down" if (i // 100) % 2 == 0 else "up" for i in range(presses)]
            samples = await key_to_frame(app, keys, lambda: table.cursor_row)
            cycles = main.poll.cycles
    p50, p95 = percentiles(samples)
    return p50, p95, cycles


async def _baseline_latency(presses: int) -> tuple[float, float]:
    """The same measurement on a bare Textual DataTable of 1,000 rows (no poller)."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Header

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for column in "abcdefghij":
                table.add_column(column, width=10)
            for i in range(1000):
                table.add_row(*[f"{c}{i}" for c in "abcdefghij"], key=str(i))
            table.focus()

    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(DataTable)
        keys = ["down" if (i // 100) % 2 == 0 else "up" for i in range(presses)]
        return percentiles(await key_to_frame(app, keys, lambda: table.cursor_row))


def run_latency(quick: bool, inproc: bool = False) -> list[tuple[str, str]]:
    presses = 100 if quick else 400
    p50, p95, cycles = asyncio.run(_latency(1000, presses, inproc))
    # The SSH default window: the compact layout (job table across the width).
    s50, s95, _ = asyncio.run(_latency(1000, presses, inproc, size=(80, 24)))
    b50, b95 = asyncio.run(_baseline_latency(presses))
    where = "in-process emulator" if inproc else "emulator in a subprocess"
    return [
        ("key-to-frame, bare Textual DataTable (baseline): p50 / p95",
         f"{b50 * 1000:.1f} / {b95 * 1000:.1f} ms"),
        (f"key-to-frame, 1,000 live jobs + poller: p50 ({where})", f"{p50 * 1000:.1f} ms"),
        (f"key-to-frame, 1,000 live jobs + poller: p95 ({where})", f"{p95 * 1000:.1f} ms"),
        ("key-to-frame at 80x24, 1,000 live jobs: p50 / p95",
         f"{s50 * 1000:.1f} / {s95 * 1000:.1f} ms"),
        ("poll cycles during the key test", str(cycles)),
    ]


def run_startup(quick: bool) -> list[tuple[str, str]]:
    """First frame of `glacier-tui --demo` and of hello world, alternating fresh interpreters
    so both see the same machine load; medians (and the range) of the rounds."""
    rounds = 3 if quick else 7
    hello: list[float] = []
    first: list[float] = []
    filled: list[float] = []
    for _ in range(rounds):
        hello.append(_child(_HELLO)["first_frame"])
        run = _child(_GLACIER)
        first.append(run["first_frame"])
        filled.append(run["filled"])

    def ms(values: list[float]) -> str:
        return (f"{statistics.median(values) * 1000:.0f} ms "
                f"({min(values) * 1000:.0f}-{max(values) * 1000:.0f}, {len(values)} runs)")

    return [
        ("textual hello world: first frame", ms(hello)),
        ("glacier-tui --demo: first frame", ms(first)),
        ("glacier-tui --demo: vault list filled", ms(filled)),
        ("first frame / hello world (medians)",
         f"{statistics.median(first) / statistics.median(hello):.2f}x"),
    ]


def run(quick: bool) -> list[tuple[str, str]]:
    startup = run_startup(quick)
    p50, p95, cycles = asyncio.run(_latency(1000, 100 if quick else 400))
    s50, s95, _ = asyncio.run(_latency(1000, 100 if quick else 400, size=(80, 24)))
    b50, b95 = asyncio.run(_baseline_latency(100 if quick else 400))
    return [
        ("key-to-frame, bare Textual DataTable (baseline): p50 / p95",
         f"{b50 * 1000:.1f} / {b95 * 1000:.1f} ms"),
        *startup,
        ("key-to-frame, 1,000 live jobs + poller: p50", f"{p50 * 1000:.1f} ms"),
        ("key-to-frame, 1,000 live jobs + poller: p95", f"{p95 * 1000:.1f} ms"),
        ("key-to-frame at 80x24, 1,000 live jobs: p50 / p95",
         f"{s50 * 1000:.1f} / {s95 * 1000:.1f} ms"),
        ("poll cycles during the key test", str(cycles)),
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    if "--latency-only" in args:
        rows = run_latency(quick, "--inproc" in args)
    elif "--startup-only" in args:
        rows = run_startup(quick)
    else:
        rows = run(quick)
    for name, value in rows:
        print(f"{name:42} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

