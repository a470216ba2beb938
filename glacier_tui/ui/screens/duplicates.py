"""Duplicates: groups of archives of one vault that hold the same bytes (same tree hash)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from glacier_tui.glacier.descriptions import safe_text
from glacier_tui.ui.formatting import human_size


def render_groups(vault: str, groups: list[Any]) -> Text:
    """Plain text (never markup) listing each group and its archives."""
    t = Text(no_wrap=False)
    if not groups:
        t.append(f"No duplicate archives in {safe_text(vault)}.", style="dim italic")
        return t
    wasted = sum((len(g.archives) - 1) * (g.size or 0) for g in groups)
    t.append(f"{len(groups)} group(s); {human_size(wasted)} stored more than once.\n\n",
             style="bold")
    for g in groups:
        t.append(f"These {len(g.archives)} archives hold the same bytes "
                 f"({human_size(g.size)}, tree hash {g.tree_hash[:16]}…):\n", style="bold")
        for row in g.archives:
            t.append(f"  {safe_text(row.path)}", style="")
            t.append(f"  {row.created or ''}  {row.archive_id[:12]}…\n", style="dim")
        t.append("\n")
    return t


class DuplicatesScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    DuplicatesScreen { align: center middle; }
    DuplicatesScreen > Vertical {
        width: 90%; max-width: 120; height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    DuplicatesScreen VerticalScroll { height: 1fr; }
    DuplicatesScreen #dup-hint { color: $text-muted; height: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss_screen", "Close", id="duplicates_close"),
    ]

    def __init__(self, vault: str, groups: list[Any]) -> None:
        super().__init__(id="duplicates")
        self._vault = vault
        self._groups = groups

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Text(f"Duplicates in {safe_text(self._vault)}")  # never markup
            with VerticalScroll():
                yield Static(render_groups(self._vault, self._groups), id="dup-body")
            yield Static("Esc closes", id="dup-hint")
        yield Footer(compact=True)  # the dialog's own keys, not the screen below's

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)
