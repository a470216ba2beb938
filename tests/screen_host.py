"""A tiny host app for screen tests: pushes one screen and records its dismiss result."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Input, Static

NO_RESULT = object()


class Host(App[None]):
    """Pushes one screen on mount and records what it dismissed with."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self._screen = screen
        self.result: Any = NO_RESULT

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        def record(result: Any) -> None:
            self.result = result

        self.push_screen(self._screen, record)


class SnapshotHost(App[None]):
    """Shows one screen over a static background line, with no cursor blink (snapshots)."""

    TITLE = "Host"  # the title bar of the committed snapshot SVGs

    def __init__(self, screen: Screen[Any], background: str = "host") -> None:
        super().__init__()
        self._screen = screen
        self._background = background

    def compose(self) -> ComposeResult:
        yield Static(self._background)

    def on_mount(self) -> None:
        Input.cursor_blink = False
        self.push_screen(self._screen)
