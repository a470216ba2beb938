"""Pilot tests for CreateVaultScreen and DeleteVaultScreen (keyboard only)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from screen_host import NO_RESULT, Host
from textual.widgets import Button, Static

from glacier_tui.glacier.models import Vault
from glacier_tui.ui.screens.create_vault import CreateVaultScreen, validate_vault_name
from glacier_tui.ui.screens.delete_vault import (
    DeleteVaultChoice,
    DeleteVaultScreen,
    vault_looks_empty,
)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("photos", True), ("a.b_c-D9", True), ("x" * 255, True), ("", False), ("x" * 256, False),
     ("my vault", False), ("ph/otos", False), ("caf\u00e9", False)],
)
def test_vault_name_rules(name: str, ok: bool) -> None:
    assert (validate_vault_name(name) is None) is ok


async def test_create_vault_invalid_then_valid() -> None:
    app = Host(CreateVaultScreen(existing={"old"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"my v", "enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        assert "letters, digits" in str(app.screen.query_one("#error", Static).render())
        await pilot.press("backspace", "backspace", *"old")
        await pilot.press("enter")
        await pilot.pause()
    assert app.result == "myold"


async def test_create_vault_existing_refused_and_escape() -> None:
    app = Host(CreateVaultScreen(existing={"old"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"old", "enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        assert "already exists" in str(app.screen.query_one("#error", Static).render())
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


def _vault(count: int | None, size: int | None = 0) -> Vault:
    return Vault(name="photos", arn="arn:aws:glacier:us-east-1:1:vaults/photos",
                 number_of_archives=count, size_in_bytes=size,
                 last_inventory_date=datetime(2025, 1, 10, 8, 0, tzinfo=UTC))


def test_vault_looks_empty() -> None:
    assert vault_looks_empty(_vault(0), 0)
    assert vault_looks_empty(_vault(None, None), None)
    assert not vault_looks_empty(_vault(3), 3)
    assert not vault_looks_empty(_vault(0), 2)  # our cached inventory knows better
    assert not vault_looks_empty(_vault(None, 100), None)


async def test_delete_empty_vault_needs_name() -> None:
    app = Host(DeleteVaultScreen(_vault(0), 0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"photo", "enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        await pilot.press("s", "enter")
        await pilot.pause()
    assert app.result is DeleteVaultChoice.DELETE_VAULT


async def test_non_empty_vault_offers_deleting_archives() -> None:
    screen = DeleteVaultScreen(_vault(12), 12)
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not screen.empty
        body = " ".join(str(s.render()) for s in screen.query("#body Static").results(Static))
        assert "once a day" in body and "(12 archives)" in body
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("shift+tab")
        assert app.focused is not None and app.focused.id == "delete-archives"
        await pilot.press("enter")
        await pilot.pause()
    assert app.result is DeleteVaultChoice.DELETE_ALL_ARCHIVES


async def test_recently_written_vault_gets_guidance_and_cancel() -> None:
    screen = DeleteVaultScreen(_vault(0), 0, recently_written=True)
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not screen.empty
        assert screen.query_one("#delete-archives", Button).disabled  # nothing to delete
        await pilot.press("enter")  # focus is on Cancel
        await pilot.pause()
    assert app.result is None
