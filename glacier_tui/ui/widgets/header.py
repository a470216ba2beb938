"""One-line header: app name, profile, region, endpoint and a READ-ONLY badge.

Each value follows its label after a space and the pairs are separated by " · ", so
"profile default · region us-east-1" never reads as "defaultregion" (a terminal that
drops the dim style would otherwise run them together).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from glacier_tui.glacier.masking import mask_url
from glacier_tui.ui.formatting import clean


class GlacierHeader(Static):
    DEFAULT_CSS = """
    GlacierHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, *, readonly: bool, demo: bool) -> None:
        super().__init__(id="header")
        self.readonly = readonly
        self.demo = demo
        self.profile = ""
        self.region_name = ""
        self.endpoint = ""
        self.status = "connecting…"

    def on_mount(self) -> None:
        self.render_header()

    def set_info(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        status: str | None = None,
    ) -> None:
        if profile is not None:
            self.profile = profile
        if region is not None:
            self.region_name = region
        if endpoint is not None:
            self.endpoint = mask_url(endpoint)  # never a password on screen
        if status is not None:
            self.status = status
        self.render_header()

    def render_header(self) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" glacier-tui ", style="bold reverse")
        if self.demo:
            from glacier_tui.demo import DEMO_TIME_SCALE

            # The demo shows its emulator's clock, which runs this much faster.
            t.append(f" DEMO · time ×{DEMO_TIME_SCALE:g} ", style="bold black on cyan")
        if self.readonly:
            t.append(" READ-ONLY ", style="bold white on red")
        parts = [
            ("profile", self.profile or "default"),
            ("region", self.region_name or "?"),
            ("endpoint", self.endpoint or "aws"),
        ]
        t.append("  ")
        for n, (label, value) in enumerate(parts):
            if n:
                t.append(" · ", style="dim")
            t.append(f"{label} ", style="dim")
            t.append(clean(value))
        if self.status:
            t.append(" · ", style="dim")
            t.append(clean(self.status), style="italic dim")
        self.update(t)
