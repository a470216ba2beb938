"""ArchiveList: a 1,000,000-row synthetic source, only small windows ever fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textual.app import App, ComposeResult

from glacier_tui.ui.widgets.archive_list import ArchiveList

N = 1_000_000


@dataclass(frozen=True)
class FakeRow:
    archive_id: str
    name: str
    size: int | None
    created: str | None


class FakeSource:
    def __init__(self, n: int = N) -> None:
        self.n = n
        self.calls: list[tuple[int, int]] = []

    def count(self) -> int:
        return self.n

    def rows(self, offset: int, limit: int) -> Sequence[FakeRow]:
        self.calls.append((offset, limit))
        end = min(self.n, offset + limit)
        return [
            FakeRow(f"id{i}", f"file-{i:07d}[bold]x[/]\x1b[31m", i * 10, "2024-01-01T00:00:00Z")
            for i in range(offset, end)
        ]


class ListApp(App[None]):
    def __init__(self, source: FakeSource) -> None:
        super().__init__()
        self.source = source
        self.highlighted: list[int] = []
        self.marked: list[frozenset[str]] = []

    def compose(self) -> ComposeResult:
        yield ArchiveList(self.source, page_size=100)

    def on_archive_list_highlighted(self, msg: ArchiveList.Highlighted) -> None:
        self.highlighted.append(msg.index)

    def on_archive_list_marked(self, msg: ArchiveList.Marked) -> None:
        self.marked.append(msg.ids)


async def settle(app: App[None], pilot: object) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


async def test_million_rows_visible_window_only() -> None:
    src = FakeSource()
    app = ListApp(src)
    async with app.run_test(size=(80, 24)) as pilot:
        lst = app.query_one(ArchiveList)
        lst.focus()
        await settle(app, pilot)
        assert lst.row_count == N
        assert lst.line_text(0).startswith("  file-0000000")
        # Markup and escape sequences are shown literally / stripped, never interpreted.
        assert "[bold]x[/]" in lst.line_text(0)
        assert "\x1b" not in lst.line_text(0)

        await pilot.press("end")
        await settle(app, pilot)
        assert lst.cursor == N - 1
        height = lst.scrollable_content_region.height
        assert f"file-{N - 1:07d}" in lst.line_text(height - 1)
        assert f"file-{N - height:07d}" in lst.line_text(0)

        await pilot.press("home")
        await settle(app, pilot)
        assert lst.cursor == 0
        assert "file-0000000" in lst.line_text(0)

        await pilot.press("pagedown")
        await settle(app, pilot)
        assert lst.cursor == height
        await pilot.press("down", "down", "up")
        await settle(app, pilot)
        assert lst.cursor == height + 1
        assert app.highlighted[-1] == height + 1

        # Only small windows were ever requested: a few pages, never the million.
        assert all(limit <= 100 for _, limit in src.calls)
        assert sum(limit for _, limit in src.calls) <= 1000
        assert any(offset >= N - 100 for offset, _ in src.calls)


async def test_space_toggles_marks_by_id() -> None:
    src = FakeSource(500)
    app = ListApp(src)
    async with app.run_test(size=(80, 24)) as pilot:
        lst = app.query_one(ArchiveList)
        lst.focus()
        await settle(app, pilot)
        # As in the vault tree: space marks and moves down, so space, space marks a run.
        await pilot.press("space", "space")
        await settle(app, pilot)
        assert lst.marked == {"id0", "id1"}
        assert lst.cursor == 2
        assert app.marked[-1] == frozenset({"id0", "id1"})
        await pilot.press("up", "space")
        await settle(app, pilot)
        assert app.marked[-1] == frozenset({"id0"})
        # The tree's mark, the same dot.
        assert lst.line_text(0).startswith("● ")
        assert lst.line_text(1).startswith("  ")


async def test_empty_source() -> None:
    app = ListApp(FakeSource(0))
    async with app.run_test(size=(60, 10)) as pilot:
        lst = app.query_one(ArchiveList)
        await settle(app, pilot)
        await pilot.press("end", "space", "pagedown")
        await settle(app, pilot)
        assert lst.row_count == 0 and lst.cursor == 0 and lst.marked == set()


def test_store_source_reads_the_second_half_from_its_end(tmp_path: Path) -> None:
    from glacier_tui.glacier.store import Store
    from glacier_tui.ui.widgets.archive_list import StoreArchiveSource

    with Store(tmp_path / "s.sqlite3") as store:
        snap = store.begin_snapshot("v", "json")
        # Equal names and sizes too: ties are broken by rowid in both directions.
        store.insert_archives(snap, [
            (f"id{i:03d}", "f", f"n{i // 3:03d}", "d", i % 4, None, None, None, "plain")
            for i in range(250)])
        store.finish_snapshot(snap, vault_arn=None, inventory_date=None, warnings=[])
        for sort in ("name", "size", "created"):
            for descending in (False, True):
                src = StoreArchiveSource(store, "v", "f", sort=sort, descending=descending)
                every = [r.archive_id for r in store.archives(
                    "v", "f", sort=sort, descending=descending, limit=1000)]
                assert src.count() == 250
                for offset, limit in ((0, 100), (100, 100), (124, 7), (126, 100), (200, 100),
                                      (249, 100), (250, 100)):
                    got = [r.archive_id for r in src.rows(offset, limit)]
                    assert got == every[offset:offset + limit], (sort, descending, offset)
