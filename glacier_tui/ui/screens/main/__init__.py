"""The main screen: vault tree, job table, detail pane, transfers; all service calls in workers.

Workers never touch widgets: they post messages (``glacier_tui.ui.messages``) and the
handlers render. Every worker catches ``GlacierError`` and posts an
``OperationError``; the app's ``on_worker_state_changed`` catches the rest.

:class:`MainScreen` is the layout, the key bindings and when they apply; it holds the
widgets (``vault_tree``, ``archives``, ``job_table``, ``detail_pane``, ...) and one
:class:`~.part.Part` per area, each with its own state, workers and messages:

- ``connection``: connecting at start-up, the vault list;
- ``poll``: the periodic refresh (a one-shot worker re-armed with a timer);
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

An action is a call on the part that owns it. A message a part's workers post comes
back to that part; a message from a widget, or one a part posts for another part,
comes to the screen, which hands it to the owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static, Tree

from glacier_tui.ui.formatting import clean, clean_lines
from glacier_tui.ui.messages import (
    ArchivesRemoved,
    Info,
    InventoryImported,
    JobStarted,
    Notice,
    OperationError,
    TransferUpdate,
    VaultsChanged,
)
from glacier_tui.ui.screens.main.appliance import Appliance
from glacier_tui.ui.screens.main.browse import Browse
from glacier_tui.ui.screens.main.campaigns import Campaigns
from glacier_tui.ui.screens.main.close_out import CloseOut
from glacier_tui.ui.screens.main.connection import Connection
from glacier_tui.ui.screens.main.deletion import Deletion
from glacier_tui.ui.screens.main.detail import Detail
from glacier_tui.ui.screens.main.inventory import Inventory
from glacier_tui.ui.screens.main.jobs import Jobs
from glacier_tui.ui.screens.main.migrate import Migrate
from glacier_tui.ui.screens.main.navigation import Navigation
from glacier_tui.ui.screens.main.poller import Polling
from glacier_tui.ui.screens.main.restore import Restore
from glacier_tui.ui.screens.main.transfers import Transfers
from glacier_tui.ui.screens.main.vault_admin import VaultAdmin
from glacier_tui.ui.widgets.archive_browser import ArchiveBrowser
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.filter_bar import FilterBar
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.transfers_panel import TransfersPanel
from glacier_tui.ui.widgets.vault_tree import NodeData, VaultTree

if TYPE_CHECKING:
    from glacier_tui.ui.app import GlacierApp


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


class MainScreen(Screen[None]):
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
        super().__init__(id="main")
        self._binding_state: tuple[bool | None, ...] = ()
        # The widgets, typed, for the parts (header: made in compose, it reads the settings).
        self.header: GlacierHeader
        self.vault_tree = VaultTree()
        self.archives = ArchiveBrowser(id="archives")
        self.job_table = JobTable()
        self.detail_pane = DetailPane()
        self.transfers_panel = TransfersPanel()
        self.filter_bar = FilterBar()
        self.too_small = Static(id="too-small")
        # The areas (ui/screens/main/part.py).
        self.connection = Connection()
        self.poll = Polling()
        self.jobs = Jobs()
        self.browse = Browse()
        self.detail = Detail()
        self.inventory = Inventory()
        self.transfers = Transfers()
        self.appliance = Appliance()
        self.deletion = Deletion()
        self.vault_admin = VaultAdmin()
        self.navigation = Navigation()
        self.restore = Restore()
        self.campaigns = Campaigns()
        self.migrate = Migrate()
        self.close_out = CloseOut()

    @property
    def gapp(self) -> GlacierApp:
        from glacier_tui.ui.app import GlacierApp

        assert isinstance(self.app, GlacierApp)
        return self.app

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        settings = self.gapp.settings
        self.header = GlacierHeader(readonly=settings.readonly, demo=self.gapp.demo)
        yield self.header
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield self.vault_tree
                yield self.archives
            with Vertical(id="right"):
                yield self.job_table
                yield self.detail_pane
        yield self.transfers_panel
        yield self.filter_bar
        yield self.too_small
        yield Footer(compact=True)
        yield from (self.connection, self.poll, self.jobs, self.browse, self.detail,
                    self.inventory, self.transfers, self.appliance, self.deletion,
                    self.vault_admin, self.navigation, self.restore, self.campaigns,
                    self.migrate, self.close_out)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_layout(event.size.width, event.size.height)

    def _fit_layout(self, width: int, height: int) -> None:
        """Pick the layout for the window (see app.tcss); a notice below the minimum."""
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(too_small, "-too-small")
        self.set_class(width < WIDE_WIDTH, "-compact")
        self.set_class(height < TALL_HEIGHT, "-short")
        if too_small:
            self.too_small.update(Text(
                f"window too small (need {MIN_SIZE[0]}x{MIN_SIZE[1]}, have {width}x{height})",
                style="bold"))
        elif self.focused is None and self.is_mounted:
            # Hiding the layout took the focus away: give it back to the tree.
            self.call_after_refresh(self._refocus)

    def _refocus(self) -> None:
        if self.focused is None:
            self.vault_tree.focus()

    def on_mount(self) -> None:
        settings = self.gapp.settings
        self.header.set_info(
            profile=settings.profile or "default", region=settings.region or "",
            endpoint=settings.endpoint_url or ("demo" if self.gapp.demo else "aws"))
        now = self.gapp.clock()
        tree = self.vault_tree
        tree.now = now
        tree.store_of = lambda: self.gapp.store
        self.job_table.now = now
        self.detail_pane.now = now
        archives = self.archives
        archives.border_title = "Archives"
        archives.empty_text = "Select a folder."
        archives.store_of = lambda: self.gapp.store
        archives.lookup_of = self.campaigns.state_lookup
        tree.focus()
        # After the first frame: connecting imports aioboto3 (slow) in the worker.
        self.call_after_refresh(self.connection.start)

    # -- actions: each a call on the part that owns it ---------------------------------------

    def action_refresh(self) -> None:
        self.poll.refresh_now()

    def action_inventory(self) -> None:
        self.inventory.request()

    def action_download(self) -> None:
        self.transfers.download()

    def action_upload(self) -> None:
        self.transfers.upload()

    def action_cancel_transfer(self) -> None:
        self.transfers.cancel_focused()

    def action_sort(self) -> None:
        self.browse.sort()

    def action_duplicates(self) -> None:
        self.browse.duplicates()

    def action_synology_index(self) -> None:
        self.appliance.request()

    def action_delete(self) -> None:
        self.deletion.delete()

    def action_create_vault(self) -> None:
        self.vault_admin.create_vault()

    def action_delete_vault(self) -> None:
        self.vault_admin.delete_vault()

    def action_vault_settings(self) -> None:
        self.vault_admin.settings()

    def action_filter(self) -> None:
        self.navigation.open_filter()

    def action_back(self) -> None:
        self.navigation.back()

    def action_jump(self) -> None:
        self.navigation.jump()

    def action_detail_tab(self, step: int) -> None:
        self.detail_pane.cycle_tab(step)

    def action_help(self) -> None:
        from glacier_tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.gapp.help_sections()))

    def action_quit(self) -> None:
        self.gapp.action_confirm_quit()

    # -- messages from the widgets ---------------------------------------------------------

    @on(Tree.NodeHighlighted, "#vaults")
    def _tree_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        self.detail.show_tree(event.node.data)
        self.browse.show_folder(event.node.data)
        self.update_bindings()

    @on(DataTable.RowHighlighted, "#jobs")
    def _job_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(self.focused, JobTable):
            self.detail.show_job()
        self.update_bindings()

    def on_descendant_focus(self) -> None:
        self.detail.show_current()
        self.refresh_bindings()

    def on_archive_list_highlighted(self, message: ArchiveList.Highlighted) -> None:
        if isinstance(self.focused, ArchiveList):
            self.detail.show_archive(message.row)

    def on_archive_list_marked(self, _: ArchiveList.Marked) -> None:
        self.update_bindings()

    def on_transfers_panel_cancel_requested(
        self, message: TransfersPanel.CancelRequested
    ) -> None:
        self.transfers.cancel(message.transfer_id)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.navigation.filter_changed(event.value)

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        self.navigation.filter_closed(clear=message.clear)

    # -- messages one part's workers post for another part ---------------------------------

    def on_transfer_update(self, message: TransferUpdate) -> None:
        self.transfers.update(message.state)

    def on_job_started(self, message: JobStarted) -> None:
        self.jobs.started(message)

    def on_inventory_imported(self, message: InventoryImported) -> None:
        self.inventory.imported(message)

    def on_archives_removed(self, message: ArchivesRemoved) -> None:
        self.deletion.removed(message)

    def on_vaults_changed(self, _: VaultsChanged) -> None:
        self.connection.reload()

    # -- status and errors -----------------------------------------------------------------

    def on_info(self, message: Info) -> None:
        self.header.set_info(status=message.text)

    def on_notice(self, message: Notice) -> None:
        # Wire text (names, server messages) is never markup; the severity is shown as given.
        self.notify(clean_lines(message.text), title=clean(message.title),
                    severity=message.severity, timeout=8, markup=False)

    def on_operation_error(self, message: OperationError) -> None:
        self.on_notice(message)

    # -- guards and bindings ---------------------------------------------------------------

    def writable(self, what: str) -> bool:
        """Call-site guard: no mutating request in read-only mode, whatever the keymap does."""
        if self.gapp.settings.readonly:
            self.notify(f"Read-only mode: {what} is disabled.", severity="warning")
            return False
        if self.gapp.client is None:
            self.notify("Not connected yet.", severity="warning")
            return False
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.gapp.settings.readonly:
            return False  # hidden from the footer, refused when pressed
        if action == "cancel_transfer":
            return bool(self.transfers_panel.running())
        if action in NEEDS_CLIENT and action != "refresh" and not self.connection.connected:
            return None  # shown disabled until connected
        if action == "download":
            if not isinstance(self.focused, JobTable):  # marks or the folder: what is ready
                return True if self.browse.selection() else None
            job = self.job_table.current_job()
            return True if job is not None and job.succeeded else None
        if action == "restore":
            return True if self.browse.selection() else None
        return True

    def update_bindings(self) -> None:
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
