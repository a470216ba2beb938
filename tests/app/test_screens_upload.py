"""Pilot tests for UploadScreen: mark with space, open dirs, type paths, confirm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screen_host import NO_RESULT, Host
from textual.pilot import Pilot
from textual.widgets import Static

from glacier_tui.ui.screens.upload import MarkingTree, UploadScreen, total_size


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_bytes(b"c" * 300)
    (tmp_path / "a.txt").write_bytes(b"a" * 10)
    (tmp_path / "b.bin").write_bytes(b"b" * 2000)
    return tmp_path


async def _settle(pilot: Pilot[Any]) -> None:
    """Let the tree load and the size worker finish (DirectoryTree's loader never ends)."""
    for _ in range(100):
        await pilot.pause()
        busy = [w for w in pilot.app.workers if w.group == "upload-size" and w.is_running]
        tree = pilot.app.screen.query_one(MarkingTree)
        if not busy and tree.root.children and not any(
            w.is_running for w in pilot.app.workers if w.name == "_load_directory"
        ):
            return


def _cursor_name(pilot: Pilot[Any]) -> str:
    node = pilot.app.screen.query_one(MarkingTree).cursor_node
    assert node is not None and node.data is not None
    return Path(node.data.path).name


def test_total_size(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert total_size([root / "a.txt", root / "sub"]) == (310, 2)
    assert total_size([root, root / "a.txt"]) == (2310, 3)  # no double counting


async def test_mark_with_space_and_confirm(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    app = Host(UploadScreen(root))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await pilot.press("tab")  # path input -> tree
        # Directories sort first: root, sub/, a.txt, b.bin
        await pilot.press("down")
        assert _cursor_name(pilot) == "sub"
        await pilot.press("space", "down", "down", "space")
        await _settle(pilot)
        marked = str(app.screen.query_one("#marked", Static).render())
        assert "Marked 2 (2 files, 2.2 KiB)" in marked
        await pilot.press("up", "space", "space")  # a.txt on then off again
        await _settle(pilot)
        await pilot.press("tab", "enter")  # Upload button
        await pilot.pause()
    assert app.result == [root / "sub", root / "b.bin"]


async def test_enter_opens_dir_and_backspace_goes_up(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    app = Host(UploadScreen(root))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        tree = app.screen.query_one(MarkingTree)
        await pilot.press("tab", "down", "enter")
        await _settle(pilot)
        assert Path(tree.path) == root / "sub"
        await pilot.press("down", "enter")  # Enter on a file marks it
        await _settle(pilot)
        assert list(app.screen.marked) == [root / "sub" / "c.txt"]
        await pilot.press("backspace")
        await _settle(pilot)
        assert Path(tree.path) == root


async def test_typed_path_and_errors(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    app = Host(UploadScreen(root))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await pilot.press(*"nope", "enter")  # the path input has the focus at first
        assert "No such file" in str(app.screen.query_one("#error", Static).render())
        app.screen.query_one("#path").value = ""  # type: ignore[attr-defined]
        await pilot.press(*"a.txt", "enter")
        await _settle(pilot)
        assert list(app.screen.marked) == [root / "a.txt"]
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_confirm_with_nothing_marked_is_refused(tmp_path: Path) -> None:
    app = Host(UploadScreen(_tree(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        app.screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        assert "Mark at least one" in str(app.screen.query_one("#error", Static).render())


async def test_dialog_names_the_vault_and_typing_goes_to_the_path(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    app = Host(UploadScreen(root, vault="family-photos"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        assert "Upload to vault family-photos" in str(
            app.screen.query_one("#title", Static).render())
        await pilot.press(*"sub", "enter")  # a folder is marked, as the CLI takes folders
        await _settle(pilot)
        assert list(app.screen.marked) == [root / "sub"]
        await pilot.press(*"a.txt")  # typed, Upload pressed without Enter: taken too
        app.screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await pilot.pause()
    assert app.result == [root / "sub", root / "a.txt"]
