"""Pilot tests for RestoreScreen: keyboard only, inline errors refuse confirmation."""

from __future__ import annotations

from typing import Any

from screen_host import NO_RESULT, Host
from textual.app import App
from textual.events import Paste
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from glacier_tui.config import DEFAULT_PRICES
from glacier_tui.glacier.models import Tier
from glacier_tui.ui.restore_model import MIB, ArchiveRef, RestoreRequest
from glacier_tui.ui.screens.restore import RestoreScreen

ONE = [ArchiveRef("A" * 138, "photos/2024/[red]beach[/red].jpg", 6 * MIB + MIB // 2)]
MANY = [ArchiveRef(f"id{i}", f"docs/file{i}.pdf", (i + 1) * 700_000) for i in range(5)]


async def paste(pilot: Pilot[Any], text: str) -> None:
    """A terminal paste into the focused field (what users do with ARNs); faster than keys."""
    assert pilot.app.focused is not None
    pilot.app.focused.post_message(Paste(text))
    await pilot.pause()


def _error_text(app: App[Any]) -> str:
    return str(app.screen.query_one("#error", Static).render())


async def test_defaults_confirm_with_enter_in_a_field() -> None:
    app = Host(RestoreScreen(MANY, DEFAULT_PRICES, "Bulk"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.screen.query("#range")  # no range for several archives
        await pilot.press("tab")  # tier → SNS
        assert isinstance(app.focused, Input) and app.focused.id == "sns"
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.result, RestoreRequest)
    assert app.result.tier is Tier.BULK
    assert app.result.byte_range is None
    assert app.result.sns_topic is None and app.result.description is None
    assert [a.archive_id for a in app.result.archives] == [f"id{i}" for i in range(5)]


async def test_choose_tier_range_topic_description() -> None:
    app = Host(RestoreScreen(ONE, DEFAULT_PRICES, "Standard"))
    async with app.run_test(size=(80, 24)) as pilot:
        # RadioSet has focus: up highlights Expedited, space picks it (enter would confirm).
        await pilot.press("up", "space")
        await pilot.press("tab")
        await paste(pilot, f"{MIB}-{3 * MIB - 1}")
        await pilot.press("tab")
        await paste(pilot, "arn:aws:sns:us-east-1:123456789012:restores")
        await pilot.press("tab", *"restore beach")
        await pilot.press("enter")
        await pilot.pause()
    req = app.result
    assert isinstance(req, RestoreRequest)
    assert req.tier is Tier.EXPEDITED
    assert req.byte_range == (MIB, 3 * MIB - 1)
    assert req.range_text == f"{MIB}-{3 * MIB - 1}"
    assert req.sns_topic == "arn:aws:sns:us-east-1:123456789012:restores"
    assert req.description == "restore beach"


async def test_invalid_range_stays_open_with_error() -> None:
    app = Host(RestoreScreen(ONE, DEFAULT_PRICES, "Standard"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", *"1-1048575", "enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        assert isinstance(app.screen, RestoreScreen)
        assert "MiB-aligned" in _error_text(app)
        # Fixing it clears the error and confirms.
        await pilot.press("ctrl+u")
        await paste(pilot, "0-1048575")
        assert _error_text(app) == ""
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.result, RestoreRequest)
    assert app.result.byte_range == (0, MIB - 1)


async def test_bad_topic_and_description_refused() -> None:
    app = Host(RestoreScreen(MANY, DEFAULT_PRICES, "Standard"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", *"restores", "tab", *"caf\u00e9", "enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        text = _error_text(app)
        assert "SNS topic" in text and "ASCII" in text


async def test_escape_cancels() -> None:
    app = Host(RestoreScreen(ONE, DEFAULT_PRICES, "Standard"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", *"0-5", "escape")
        await pilot.pause()
    assert app.result is None


async def test_costs_follow_the_range_and_names_are_plain() -> None:
    prices = {"Expedited": {"per_gb": 1024.0, "per_1000_requests": 0.0},
              "Standard": {"per_gb": 0.0, "per_1000_requests": 0.0},
              "Bulk": {"per_gb": 0.0, "per_1000_requests": 0.0}}
    app = Host(RestoreScreen(ONE, prices, "Standard"))
    async with app.run_test(size=(80, 24)) as pilot:
        exp = app.screen.query_one("#tier-Expedited", RadioButton)
        assert "$6.50" in str(exp.label)  # 6.5 MiB at $1024/GiB
        await pilot.press("tab", *"0-1048575")
        assert "$1.00" in str(exp.label)
        assert "[red]beach[/red]" in str(app.screen.query_one("#names", Static).render())


async def test_enter_on_a_tier_confirms_that_tier() -> None:
    app = Host(RestoreScreen(MANY, DEFAULT_PRICES, "Standard"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")  # highlight Bulk, confirm with it
        await pilot.pause()
    assert isinstance(app.result, RestoreRequest)
    assert app.result.tier is Tier.BULK


def test_tier_costs_come_from_the_price_table() -> None:
    from glacier_tui.glacier.pricing import DEFAULT_PRICES as TABLE

    screen = RestoreScreen(MANY, {"Bulk": {"per_gb": 1024.0, "per_1000_requests": 0.0}})
    label = screen._tier_label(Tier.BULK, 1024**3).plain
    assert label.endswith("est. $1,024.00")
    standard = TABLE.tier("Standard")
    cost = standard.per_gb + 5 / 1000 * standard.per_1000_requests  # 1 GiB, 5 archives
    assert screen._tier_label(Tier.STANDARD, 1024**3).plain.endswith(f"est. ${cost:,.2f}")
