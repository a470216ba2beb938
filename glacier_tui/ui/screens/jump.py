"""`:` jump: type a vault name or a job id prefix."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static


class JumpScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    JumpScreen { align: center top; }
    JumpScreen > Vertical {
        width: 60; height: auto; margin-top: 3;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump_cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Jump to a vault name or a job id prefix")
            inp = Input(placeholder=":", id="jump-input")
            inp.cursor_blink = False
            yield inp
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
