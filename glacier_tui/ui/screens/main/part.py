"""One area of the main screen as a component: its own state, workers and messages.

A part is an invisible widget the main screen composes. It keeps the state of its area
(no attribute of the screen holds it), runs that area's workers (``@work`` methods on the
part, so a worker belongs to the part that started it), and handles the messages its
workers post to it. Messages it does not handle bubble to the screen and the app.

The screen keeps the key bindings and the layout and turns an action into a call on the
part that owns it. A part reaches another part by the screen's typed attribute
(``self.main.transfers``) and a widget by the screen's typed reference
(``self.main.job_table``), never through a shared bag of attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.widget import Widget

from glacier_tui.ui.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from textual.message import Message

    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.screens.main import MainScreen


class Part(ReportsWorkerErrors, Widget):
    """An area of the main screen: state and workers, nothing drawn."""

    DEFAULT_CSS: ClassVar[str] = "Part { display: none; }"

    @property
    def main(self) -> MainScreen:
        from glacier_tui.ui.screens.main import MainScreen

        screen = self.screen
        assert isinstance(screen, MainScreen)
        return screen

    @property
    def gapp(self) -> GlacierApp:
        from glacier_tui.ui.app import GlacierApp

        assert isinstance(self.app, GlacierApp)
        return self.app

    def post_message(self, message: Message) -> bool:
        # A message is stopped at the node that sent it, and one made in a worker started
        # from a screen handler has the screen as sender: posted here, it would stop at the
        # screen. Sent as the part's own, it bubbles on to the app as the screen's did.
        if message._sender is not None and message._sender is self._parent:
            message.set_sender(self)
        return super().post_message(message)
