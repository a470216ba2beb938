"""A part of the main screen: invisible, its workers' messages come back to it and go on
to the app, whichever handler started the worker."""

from __future__ import annotations

from textual import work
from textual.app import App, ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from glacier_tui.ui.screens.main.part import Part


class Done(Message):
    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value


class Counter(Part):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    @work(exit_on_error=False)
    async def count(self, value: int) -> None:
        self.post_message(Done(value))

    def on_done(self, message: Done) -> None:
        self.seen.append(message.value)


class Host(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.counter = Counter()

    def compose(self) -> ComposeResult:
        yield Static("body", id="body")
        yield self.counter

    def on_key(self) -> None:  # a screen handler starts the part's worker
        self.counter.count(2)


class Harness(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.at_app: list[int] = []

    def on_mount(self) -> None:
        self.push_screen(Host())

    def on_done(self, message: Done) -> None:
        self.at_app.append(message.value)


async def test_a_part_handles_its_workers_messages_and_they_reach_the_app() -> None:
    app = Harness()
    async with app.run_test(size=(40, 10)) as pilot:
        screen = app.screen
        assert isinstance(screen, Host)
        part = screen.counter
        assert part.display is False and part.region.area == 0  # never laid out
        part.count(1)
        await pilot.press("x")  # the worker started from the screen's own handler
        for _ in range(100):
            if len(part.seen) == 2 and len(app.at_app) == 2:
                break
            await pilot.pause()
        assert sorted(part.seen) == [1, 2]
        assert sorted(app.at_app) == [1, 2]
