"""Ask for a new vault name, validated against Glacier's naming rules before any call."""

from __future__ import annotations

import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


def validate_vault_name(name: str) -> str | None:
    """An error message, or None when ``name`` is a valid vault name (1-255 of [A-Za-z0-9_.-])."""
    if not name:
        return "Enter a vault name."
    if len(name) > 255:
        return f"Vault names are at most 255 characters (this one has {len(name)})."
    if not _NAME.match(name):
        return "Use only letters, digits, '_', '.' and '-'."
    return None


class CreateVaultScreen(ModalScreen[str | None]):
    """Dismisses the new vault name, or None on cancel."""

    DEFAULT_CSS = """
    CreateVaultScreen {
        align: center middle;
    }
    CreateVaultScreen > #dialog {
        width: 64;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    CreateVaultScreen #title {
        text-style: bold;
    }
    CreateVaultScreen #error {
        color: $text-error;
        height: auto;
    }
    CreateVaultScreen #buttons {
        height: auto;
        align-horizontal: right;
    }
    CreateVaultScreen #buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="create_vault_cancel")]

    def __init__(self, existing: frozenset[str] | set[str] = frozenset()) -> None:
        super().__init__()
        # CreateVault is idempotent, so an existing name would "succeed" silently: warn.
        self._existing = frozenset(existing)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Create vault", id="title")
            yield Static("1–255 characters: letters, digits, '_', '.', '-'.")
            yield Input(id="name", placeholder="vault name", max_length=300)
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Create", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _check(self) -> str | None:
        name = self.query_one("#name", Input).value
        err = validate_vault_name(name)
        if err is None and name in self._existing:
            err = f"A vault named {name} already exists."
        self.query_one("#error", Static).update(Text(err or ""))
        return err

    @on(Input.Changed, "#name")
    def _changed(self) -> None:
        self._check()

    @on(Input.Submitted, "#name")
    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        if self._check() is not None:
            self.app.bell()
            return
        self.dismiss(self.query_one("#name", Input).value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
