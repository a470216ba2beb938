"""A yes/no confirmation dialog for destructive (or paid) actions.

Focus starts on Cancel so a stray Enter never destroys anything. ``y`` confirms and
``n``/Esc cancel. In type-to-confirm mode (vault deletion) the user must type the
exact name before Confirm is enabled, and ``y``/``n`` go to the input instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static


def plain(text: str | Text) -> Text:
    """Wire-derived text is never markup: wrap strings in a plain ``Text``."""
    return text if isinstance(text, Text) else Text(text)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something irreversible; dismisses True (confirmed) or False."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > #dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    ConfirmScreen.-danger > #dialog {
        border: thick $error;
    }
    ConfirmScreen #title {
        text-style: bold;
        margin-bottom: 1;
    }
    ConfirmScreen.-danger #title {
        color: $text-error;
    }
    ConfirmScreen #body {
        height: auto;
        max-height: 14;
    }
    ConfirmScreen #type-hint {
        margin-top: 1;
    }
    ConfirmScreen #buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    ConfirmScreen #buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="confirm_cancel"),
        Binding("n", "cancel", "No", id="confirm_no", show=False),
        Binding("y", "confirm", "Yes", id="confirm_yes", show=False),
    ]

    def __init__(
        self,
        title: str | Text,
        body: Sequence[str | Text] = (),
        *,
        confirm_label: str = "Confirm",
        cancel_label: str = "Cancel",
        danger: bool = True,
        type_to_confirm: str | None = None,
    ) -> None:
        super().__init__(classes="-danger" if danger else "")
        self._title = plain(title)
        self._body = [plain(line) for line in body]
        self._confirm_label = confirm_label
        self._cancel_label = cancel_label
        self._danger = danger
        self._type_to_confirm = type_to_confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self._title, id="title")
            with VerticalScroll(id="body"):
                for line in self._body:
                    yield Static(line, classes="line")
            if self._type_to_confirm is not None:
                hint = Text("Type ")
                hint.append(self._type_to_confirm, style="bold")
                hint.append(" to confirm:")
                yield Static(hint, id="type-hint")
                yield Input(id="typed", placeholder=self._type_to_confirm)
            with Horizontal(id="buttons"):
                yield Button(
                    Text(self._confirm_label),
                    id="confirm",
                    variant="error" if self._danger else "primary",
                    disabled=self._type_to_confirm is not None,
                )
                yield Button(Text(self._cancel_label), id="cancel", variant="default")
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def on_mount(self) -> None:
        # Default focus on the safe choice (or the name input in type-to-confirm mode).
        if self._type_to_confirm is not None:
            self.query_one("#typed", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    def _may_confirm(self) -> bool:
        if self._type_to_confirm is None:
            return True
        return self.query_one("#typed", Input).value == self._type_to_confirm

    @on(Input.Changed, "#typed")
    def _typed_changed(self) -> None:
        self.query_one("#confirm", Button).disabled = not self._may_confirm()

    @on(Input.Submitted, "#typed")
    def _typed_submitted(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#confirm")
    def _confirm_pressed(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_confirm(self) -> None:
        if self._may_confirm():
            self.dismiss(True)
        else:
            self.app.bell()

    def action_cancel(self) -> None:
        self.dismiss(False)
