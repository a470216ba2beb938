"""Closing out a vault: check proof manifests, show the plan, confirm by typing the name.

The plan (proven / unproven / young counts and bytes, the early-deletion fee, the storage
saved) comes from the service layer (``glacier.purge``), checked in a worker; this screen
only shows it. Dismisses with the purge id to run, or None. A purge of the vault already
under way is shown instead, to be resumed after the same typed confirmation.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Static

from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from glacier_tui.glacier.client import GlacierClient
    from glacier_tui.glacier.pricing import PriceTable
    from glacier_tui.glacier.purge import PurgeInfo
    from glacier_tui.glacier.store import Store


class CloseOutScreen(ReportsWorkerErrors, ModalScreen[int | None]):
    """Plan and confirm a vault's close-out; dismisses with the purge id (or None)."""

    DEFAULT_CSS = """
    CloseOutScreen { align: center middle; }
    CloseOutScreen > #dialog {
        width: 96; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    CloseOutScreen #title { text-style: bold; color: $text-error; }
    CloseOutScreen #plan { height: auto; max-height: 16; margin: 1 0; }
    CloseOutScreen #buttons { height: auto; align-horizontal: right; }
    CloseOutScreen #buttons Button { margin-left: 1; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="close_out_cancel")]

    class Planned(Message):
        def __init__(self, info: PurgeInfo | None, lines: list[str]) -> None:
            super().__init__()
            self.info = info
            self.lines = lines

    def __init__(self, vault: str, vault_key: str, *, store: Store,
                 client: GlacierClient | None, prices: PriceTable,
                 existing: PurgeInfo | None = None) -> None:
        super().__init__()
        self.vault = vault
        self.vault_key = vault_key
        self._store = store
        self._client = client
        self._prices = prices
        self.info: PurgeInfo | None = existing
        self._resuming = existing is not None
        self.abandoned: int | None = None  # a plan made here and not started (to drop)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"Close out vault {self.vault}"), id="title")
            if self._resuming:
                yield Static(Text("A close-out of this vault is under way; it goes on from "
                                  "where it stopped."))
            else:
                yield Static(Text(
                    "Only archives whose copy is proven (restored files re-hashed, or S3 "
                    "objects checked by checksum) are deleted; the vault goes once an "
                    "inventory shows it empty."))
                yield Input(id="proofs", placeholder="proof manifests (restore-manifest-N.json, "
                            "migrate-manifest-N.csv), separated by spaces")
                yield Checkbox("Accept the early-deletion fee (archives younger than 90 days)",
                               id="accept-fee")
            with VerticalScroll(id="plan"):
                yield Static(Text(self._existing_text()), id="plan-text")
            yield Static(Text(f"Type {self.vault} to confirm:"))
            yield Input(id="typed", placeholder=self.vault)
            with Horizontal(id="buttons"):
                if not self._resuming:
                    yield Button("Check proofs", id="check", variant="primary")
                yield Button("Resume" if self._resuming else "Delete proven archives",
                             id="start", variant="error", disabled=True)
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def _existing_text(self) -> str:
        if self.info is None:
            return "No plan yet: give the manifests and press Check proofs."
        from glacier_tui.glacier.purge_text import describe_plan

        lines = describe_plan(self.info, self._prices)
        lines.append(f"status: {self.info.status.value}"
                     + (f" - {inert(self.info.message)}" if self.info.message else ""))
        return "\n".join(lines)

    def on_mount(self) -> None:
        self.query_one("#typed" if self._resuming else "#proofs", Input).focus()

    # -- checking the proofs ---------------------------------------------------------------

    @on(Button.Pressed, "#check")
    @on(Input.Submitted, "#proofs")
    def _check(self) -> None:
        text = self.query_one("#proofs", Input).value
        try:
            paths = tuple(Path(p).expanduser() for p in shlex.split(text))
        except ValueError as exc:
            self._show(None, [f"Cannot read the list of manifests: {exc}"])
            return
        if not paths:
            self._show(None, ["Give at least one proof manifest."])
            return
        self._show(None, ["Checking the proofs..."])
        self._plan(paths, self.query_one("#accept-fee", Checkbox).value)

    @work(group="close-out", exclusive=True, exit_on_error=False)
    async def _plan(self, paths: tuple[Path, ...], accept_fee: bool) -> None:
        from glacier_tui.glacier import errors
        from glacier_tui.glacier.purge import PurgeSpec, kept_examples, plan_purge
        from glacier_tui.glacier.purge_text import describe_plan

        spec = PurgeSpec(self.vault, self.vault_key, paths, accept_early_fee=accept_fee)
        try:
            info = await plan_purge(self._client, self._store, spec)
        except errors.GlacierError as exc:
            self.post_message(self.Planned(None, [exc.user_message()]))
            return
        lines = describe_plan(info, self._prices)
        for path, cls, reason in kept_examples(self._store, info.id, limit=5):
            lines.append(f"    kept ({cls}): {inert(path)}: {inert(reason)}")
        self.post_message(self.Planned(info, lines))

    def on_close_out_screen_planned(self, message: Planned) -> None:
        self._show(message.info, message.lines)

    def _show(self, info: PurgeInfo | None, lines: list[str]) -> None:
        self.info = info
        self.query_one("#plan-text", Static).update(Text("\n".join(lines)))
        self._update_start()

    # -- confirming ------------------------------------------------------------------------

    def _ready(self) -> bool:
        info = self.info
        typed = self.query_one("#typed", Input).value == self.vault
        return typed and info is not None and (self._resuming or info.deletable > 0)

    def _update_start(self) -> None:
        self.query_one("#start", Button).disabled = not self._ready()

    @on(Input.Changed, "#typed")
    def _typed(self) -> None:
        self._update_start()

    @on(Input.Submitted, "#typed")
    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        if self._ready() and self.info is not None:
            self.dismiss(self.info.id)
        else:
            self.app.bell()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.info is not None and not self._resuming:
            self.abandoned = self.info.id
        self.dismiss(None)
