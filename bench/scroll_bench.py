"""Scrolling a folder of 1,000,000 archives: key-to-frame latency and time until rows show.

Usage: python bench/scroll_bench.py [--quick] [--n N]

Builds a store with N archives in one folder (through the Store API), shows them in the
app's ArchiveList (the real widget over StoreArchiveSource, rows paged from SQLite in
worker threads) at 120x40, and sends keys the way the terminal driver does: held Down,
held PageDown, and jumps (End, Home, and PageDown/PageUp far from any loaded page).
Reported: key-to-frame p50/p95 (bench/keylatency.py) for each, and for the jumps how long
until the rows under the cursor are on screen instead of placeholders (each jump from
a middle spot with no page loaded, so its rows come from SQLite). Baseline in the
same process: the same held-Down keys on a bare Textual DataTable of 1,000 rows.
Target: p95 frame < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import print_rows  # noqa: E402
from bench.keylatency import frame_times, key_to_frame, percentiles  # noqa: E402
from glacier_tui.glacier.store import Store  # noqa: E402

VAULT = "bench"
FOLDER = "big"


def build_store(path: Path, n: int) -> Store:
    """N archives directly in FOLDER, inserted in batches like an import."""
    store = Store(path)
    snap = store.begin_snapshot(VAULT, "json")
    batch = 50_000
    for start in range(0, n, batch):
        store.insert_archives(snap, [
            (f"{i:012d}{'A' * 126}", FOLDER, f"file-{i:07d}.bin", f"{FOLDER}/file-{i:07d}.bin",
             1024 + i, "2024-01-01T00:00:00Z", None, "ab" * 32, "plain")
            for i in range(start, min(n, start + batch))
        ])
    store.finish_snapshot(snap, vault_arn=None, inventory_date=None, warnings=[],
                          maybe_duplicates=False)
    return store


async def rows_shown(app: Any, archive_list: Any, key: str, max_wait: float = 5.0) -> float:
    """Seconds from ``key`` until a frame shows the cursor's row (not a placeholder)."""
    from textual import events

    with frame_times(app) as frames:
        start = time.perf_counter()
        before = archive_list.cursor
        app._driver.send_message(events.Key(key, None))
        deadline = start + max_wait
        # Sampling on purpose, as keylatency.py: an Event would need hooks in the widget.
        while (archive_list.cursor == before or archive_list.current_row() is None) and (  # noqa: ASYNC110
            time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.0005)
        seen = len(frames)
        while len(frames) <= seen and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.0005)
        return (frames[seen] if len(frames) > seen else deadline) - start


async def measure(store: Store, n: int, presses: int) -> dict[str, Any]:
    from textual.app import App, ComposeResult

    from glacier_tui.ui.widgets.archive_list import ArchiveList, StoreArchiveSource

    class Scroll(App[None]):
        def compose(self) -> ComposeResult:
            yield ArchiveList(StoreArchiveSource(store, VAULT, FOLDER))

    app = Scroll()
    out: dict[str, Any] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        lst = app.query_one(ArchiveList)
        lst.focus()

        async def loaded(*, with_rows: bool) -> None:
            for _ in range(500):
                if lst.row_count == n and (not with_rows or lst.current_row() is not None):
                    break
                await pilot.pause(0.01)

        await loaded(with_rows=True)
        cursor = lambda: lst.cursor  # noqa: E731
        out["down"] = await key_to_frame(app, ["down"] * presses, cursor)
        out["pagedown"] = await key_to_frame(app, ["pagedown"] * presses, cursor)
        jumps: list[float] = []
        shown: list[float] = []
        async def start_cold(at: int) -> None:
            lst.reload()  # no page loaded: the jump's rows come from SQLite
            await loaded(with_rows=False)
            lst.cursor = at
            await pilot.pause(0.3)

        for i, key in enumerate(["end", "home", "pageup", "pagedown"] * 4):
            spot = n // 4 + i * (n // 40)  # a different middle spot each time
            await start_cold(spot)
            jumps += await key_to_frame(app, [key], cursor)
            await start_cold(spot)
            shown.append(await rows_shown(app, lst, key))
        out["jump"] = jumps
        out["shown"] = shown
    return out


async def baseline(presses: int) -> list[float]:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for column in ("name", "size", "created"):
                table.add_column(column, width=30)
            for i in range(1000):
                table.add_row(f"file-{i:07d}.bin", str(1024 + i), "2024-01-01", key=str(i))
            table.focus()

    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(DataTable)
        return await key_to_frame(app, ["down"] * presses, lambda: table.cursor_row)


def run(quick: bool, n: int | None = None) -> list[tuple[str, str]]:
    n = n or (100_000 if quick else 1_000_000)
    presses = 100 if quick else 300
    with tempfile.TemporaryDirectory(prefix="scroll-bench-") as tmp:
        t = time.perf_counter()
        store = build_store(Path(tmp) / "s.sqlite3", n)
        built = time.perf_counter() - t
        res = asyncio.run(measure(store, n, presses))
        store.close()
    base = asyncio.run(baseline(presses))

    def ms(samples: list[float]) -> str:
        p50, p95 = percentiles(samples)
        return f"{p50 * 1000:.1f} / {p95 * 1000:.1f} ms ({len(samples)} keys)"

    return [
        ("archives in one folder (store built in)", f"{n:,} ({built:.1f} s)"),
        ("key-to-frame, bare DataTable of 1,000 rows, Down: p50 / p95", ms(base)),
        ("key-to-frame, held Down: p50 / p95 (target p95 < 50 ms)", ms(res["down"])),
        ("key-to-frame, held PageDown: p50 / p95", ms(res["pagedown"])),
        ("key-to-frame, jumps (End/Home/far PageUp/PageDown): p50 / p95", ms(res["jump"])),
        ("jump until the cursor's rows are on screen: p50 / p95", ms(res["shown"])),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100k archives, fewer keys")
    ap.add_argument("--n", type=int, default=None)
    a = ap.parse_args(argv)
    print_rows(run(a.quick, a.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
