"""The main screen at every window size and its keys: layouts, footer, notices, tabs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.widgets import Footer, Label, Static

from glacier_tui.glacier.descriptions import UNDEFINED_FOLDER
from glacier_tui.glacier.models import Vault
from glacier_tui.ui.display_names import archive_label, folder_label, folder_path_label
from glacier_tui.ui.messages import TransferRow
from glacier_tui.ui.screens.main import MainScreen
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.transfers_panel import TransferItem, TransfersPanel
from glacier_tui.ui.widgets.vault_tree import FolderEntry, NodeData, VaultTree
from tests.app_harness import START, main_screen, make_app, wait_for


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as emu:
        yield emu


async def _loaded(pilot: Any) -> MainScreen:
    app = pilot.app
    await wait_for(pilot, lambda: bool(app.screen_stack) and isinstance(
        app.screen_stack[0], MainScreen) and bool(main_screen(app).connection.vaults)
        and bool(main_screen(app).query_one(JobTable).jobs))
    await app.workers.wait_for_complete()
    await pilot.pause()
    return main_screen(app)


def _footer_keys(screen: MainScreen, width: int) -> set[str]:
    """The descriptions of the footer keys drawn inside the window."""
    footer = screen.query_one(Footer)
    return {str(k.description) for k in footer.query("FooterKey")
            if k.region.width == k.outer_size.width and 0 < k.region.right <= width}


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40)])
async def test_footer_keeps_help_and_quit_and_shows_the_focused_panes_keys(
        demo: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(demo.url, tmp_path, poll_interval=3600)
    async with app.run_test(size=size) as pilot:
        screen = await _loaded(pilot)
        keys = _footer_keys(screen, size[0])
        assert {"Help", "Quit", "Mark", "Inventory"} <= keys  # the tree's own keys
        screen.query_one(JobTable).focus()
        await pilot.pause()
        keys = _footer_keys(screen, size[0])
        assert {"Help", "Quit"} <= keys
        assert "Mark" not in keys and "Inventory" not in keys
        screen.query_one(ArchiveList).focus()
        await pilot.pause()
        assert {"Mark", "Sort", "Help", "Quit"} <= _footer_keys(screen, size[0])


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40)])
async def test_job_table_shows_dates_size_and_expiry_without_horizontal_scrolling(
        demo: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(demo.url, tmp_path, poll_interval=3600)
    async with app.run_test(size=size) as pilot:
        screen = await _loaded(pilot)
        table = screen.query_one(JobTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        assert {"status", "archive", "created", "completed", "size", "expires"} <= set(keys)
        assert table.max_scroll_x == 0
        assert sum(c.get_render_width(table) for c in table.ordered_columns) \
            <= table.scrollable_content_region.width
        tree = screen.query_one(VaultTree)
        assert tree.max_scroll_x == 0 or tree.styles.overflow_x == "hidden"


async def test_below_the_minimum_size_a_notice_replaces_the_layout(
        demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path, poll_interval=3600)
    async with app.run_test(size=(50, 14)) as pilot:
        screen = await _loaded(pilot)
        notice = screen.query_one("#too-small", Static)
        assert notice.display and notice.region.height > 0
        assert "window too small (need 60x16" in str(notice.render())
        assert not screen.query_one("#body").display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not screen.query_one("#too-small").display
        assert screen.query_one(VaultTree).region.width > 0
        await pilot.pause()
        assert screen.focused is screen.query_one(VaultTree)  # the focus comes back


@pytest.mark.parametrize("width", [60, 80, 100])
async def test_transfer_rows_keep_their_names(demo: Any, tmp_path: Path, width: int) -> None:
    app = make_app(demo.url, tmp_path, poll_interval=3600)
    async with app.run_test(size=(width, 24)) as pilot:
        screen = await _loaded(pilot)
        panel = screen.query_one(TransfersPanel)
        panel.update_transfer(TransferRow("t1", "download", "photos/2021/holiday.jpg",
                                            total=100, done=40, rate_bps=1000.0))
        await pilot.pause()
        await pilot.pause()
        name = panel.query_one(TransferItem).query_one(".name", Label)
        assert name.region.width >= 12
        assert "holiday" in name.render().plain or name.region.width >= 12


async def test_tree_labels_and_undescribed_archives(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path, poll_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(pilot)
        tree = screen.query_one(VaultTree)
        label = str(tree.vault_node("family-photos").label)  # type: ignore[union-attr]
        assert label.startswith("family-photos  323 · ")
        # The decoder's folder for archives without a description reads as such.
        node = tree.vault_node("family-photos")
        assert node is not None
        tree.fill(node, [FolderEntry(UNDEFINED_FOLDER, UNDEFINED_FOLDER, 2, 10, 2)])
        child = next(c for c in node.children if c.data is not None and c.data.kind == "folder")
        assert str(child.label).startswith("(no description)  2 · ")
        assert "00undefined" not in str(child.label)


def test_display_names_of_undescribed_archives() -> None:
    aid = "FA4CoGxyz" + "x" * 120
    assert archive_label(UNDEFINED_FOLDER, aid, aid) == "(no description) FA4CoGxy…"
    assert archive_label("photos", "a.jpg", aid) == "a.jpg"
    assert folder_label(UNDEFINED_FOLDER, UNDEFINED_FOLDER) == "(no description)"
    assert folder_label("photos", "photos") == "photos"
    assert folder_path_label(UNDEFINED_FOLDER) == "(no description)"


async def test_first_last_keys_and_detail_tabs(demo: Any, tmp_path: Path) -> None:
    app = make_app(demo.url, tmp_path, poll_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(pilot)
        tree = screen.query_one(VaultTree)
        tree.focus()
        await pilot.press("G")
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.vault == "scratch"
        await pilot.press("g")
        assert tree.cursor_line == 0
        await pilot.press("end")
        assert tree.cursor_node.data.vault == "scratch"  # type: ignore[union-attr]
        await pilot.press("home")
        assert tree.cursor_line == 0
        table = screen.query_one(JobTable)
        table.focus()
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        pane = screen.query_one(DetailPane)
        assert pane.active == "tab-details"
        await pilot.press("right_square_bracket")
        assert pane.active == "tab-json"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert pane.active == "tab-settings"


def test_every_main_screen_key_has_an_id() -> None:
    """A user keymap rebinds by id: every action key of the main screen has one."""
    from glacier_tui.ui.widgets.filter_bar import FilterBar

    for cls in (MainScreen, VaultTree, ArchiveList, JobTable, TransfersPanel, FilterBar):
        for item in cls.BINDINGS:
            assert isinstance(item, Binding)
            assert item.id, (cls.__name__, item.key, item.action)


def test_vault_node_data_is_unchanged_by_display() -> None:
    # Display names are a view: the node keeps the store's path for restores.
    nd = NodeData("folder", "v", path=UNDEFINED_FOLDER)
    assert nd.path == UNDEFINED_FOLDER
    assert Vault  # the model is importable next to the widgets (no cycle)
