"""Deleting a vault: confirm when it looks empty, otherwise explain and offer to empty it.

Glacier deletes a vault only when its last inventory (built about once a day) shows no
archives and nothing was written since (DeleteVault in the AWS API reference), so a
non-empty vault needs its archives deleted first and the deletion retried after the next
inventory.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

from glacier_tui.glacier.models import Vault
from glacier_tui.ui.formatting import clean


class DeleteVaultChoice(Enum):
    DELETE_VAULT = "delete_vault"
    DELETE_ALL_ARCHIVES = "delete_all_archives"


def vault_looks_empty(vault: Vault, inventory_count: int | None) -> bool:
    """Empty per Glacier's own count, and per our cached inventory when we have one.

    A vault never inventoried (no LastInventoryDate) but with SizeInBytes 0 was never
    written to, and can be deleted at once.
    """
    if vault.number_of_archives not in (0, None):
        return False
    if vault.number_of_archives is None and vault.size_in_bytes not in (0, None):
        return False
    return not inventory_count


def _when(date: datetime | None) -> str:
    return date.strftime("%Y-%m-%d %H:%M UTC") if date else "never"


class DeleteVaultScreen(ModalScreen[DeleteVaultChoice | None]):
    """Dismisses DELETE_VAULT, DELETE_ALL_ARCHIVES or None (cancel)."""

    DEFAULT_CSS = """
    DeleteVaultScreen {
        align: center middle;
    }
    DeleteVaultScreen > #dialog {
        width: 74;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $error;
        background: $surface;
        padding: 0 1;
    }
    DeleteVaultScreen #title {
        text-style: bold;
        color: $text-error;
    }
    DeleteVaultScreen #body {
        height: auto;
        max-height: 12;
        margin: 1 0;
    }
    DeleteVaultScreen #buttons {
        height: auto;
        align-horizontal: right;
    }
    DeleteVaultScreen #buttons Button {
        margin-left: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="delete_vault_cancel")]

    def __init__(
        self,
        vault: Vault,
        inventory_count: int | None,
        last_inventory: datetime | None = None,
        *,
        recently_written: bool = False,
    ) -> None:
        super().__init__()
        self._vault = vault
        self._count = inventory_count
        self._last_inventory = last_inventory or vault.last_inventory_date
        # An upload or delete since the last inventory (known to the host from its own
        # journal) makes Glacier refuse the deletion even when the count is 0.
        self._recently_written = recently_written
        self.empty = vault_looks_empty(vault, inventory_count) and not recently_written

    def compose(self) -> ComposeResult:
        name = clean(self._vault.name)
        with Vertical(id="dialog"):
            yield Static(Text(f"Delete vault {name}?"), id="title")
            with VerticalScroll(id="body"):
                if self.empty:
                    yield Static(Text(
                        f"Vault {name} looks empty (last inventory: "
                        f"{_when(self._last_inventory)}). Deleting it also deletes its "
                        "access policy. This cannot be undone."
                    ))
                else:
                    yield Static(Text(self._guidance()))
            if self.empty:
                yield Static(Text(f"Type {name} to confirm:"))
                yield Input(id="typed", placeholder=name)
            with Horizontal(id="buttons"):
                if self.empty:
                    yield Button("Delete vault", id="delete-vault", variant="error",
                                 disabled=True)
                else:
                    count = "?" if self._count is None else str(self._count)
                    yield Button(
                        f"Delete all {count} archives", id="delete-archives",
                        variant="error", disabled=not self._count,
                    )
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def _guidance(self) -> str:
        glacier_count = self._vault.number_of_archives
        parts = [
            f"Glacier cannot delete vault {clean(self._vault.name)} yet: a vault can be deleted "
            "only when its last inventory shows no archives and nothing was written since. "
            "Glacier builds the inventory about once a day.",
            f"Last inventory: {_when(self._last_inventory)}"
            + (f", {glacier_count} archives per Glacier." if glacier_count is not None else "."),
        ]
        if self._recently_written:
            parts.append(
                "Archives were uploaded or deleted here since that inventory: wait for the "
                "next inventory before retrying."
            )
        if self._count:
            parts.append(
                f"You can delete every archive of the last inventory ({self._count} "
                "archives) now, then retry deleting the vault after the next inventory "
                "(about a day later)."
            )
        elif self._count == 0:
            parts.append(
                "The cached inventory lists no archives any more: retry deleting the vault "
                "once Glacier's next inventory shows it empty."
            )
        else:
            parts.append(
                "No cached inventory lists its archives: request an inventory first, then "
                "delete its archives."
            )
        return "\n\n".join(parts)

    def on_mount(self) -> None:
        if self.empty:
            self.query_one("#typed", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#delete-vault", Button).disabled = event.value != self._vault.name

    @on(Input.Submitted, "#typed")
    @on(Button.Pressed, "#delete-vault")
    def _delete_vault(self) -> None:
        if self.query_one("#typed", Input).value == self._vault.name:
            self.dismiss(DeleteVaultChoice.DELETE_VAULT)
        else:
            self.app.bell()

    @on(Button.Pressed, "#delete-archives")
    def _delete_archives(self) -> None:
        self.dismiss(DeleteVaultChoice.DELETE_ALL_ARCHIVES)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
