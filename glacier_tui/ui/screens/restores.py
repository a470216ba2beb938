"""The Restores screen: campaigns (restores, migrations) and close-outs, live (the main
screen forwards each update).

Pausing, resuming and cancelling are asked of the main screen (``on_action``, with the
row the cursor is on), which owns the runners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from glacier_tui.ui.widgets.close_out_row import PurgeRow
from glacier_tui.ui.widgets.restores_panel import CampaignRow, RestoresPanel

Row = CampaignRow | PurgeRow


class RestoresScreen(Screen[int | None]):
    """Dismisses with a campaign id (show its jobs) or None (back)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "back", "Back", id="restores_back"),
        Binding("p", "campaign('pause')", "Pause/resume", id="campaign_pause"),
        Binding("x", "campaign('cancel')", "Cancel", id="campaign_cancel"),
    ]

    def __init__(self, rows: list[Row],
                 on_action: Callable[[str, Row], None] | None = None) -> None:
        super().__init__(id="restores-screen")
        self._rows = rows
        self._on_action = on_action

    def compose(self) -> ComposeResult:
        yield RestoresPanel(self._rows)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        panel = self.query_one(RestoresPanel)
        panel.focus()
        panel.action_focus_next_block()

    def update_row(self, row: Row) -> None:
        self.query_one(RestoresPanel).update_row(row)

    def on_restores_panel_show_jobs(self, message: RestoresPanel.ShowJobs) -> None:
        self.dismiss(message.campaign_id)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_campaign(self, what: str) -> None:
        row = self.query_one(RestoresPanel).current_row()
        if row is not None and self._on_action is not None:
            self._on_action(what, row)


def show_row(app: App[Any], row: Row) -> None:
    """Update the row in the Restores screen, if it is open."""
    for screen in app.screen_stack:
        if isinstance(screen, RestoresScreen):
            screen.update_row(row)
