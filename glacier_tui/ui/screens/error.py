"""Full-screen start-up error: what went wrong and what to do. `r` retries, `q` quits."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from glacier_tui.ui.formatting import clean


class ErrorScreen(Screen[str]):
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen #error-box {
        width: 80%; max-width: 100; height: auto;
        border: heavy $error; padding: 1 2; background: $surface;
    }
    ErrorScreen .title { text-style: bold; color: $error; margin-bottom: 1; }
    ErrorScreen .hint { margin-top: 1; }
    ErrorScreen .keys { margin-top: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("r", "retry", "Retry", id="retry"),
        Binding("q", "quit_app", "Quit", id="error_quit"),
    ]

    def __init__(self, title: str, message: str, hint: str = "", detail: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.hint = hint
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="error-box"):
            yield Static(Text(clean(self.title_text)), classes="title")
            yield Static(Text(clean(self.message)), id="error-message")
            if self.hint:
                yield Static(Text(clean(self.hint)), classes="hint")
            if self.detail:
                yield Static(Text(clean(self.detail), style="dim"), classes="hint")
            yield Static(Text("Press r to retry, q to quit."), classes="keys")
        yield Footer()

    def action_retry(self) -> None:
        self.dismiss("retry")

    def action_quit_app(self) -> None:
        self.app.exit()


def describe_error(exc: BaseException) -> tuple[str, str, str]:
    """(title, message, hint) for a connection failure, without importing botocore."""
    from glacier_tui.glacier.errors import (
        AccessDenied,
        ConfigurationError,
        EndpointUnreachable,
        ExpiredToken,
        GlacierError,
        NoCredentials,
    )

    if isinstance(exc, NoCredentials):
        title = "No AWS credentials"
    elif isinstance(exc, EndpointUnreachable):
        title = "Glacier endpoint unreachable"
    elif isinstance(exc, ExpiredToken):
        title = "Credentials expired"
    elif isinstance(exc, AccessDenied):
        title = "Access denied"
    elif isinstance(exc, ConfigurationError):
        title = "AWS configuration incomplete"
    elif isinstance(exc, GlacierError):
        title = "Cannot talk to Glacier"
    else:
        return ("Unexpected error", f"{type(exc).__name__}: {exc}",
                "See the log file for details.")
    return title, exc.message, exc.hint
