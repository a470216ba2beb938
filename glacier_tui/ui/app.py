"""GlacierApp: the Textual application. ``run_app(app)`` is the CLI's entry.

Start-up stays fast: nothing here imports aioboto3/botocore; the first service
call happens in a worker after the first frame. Started with a settings loader (what
the CLI does), the app's first frame is the light boot screen (``ui/boot.py``): the
settings (pydantic) and the main screen's modules load in a thread after it, then the
main screen replaces it. Started with a ``Settings`` object, the main screen is the
first screen.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker

from glacier_tui.ui.commands import GlacierCommands, KeyCommands
from glacier_tui.ui.idle_gc import IdleCollector
from glacier_tui.ui.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from glacier_tui.config import AppPaths, Settings
    from glacier_tui.glacier.client import GlacierClient
    from glacier_tui.glacier.store import Store
    from glacier_tui.ui.backend import BackendThread
    from glacier_tui.ui.screens.main import MainScreen

log = logging.getLogger("glacier_tui.ui")
T = TypeVar("T")
MAIN_MODE = "main"  # the main screen's mode when the app started on the boot screen
# The store journal's record that the first-run hint was shown.
HINT_KEY = "ui:first-run-hint"
# Workers that end by pushing a dialog run in a group named "...dialog".
DIALOG_GROUP_SUFFIX = "dialog"


class GlacierApp(ReportsWorkerErrors, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "glacier-tui"
    COMMANDS = App.COMMANDS | {KeyCommands, GlacierCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+p", "command_palette", "Palette", id="command_palette", show=False),
        Binding("y", "copy_id", "Copy id", id="copy_id", show=False),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        demo: bool = False,
        clock: Callable[[], datetime] | None = None,
        store: Store | None = None,
        load_settings: Callable[[], Settings] | None = None,
        first_run_hint: bool = False,
    ) -> None:
        """``settings``, or ``load_settings``: called in a thread after the first frame.

        A loader that raises ``ConfigError`` makes the app exit with status 2 and the
        error in ``startup_error`` (``run_app`` prints it once the terminal is restored).
        """
        super().__init__()
        if (settings is None) == (load_settings is None):
            raise TypeError("give either settings or load_settings")
        self._settings = settings
        self._load_settings = load_settings
        self.startup_error = ""
        self.demo = demo
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._wall_clock = clock is None  # the demo's virtual clock replaces it
        self.first_run_hint = first_run_hint  # the CLI's app says how to restore, once
        self._store = store
        self.client: GlacierClient | None = None
        # The poller's client, on its own thread and loop (ui/backend.py).
        self.poll_backend: BackendThread | None = None
        self._demo_backend: Any = None
        self.exit_notes: list[str] = []  # printed once the terminal is restored
        self._workers_with_dialog: weakref.WeakSet[Worker[Any]] = weakref.WeakSet()
        self.archive_names: dict[str, str] = {}  # archive id -> path, for restores started here
        self.idle_gc = IdleCollector()  # full collections between key presses (ui/idle_gc.py)
        if settings is not None:
            self._apply_settings(settings)

    @property
    def demo_backend(self) -> Any:
        return self._demo_backend

    @demo_backend.setter
    def demo_backend(self, backend: Any) -> None:
        """The demo's emulator; from then on the app shows the emulator's (virtual) time."""
        self._demo_backend = backend
        if backend is not None and self._wall_clock:
            self.clock = backend.now

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise RuntimeError("the settings are not loaded yet")
        return self._settings

    @property
    def booting(self) -> bool:
        """True while the boot screen shows (settings not loaded yet)."""
        return self._settings is None

    def _apply_settings(self, settings: Settings) -> None:
        self._settings = settings
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        if settings.keymap:
            self.set_keymap(dict(settings.keymap))

    # -- services ------------------------------------------------------------------------

    @property
    def poll_interval(self) -> float:
        return self.settings.effective_poll_interval(self.demo)

    @property
    def store(self) -> Store:
        """The local store (opened on first use; callers use it from worker threads)."""
        if self._store is None:
            from glacier_tui.glacier.store import Store

            self._store = Store(self.paths.store)
        return self._store

    @property
    def paths(self) -> AppPaths:
        """The program's directories (config.AppPaths); the demo's own downloads and store."""
        paths = self.settings.paths()
        backend = self.demo_backend
        if backend is not None:
            paths = replace(paths, downloads=Path(backend.download_dir),
                            store=Path(backend.store_path))
        return paths

    @property
    def download_dir(self) -> Path:
        return self.paths.downloads

    def client_options(self) -> Any:
        backend = self.demo_backend
        if backend is not None:
            return backend.client_options(self.settings)
        return self.settings.client_options()

    async def open_client(self) -> GlacierClient:
        """(Re)open the shared client; only called from workers (imports aioboto3)."""
        from glacier_tui.glacier.client import GlacierClient

        await self.close_client()
        client = GlacierClient(self.client_options())
        await client.__aenter__()
        self.client = client
        from glacier_tui.ui.backend import BackendThread

        self.poll_backend = BackendThread(self.client_options())
        return client

    async def poll_call(self, fn: Callable[[GlacierClient], Awaitable[T]]) -> T:
        """``fn(client)`` for the poller: on the backend thread, so parsing never blocks keys."""
        backend = self.poll_backend
        if backend is not None:
            return await backend.call(fn)
        if self.client is None:
            raise RuntimeError("not connected")
        return await fn(self.client)

    async def close_client(self) -> None:
        backend, self.poll_backend = self.poll_backend, None
        if backend is not None:
            try:
                await backend.aclose()
            except Exception:
                log.debug("closing the poll backend failed", exc_info=True)
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except Exception:  # closing must never fail the app
                log.debug("closing the client failed", exc_info=True)

    # -- lifecycle -----------------------------------------------------------------------

    def get_default_screen(self) -> Any:
        if self.booting:
            from glacier_tui.ui.boot import BootScreen

            return BootScreen(demo=self.demo)
        from glacier_tui.ui.screens.main import MainScreen

        return MainScreen()

    def on_mount(self) -> None:
        self.idle_gc.start()
        self.set_interval(0.5, self.idle_gc.tick, name="idle-gc")
        if self.booting:
            # After the first frame: the settings and the main screen are the slow part.
            self.call_after_refresh(self._start_boot)

    def _start_boot(self) -> None:
        self.run_worker(self._boot(), name="boot", group="boot", exclusive=True)

    def _prepare(self) -> Settings | str:
        """In a thread: load the settings, set up logging, import the main screen.

        A bad setting comes back as its one-line message instead.
        """
        from glacier_tui.config import ConfigError

        assert self._load_settings is not None
        try:
            settings = self._load_settings()
        except ConfigError as exc:
            return str(exc)
        setup_logging()
        log.info("starting (demo=%s, readonly=%s, region=%s)", self.demo, settings.readonly,
                 settings.region)
        import glacier_tui.ui.screens.main  # noqa: F401  (DataTable, Tree, ...: the slow part)

        return settings

    async def _boot(self) -> None:
        settings = await asyncio.to_thread(self._prepare)
        if isinstance(settings, str):
            self.startup_error = settings
            self.exit(return_code=2)
            return
        self._apply_settings(settings)
        from glacier_tui.ui.screens.main import MainScreen

        # The main screen gets a screen stack (mode) of its own, so it is screen_stack[0]
        # as when it is the default screen; the boot screen stays behind, hidden.
        self.add_mode(MAIN_MODE, MainScreen)
        await self.switch_mode(MAIN_MODE)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_palette" and self.booting:
            return False  # its providers need the main screen
        return super().check_action(action, parameters)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent) and not event.is_forwarded:
            self.idle_gc.input_seen()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        self.idle_gc.stop()
        await self.close_client()
        backend, self.demo_backend = self.demo_backend, None
        if backend is not None:
            try:
                kept = backend.stop()
            except Exception:
                log.debug("stopping the demo failed", exc_info=True)
            else:
                if kept is not None:
                    from glacier_tui.glacier.masking import shown

                    self.exit_notes.append(f"the demo's downloads are kept in {shown(kept)}"
                                           " (delete the folder when done)")

    def _fatal_error(self) -> None:
        """A crash: Textual's own traceback shows every frame's locals (settings, URLs).

        Shown here without locals, masked and inert, and logged the same way.
        """
        import io

        from rich.console import Console
        from rich.text import Text
        from rich.traceback import Traceback

        from glacier_tui.glacier.masking import shown

        self.bell()
        log.error("glacier-tui crashed", exc_info=True)
        console = Console(file=io.StringIO(), record=True, width=self.console.width or 100,
                          color_system=None)
        console.print(Traceback(show_locals=False, width=None))
        text = shown(console.export_text(styles=False), multiline=True)
        self._exit_renderables.append(Text(text))
        self._close_messages_no_wait()

    # -- first-run hint --------------------------------------------------------------------

    def on_connected(self) -> None:
        """Once connected (the main screen's message bubbles up): the one-time restore hint."""
        if not self.first_run_hint:
            return
        self.first_run_hint = False  # once per run, whatever the store says
        self.run_worker(self._first_run_hint(), group="first-run-hint", exclusive=True,
                        exit_on_error=False)

    async def _first_run_hint(self) -> None:
        store = self.store

        def first_time() -> bool:
            if store.journal_get(HINT_KEY) is not None:
                return False
            store.journal_put(HINT_KEY, self.clock().isoformat())
            return True

        if not await asyncio.to_thread(first_time):
            return
        lines = ["Pick a folder in the vault tree, or mark archives with space, and press "
                 "r to restore: the dialog shows each tier's cost and time.",
                 "When a restore is ready, d downloads and verifies it; c shows the "
                 "Restores. ? lists every key, Ctrl+P finds any action."]
        if self.demo:
            from glacier_tui.glacier.sanitize import inert

            lines.append(f"Demo time runs fast (restores take seconds). Downloads go to "
                         f"{inert(str(self.download_dir))} and are kept after the demo.")
        self.notify("\n".join(lines), title="How to restore", timeout=20, markup=False)

    # -- quit / help ---------------------------------------------------------------------

    def running_transfers(self) -> int:
        from glacier_tui.ui.widgets.transfers_panel import TransfersPanel

        try:
            return len(self.query_one(TransfersPanel).running())
        except Exception:
            return 0

    def _main(self) -> MainScreen | None:
        from glacier_tui.ui.screens.main import MainScreen

        main = self.screen_stack[0] if self.screen_stack else None
        return main if isinstance(main, MainScreen) else None

    def running_campaigns(self) -> int:
        """Campaigns a worker of this app runs now (0 before the main screen)."""
        main = self._main()
        return len(main.campaigns.board.active) if main is not None else 0

    def running_close_outs(self) -> int:
        """Close-outs a worker of this app runs now."""
        main = self._main()
        return len(main.close_out.running) if main is not None else 0

    def dialog_opening(self) -> bool:
        """True while a key's dialog is being prepared (its worker runs, the screen is not up).

        Such a dialog is pushed by a worker after some work (resolving a selection, say);
        a key typed in that gap, ``q`` above all, must not act on the screen below. Once
        the worker has pushed its dialog (and whatever it does after), it no longer counts.
        """
        return any(w.is_running and (w.group or "").endswith(DIALOG_GROUP_SUFFIX)
                   and w not in self._workers_with_dialog for w in self.workers)

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        """Remember which worker pushed a screen (see ``dialog_opening``)."""
        from textual.worker import NoActiveWorker, get_current_worker

        try:
            self._workers_with_dialog.add(get_current_worker())
        except NoActiveWorker:
            pass
        return super().push_screen(*args, **kwargs)

    def action_confirm_quit(self) -> None:
        if self.dialog_opening():
            log.info("quit key dropped: a dialog is opening")
            return
        transfers, campaigns = self.running_transfers(), self.running_campaigns()
        close_outs = self.running_close_outs()
        if transfers == 0 and campaigns == 0 and close_outs == 0:
            self.exit()
            return
        from glacier_tui.ui.screens.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self.exit()

        body = []
        if transfers:
            body.append(f"{transfers} transfer(s) are running: they stop now and resume "
                        "from the parts already done when started again.")
        if campaigns:
            body.append(f"{campaigns} restore campaign(s) are running: they stop now and "
                        "resume by themselves the next time glacier-tui starts; jobs "
                        "already started in Glacier keep running.")
        if close_outs:
            body.append(f"{close_outs} close-out(s) are running: they stop now; P on the "
                        "vault resumes one where it stopped.")
        self.push_screen(ConfirmScreen("Quit glacier-tui?", body, confirm_label="Quit"), done)

    def action_copy_id(self) -> None:
        """Copy the id under the cursor (archive id, job id, vault ARN) to the clipboard.

        Uses OSC 52, which most terminals support (not macOS Terminal); the toast shows
        what was copied either way, so it can be copied by hand.
        """
        from glacier_tui.glacier.sanitize import inert
        from glacier_tui.ui.copying import copy_value_of

        found = copy_value_of(self.screen)
        if found is None:
            self.notify("Nothing to copy here: move to an archive, a job or a vault.",
                        severity="warning", timeout=4)
            return
        what, value = found
        self.copy_to_clipboard(value)
        self.notify(inert(value), title=f"Copied the {inert(what)}", timeout=6, markup=False)

    def help_sections(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        from glacier_tui.ui.help_keys import help_sections

        # The keymap is what _apply_settings gave set_keymap.
        return help_sections(dict(self.settings.keymap), self.settings.readonly,
                             type(self).BINDINGS)


def setup_logging() -> Path | None:
    """Log to <state dir>/glacier-tui.log: 0600 in a 0700 dir, no symlink, masked and inert."""
    try:
        import platformdirs

        from glacier_tui.glacier.errors import GlacierError
        from glacier_tui.glacier.logs import PrivateFileHandler, open_log

        directory = Path(platformdirs.user_state_dir("glacier-tui"))
        root = logging.getLogger("glacier_tui")
        path = directory / "glacier-tui.log"
        for existing in root.handlers:  # set up once per process
            if isinstance(existing, PrivateFileHandler) and \
                    Path(existing.baseFilename) == path.absolute():
                return path
        try:
            handler = open_log(directory)
        except GlacierError:  # a symlink or a FIFO where the log goes: no log, no crash
            return None
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        # botocore at DEBUG logs signed headers: keep it quiet.
        logging.getLogger("botocore").setLevel(logging.WARNING)
        return path
    except OSError:
        return None


def run_app(app: GlacierApp) -> int:
    """Run the app in the terminal; a bad setting is one line on stderr and status 2."""
    app.run()
    for note in app.exit_notes:
        print(f"glacier-tui: {note}", file=sys.stderr)
    if app.startup_error:
        from glacier_tui.glacier.masking import shown

        print(f"glacier-tui: {shown(app.startup_error)}", file=sys.stderr)
        return 2
    return int(app.return_code or 0)
