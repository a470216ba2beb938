"""One long-running operation in the Restores pane: title and state, bar and figures, a line.

Campaigns (restores, migrations) and close-outs share this block: it keeps the latest row
and draws it once composed; each subclass's ``draw`` turns a row into the texts and the
bar's figures and hands them to :meth:`ProgressBlock.show`.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

RowT = TypeVar("RowT")


class ProgressBlock(Vertical, Generic[RowT], can_focus=True):
    """Title and status, a bar with its figures, and one more line (``LINE_CLASS``)."""

    DEFAULT_CSS = """
    ProgressBlock { height: auto; padding: 0 1; margin-bottom: 1; }
    ProgressBlock:focus { background: $boost; }
    ProgressBlock > Horizontal { height: 1; }
    ProgressBlock .title { width: 1fr; }
    ProgressBlock .status { width: auto; }
    ProgressBlock ProgressBar { width: 28; }
    ProgressBlock ProgressBar > Bar { width: 20; }
    ProgressBlock .stats { width: 1fr; margin-left: 1; }
    ProgressBlock .line { height: 1; }
    """
    LINE_CLASS: ClassVar[str] = "line"

    def __init__(self, row: RowT, *, id: str) -> None:
        super().__init__(id=id)
        self.row = row

    def on_mount(self) -> None:
        self.draw(self.row)

    def update_row(self, row: RowT) -> None:
        self.row = row
        if self.query(".title"):  # else not composed yet: on_mount draws the latest row
            self.draw(row)

    def draw(self, row: RowT) -> None:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(classes="title")
            yield Label(classes="status")
        with Horizontal():
            yield ProgressBar(show_eta=False, show_percentage=True)
            yield Label(classes="stats")
        yield Label(classes=f"line {self.LINE_CLASS}")

    def show(self, title: Text, status: Text, total: int, done: int, stats: Text,
             line: Text, *, hide_empty_line: bool = False) -> None:
        self.query_one(".title", Label).update(title)
        self.query_one(".status", Label).update(status)
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one(".stats", Label).update(stats)
        label = self.query_one(".line", Label)
        label.update(line)
        if hide_empty_line:  # no blank line under a block with nothing to say
            label.display = bool(line.plain)
