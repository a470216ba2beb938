"""Pilot tests for ConfirmScreen: keyboard only, default focus on Cancel."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from screen_host import NO_RESULT, Host
from textual.widgets import Button, Input, Static

from glacier_tui.ui.screens.confirm import ConfirmScreen


def _screen(**kw: Any) -> ConfirmScreen:
    return ConfirmScreen(
        "Delete 2 archives?",
        ["Delete 2 archives from vault photos: a.jpg (2.1 MB), b.jpg (3.0 KB)"],
        confirm_label="Delete",
        **kw,
    )


async def test_default_focus_is_cancel_and_enter_cancels() -> None:
    app = Host(_screen())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")
        await pilot.pause()
    assert app.result is False


async def test_y_confirms_and_n_escape_cancel() -> None:
    for key, expected in (("y", True), ("n", False), ("escape", False)):
        app = Host(_screen())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(key)
            await pilot.pause()
        assert app.result is expected, key


async def test_enter_on_confirm_button_confirms() -> None:
    app = Host(_screen())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("shift+tab")
        assert isinstance(app.focused, Button) and app.focused.id == "confirm"
        await pilot.press("enter")
        await pilot.pause()
    assert app.result is True


async def test_body_is_plain_text_not_markup() -> None:
    screen = ConfirmScreen("[b]x[/b]", ["[red]evil[/red] name.jpg"])
    app = Host(screen)
    async with app.run_test(size=(80, 24)):
        line = screen.query(".line").first(Static)
        rendered = line.render()
        assert "[red]evil[/red]" in str(rendered)
        assert isinstance(screen._title, Text) and screen._title.plain == "[b]x[/b]"


async def test_type_to_confirm_requires_exact_name() -> None:
    app = Host(_screen(type_to_confirm="photos"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.focused, Input)
        confirm = app.screen.query_one("#confirm", Button)
        assert confirm.disabled
        # 'y' and 'n' are typed into the input, not taken as yes/no.
        await pilot.press("y", "enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        await pilot.press("backspace", *"photo")
        await pilot.press("enter")
        await pilot.pause()
        assert app.result is NO_RESULT
        await pilot.press("s")
        assert not confirm.disabled
        await pilot.press("enter")
        await pilot.pause()
    assert app.result is True


async def test_type_to_confirm_escape_cancels() -> None:
    app = Host(_screen(type_to_confirm="photos"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"photos", "escape")
        await pilot.pause()
    assert app.result is False
