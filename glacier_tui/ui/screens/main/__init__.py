"""The main screen: vault tree, job table, detail pane, transfers; all service calls in workers.

Workers never touch widgets: they post messages (``glacier_tui.ui.messages``) and the
handlers render. Every worker catches ``GlacierError`` and posts an
``OperationError``; the app's ``on_worker_state_changed`` catches the rest.

:class:`MainScreen` is the layout, the key bindings and when they apply; the rest comes
from one part per area, each a mixin on :class:`~.base.MainScreenBase` (shared state):

- ``connection``: connecting at start-up, the vault list;
- ``poller``: the periodic refresh (a one-shot worker re-armed with a timer);
- ``jobs``: the job table and what follows a finished job;
- ``browse``: the tree's folders, the archive list (sort, search, marks), duplicates;
- ``detail``: the detail pane and a vault's settings summary;
- ``inventory``: requesting an inventory and importing it;
- ``transfers``: downloads and uploads;
- ``restore``: restoring archives (the dialog);
- ``campaigns``: campaigns (restores, migrations): the engine's runner, the Restores
  screen, milestones;
- ``appliance``: names from a Synology index (``X``);
- ``deletion``: deleting archives;
- ``vault_admin``: creating and deleting vaults, vault settings;
- ``close_out``: closing a vault out (delete what is proven safe elsewhere, then it);
- ``migrate``: migrating a vault or folder to S3 (a campaign with an S3 sink);
- ``navigation``: the filter bar, back and jump.

``restore``, ``campaigns``, ``migrate`` and ``close_out`` are parts (``part.py``):
invisible widgets the screen composes, each owning its state, workers and messages; the
screen's actions call them. The others are still mixins.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from glacier_tui.ui.formatting import clean, clean_lines
from glacier_tui.ui.messages import Info, Notice, OperationError
from glacier_tui.ui.screens.main.appliance import ApplianceIndexMixin
from glacier_tui.ui.screens.main.browse import BrowseMixin
from glacier_tui.ui.screens.main.campaigns import Campaigns
from glacier_tui.ui.screens.main.close_out import CloseOut
from glacier_tui.ui.screens.main.connection import ConnectionMixin
from glacier_tui.ui.screens.main.deletion import DeletionMixin
from glacier_tui.ui.screens.main.detail import DetailMixin
from glacier_tui.ui.screens.main.inventory import InventoryMixin
from glacier_tui.ui.screens.main.jobs import JobsMixin
from glacier_tui.ui.screens.main.migrate import Migrate
from glacier_tui.ui.screens.main.navigation import NavigationMixin
from glacier_tui.ui.screens.main.poller import PollerMixin
from glacier_tui.ui.screens.main.restore import Restore
from glacier_tui.ui.screens.main.transfers import TransfersMixin
from glacier_tui.ui.screens.main.vault_admin import VaultAdminMixin
from glacier_tui.ui.widgets.archive_browser import ArchiveBrowser
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.filter_bar import FilterBar
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.transfers_panel import TransfersPanel
from glacier_tui.ui.widgets.vault_tree import VaultTree

__all__ = ["MUTATING", "NEEDS_CLIENT", "MainScreen"]

# Actions that send a mutating request: hidden and refused in read-only mode.
MUTATING: frozenset[str] = frozenset(
    {"restore", "inventory", "create_vault", "upload", "delete", "delete_vault",
     "synology_index", "close_out", "migrate"}
)
# The smallest window the main screen lays out; below it, a notice says so.
MIN_SIZE: tuple[int, int] = (60, 16)
# Narrower than this (the job table's columns need ~150 cells beside the tree),
# the job table takes the full width under the tree and archives.
WIDE_WIDTH = 150
# Shorter than this (in the narrow layout), the detail pane gives its rows to the lists.
TALL_HEIGHT = 30
# Actions that need a connected client.
NEEDS_CLIENT: frozenset[str] = MUTATING | {"download", "refresh", "vault_settings"}


class MainScreen(ConnectionMixin, PollerMixin, JobsMixin, BrowseMixin, DetailMixin,
                 InventoryMixin, TransfersMixin, DeletionMixin, VaultAdminMixin,
                 NavigationMixin, ApplianceIndexMixin):
    # The footer shows the focused pane's own keys (its bindings) and these shown ones;
    # Help and Quit are last but fit at 80 columns. Every binding has an id (keymap).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restore", "Restore", id="restore"),
        Binding("d", "download", "Download", id="download"),
        Binding("i", "inventory", "Inventory", id="inventory", show=False),
        Binding("R", "refresh", "Refresh", id="refresh", show=False),
        Binding("c", "restores", "Restores", id="restores", show=False),
        Binding("u", "upload", "Upload", id="upload", show=False),
        Binding("n", "create_vault", "New vault", id="create_vault", show=False),
        Binding("delete", "delete", "Delete", id="delete", show=False),
        Binding("D", "delete_vault", "Delete vault", id="delete_vault", show=False),
        Binding("P", "close_out", "Close out vault", id="close_out", show=False),
        Binding("M", "migrate", "Migrate to S3", id="migrate", show=False),
        Binding("s", "vault_settings", "Settings", id="vault_settings", show=False),
        Binding("X", "synology_index", "Synology index", id="synology_index", show=False),
        Binding("x", "cancel_transfer", "Cancel", id="cancel_transfer"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("colon", "jump", "Jump", id="jump", show=False),
        Binding("o", "sort", "Sort", id="sort", show=False),
        Binding("left_square_bracket", "detail_tab(-1)", "Previous tab", id="detail_prev_tab",
                show=False, key_display="["),
        Binding("right_square_bracket", "detail_tab(1)", "Next tab", id="detail_next_tab",
                show=False, key_display="]"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("escape", "back", "Back", id="back", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        # The areas that are parts (ui/screens/main/part.py).
        self.campaigns = Campaigns()
        self.restore = Restore()
        self.migrate = Migrate()
        self.close_out = CloseOut()

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        settings = self.gapp.settings
        yield GlacierHeader(readonly=settings.readonly, demo=self.gapp.demo)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield VaultTree()
                yield ArchiveBrowser(id="archives")
            with Vertical(id="right"):
                yield JobTable()
                yield DetailPane()
        yield TransfersPanel()
        yield FilterBar()
        yield Static(id="too-small")
        yield Footer(compact=True)
        yield from (self.campaigns, self.restore, self.migrate, self.close_out)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_layout(event.size.width, event.size.height)

    def _fit_layout(self, width: int, height: int) -> None:
        """Pick the layout for the window (see app.tcss); a notice below the minimum."""
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(too_small, "-too-small")
        self.set_class(width < WIDE_WIDTH, "-compact")
        self.set_class(height < TALL_HEIGHT, "-short")
        if too_small:
            self.query_one("#too-small", Static).update(Text(
                f"window too small (need {MIN_SIZE[0]}x{MIN_SIZE[1]}, have {width}x{height})",
                style="bold"))
        elif self.focused is None and self.is_mounted:
            # Hiding the layout took the focus away: give it back to the tree.
            self.call_after_refresh(self._refocus)

    def _refocus(self) -> None:
        if self.focused is None:
            self.query_one(VaultTree).focus()

    def action_detail_tab(self, step: int) -> None:
        self.query_one(DetailPane).cycle_tab(step)

    def on_mount(self) -> None:
        header = self.query_one(GlacierHeader)
        settings = self.gapp.settings
        header.set_info(profile=settings.profile or "default", region=settings.region or "",
                        endpoint=settings.endpoint_url or ("demo" if self.gapp.demo else "aws"))
        now = self.gapp.clock()
        tree = self.query_one(VaultTree)
        tree.now = now
        tree.store_of = lambda: self.gapp.store
        self.query_one(JobTable).now = now
        self.query_one(DetailPane).now = now
        archives = self.query_one(ArchiveBrowser)
        archives.border_title = "Archives"
        archives.empty_text = "Select a folder."
        archives.store_of = lambda: self.gapp.store
        archives.lookup_of = self.campaigns.state_lookup
        tree.focus()
        # After the first frame: connecting imports aioboto3 (slow) in the worker.
        self.call_after_refresh(self.start_connect)

    # -- status and errors -----------------------------------------------------------------

    def on_info(self, message: Info) -> None:
        self.query_one(GlacierHeader).set_info(status=message.text)

    def on_notice(self, message: Notice) -> None:
        # Wire text (names, server messages) is never markup; the severity is shown as given.
        self.notify(clean_lines(message.text), title=clean(message.title),
                    severity=message.severity, timeout=8, markup=False)

    def on_operation_error(self, message: OperationError) -> None:
        self.on_notice(message)

    # -- bindings --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.gapp.settings.readonly:
            return False  # hidden from the footer, refused when pressed
        if action == "cancel_transfer":
            return bool(self.query_one(TransfersPanel).running())
        if action in NEEDS_CLIENT and action != "refresh" and not self.connected:
            return None  # shown disabled until connected
        if action == "download":
            if not isinstance(self.focused, JobTable):  # marks or the folder: what is ready
                return True if self._selection() else None
            job = self.query_one(JobTable).current_job()
            return True if job is not None and job.succeeded else None
        if action == "restore":
            return True if self._selection() else None
        return True

    def _update_bindings(self) -> None:
        """Refresh the footer only when a context-dependent binding changed state.

        Every refresh recomposes the footer and lays out the whole screen: done on each
        cursor move, that cost tens of milliseconds per key in a 1,000-row job table.
        """
        state = tuple(self.check_action(a, ()) for a in ("download", "restore",
                                                           "cancel_transfer"))
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    # -- actions of the parts: each a call on the part that owns it -------------------------

    def action_restore(self) -> None:
        self.restore.start()

    def action_restores(self) -> None:
        self.campaigns.show()

    def action_migrate(self) -> None:
        self.migrate.start()

    def action_close_out(self) -> None:
        self.close_out.start()

    def action_help(self) -> None:
        from glacier_tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.gapp.help_sections()))

    def action_quit(self) -> None:
        self.gapp.action_confirm_quit()
