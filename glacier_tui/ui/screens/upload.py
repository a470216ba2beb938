"""Pick local files and directories to upload to a named vault.

The dialog opens with the cursor in the path input: a path typed there (a file or a
folder, as ``glacier-tui upload`` takes them) and Enter marks it; a folder is uploaded
with everything in it. In the tree below (Tab):

space marks/unmarks the highlighted file or directory, Enter on a directory opens it
(re-roots the tree), backspace goes to the parent, right/left expand and collapse.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Footer, Input, Static
from textual.widgets._directory_tree import DirEntry
from textual.widgets.tree import TreeNode

from glacier_tui.ui.formatting import clean, human_size
from glacier_tui.ui.worker_errors import ReportsWorkerErrors

_SHOWN_MARKED = 3


def total_size(paths: Iterable[Path]) -> tuple[int, int]:
    """(bytes, files) under the given files and directories; unreadable entries skipped."""
    total = files = 0
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            for root, _dirs, names in os.walk(path):
                for name in names:
                    full = Path(root) / name
                    if full in seen:
                        continue
                    seen.add(full)
                    try:
                        if full.is_file():
                            total += full.stat().st_size
                            files += 1
                    except OSError:
                        continue
        elif path not in seen:
            seen.add(path)
            try:
                total += path.stat().st_size
                files += 1
            except OSError:
                continue
    return total, files


class MarksChanged(Message):
    """The set of marked paths changed."""


class MarkingTree(DirectoryTree):
    """A DirectoryTree whose space key marks entries instead of toggling them."""

    BINDINGS = [
        Binding("space", "mark", "Mark", id="upload_mark"),
        Binding("backspace", "go_up", "Parent dir", id="upload_parent"),
        Binding("right", "expand", "Expand", id="upload_expand", show=False),
        Binding("left", "collapse", "Collapse", id="upload_collapse", show=False),
    ]

    def __init__(self, path: Path, marked: dict[Path, None], **kwargs: object) -> None:
        super().__init__(path, **kwargs)  # type: ignore[arg-type]
        # Shared with the screen (insertion-ordered set of marked paths).
        self.marked = marked
        self.auto_expand = False  # Enter re-roots on directories instead

    def render_label(self, node: TreeNode[DirEntry], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        if node.data is not None and node.data.path in self.marked:
            return Text.assemble(("✔ ", "bold green"), label)
        return Text.assemble("  ", label)

    def action_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None or node.is_root:
            return
        self.toggle_mark(Path(node.data.path))
        node.refresh()

    def toggle_mark(self, path: Path) -> None:
        if path in self.marked:
            del self.marked[path]
        else:
            self.marked[path] = None
        self.post_message(MarksChanged())

    def action_go_up(self) -> None:
        parent = Path(self.path).resolve().parent
        if parent != Path(self.path).resolve():
            self.path = parent

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and not node.is_root:
            node.collapse()
        elif node.parent is not None:
            self.move_cursor(node.parent)


class UploadScreen(ReportsWorkerErrors, ModalScreen[list[Path] | None]):
    """Dismisses the marked paths (files and directories), or None on cancel."""

    DEFAULT_CSS = """
    UploadScreen {
        align: center middle;
    }
    UploadScreen > #dialog {
        width: 100%;
        max-width: 110;
        height: 100%;
        max-height: 40;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    UploadScreen #title {
        text-style: bold;
    }
    UploadScreen #hint {
        color: $text-muted;
    }
    UploadScreen #path {
        margin-bottom: 1;
    }
    UploadScreen MarkingTree {
        height: 1fr;
    }
    UploadScreen #marked {
        height: auto;
        max-height: 3;
    }
    UploadScreen #error {
        color: $text-error;
        height: auto;
    }
    UploadScreen #buttons {
        height: 1;
        align-horizontal: right;
    }
    UploadScreen #buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="upload_cancel")]

    def __init__(self, start: Path | None = None, *, vault: str = "") -> None:
        super().__init__()
        self._start = self._pick_start(start)
        self._vault = vault
        self.marked: dict[Path, None] = {}

    @staticmethod
    def _pick_start(start: Path | None) -> Path:
        for candidate in (start, Path.cwd(), Path.home()):
            if candidate is not None and candidate.is_dir():
                return candidate
        return Path("/")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            target = f"Upload to vault {clean(self._vault)}" if self._vault else "Upload"
            yield Static(Text(target), id="title")
            yield Static("Type a file or folder path and Enter to mark it, or Tab to the tree: "
                         "space marks, Enter opens a folder, backspace goes up.", id="hint")
            yield Input(placeholder="path of a file or folder to upload", id="path",
                        compact=True)
            yield MarkingTree(self._start, self.marked, id="tree")
            yield Static(Text("Nothing marked."), id="marked")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Upload", id="confirm", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()  # typing goes to the path at once

    def _error(self, message: str) -> None:
        self.query_one("#error", Static).update(Text(message))

    @on(MarkingTree.DirectorySelected)
    def _open_dir(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.query_one(MarkingTree).path = event.path

    @on(MarkingTree.FileSelected)
    def _enter_on_file(self, event: DirectoryTree.FileSelected) -> None:
        # Enter on a file marks it too (the same as space).
        event.stop()
        tree = self.query_one(MarkingTree)
        tree.toggle_mark(Path(event.path))
        if event.node is not None:
            event.node.refresh()

    @on(Input.Submitted, "#path")
    def _typed_path(self, event: Input.Submitted) -> None:
        if self._mark_typed(event.value):
            event.input.value = ""

    def _mark_typed(self, typed: str) -> bool:
        """Mark a typed file or folder (relative to the tree's folder)."""
        text = typed.strip()
        if not text:
            return False
        path = Path(os.path.expanduser(text))
        if not path.is_absolute():
            path = Path(self.query_one(MarkingTree).path) / path
        if not (path.is_dir() or path.is_file()):
            self._error(f"No such file or folder: {clean(str(path))}")
            return False
        if path not in self.marked:
            self.marked[path] = None
        self.query_one(MarkingTree).refresh()
        self._error("")
        self._update_marked()
        return True

    @on(MarksChanged)
    def _marks_changed(self) -> None:
        self._error("")
        self._update_marked()

    @work(exclusive=True, group="upload-size")
    async def _update_marked(self) -> None:
        paths = list(self.marked)
        widget = self.query_one("#marked", Static)
        if not paths:
            widget.update(Text("Nothing marked."))
            return
        # Directory sizes need a walk of the file system: off the event loop.
        size, files = await asyncio.to_thread(total_size, paths)
        names = ", ".join(clean(p.name or str(p)) for p in paths[:_SHOWN_MARKED])
        more = f", and {len(paths) - _SHOWN_MARKED} more" if len(paths) > _SHOWN_MARKED else ""
        widget.update(Text(
            f"Marked {len(paths)} ({files} files, {human_size(size)}): {names}{more}"
        ))

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        typed = self.query_one("#path", Input)
        if typed.value.strip():  # typed but Enter not pressed: Upload takes it as well
            if not self._mark_typed(typed.value):
                self.app.bell()
                return
            typed.value = ""
        if not self.marked:
            self._error("Mark at least one file or directory (space).")
            self.app.bell()
            return
        self.dismiss(list(self.marked))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
