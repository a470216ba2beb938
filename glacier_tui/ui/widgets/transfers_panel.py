"""Transfers panel: one row per download/upload with a progress bar, rate and ETA."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Label, ProgressBar

from glacier_tui.ui.formatting import clean, human_duration, human_rate, human_size
from glacier_tui.ui.messages import TransferRow

STATE_STYLES = {"running": "", "done": "green", "failed": "red", "cancelled": "yellow"}
NARROW_WIDTH = 100  # below: a shorter bar and stats
TINY_WIDTH = 64  # below: no bar (the stats say how far)
ARROWS = {"download": "↓ ", "upload": "↑ ", "delete": "✕ "}


class TransferItem(Horizontal, can_focus=True):
    DEFAULT_CSS = """
    TransferItem { height: 1; }
    TransferItem:focus { background: $boost; }
    TransferItem > .name { width: 1fr; min-width: 12; }
    TransferItem > ProgressBar { width: 24; }
    TransferItem > ProgressBar Bar { width: 1fr; }
    TransferItem > .stats { width: 30; }
    /* Narrow windows keep the name: the bar and the stats shrink, then the bar goes. */
    TransfersPanel.-narrow TransferItem > ProgressBar { width: 13; }
    TransfersPanel.-narrow TransferItem > .stats { width: 22; }
    TransfersPanel.-tiny TransferItem > ProgressBar { display: none; }
    """

    def __init__(self, state: TransferRow) -> None:
        super().__init__(id=f"transfer-{abs(hash(state.id))}")
        self.state = state

    def compose(self) -> ComposeResult:
        yield Label(classes="name")
        yield ProgressBar(show_eta=False, show_percentage=True)
        yield Label(classes="stats")

    def on_mount(self) -> None:
        self.update_state(self.state)

    def update_state(self, state: TransferRow) -> None:
        self.state = state
        if not self.query(".name"):  # not composed yet: on_mount renders the latest state
            return
        name = Text(no_wrap=True, overflow="ellipsis")
        name.append(ARROWS.get(state.kind, "↑ "), style="bold")
        name.append(clean(state.name))
        self.query_one(".name", Label).update(name)
        bar = self.query_one(ProgressBar)
        bar.update(total=state.total if state.total else None, progress=state.done)
        if state.kind == "delete":
            # Archive deletions count archives, not bytes.
            stats = f"{state.done}/{state.total or 0} archives"
            if state.state != "running":
                stats = f"{state.state}: {stats}"
            if state.message:
                stats += f" ({clean(state.message)})"
        elif state.state == "running":
            stats = f"{human_size(state.done)} {human_rate(state.rate_bps)}"
            if state.eta_s is not None:
                stats += f" ETA {human_duration(state.eta_s)}"
        else:
            stats = state.state + (f": {clean(state.message)}" if state.message else "")
        self.query_one(".stats", Label).update(
            Text(stats, style=STATE_STYLES.get(state.state, ""), no_wrap=True,
                 overflow="ellipsis"))


class TransfersPanel(VerticalScroll):
    DEFAULT_CSS = """
    TransfersPanel {
        height: auto; max-height: 6; display: none;
        border: round $secondary 60%;
    }
    TransfersPanel.-active { display: block; }
    """
    BINDINGS = [Binding("x", "cancel", "Cancel transfer", id="cancel_transfer")]

    class CancelRequested(Message):
        def __init__(self, transfer_id: str) -> None:
            super().__init__()
            self.transfer_id = transfer_id

    def __init__(self) -> None:
        super().__init__(id="transfers")
        self.border_title = "Transfers"
        self.items: dict[str, TransferItem] = {}

    def on_resize(self) -> None:
        width = self.size.width
        self.set_class(width < NARROW_WIDTH, "-narrow")
        self.set_class(width < TINY_WIDTH, "-tiny")

    def update_transfer(self, state: TransferRow) -> None:
        item = self.items.get(state.id)
        if item is None:
            item = TransferItem(state)
            self.items[state.id] = item
            self.mount(item)
        else:
            if not state.target and item.state.target:
                state = replace(state, target=item.state.target)
            item.update_state(state)
        self.set_class(bool(self.items), "-active")

    def running(self) -> list[TransferRow]:
        return [i.state for i in self.items.values() if i.state.state == "running"]

    def focused_transfer(self) -> str | None:
        focused = self.app.focused
        if isinstance(focused, TransferItem):
            return focused.state.id
        running = self.running()
        return running[-1].id if running else None

    def copy_value(self) -> tuple[str, str] | None:
        """What ``y`` copies: the focused (else the latest running) transfer's local path."""
        tid = self.focused_transfer()
        item = self.items.get(tid) if tid else None
        return ("path", item.state.target) if item is not None and item.state.target else None

    def action_cancel(self) -> None:
        tid = self.focused_transfer()
        if tid:
            self.post_message(self.CancelRequested(tid))
