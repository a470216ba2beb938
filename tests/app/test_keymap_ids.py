"""Every key binding of the program has an id, so the user's keymap can move any key.

The classes are found by importing every module under ``glacier_tui.ui`` (the same walk
the start-up keymap check does), so a new screen or widget is covered without a list here.
"""

from __future__ import annotations

from collections import Counter

import pytest
from screen_host import Host
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

from glacier_tui.config import Settings
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.keymap import (
    KeymapError,
    binding_classes,
    check_keymap,
    known_ids,
    own_bindings,
)
from glacier_tui.ui.screens.confirm import ConfirmScreen


def _declaring_classes() -> list[type]:
    return [c for c in binding_classes() if "BINDINGS" in vars(c)]


def test_the_walk_finds_screens_and_widgets_of_every_kind() -> None:
    names = {c.__name__ for c in _declaring_classes()}
    # Dialogs, full screens, widgets and the app: a walk that missed a package shows here.
    assert {"ConfirmScreen", "VaultSettingsScreen", "MarkingTree", "JobTable", "VaultTree",
            "ArchiveList", "RestoresPanel", "MainScreen", "BootScreen", "GlacierApp"} <= names
    assert all(issubclass(c, Screen | Widget) or c is GlacierApp for c in _declaring_classes())


def test_every_binding_has_an_id() -> None:
    missing = [f"{c.__module__}.{c.__qualname__}: {b.key!r} -> {b.action}"
               for c in _declaring_classes() for b in own_bindings(c) if not b.id]
    assert not missing, "bindings without an id:\n" + "\n".join(missing)


def test_no_class_gives_one_id_to_two_bindings() -> None:
    # One id names one binding of a widget (its keys may be several: "home,g"); two
    # bindings under one id would move together and read as a clash once remapped.
    for cls in _declaring_classes():
        ids = Counter(item.id for item in vars(cls)["BINDINGS"] if isinstance(item, Binding))
        assert all(n == 1 for n in ids.values()), (cls.__name__, ids)


def test_the_help_lists_every_id() -> None:
    app = GlacierApp(Settings())
    listed = {i for _title, rows in app.help_sections() for _keys, _desc, i in rows if i}
    assert known_ids() - listed == set()


def test_the_help_shows_a_remapped_key() -> None:
    app = GlacierApp(Settings(keymap={"confirm_yes": "ctrl+y", "vi_down": "ctrl+n"}))
    rows = [row for _title, rows in app.help_sections() for row in rows]
    assert ("ctrl+y", "Confirm: Yes", "confirm_yes") in rows
    assert ("ctrl+n", "Down", "vi_down") in rows


def test_new_ids_are_accepted_by_the_keymap_check() -> None:
    check_keymap({"confirm_yes": "ctrl+y", "vi_down": "ctrl+n", "settings_tab_1": "f1",
                  "upload_parent": "ctrl+u", "cursor_first": "ctrl+t"})


@pytest.mark.parametrize(("keymap", "message"), [
    ({"confirm.yes": "ctrl+y"}, "keymap: unknown binding id 'confirm.yes' (known ids: "),
    ({"confirm_yes": "n"},
     "keymap: confirm_yes = 'n' clashes with 'confirm_no' (key 'n' in ConfirmScreen)"),
    ({"vi_down": "k"}, "keymap: vi_down = 'k' clashes with 'vi_up' (key 'k' in "),
    ({"settings_tab_1": "2"},
     "keymap: settings_tab_1 = '2' clashes with 'settings_tab_2' (key '2' in "
     "VaultSettingsScreen)"),
])
def test_the_keymap_check_names_the_bad_entry(keymap: dict[str, str], message: str) -> None:
    with pytest.raises(KeymapError) as caught:
        check_keymap(keymap)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


async def test_a_dialog_key_moves_with_the_keymap() -> None:
    app = Host(ConfirmScreen("Delete?", ["a.jpg"]))
    app.set_keymap({"confirm_yes": "ctrl+y"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")  # no longer bound: the dialog stays
        for _ in range(5):
            await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+y")
        for _ in range(50):
            if not isinstance(app.screen, ConfirmScreen):
                break
            await pilot.pause(0.02)
    assert app.result is True
