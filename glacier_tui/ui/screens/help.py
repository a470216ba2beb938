"""`?` help: every binding with its current key (after the user's keymap)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


def key_label(keys: str) -> str:
    names = {"question_mark": "?", "slash": "/", "colon": ":", "space": "Space",
             "escape": "Esc", "enter": "Enter", "delete": "Del", "backspace": "Backspace",
             "left_square_bracket": "[", "right_square_bracket": "]",
             "pageup": "PgUp", "pagedown": "PgDn"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 95%; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help_close"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str, str]]]]) -> None:
        """sections: (title, [(keys, description, binding id)])."""
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True, min_width=12)
        table.add_column()
        table.add_column(style="dim")
        for title, rows in self.sections:
            table.add_row(Text(title, style="bold underline"), "", "")
            for keys, description, binding_id in rows:
                table.add_row(key_label(keys), Text(description), binding_id)
            table.add_row("", "", "")
        with VerticalScroll() as vs:
            vs.border_title = "Keys — remap by id in the config file (keymap table)"
            yield Static(table, id="help-table")
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def action_close(self) -> None:
        self.dismiss(None)
