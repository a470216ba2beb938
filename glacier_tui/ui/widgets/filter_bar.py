"""The `/` filter input: appears at the bottom, filters the focused list as you type."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar {
        dock: bottom;
        display: none;
        height: 3;
        margin-bottom: 1;
    }
    FilterBar.-visible { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Close filter", id="filter_close", show=False)]

    class Closed(Message):
        def __init__(self, clear: bool) -> None:
            super().__init__()
            self.clear = clear

    def __init__(self) -> None:
        super().__init__(placeholder="filter…  (Enter keeps, Esc clears)", id="filter")
        self.cursor_blink = False
        self.target_id: str = ""

    def open(self, target_id: str, label: str, value: str = "") -> None:
        self.target_id = target_id
        self.placeholder = f"filter {label}…  (Enter keeps, Esc clears)"
        self.value = value
        self.add_class("-visible")
        self.focus()

    def hide(self) -> None:
        self.remove_class("-visible")

    def action_close(self) -> None:
        self.value = ""
        self.hide()
        self.post_message(self.Closed(clear=True))

    async def action_submit(self) -> None:
        self.hide()
        self.post_message(self.Closed(clear=False))
