"""The boot screen: the first frame of ``glacier-tui`` while settings and the main screen load.

The CLI starts the app with a settings *loader*: the app shows this light screen (the
title bar and the main layout's panes with "Starting…" / "Loading vaults…") at once,
then loads the settings (pydantic) and imports the main screen (DataTable, Tree, ...) in
a thread and switches to the main screen. Only Textual's core (App, Screen, Static)
is needed here, the same as Textual's own hello world.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

STARTING = "starting…"


def boot_title(*, demo: bool, status: str) -> Text:
    """The title bar line, styled like the main screen's header."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(" glacier-tui ", style="bold reverse")
    if demo:
        t.append(" DEMO ", style="bold black on cyan")
    if status:
        t.append(f"  {status}", style="italic dim")
    return t


class BootScreen(Screen[None]):
    """A skeleton of the main screen: header, vault and job panes, footer hint."""

    DEFAULT_CSS = """
    BootScreen {
        layout: grid;
        grid-size: 2 2;
        grid-columns: 2fr 3fr;
    }
    BootScreen #boot-header {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    BootScreen #boot-footer {
        dock: bottom;
        height: 1;
        color: $text-muted;
    }
    BootScreen .boot-pane {
        height: 1fr;
        padding: 0 1;
        border: round $primary 40%;
        border-title-color: $foreground;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit", "Quit", id="quit")]

    def __init__(self, *, demo: bool = False) -> None:
        super().__init__(id="boot")
        self.demo = demo

    def compose(self) -> ComposeResult:
        yield Static(boot_title(demo=self.demo, status=STARTING), id="boot-header")
        for pane_id, title, text in (
            ("boot-vaults", "Vaults", "Loading vaults…"),
            ("boot-jobs", "Jobs", "Starting…"),
            ("boot-archives", "Archives", ""),
            ("boot-detail", "Details", ""),
        ):
            pane = Static(text, id=pane_id, classes="boot-pane")
            pane.border_title = title
            yield pane
        yield Static(" q Quit", id="boot-footer")

    def set_status(self, status: str) -> None:
        self.query_one("#boot-header", Static).update(boot_title(demo=self.demo, status=status))
