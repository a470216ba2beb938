"""VaultSettingsScreen against an in-memory fake service (and the emulator, if present)."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, DataTable, Input, Static, TabbedContent, TextArea

from glacier_tui.glacier.errors import LimitExceeded
from glacier_tui.glacier.models import (
    DataRetrievalPolicy,
    ProvisionedCapacity,
    VaultLock,
    VaultNotifications,
)
from glacier_tui.ui.screens.confirm import ConfirmScreen
from glacier_tui.ui.screens.vault_settings import (
    VaultSettingsScreen,
    VaultSettingsService,
    parse_bytes_per_hour,
    validate_policy,
    validate_tag,
)

MUTATING = {
    "add_tags", "remove_tags", "set_vault_notifications", "delete_vault_notifications",
    "set_vault_access_policy", "delete_vault_access_policy", "initiate_vault_lock",
    "complete_vault_lock", "abort_vault_lock", "set_data_retrieval_policy",
    "purchase_provisioned_capacity",
}
POLICY = '{"Version":"2012-10-17","Statement":[]}'


class FakeService:
    """In-memory vault settings; records every call as (name, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.tags: dict[str, str] = {"team": "photos", "cost center": "42"}
        self.notif: VaultNotifications | None = VaultNotifications(
            sns_topic="arn:aws:sns:us-east-1:123456789012:[red]t[/red]",
            events=["ArchiveRetrievalCompleted"],
        )
        self.policy: str | None = POLICY
        self.lock: VaultLock | None = None
        self.drp = DataRetrievalPolicy()
        self.units: list[ProvisionedCapacity] = []
        self.fail_purchase = False

    def _rec(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def mutations(self) -> list[str]:
        return [name for name, _ in self.calls if name in MUTATING]

    async def list_tags(self, vault: str) -> dict[str, str]:
        self._rec("list_tags", vault)
        return dict(self.tags)

    async def add_tags(self, vault: str, tags: dict[str, str]) -> None:
        self._rec("add_tags", vault, tags)
        self.tags.update(tags)

    async def remove_tags(self, vault: str, keys: list[str]) -> None:
        self._rec("remove_tags", vault, keys)
        for key in keys:
            self.tags.pop(key, None)

    async def get_vault_notifications(self, vault: str) -> VaultNotifications | None:
        self._rec("get_vault_notifications", vault)
        return self.notif

    async def set_vault_notifications(self, vault: str, sns_topic: str,
                                      events: list[str]) -> None:
        self._rec("set_vault_notifications", vault, sns_topic, events)
        self.notif = VaultNotifications(sns_topic=sns_topic, events=events)

    async def delete_vault_notifications(self, vault: str) -> None:
        self._rec("delete_vault_notifications", vault)
        self.notif = None

    async def get_vault_access_policy(self, vault: str) -> str | None:
        self._rec("get_vault_access_policy", vault)
        return self.policy

    async def set_vault_access_policy(self, vault: str, policy: str) -> None:
        self._rec("set_vault_access_policy", vault, policy)
        self.policy = policy

    async def delete_vault_access_policy(self, vault: str) -> None:
        self._rec("delete_vault_access_policy", vault)
        self.policy = None

    async def get_vault_lock(self, vault: str) -> VaultLock | None:
        self._rec("get_vault_lock", vault)
        return self.lock

    async def initiate_vault_lock(self, vault: str, policy: str) -> str:
        self._rec("initiate_vault_lock", vault, policy)
        self.lock = VaultLock(policy=policy, state="InProgress")
        return "LOCK123"

    async def complete_vault_lock(self, vault: str, lock_id: str) -> None:
        self._rec("complete_vault_lock", vault, lock_id)

    async def abort_vault_lock(self, vault: str) -> None:
        self._rec("abort_vault_lock", vault)
        self.lock = None

    async def get_data_retrieval_policy(self) -> DataRetrievalPolicy:
        self._rec("get_data_retrieval_policy")
        return self.drp

    async def set_data_retrieval_policy(self, strategy: str,
                                        bytes_per_hour: int | None = None) -> None:
        self._rec("set_data_retrieval_policy", strategy, bytes_per_hour)
        self.drp = DataRetrievalPolicy(strategy=strategy, bytes_per_hour=bytes_per_hour)

    async def list_provisioned_capacity(self) -> list[ProvisionedCapacity]:
        self._rec("list_provisioned_capacity")
        return list(self.units)

    async def purchase_provisioned_capacity(self) -> str:
        self._rec("purchase_provisioned_capacity")
        if self.fail_purchase:
            raise LimitExceeded("capacity limit reached")
        self.units.append(ProvisionedCapacity(capacity_id="CAP1"))
        return "CAP1"


class Host(App[None]):
    def __init__(self, service: VaultSettingsService, readonly: bool = False) -> None:
        super().__init__()
        self.service = service
        self.readonly = readonly
        self.closed = False

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        def record(_: None) -> None:
            self.closed = True

        self.push_screen(VaultSettingsScreen(self.service, "photos", self.readonly), record)


def _status(pilot: Pilot[Any], section: str) -> str:
    return str(pilot.app.screen.query_one(f"#{section}-status", Static).render())


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _show(pilot: Pilot[Any], tab: str) -> None:
    pilot.app.screen.query_one(TabbedContent).active = f"tab-{tab}"
    await pilot.pause()


async def _press(pilot: Pilot[Any], button_id: str) -> None:
    """Focus a button and press it with Enter (keyboard, no mouse)."""
    button = pilot.app.screen.query_one(f"#{button_id}", Button)
    button.active_effect_duration = 0  # the 0.2 s press animation swallows quick re-presses
    button.focus()
    await pilot.press("enter")
    await _settle(pilot)


# -- pure validation ----------------------------------------------------------------


def test_validate_tag() -> None:
    assert validate_tag("team", "photos", {}) is None
    assert validate_tag("a b_.:x", "v", {}) is not None  # ':' is not allowed
    assert validate_tag("path/to=x+y-z@w", "ok value", {}) is None
    assert validate_tag("", "v", {}) is not None
    assert validate_tag("k" * 129, "v", {}) is not None
    assert validate_tag("k", "v" * 256, {}) is not None
    assert "aws:" in (validate_tag("AWS:owner", "v", {}) or "")
    assert validate_tag("k", "v;", {}) is not None
    full = {f"k{i}": "" for i in range(50)}
    assert validate_tag("new", "v", full) is not None
    assert validate_tag("k3", "overwrite", full) is None  # overwriting is not a new tag


def test_validate_policy() -> None:
    assert validate_policy(POLICY) is None
    assert validate_policy("") is not None
    assert validate_policy("[1]") is not None
    err = validate_policy('{\n  "a": 1,\n  oops\n}')
    assert err is not None and "line 3" in err and "column 3" in err
    big = '{"a":"' + "x" * 20 * 1024 + '"}'
    assert "20 KB" in (validate_policy(big) or "")


def test_parse_bytes_per_hour() -> None:
    assert parse_bytes_per_hour("1,073,741,824") == (1 << 30, None)
    assert parse_bytes_per_hour("0")[1] is not None
    assert parse_bytes_per_hour("abc")[1] is not None
    assert parse_bytes_per_hour(str(2**63))[1] is not None


# -- the screen ---------------------------------------------------------------------


async def test_loads_everything_as_plain_text() -> None:
    svc = FakeService()
    app = Host(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        screen = app.screen
        assert screen.query_one("#notif-topic", Input).value.endswith("[red]t[/red]")
        assert screen.query_one("#notif-ArchiveRetrievalCompleted", Checkbox).value
        assert not screen.query_one("#notif-InventoryRetrievalCompleted", Checkbox).value
        assert screen.query_one("#tags-table", DataTable).row_count == 2
        assert '"Version": "2012-10-17"' in screen.query_one("#policy-text", TextArea).text
        assert "none" in str(screen.query_one("#lock-state", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.closed
    assert svc.mutations() == []


async def test_readonly_disables_and_never_mutates() -> None:
    svc = FakeService()
    app = Host(svc, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        screen = app.screen
        buttons = list(screen.query(Button).results(Button))
        assert buttons and all(b.disabled for b in buttons)
        assert screen.query_one("#policy-text", TextArea).read_only
        assert screen.query_one("#notif-topic", Input).disabled
        # Try every mutating button anyway, and the keyboard on one tab.
        for button in screen.query(Button).results(Button):
            button.press()
        await _settle(pilot)
        await pilot.press("tab", "enter", "tab", "enter", "tab", "enter")
        await _settle(pilot)
        # Second guard: handlers called directly (bypassing disabled buttons) still refuse.
        assert isinstance(screen, VaultSettingsScreen)
        screen._cap_purchase()  # would push a ConfirmScreen if not read-only
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await screen._mutate("cap", svc.purchase_provisioned_capacity, "bought", lambda: None)
        assert "Read-only" in _status(pilot, "cap")
        assert not isinstance(app.screen, ConfirmScreen)
    assert svc.mutations() == []
    assert {n for n, _ in svc.calls} >= {"list_tags", "get_vault_lock"}


async def test_tags_add_validate_and_remove() -> None:
    svc = FakeService()
    app = Host(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await _show(pilot, "tags")
        app.screen.query_one("#tag-key", Input).focus()
        await pilot.press(*"aws:x", "tab", *"v", "enter")
        await _settle(pilot)
        assert "aws:" in _status(pilot, "tags")
        assert svc.mutations() == []
        app.screen.query_one("#tag-key", Input).value = ""
        app.screen.query_one("#tag-key", Input).focus()
        await pilot.press(*"env", "enter")
        await _settle(pilot)
        assert svc.tags["env"] == "v"
        assert app.screen.query_one("#tags-table", DataTable).row_count == 3
        # Remove the highlighted row (sorted: "cost center" first).
        app.screen.query_one("#tags-table", DataTable).focus()
        await _press(pilot, "tag-remove")
        assert ("remove_tags", ("photos", ["cost center"])) in svc.calls


async def test_policy_invalid_json_shows_position_then_saves() -> None:
    svc = FakeService()
    app = Host(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await _show(pilot, "policy")
        area = app.screen.query_one("#policy-text", TextArea)
        area.text = '{\n  "Version": 1,\n}'
        await _press(pilot, "policy-save")
        assert "line 3" in _status(pilot, "policy")
        assert svc.mutations() == []
        area.text = '{"Version": "2012-10-17"}'
        await _press(pilot, "policy-save")
        assert svc.policy == '{"Version": "2012-10-17"}'
        await _press(pilot, "policy-delete")
        assert svc.policy is None


async def test_notifications_save_and_delete() -> None:
    svc = FakeService()
    app = Host(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        app.screen.query_one("#notif-InventoryRetrievalCompleted", Checkbox).focus()
        await pilot.press("space")
        await _press(pilot, "notif-save")
        assert svc.notif is not None
        assert svc.notif.events == ["ArchiveRetrievalCompleted", "InventoryRetrievalCompleted"]
        await _press(pilot, "notif-delete")
        assert svc.notif is None
        assert app.screen.query_one("#notif-topic", Input).value == ""


async def test_lock_steps_need_confirmation() -> None:
    svc = FakeService()
    app = Host(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await _show(pilot, "lock")
        app.screen.query_one("#lock-policy", TextArea).text = POLICY
        await _press(pilot, "lock-initiate")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # cancelled: nothing sent
        await _settle(pilot)
        assert svc.mutations() == []
        await _press(pilot, "lock-initiate")
        await pilot.press("y")
        await _settle(pilot)
        assert svc.mutations() == ["initiate_vault_lock"]
        assert app.screen.query_one("#lock-id", Input).value == "LOCK123"
        assert "InProgress" in str(app.screen.query_one("#lock-state", Static).render())
        await _press(pilot, "lock-complete")
        await pilot.press("y")
        await _settle(pilot)
        assert ("complete_vault_lock", ("photos", "LOCK123")) in svc.calls


async def test_retrieval_policy_and_capacity_error_inline() -> None:
    svc = FakeService()
    svc.fail_purchase = True
    app = Host(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        await _show(pilot, "retrieval")
        app.screen.query_one("#drp-strategy").focus()
        await pilot.press("down", "down", "enter")  # None → FreeTier → BytesPerHour
        await _press(pilot, "drp-save")
        assert "whole number" in _status(pilot, "drp")
        app.screen.query_one("#drp-bytes", Input).value = "1048576"
        await _press(pilot, "drp-save")
        assert svc.drp == DataRetrievalPolicy(strategy="BytesPerHour", bytes_per_hour=1048576)
        await _show(pilot, "capacity")
        await _press(pilot, "cap-purchase")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await _settle(pilot)
        assert "capacity limit reached" in _status(pilot, "cap")
        assert "Limits:" in _status(pilot, "cap")


async def test_against_emulator(emulator_url: str) -> None:
    """The real GlacierClient against the emulator satisfies the protocol end to end."""
    from glacier_tui.glacier.client import ClientOptions, GlacierClient

    opts = ClientOptions(endpoint_url=emulator_url, region="us-east-1", max_attempts=1)
    async with GlacierClient(opts) as client:
        await client.create_vault("photos")
        await client.add_tags("photos", {"team": "photos"})
        app = Host(client)
        async with app.run_test(size=(80, 24)) as pilot:
            await _settle(pilot)
            assert app.screen.query_one("#tags-table", DataTable).row_count == 1
            assert app.screen.query_one("#notif-topic", Input).value == ""
            await _show(pilot, "policy")
            app.screen.query_one("#policy-text", TextArea).text = POLICY
            await _press(pilot, "policy-save")
            assert "saved" in _status(pilot, "policy")
        assert await client.get_vault_access_policy("photos") is not None
