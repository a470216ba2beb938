"""Vault settings: notifications, tags, access policy, vault lock, retrieval policy, capacity.

Every call runs in an async worker on the app loop (so widgets are only touched from
the loop). In readonly mode every mutating control is disabled and ``_mutate`` refuses
before any call is made. Service errors are shown inline, as plain text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Input,
    RadioButton,
    RadioSet,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
    TextArea,
)

from glacier_tui.glacier.models import (
    DataRetrievalPolicy,
    ProvisionedCapacity,
    RetrievalStrategy,
    VaultLock,
    VaultNotifications,
)
from glacier_tui.ui.formatting import clean, user_message
from glacier_tui.ui.screens.confirm import ConfirmScreen
from glacier_tui.ui.worker_errors import ReportsWorkerErrors

EVENTS = ("ArchiveRetrievalCompleted", "InventoryRetrievalCompleted")
MAX_TAGS = 50
MAX_POLICY_BYTES = 20 * 1024
MAX_BYTES_PER_HOUR = 2**63 - 1
_TAG_EXTRA = set(" _./=+-@")


class VaultSettingsService(Protocol):
    """The subset of GlacierClient this screen calls; GlacierClient satisfies it."""

    async def list_tags(self, vault: str) -> dict[str, str]: ...
    async def add_tags(self, vault: str, tags: dict[str, str]) -> None: ...
    async def remove_tags(self, vault: str, keys: list[str]) -> None: ...
    async def get_vault_notifications(self, vault: str) -> VaultNotifications | None: ...
    async def set_vault_notifications(
        self, vault: str, sns_topic: str, events: list[str]
    ) -> None: ...
    async def delete_vault_notifications(self, vault: str) -> None: ...
    async def get_vault_access_policy(self, vault: str) -> str | None: ...
    async def set_vault_access_policy(self, vault: str, policy: str) -> None: ...
    async def delete_vault_access_policy(self, vault: str) -> None: ...
    async def get_vault_lock(self, vault: str) -> VaultLock | None: ...
    async def initiate_vault_lock(self, vault: str, policy: str) -> str: ...
    async def complete_vault_lock(self, vault: str, lock_id: str) -> None: ...
    async def abort_vault_lock(self, vault: str) -> None: ...
    async def get_data_retrieval_policy(self) -> DataRetrievalPolicy: ...
    async def set_data_retrieval_policy(
        self, strategy: str, bytes_per_hour: int | None = None
    ) -> None: ...
    async def list_provisioned_capacity(self) -> list[ProvisionedCapacity]: ...
    async def purchase_provisioned_capacity(self) -> str: ...


# -- pure validation (unit tested) ----------------------------------------------


def validate_tag(key: str, value: str, existing: dict[str, str]) -> str | None:
    """An error message for adding ``key=value`` to ``existing`` tags, or None (at most 50 tags)."""
    if not key:
        return "Tag key is empty."
    if len(key) > 128:
        return f"Tag key is {len(key)} characters; at most 128."
    if len(value) > 255:
        return f"Tag value is {len(value)} characters; at most 255."
    if key.lower().startswith("aws:"):
        return "Tag keys may not start with 'aws:'."
    for what, text in (("key", key), ("value", value)):
        bad = sorted({c for c in text if not (c.isalnum() or c in _TAG_EXTRA)})
        if bad:
            return (f"Tag {what} has disallowed characters {''.join(bad)!r}; allowed: "
                    "letters, digits, spaces and _ . / = + - @")
    if key not in existing and len(existing) >= MAX_TAGS:
        return f"A vault has at most {MAX_TAGS} tags."
    return None


def validate_policy(text: str) -> str | None:
    """An error message for a vault access/lock policy, or None when it may be sent."""
    if not text.strip():
        return "The policy is empty."
    size = len(text.encode("utf-8"))
    if size > MAX_POLICY_BYTES:
        return f"The policy is {size} bytes; at most {MAX_POLICY_BYTES} (20 KB)."
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
    if not isinstance(doc, dict):
        return "The policy must be a JSON object ({...})."
    return None


def parse_bytes_per_hour(text: str) -> tuple[int | None, str | None]:
    """(value, None) or (None, error) for the BytesPerHour cap."""
    text = text.strip().replace(",", "").replace("_", "")
    if not text.isdigit():
        return None, "Bytes per hour must be a whole number."
    value = int(text)
    if not 1 <= value <= MAX_BYTES_PER_HOUR:
        return None, f"Bytes per hour must be between 1 and {MAX_BYTES_PER_HOUR}."
    return value, None


def _when(date: datetime | None) -> str:
    return date.strftime("%Y-%m-%d %H:%M UTC") if date else "-"


# -- the screen -----------------------------------------------------------------


TAB_IDS = ("tab-notifications", "tab-tags", "tab-policy", "tab-lock", "tab-retrieval",
           "tab-capacity")


class VaultSettingsScreen(ReportsWorkerErrors, ModalScreen[None]):
    """All per-vault (and the account-wide retrieval) settings, one tab each."""

    DEFAULT_CSS = """
    VaultSettingsScreen {
        background: $background;
        overflow: hidden;
    }
    VaultSettingsScreen #tabs {
        height: 1fr;
    }
    VaultSettingsScreen #tabs > ContentSwitcher {
        height: 1fr;
    }
    VaultSettingsScreen #header {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    VaultSettingsScreen TabPane {
        padding: 0 1;
        height: 1fr;
    }
    VaultSettingsScreen .status {
        height: auto;
        color: $text-error;
    }
    VaultSettingsScreen .note {
        height: auto;
        color: $text-muted;
    }
    VaultSettingsScreen .buttons {
        height: 1;
        margin-top: 1;
    }
    VaultSettingsScreen .buttons Button {
        margin-right: 2;
    }
    VaultSettingsScreen .row {
        height: 1;
        margin-top: 1;
    }
    VaultSettingsScreen .row Static {
        width: 14;
    }
    VaultSettingsScreen .row Input {
        width: 1fr;
    }
    VaultSettingsScreen TextArea {
        height: 1fr;
        min-height: 4;
    }
    VaultSettingsScreen DataTable {
        height: 1fr;
        min-height: 3;
    }
    """

    # [ ] and 1-6 switch tabs from anywhere but a text field (where they are typed).
    BINDINGS = [
        Binding("escape", "close", "Close", id="settings_close"),
        Binding("left_square_bracket", "switch_tab(-1)", "Prev tab", id="settings_prev_tab"),
        Binding("right_square_bracket", "switch_tab(1)", "Next tab", id="settings_next_tab"),
        *(Binding(str(n), f"show_tab({n - 1})", f"Tab {n}", id=f"settings_tab_{n}", show=False)
          for n in range(1, len(TAB_IDS) + 1)),
    ]

    def __init__(self, service: VaultSettingsService, vault_name: str,
                 readonly: bool = False) -> None:
        super().__init__()
        self._service = service
        self._vault = vault_name
        self._readonly = readonly
        self._tags: dict[str, str] = {}

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        mode = "  (read-only)" if self._readonly else ""
        yield Static(Text(f"Settings of vault {clean(self._vault)}{mode}"), id="header")
        with TabbedContent(id="tabs"):
            with TabPane("Notifications", id="tab-notifications"), VerticalScroll():
                with Horizontal(classes="row"):
                    yield Static("SNS topic")
                    yield Input(id="notif-topic", compact=True, classes="mutating",
                                placeholder="arn:aws:sns:region:account:topic")
                for event in EVENTS:
                    yield Checkbox(event, id=f"notif-{event}", classes="mutating",
                                   compact=True)
                with Horizontal(classes="buttons"):
                    yield Button("Save", id="notif-save", classes="mutating", compact=True)
                    yield Button("Delete", id="notif-delete", classes="mutating",
                                 compact=True)
                yield Static("", id="notif-status", classes="status")
            with TabPane("Tags", id="tab-tags"), Vertical():
                yield DataTable(id="tags-table", cursor_type="row")
                with Horizontal(classes="row"):
                    yield Static("Key")
                    yield Input(id="tag-key", compact=True, classes="mutating",
                                max_length=200)
                with Horizontal(classes="row"):
                    yield Static("Value")
                    yield Input(id="tag-value", compact=True, classes="mutating",
                                max_length=300)
                with Horizontal(classes="buttons"):
                    yield Button("Add", id="tag-add", classes="mutating", compact=True)
                    yield Button("Remove selected", id="tag-remove", classes="mutating",
                                 compact=True)
                yield Static("", id="tags-status", classes="status")
            with TabPane("Access policy", id="tab-policy"), Vertical():
                yield self._json_editor("policy-text")
                with Horizontal(classes="buttons"):
                    yield Button("Save", id="policy-save", classes="mutating", compact=True)
                    yield Button("Delete", id="policy-delete", classes="mutating",
                                 compact=True)
                yield Static("", id="policy-status", classes="status")
            with TabPane("Vault lock", id="tab-lock"), Vertical():
                yield Static("Lock: loading…", id="lock-state")
                yield self._json_editor("lock-policy")
                with Horizontal(classes="row"):
                    yield Static("Lock ID")
                    yield Input(id="lock-id", compact=True, classes="mutating")
                with Horizontal(classes="buttons"):
                    yield Button("Initiate", id="lock-initiate", classes="mutating",
                                 compact=True)
                    yield Button("Complete", id="lock-complete", classes="mutating",
                                 compact=True)
                    yield Button("Abort", id="lock-abort", classes="mutating", compact=True)
                yield Static("", id="lock-status", classes="status")
            with TabPane("Retrieval policy", id="tab-retrieval"), VerticalScroll():
                yield Static(
                    "Account-wide for this region: applies to every vault, and only to "
                    "Standard retrievals.", classes="note")
                with RadioSet(id="drp-strategy", classes="mutating", compact=True):
                    for strategy in RetrievalStrategy:
                        yield RadioButton(strategy.value, id=f"drp-{strategy.value}",
                                          value=strategy is RetrievalStrategy.NONE)
                with Horizontal(classes="row"):
                    yield Static("Bytes/hour")
                    yield Input(id="drp-bytes", compact=True, classes="mutating",
                                placeholder="only for BytesPerHour")
                with Horizontal(classes="buttons"):
                    yield Button("Save", id="drp-save", classes="mutating", compact=True)
                yield Static("", id="drp-status", classes="status")
            with TabPane("Provisioned capacity", id="tab-capacity"), Vertical():
                yield Static(
                    "Account-wide: each unit guarantees Expedited retrievals for one month "
                    "and is billed as a monthly commitment (at most 2 units).",
                    classes="note")
                yield DataTable(id="cap-table", cursor_type="row")
                with Horizontal(classes="buttons"):
                    yield Button("Purchase unit…", id="cap-purchase", classes="mutating",
                                 compact=True)
                yield Static("", id="cap-status", classes="status")
        yield Footer()

    def action_switch_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        current = TAB_IDS.index(tabs.active) if tabs.active in TAB_IDS else 0
        self.action_show_tab((current + step) % len(TAB_IDS))

    def action_show_tab(self, index: int) -> None:
        if not 0 <= index < len(TAB_IDS):
            return
        tabs = self.query_one(TabbedContent)
        tabs.active = TAB_IDS[index]
        tabs.query_one(Tabs).focus()  # so the next [ ] or digit switches again

    def _json_editor(self, widget_id: str) -> TextArea:
        area = TextArea(id=widget_id, read_only=self._readonly, show_line_numbers=True)
        # Highlighting needs tree-sitter's JSON grammar; without it, plain text.
        if "json" in area.available_languages:
            area.language = "json"
        return area

    def on_mount(self) -> None:
        self.query_one("#tags-table", DataTable).add_columns("Key", "Value")
        self.query_one("#cap-table", DataTable).add_columns("Capacity ID", "Start", "Expires")
        if self._readonly:
            # Read-only: every control that could lead to a mutating call is disabled.
            for widget in self.query(".mutating"):
                widget.disabled = True
        self._load_notifications()
        self._load_tags()
        self._load_policy()
        self._load_lock()
        self._load_retrieval()
        self._load_capacity()

    # -- helpers -----------------------------------------------------------------

    def _status(self, section: str, message: str, ok: bool = False) -> None:
        widget = self.query_one(f"#{section}-status", Static)
        widget.styles.color = "green" if ok else None
        widget.update(Text(message))

    async def _mutate(
        self,
        section: str,
        call: Callable[[], Awaitable[Any]],
        done: str,
        reload: Callable[[], object],
    ) -> Any:
        """Run one mutating call; never in readonly mode. Returns its result or None."""
        if self._readonly:
            self._status(section, "Read-only mode: nothing was changed.")
            return None
        self._status(section, "Working…", ok=True)
        try:
            result = await call()
        except Exception as exc:  # every failure is shown inline, never crashes the app
            self._status(section, user_message(exc))
            return None
        self._status(section, done, ok=True)
        reload()
        return result

    # -- loaders -----------------------------------------------------------------

    @work(exclusive=True, group="vs-notifications")
    async def _load_notifications(self) -> None:
        try:
            notif = await self._service.get_vault_notifications(self._vault)
        except Exception as exc:
            self._status("notif", user_message(exc))
            return
        self.query_one("#notif-topic", Input).value = notif.sns_topic if notif else ""
        for event in EVENTS:
            self.query_one(f"#notif-{event}", Checkbox).value = bool(
                notif and event in notif.events
            )
        if notif is None:
            self._status("notif", "No notifications are configured.", ok=True)

    @work(exclusive=True, group="vs-tags")
    async def _load_tags(self) -> None:
        try:
            tags = await self._service.list_tags(self._vault)
        except Exception as exc:
            self._status("tags", user_message(exc))
            return
        self._tags = dict(tags)
        table = self.query_one("#tags-table", DataTable)
        table.clear()
        for key, value in sorted(tags.items()):
            table.add_row(Text(clean(key)), Text(clean(value)), key=key)

    @work(exclusive=True, group="vs-policy")
    async def _load_policy(self) -> None:
        try:
            policy = await self._service.get_vault_access_policy(self._vault)
        except Exception as exc:
            self._status("policy", user_message(exc))
            return
        self.query_one("#policy-text", TextArea).text = _pretty(policy or "")
        if policy is None:
            self._status("policy", "No access policy is set.", ok=True)

    @work(exclusive=True, group="vs-lock")
    async def _load_lock(self) -> None:
        try:
            lock = await self._service.get_vault_lock(self._vault)
        except Exception as exc:
            self._status("lock", user_message(exc))
            return
        state = self.query_one("#lock-state", Static)
        if lock is None:
            state.update(Text("Lock: none. Initiating starts a 24-hour test period."))
            return
        state.update(Text(f"Lock: {clean(lock.state)}, created {_when(lock.creation_date)}, "
                          f"expires {_when(lock.expiration_date)}"))
        self.query_one("#lock-policy", TextArea).text = _pretty(lock.policy)

    @work(exclusive=True, group="vs-retrieval")
    async def _load_retrieval(self) -> None:
        try:
            policy = await self._service.get_data_retrieval_policy()
        except Exception as exc:
            self._status("drp", user_message(exc))
            return
        found = self.query(f"#drp-{policy.strategy}")
        if found:
            found.first(RadioButton).value = True
        self.query_one("#drp-bytes", Input).value = (
            str(policy.bytes_per_hour) if policy.bytes_per_hour is not None else ""
        )

    @work(exclusive=True, group="vs-capacity")
    async def _load_capacity(self) -> None:
        try:
            units = await self._service.list_provisioned_capacity()
        except Exception as exc:
            self._status("cap", user_message(exc))
            return
        table = self.query_one("#cap-table", DataTable)
        table.clear()
        for unit in units:
            table.add_row(Text(clean(unit.capacity_id)), _when(unit.start_date),
                          _when(unit.expiration_date))
        if not units:
            self._status("cap", "No provisioned capacity units.", ok=True)

    # -- notifications -------------------------------------------------------------

    @on(Button.Pressed, "#notif-save")
    @work(exclusive=True, group="vs-mutate")
    async def _notif_save(self) -> None:
        topic = self.query_one("#notif-topic", Input).value.strip()
        events = [e for e in EVENTS if self.query_one(f"#notif-{e}", Checkbox).value]
        if not topic or not events:
            self._status("notif", "Enter an SNS topic ARN and tick at least one event.")
            return
        await self._mutate(
            "notif",
            lambda: self._service.set_vault_notifications(self._vault, topic, events),
            "Notifications saved.", self._load_notifications,
        )

    @on(Button.Pressed, "#notif-delete")
    @work(exclusive=True, group="vs-mutate")
    async def _notif_delete(self) -> None:
        await self._mutate(
            "notif", lambda: self._service.delete_vault_notifications(self._vault),
            "Notifications deleted.", self._load_notifications,
        )

    # -- tags ----------------------------------------------------------------------

    @on(Input.Submitted, "#tag-key,#tag-value")
    @on(Button.Pressed, "#tag-add")
    @work(exclusive=True, group="vs-mutate")
    async def _tag_add(self) -> None:
        key = self.query_one("#tag-key", Input).value
        value = self.query_one("#tag-value", Input).value
        if err := validate_tag(key, value, self._tags):
            self._status("tags", err)
            return
        await self._mutate(
            "tags", lambda: self._service.add_tags(self._vault, {key: value}),
            f"Tag {key} saved.", self._load_tags,
        )
        self.query_one("#tag-key", Input).value = ""
        self.query_one("#tag-value", Input).value = ""

    @on(Button.Pressed, "#tag-remove")
    @work(exclusive=True, group="vs-mutate")
    async def _tag_remove(self) -> None:
        table = self.query_one("#tags-table", DataTable)
        if not table.row_count:
            self._status("tags", "There is no tag to remove.")
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        key = str(row_key.value)
        await self._mutate(
            "tags", lambda: self._service.remove_tags(self._vault, [key]),
            f"Tag {key} removed.", self._load_tags,
        )

    # -- access policy ---------------------------------------------------------------

    @on(Button.Pressed, "#policy-save")
    @work(exclusive=True, group="vs-mutate")
    async def _policy_save(self) -> None:
        text = self.query_one("#policy-text", TextArea).text
        if err := validate_policy(text):
            self._status("policy", err + " Nothing was sent.")
            return
        await self._mutate(
            "policy", lambda: self._service.set_vault_access_policy(self._vault, text),
            "Access policy saved.", self._load_policy,
        )

    @on(Button.Pressed, "#policy-delete")
    @work(exclusive=True, group="vs-mutate")
    async def _policy_delete(self) -> None:
        await self._mutate(
            "policy", lambda: self._service.delete_vault_access_policy(self._vault),
            "Access policy deleted.", self._load_policy,
        )

    # -- vault lock (each step behind a confirmation) ------------------------------------

    @on(Button.Pressed, "#lock-initiate")
    def _lock_initiate(self) -> None:
        text = self.query_one("#lock-policy", TextArea).text
        if err := validate_policy(text):
            self._status("lock", err + " Nothing was sent.")
            return
        self._confirm(
            "Initiate vault lock?",
            [f"Attach the lock policy to vault {self._vault} in the InProgress state.",
             "You then have 24 hours to test it and complete the lock with its lock ID, "
             "or abort it."],
            "Initiate", self._do_lock_initiate, text,
        )

    @work(exclusive=True, group="vs-mutate")
    async def _do_lock_initiate(self, text: str) -> None:
        lock_id = await self._mutate(
            "lock", lambda: self._service.initiate_vault_lock(self._vault, text),
            "Vault lock initiated (InProgress). Its lock ID is filled in below.",
            self._load_lock,
        )
        if lock_id:
            self.query_one("#lock-id", Input).value = str(lock_id)

    @on(Button.Pressed, "#lock-complete")
    def _lock_complete(self) -> None:
        lock_id = self.query_one("#lock-id", Input).value.strip()
        if not lock_id:
            self._status("lock", "Enter the lock ID returned when the lock was initiated.")
            return
        self._confirm(
            "Complete vault lock? This is permanent.",
            [f"Vault {self._vault}'s lock policy becomes immutable: it can never be "
             "changed or removed, not even by the account root."],
            "Lock forever", self._do_lock_complete, lock_id,
        )

    @work(exclusive=True, group="vs-mutate")
    async def _do_lock_complete(self, lock_id: str) -> None:
        await self._mutate(
            "lock", lambda: self._service.complete_vault_lock(self._vault, lock_id),
            "Vault locked.", self._load_lock,
        )

    @on(Button.Pressed, "#lock-abort")
    def _lock_abort(self) -> None:
        self._confirm(
            "Abort vault lock?",
            [f"Remove the in-progress lock policy from vault {self._vault}."],
            "Abort lock", self._do_lock_abort, None,
        )

    @work(exclusive=True, group="vs-mutate")
    async def _do_lock_abort(self, _: None) -> None:
        await self._mutate(
            "lock", lambda: self._service.abort_vault_lock(self._vault),
            "Vault lock aborted.", self._load_lock,
        )

    # -- data retrieval policy ---------------------------------------------------------

    @on(Button.Pressed, "#drp-save")
    @work(exclusive=True, group="vs-mutate")
    async def _drp_save(self) -> None:
        pressed = self.query_one("#drp-strategy", RadioSet).pressed_button
        strategy = (pressed.id or "drp-None").removeprefix("drp-") if pressed else "None"
        bytes_per_hour: int | None = None
        if strategy == RetrievalStrategy.BYTES_PER_HOUR:
            bytes_per_hour, err = parse_bytes_per_hour(self.query_one("#drp-bytes", Input).value)
            if err:
                self._status("drp", err)
                return
        await self._mutate(
            "drp",
            lambda: self._service.set_data_retrieval_policy(strategy, bytes_per_hour),
            f"Data retrieval policy set to {strategy}.", self._load_retrieval,
        )

    # -- provisioned capacity ------------------------------------------------------------

    @on(Button.Pressed, "#cap-purchase")
    def _cap_purchase(self) -> None:
        self._confirm(
            "Purchase a provisioned capacity unit?",
            ["This is a paid monthly commitment: the unit is billed for a full month "
             "from purchase and cannot be cancelled. At most 2 units per account."],
            "Purchase", self._do_cap_purchase, None,
        )

    @work(exclusive=True, group="vs-mutate")
    async def _do_cap_purchase(self, _: None) -> None:
        capacity_id = await self._mutate(
            "cap", self._service.purchase_provisioned_capacity,
            "Capacity unit purchased.", self._load_capacity,
        )
        if capacity_id:
            self._status("cap", f"Capacity unit {capacity_id} purchased.", ok=True)

    # -- shared ------------------------------------------------------------------------

    def _confirm(self, title: str, body: list[str], label: str,
                 then: Callable[[Any], object], arg: Any) -> None:
        if self._readonly:  # buttons are disabled; this guards key bindings or bugs
            return

        def answered(ok: bool | None) -> None:
            if ok:
                then(arg)

        self.app.push_screen(ConfirmScreen(title, body, confirm_label=label), answered)

    def action_close(self) -> None:
        self.dismiss(None)


def _pretty(policy: str) -> str:
    """Indent a policy for editing; leave it as is when it is not JSON."""
    if not policy:
        return ""
    try:
        return json.dumps(json.loads(policy), indent=2)
    except ValueError:
        return policy
