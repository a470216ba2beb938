"""The main screen: vault tree, job table, detail pane, transfers; all service calls in workers.

Workers never touch widgets: they post messages (``glacier_tui.ui.messages``) and the
handlers below render. Every worker catches ``GlacierError`` and posts an
``OperationError``; the app's ``on_worker_state_changed`` catches the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Tree
from textual.worker import Worker

from glacier_tui.ui.formatting import clean, human_size
from glacier_tui.ui.messages import (
    ArchivesRemoved,
    Connected,
    ConnectFailed,
    Info,
    InventoryFlags,
    InventoryImported,
    InventoryPending,
    JobsLoaded,
    JobStarted,
    OperationError,
    PollDone,
    TransferState,
    TransferUpdate,
    VaultsChanged,
    VaultSettingsLoaded,
    VaultsLoaded,
)
from glacier_tui.ui.widgets.archive_list import (
    ArchiveList,
    Row,
    StoreArchiveSource,
    StoreSearchSource,
)
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.filter_bar import FilterBar
from glacier_tui.ui.widgets.header import GlacierHeader
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.transfers_panel import TransfersPanel
from glacier_tui.ui.widgets.vault_tree import (
    ArchiveEntry,
    FolderEntry,
    NodeData,
    VaultTree,
    vault_key,
)

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job, Vault
    from glacier_tui.ui.app import GlacierApp

log = logging.getLogger("glacier_tui.ui")

# Actions that send a mutating request: hidden and refused in read-only mode.
MUTATING: frozenset[str] = frozenset(
    {"restore", "inventory", "create_vault", "upload", "delete", "delete_vault"}
)
# Actions that need a connected client.
NEEDS_CLIENT: frozenset[str] = MUTATING | {"download", "refresh", "vault_settings"}
RESTORE_CONCURRENCY = 4
RESTORE_SPACING = 0.05  # seconds between InitiateJob starts: be gentle with the API
DELETE_CONCURRENCY = 4  # DeleteArchive requests in flight at once
# Store journal key prefix: when this app last uploaded to / deleted from a vault.
WRITTEN_KEY = "vault-written:"
# An archive to delete: (archive id, path, size).
DeleteTarget = tuple[str, str, int | None]
# Archive list sort orders, cycled with `o`: (store sort key, descending, title label).
SORTS: tuple[tuple[str, bool, str], ...] = (
    ("name", False, "name"), ("size", True, "size"), ("created", True, "date"))


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restore", "Restore", id="restore"),
        Binding("d", "download", "Download", id="download"),
        Binding("i", "inventory", "Inventory", id="inventory"),
        Binding("R", "refresh", "Refresh", id="refresh"),
        Binding("u", "upload", "Upload", id="upload", show=False),
        Binding("n", "create_vault", "New vault", id="create_vault", show=False),
        Binding("delete", "delete", "Delete", id="delete", show=False),
        Binding("D", "delete_vault", "Delete vault", id="delete_vault", show=False),
        Binding("s", "vault_settings", "Settings", id="vault_settings"),
        Binding("x", "cancel_transfer", "Cancel", id="cancel_transfer"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("colon", "jump", "Jump", id="jump", show=False),
        Binding("o", "sort", "Sort", id="sort", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("escape", "back", "Back", id="back", show=False),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self) -> None:
        super().__init__(id="main")
        self.connected = False
        self.vaults: dict[str, Vault] = {}
        self.started_here: set[str] = set()
        self.inventory_jobs: dict[str, str] = {}  # job id -> vault, requested here
        self.handled: set[str] = set()  # finished jobs whose follow-up ran
        self.transfer_workers: dict[str, Worker[Any]] = {}
        self.poll_cycles = 0
        self.poll_running = False
        self.poll_failures = 0
        self._poll_timer: Any = None
        self._last_poll_error = ""
        self._settings_vault = ""
        self._list_vault = ""  # vault/folder whose archives the archive list shows
        self._list_folder: str | None = None
        self._list_totals: tuple[int, int] = (0, 0)
        self._sort = 0
        self._search_text = ""
        self._search_indexed: set[str] = set()
        self._binding_state: tuple[bool | None, ...] = ()
        self._delete_seq = 0

    @property
    def gapp(self) -> GlacierApp:
        from glacier_tui.ui.app import GlacierApp

        assert isinstance(self.app, GlacierApp)
        return self.app

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        settings = self.gapp.settings
        yield GlacierHeader(readonly=settings.readonly, demo=self.gapp.demo)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield VaultTree()
                yield ArchiveList(id="archives")
            with Vertical(id="right"):
                yield JobTable()
                yield DetailPane()
        yield TransfersPanel()
        yield FilterBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        header = self.query_one(GlacierHeader)
        settings = self.gapp.settings
        header.set_info(profile=settings.profile or "default", region=settings.region or "",
                        endpoint=settings.endpoint_url or ("demo" if self.gapp.demo else "aws"))
        now = self.gapp.clock()
        self.query_one(VaultTree).now = now
        self.query_one(JobTable).now = now
        self.query_one(DetailPane).now = now
        archives = self.query_one(ArchiveList)
        archives.border_title = "Archives"
        archives.empty_text = "Select a folder."
        self.query_one(VaultTree).focus()
        # After the first frame: connecting imports aioboto3 (slow) in the worker.
        self.call_after_refresh(self.start_connect)

    # -- connect ----------------------------------------------------------------------------

    def start_connect(self) -> None:
        self.query_one(VaultTree).set_status("Connecting…")
        self.run_worker(self._connect(), group="connect", exclusive=True, exit_on_error=False)

    async def _connect(self) -> None:
        gapp = self.gapp
        try:
            if gapp.demo and gapp.demo_backend is None:
                self.post_message(Info("starting the demo emulator…"))
                from glacier_tui.demo import start_demo

                gapp.demo_backend = await asyncio.to_thread(start_demo, None)
            client = await gapp.open_client()
            vaults = await client.list_vaults()
        except Exception as exc:
            log.warning("connect failed: %s", exc)
            self.post_message(ConnectFailed(exc))
            return
        self.post_message(Connected(client.endpoint_url, client.region))
        await self._post_vaults(vaults)
        await self._load_jobs([v.name for v in vaults], complete=True)

    async def _post_vaults(self, vaults: list[Vault]) -> None:
        flags = await asyncio.to_thread(self._inventory_flags, vaults)
        self.post_message(VaultsLoaded(vaults))
        self.post_message(InventoryFlags(flags))

    def _inventory_flags(self, vaults: list[Vault]) -> dict[str, bool]:
        store = self.gapp.store
        return {v.name: store.current_snapshot_id(vault_key(v)) is not None for v in vaults}

    def on_connected(self, message: Connected) -> None:
        self.connected = True
        self.query_one(GlacierHeader).set_info(endpoint=message.endpoint, region=message.region,
                                               status="")
        self.refresh_bindings()
        self._arm_poll(self.gapp.poll_interval)

    def on_connect_failed(self, message: ConnectFailed) -> None:
        from glacier_tui.ui.screens.error import ErrorScreen, describe_error

        title, text, hint = describe_error(message.error)
        self.query_one(VaultTree).set_status(f"{title}. Press R to retry.")
        self.query_one(GlacierHeader).set_info(status="not connected")

        def retry(result: str | None) -> None:
            if result == "retry":
                self.start_connect()

        self.app.push_screen(ErrorScreen(title, text, hint), retry)

    def on_info(self, message: Info) -> None:
        self.query_one(GlacierHeader).set_info(status=message.text)

    def on_operation_error(self, message: OperationError) -> None:
        self.notify(message.text, title=message.title,
                    severity="warning" if message.severity == "warning" else "error",
                    timeout=8, markup=False)

    # -- vaults -----------------------------------------------------------------------------

    def on_vaults_loaded(self, message: VaultsLoaded) -> None:
        self.vaults = {v.name: v for v in message.vaults}
        tree = self.query_one(VaultTree)
        tree.now = self.gapp.clock()
        tree.set_vaults(message.vaults, tree.has_inventory)
        tree.border_title = f"Vaults ({len(message.vaults)})"
        self._show_current_detail()

    def on_inventory_flags(self, message: InventoryFlags) -> None:
        tree = self.query_one(VaultTree)
        changed = [n for n, f in message.flags.items() if tree.has_inventory.get(n) != f]
        tree.has_inventory.update(message.flags)
        for name in changed:
            tree.reset_vault(name)
        if self._list_vault in changed:
            self._show_folder(NodeData("folder", self._list_vault, path=self._list_folder or ""),
                              force=True)

    def on_vaults_changed(self, _: VaultsChanged) -> None:
        self.run_worker(self._reload_vaults(), group="vaults", exclusive=True,
                        exit_on_error=False)

    async def _reload_vaults(self) -> None:
        client = self.gapp.client
        if client is None:
            return
        try:
            vaults = await client.list_vaults()
        except Exception as exc:
            self.post_message(OperationError(_user_message(exc), title="Listing vaults failed"))
            return
        await self._post_vaults(vaults)

    # -- tree children (store reads in a thread) -------------------------------------------

    def on_vault_tree_load_children(self, message: VaultTree.LoadChildren) -> None:
        self._load_children(message.node, message.offset)

    @work(thread=True, group="tree", exit_on_error=False)
    def _load_children(self, node: Any, offset: int) -> None:
        data: NodeData = node.data
        vault = self.vaults.get(data.vault)
        if vault is None:
            return
        key = vault_key(vault)
        store = self.gapp.store
        try:
            folders = [FolderEntry(f.path, f.name, f.count, f.bytes, f.direct_count)
                       for f in store.subfolders(key, data.path, limit=100_000)]
        except Exception as exc:  # a missing snapshot or a bad database: show, don't crash
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        self.app.call_from_thread(self.query_one(VaultTree).fill, node, folders)

    # -- archive list (the highlighted folder's archives, virtual) -------------------------

    def _show_folder(self, data: NodeData | None, *, force: bool = False) -> None:
        """Point the archive list at the folder (or vault root) under the tree cursor."""
        if data is None or not data.vault or data.kind not in ("vault", "folder"):
            return
        path = data.path if data.kind == "folder" else ""
        if not force and (data.vault, path) == (self._list_vault, self._list_folder):
            return
        self._list_vault, self._list_folder = data.vault, path
        self._search_text = ""
        lst = self.query_one(ArchiveList)
        lst.context = data.vault
        if not self.query_one(VaultTree).has_inventory.get(data.vault):
            lst.set_source(None)
            lst.empty_text = "No cached inventory: press i to request one."
            lst.border_title = "Archives"
            return
        lst.empty_text = "Loading…"
        self._load_folder(data.vault, path)

    @work(thread=True, group="folder", exclusive=True, exit_on_error=False)
    def _load_folder(self, vault_name: str, path: str) -> None:
        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        try:
            info = self.gapp.store.folder(vault_key(vault), path)
        except Exception as exc:
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        totals = (info.direct_count, info.direct_bytes) if info is not None else (0, 0)
        self.app.call_from_thread(self._folder_loaded, vault_name, path, totals)

    def _folder_loaded(self, vault_name: str, path: str, totals: tuple[int, int]) -> None:
        if (vault_name, path) != (self._list_vault, self._list_folder) or self._search_text:
            return
        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        self._list_totals = totals
        sort, descending, _ = SORTS[self._sort]
        lst = self.query_one(ArchiveList)
        lst.empty_text = "(no archives directly in this folder)"
        lst.set_source(StoreArchiveSource(self.gapp.store, vault_key(vault), path, sort=sort,
                                          descending=descending))
        self._list_title()

    def _list_title(self) -> None:
        lst = self.query_one(ArchiveList)
        if self._search_text:
            lst.border_title = f"Search {clean(self._search_text)!r} in {self._list_vault}"
            return
        count, size = self._list_totals
        where = clean(self._list_folder or "/")
        lst.border_title = (f"{where} · {count} · {human_size(size)} · "
                            f"by {SORTS[self._sort][2]}")

    def action_sort(self) -> None:
        if self._search_text:
            self.notify("Search results are in inventory order.", timeout=3)
            return
        self._sort = (self._sort + 1) % len(SORTS)
        data = NodeData("folder", self._list_vault, path=self._list_folder or "")
        if self._list_vault:
            self._show_folder(data, force=True)
        else:
            self._list_title()

    def _set_search(self, text: str) -> None:
        vault = self.vaults.get(self._list_vault)
        if vault is None or not self.query_one(VaultTree).has_inventory.get(vault.name):
            return
        self._search_text = text
        if not text:
            self._show_folder(NodeData("folder", self._list_vault,
                                       path=self._list_folder or ""), force=True)
            return
        lst = self.query_one(ArchiveList)
        lst.empty_text = "No archive name matches."
        lst.set_source(StoreSearchSource(self.gapp.store, vault_key(vault), text))
        self._list_title()

    def _index_for_search(self, vault_name: str) -> None:
        if vault_name in self._search_indexed:
            return
        self._search_indexed.add(vault_name)
        self._build_search_index(vault_name)

    @work(thread=True, group="search-index", exit_on_error=False)
    def _build_search_index(self, vault_name: str) -> None:
        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        try:
            self.gapp.store.ensure_search_index(vault_key(vault))
        except Exception as exc:  # search still works (a LIKE scan) without the index
            log.warning("search index of %s: %s", vault_name, exc)

    def on_archive_list_highlighted(self, message: ArchiveList.Highlighted) -> None:
        if isinstance(self.focused, ArchiveList):
            self._show_archive_detail(message.row)

    def on_archive_list_marked(self, _: ArchiveList.Marked) -> None:
        self._update_bindings()

    def _show_archive_detail(self, row: Row) -> None:
        pane = self.query_one(DetailPane)
        size = human_size(row.size) + (f" ({row.size:,} bytes)" if row.size is not None else "")
        pane.show_archive([
            ("Vault", self.query_one(ArchiveList).context),
            ("Path", _row_path(row)),
            ("Description", str(getattr(row, "description", "")) or "—"),
            ("Size", size),
            ("Created", row.created or "—"),
            ("Tree hash", str(getattr(row, "tree_hash", None) or "—")),
            ("Archive id", row.archive_id),
        ])

    def action_duplicates(self) -> None:
        vault = self._list_vault or self.query_one(VaultTree).current_vault()
        if not vault or not self.query_one(VaultTree).has_inventory.get(vault):
            self.notify("Select a vault with a cached inventory first.", severity="warning")
            return
        self._open_duplicates(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _open_duplicates(self, vault_name: str) -> None:
        from glacier_tui.ui.screens.duplicates import DuplicatesScreen

        vault = self.vaults.get(vault_name)
        if vault is None:
            return
        try:
            groups = await asyncio.to_thread(self.gapp.store.duplicates, vault_key(vault))
        except Exception as exc:
            self.post_message(OperationError(f"Reading the inventory failed: {exc}"))
            return
        await self.app.push_screen_wait(DuplicatesScreen(vault_name, groups))

    # -- jobs -------------------------------------------------------------------------------

    async def _load_jobs(self, vault_names: list[str], *, complete: bool) -> None:
        """List jobs of the given vaults (≤ 4 at once) and post them as one message."""
        client = self.gapp.client
        if client is None or not vault_names:
            return
        sem = asyncio.Semaphore(4)
        jobs: list[Job] = []
        listed: list[str] = []

        async def one(name: str) -> None:
            async with sem:
                # On the backend thread: parsing pages never blocks the UI loop.
                jobs.extend(await self.gapp.poll_call(lambda c: c.list_jobs(name)))
                listed.append(name)

        results = await asyncio.gather(*(one(n) for n in vault_names), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        # Names already shown need no store lookup (a poll lists every live job again).
        shown = self.query_one(JobTable).names
        names = await asyncio.to_thread(
            self._archive_names, [j for j in jobs if j.job_id not in shown])
        self.post_message(JobsLoaded(jobs, listed, names, complete=complete))
        if errors:
            raise errors[0]

    def _archive_names(self, jobs: list[Job]) -> dict[str, str]:
        """Archive names from the cached inventory, for archive-retrieval jobs."""
        store = self.gapp.store
        names: dict[str, str] = {}
        known = self.gapp.archive_names
        for job in jobs:
            if not job.archive_id:
                continue
            if job.archive_id in known:
                names[job.job_id] = known[job.archive_id]
                continue
            vault = self.vaults.get(job.vault_name)
            if vault is None:
                continue
            try:
                row = store.get_archive(vault_key(vault), job.archive_id)
            except KeyError:
                continue
            if row is not None:
                names[job.job_id] = row.path
        return names

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        table = self.query_one(JobTable)
        table.now = self.gapp.clock()
        changes = table.upsert(message.jobs, message.names)
        if message.complete:
            by_vault: dict[str, set[str]] = {v: set() for v in message.vaults}
            for job in message.jobs:
                by_vault.setdefault(job.vault_name, set()).add(job.job_id)
            table.remove_missing(by_vault, keep=self.started_here)
        for old, new in changes:
            was_open = old is not None and not old.completed
            ours = old is None and new.job_id in self.started_here
            if new.completed and (was_open or ours):
                self._job_finished(new)
        self._follow_up()
        table.border_title = f"Jobs ({len(table.jobs)})"
        self._show_current_detail()

    def _job_finished(self, job: Job) -> None:
        name = "inventory" if job.is_inventory_retrieval else \
            self.query_one(JobTable).names.get(job.job_id, job.job_id[:8])
        if job.succeeded:
            self.notify(f"{job.vault_name}: {clean(name)} is ready", markup=False,
                        title="Job succeeded", timeout=6)
        else:
            self.notify(f"{job.vault_name}: {clean(name)} — {clean(job.status_message)}",
                        markup=False,
                        title="Job failed", severity="error", timeout=10)

    def _follow_up(self) -> None:
        """Download finished inventories (and, optionally, restores) started here."""
        table = self.query_one(JobTable)
        for job_id, job in table.jobs.items():
            if job_id in self.handled or not job.completed:
                continue
            if job_id in self.inventory_jobs:
                self.handled.add(job_id)
                vault = self.inventory_jobs[job_id]
                if job.succeeded:
                    self._start_download(job, inventory_for=vault)
                else:
                    tree = self.query_one(VaultTree)
                    tree.pending_inventory.pop(vault, None)
                    tree.reset_vault(vault)
            elif job_id in self.started_here and self.gapp.settings.auto_download \
                    and job.succeeded:
                self.handled.add(job_id)
                self._start_download(job)

    def on_job_started(self, message: JobStarted) -> None:
        job = message.job
        self.started_here.add(job.job_id)
        if job.is_inventory_retrieval:
            self.inventory_jobs[job.job_id] = job.vault_name
        table = self.query_one(JobTable)
        table.upsert([job], {job.job_id: message.name} if message.name else {})
        table.border_title = f"Jobs ({len(table.jobs)})"
        self._follow_up()

    # -- poller -----------------------------------------------------------------------------

    def _arm_poll(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(delay, self._start_poll)

    def _start_poll(self, force_full: bool = False) -> None:
        self._poll_timer = None
        if self.poll_running:
            return
        # Paused while a modal (or the error screen) is on top: re-arm and wait.
        if self.app.screen is not self and not force_full:
            self._arm_poll(self.gapp.poll_interval)
            return
        self.poll_running = True
        self.poll_cycles += 1
        interval = self.gapp.poll_interval
        full_every = 10 if interval < 10 else 5
        full = force_full or self.poll_cycles % full_every == 0
        self.run_worker(self._poll_cycle(full, interval), group="poll", exit_on_error=False)

    async def _poll_cycle(self, full: bool, interval: float) -> None:
        """One cycle; the PollDone handler re-arms, so cycles never overlap."""
        from glacier_tui.glacier.errors import Throttling

        delay = interval
        try:
            client = self.gapp.client
            if client is None:
                return
            if full:
                vaults = await self.gapp.poll_call(lambda c: c.list_vaults())
                await self._post_vaults(vaults)
                await self._load_jobs([v.name for v in vaults], complete=True)
            else:
                await self._load_jobs(sorted(self._vaults_to_poll), complete=True)
            self.poll_failures = 0
        except Throttling:
            self.poll_failures += 1
            delay = min(interval * 2 ** self.poll_failures, 600.0)
            self.post_message(OperationError(f"Glacier is throttling; next poll in {delay:.0f}s",
                                             title="Throttled", severity="warning"))
        except Exception as exc:
            self.poll_failures += 1
            delay = min(interval * 2 ** min(self.poll_failures, 4), 600.0)
            text = _user_message(exc)
            if text != self._last_poll_error:  # one toast per distinct failure
                self._last_poll_error = text
                self.post_message(OperationError(text, title="Refresh failed",
                                                 severity="warning"))
        finally:
            self.post_message(PollDone(delay))

    @property
    def _vaults_to_poll(self) -> set[str]:
        table = self.query_one(JobTable)
        return {j.vault_name for j in table.jobs.values() if not j.completed}

    def on_poll_done(self, message: PollDone) -> None:
        self.poll_running = False
        now = self.gapp.clock()
        self.query_one(JobTable).refresh_times(now)
        self.query_one(VaultTree).refresh_labels(now)
        self.query_one(DetailPane).now = now
        if self.is_attached:
            self._arm_poll(message.next_delay)

    def action_refresh(self) -> None:
        if self.gapp.client is None:
            self.start_connect()
            return
        if self.poll_running:
            return
        self.notify("Refreshing…", timeout=2)
        self._start_poll(force_full=True)

    # -- detail pane ------------------------------------------------------------------------

    @on(Tree.NodeHighlighted, "#vaults")
    def _tree_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        self._show_tree_detail(event.node.data)
        self._show_folder(event.node.data)
        self._update_bindings()

    @on(DataTable.RowHighlighted, "#jobs")
    def _job_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(self.focused, JobTable):
            self._show_job_detail()
        self._update_bindings()

    def on_descendant_focus(self) -> None:
        self._show_current_detail()
        self.refresh_bindings()

    def _show_current_detail(self) -> None:
        if isinstance(self.focused, JobTable):
            self._show_job_detail()
        elif isinstance(self.focused, ArchiveList):
            row = self.focused.current_row()
            if row is not None:
                self._show_archive_detail(row)
        else:
            node = self.query_one(VaultTree).cursor_node
            self._show_tree_detail(node.data if node is not None else None)

    def _show_job_detail(self) -> None:
        table = self.query_one(JobTable)
        job = table.current_job()
        if job is not None:
            pane = self.query_one(DetailPane)
            pane.now = self.gapp.clock()
            pane.show_job(job, table.names.get(job.job_id))

    def _show_tree_detail(self, data: NodeData | None) -> None:
        if data is None or not data.vault:
            return
        pane = self.query_one(DetailPane)
        pane.now = self.gapp.clock()
        if data.kind == "archive":
            pane.show_archive([("Vault", data.vault), ("Archive", data.path),
                               ("Archive id", data.archive_id), ("Size", human_size(data.size))])
            return
        if data.kind == "folder":
            pane.show_archive([("Vault", data.vault), ("Folder", data.path + "/"),
                               ("Archives", str(data.count)), ("Size", human_size(data.size))])
            return
        vault = self.vaults.get(data.vault)
        if vault is None:
            return
        tree = self.query_one(VaultTree)
        inv = [("Cached inventory", "yes" if tree.has_inventory.get(vault.name) else
                "none — press i to request one")]
        pane.show_vault(vault, inv)
        if self.gapp.client is not None and self._settings_vault != vault.name:
            self._settings_vault = vault.name
            pane.settings_loading(vault.name)
            self.run_worker(self._load_settings(vault.name), group="settings", exclusive=True,
                            exit_on_error=False)

    async def _load_settings(self, vault: str) -> None:
        await asyncio.sleep(0.2)  # debounce: moving through the tree cancels earlier loads
        client = self.gapp.client
        if client is None:
            return
        summary: list[tuple[str, str]] = []

        async def row(label: str, call: Callable[[], Awaitable[Any]],
                      fmt: Callable[[Any], str]) -> None:
            try:
                summary.append((label, fmt(await call())))
            except Exception as exc:
                summary.append((label, f"error: {_user_message(exc)}"))

        await row("Notifications", lambda: client.get_vault_notifications(vault),
                  lambda n: "none" if n is None else f"{n.sns_topic} ({', '.join(n.events)})")
        await row("Tags", lambda: client.list_tags(vault),
                  lambda t: ", ".join(f"{k}={v}" for k, v in sorted(t.items())) or "none")
        await row("Access policy", lambda: client.get_vault_access_policy(vault),
                  lambda p: "none" if not p else f"set ({len(p)} bytes)")
        await row("Vault lock", lambda: client.get_vault_lock(vault),
                  lambda lk: "none" if lk is None else lk.state)
        self.post_message(VaultSettingsLoaded(vault, summary))

    def on_vault_settings_loaded(self, message: VaultSettingsLoaded) -> None:
        self.query_one(DetailPane).show_settings(message.vault, message.summary)

    # -- bindings -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.gapp.settings.readonly:
            return False  # hidden from the footer, refused when pressed
        if action == "cancel_transfer":
            return bool(self.query_one(TransfersPanel).running())
        if action in NEEDS_CLIENT and action != "refresh" and not self.connected:
            return None  # shown disabled until connected
        if action == "download":
            job = self.query_one(JobTable).current_job() if isinstance(
                self.focused, JobTable) else None
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

    def _writable(self, what: str) -> bool:
        """Call-site guard: no mutating request in read-only mode, whatever the keymap does."""
        if self.gapp.settings.readonly:
            self.notify(f"Read-only mode: {what} is disabled.", severity="warning")
            return False
        if self.gapp.client is None:
            self.notify("Not connected yet.", severity="warning")
            return False
        return True

    # -- inventory ------------------------------------------------------------------------------

    def action_inventory(self) -> None:
        vault = self.query_one(VaultTree).current_vault()
        if vault is None:
            self.notify("Select a vault first.", severity="warning")
            return
        if not self._writable("requesting an inventory"):
            return
        self.run_worker(self._request_inventory(vault), group="inventory", exit_on_error=False)

    async def _request_inventory(self, vault: str) -> None:
        client = self.gapp.client
        assert client is not None
        try:
            job_id = await client.initiate_inventory_retrieval(vault, format="JSON")
            job = await client.describe_job(vault, job_id)
        except Exception as exc:
            self.post_message(OperationError(_user_message(exc), title="Inventory request failed"))
            return
        self.post_message(JobStarted(job, "inventory", auto=True))
        self.post_message(InventoryPending(vault))

    def on_inventory_pending(self, message: InventoryPending) -> None:
        tree = self.query_one(VaultTree)
        tree.pending_inventory[message.vault] = self.gapp.clock()
        tree.reset_vault(message.vault)
        self.notify(f"Inventory of {message.vault} requested. Glacier takes hours on AWS.",
                    markup=False,
                    title="Inventory")

    def on_inventory_imported(self, message: InventoryImported) -> None:
        tree = self.query_one(VaultTree)
        tree.has_inventory[message.vault] = True
        tree.pending_inventory.pop(message.vault, None)
        tree.reset_vault(message.vault)
        node = tree.vault_node(message.vault)
        if node is not None and not node.is_expanded:
            node.expand()
        self._index_for_search(message.vault)
        if self._list_vault == message.vault:
            self._show_folder(NodeData("folder", message.vault, path=self._list_folder or ""),
                              force=True)
        self.notify(f"{message.vault}: {message.count} archives in the inventory", markup=False,
                    title="Inventory loaded")

    # -- downloads / transfers ------------------------------------------------------------------

    def action_download(self) -> None:
        job = self.query_one(JobTable).current_job()
        if job is None or not job.succeeded:
            self.notify("Select a succeeded job to download.", severity="warning")
            return
        self._start_download(job, inventory_for=job.vault_name
                             if job.is_inventory_retrieval else None)

    def _start_download(self, job: Job, inventory_for: str | None = None) -> None:
        if job.job_id in self.transfer_workers and \
                self.transfer_workers[job.job_id].is_running:
            self.notify("That job is already downloading.")
            return
        worker = self.run_worker(self._download(job, inventory_for), group="transfers",
                                 exit_on_error=False)
        self.transfer_workers[job.job_id] = worker

    def _progress(self, tid: str, name: str, kind: str) -> Callable[[Any], None]:
        def on_progress(p: Any) -> None:
            state = str(getattr(p.state, "value", p.state))
            if state in ("queued", "verifying"):
                state = "running"
            self.post_message(TransferUpdate(TransferState(
                id=tid, kind=kind, name=name, total=p.total or None, done=p.done,
                rate_bps=p.rate_bps, eta_s=p.eta_s, state=state, message=p.message)))
        return on_progress

    async def _download(self, job: Job, inventory_for: str | None) -> None:
        from glacier_tui.glacier import transfers
        from glacier_tui.glacier.paths import safe_download_path

        gapp = self.gapp
        client = gapp.client
        assert client is not None
        settings = gapp.settings
        vault = job.vault_name
        tid = job.job_id
        name = "inventory"
        try:
            if inventory_for is not None:
                from glacier_tui.config import state_dir

                dest = state_dir() / "inventories" / transfers.default_output_name(job, vault, None)
                name = f"inventory of {vault}"
            else:
                known = self.query_one(JobTable).names.get(job.job_id)
                if not known:
                    desc = await transfers.fetch_archive_description(client, vault, job)
                    known = transfers.default_output_name(job, vault, desc)
                name = known
                dest = safe_download_path(gapp.download_dir, known)
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.post_message(TransferUpdate(TransferState(tid, "download", name,
                                                           total=job.output_size)))
            result = await transfers.download_job_output(
                client, vault, job, dest,
                segment_size=settings.segment_size_mib * 1024 * 1024,
                concurrency=settings.transfer_concurrency,
                overwrite=inventory_for is not None,
                on_progress=self._progress(tid, name, "download"),
                transfer_id=tid,
            )
        except asyncio.CancelledError:
            self.post_message(TransferUpdate(TransferState(tid, "download", name,
                                                           state="cancelled")))
            raise
        except Exception as exc:
            msg = _user_message(exc)
            self.post_message(TransferUpdate(TransferState(tid, "download", name, state="failed",
                                                           message=msg)))
            self.post_message(OperationError(msg, title=f"Download of {clean(name)} failed"))
            return
        if inventory_for is None:
            self.post_message(Info(f"downloaded {clean(name)}"))
            self.post_message(OperationError(f"{clean(name)} → {result.path}",
                                             title="Downloaded", severity="information"))
            return
        try:
            count = await asyncio.to_thread(self._import_inventory, inventory_for, result.path)
        except Exception as exc:
            self.post_message(OperationError(_user_message(exc), title="Inventory import failed"))
            return
        self.post_message(InventoryImported(inventory_for, count))

    def _import_inventory(self, vault: str, path: Path) -> int:
        from glacier_tui.glacier.inventory import import_inventory

        v = self.vaults.get(vault)
        key = vault_key(v) if v is not None else vault
        result = import_inventory(self.gapp.store, key, path,
                                  expected_vault_arn=v.arn if v is not None else None)
        return result.archives

    def on_transfer_update(self, message: TransferUpdate) -> None:
        self.query_one(TransfersPanel).update_transfer(message.state)
        self._update_bindings()

    def on_transfers_panel_cancel_requested(
        self, message: TransfersPanel.CancelRequested
    ) -> None:
        self._cancel_transfer(message.transfer_id)

    def action_cancel_transfer(self) -> None:
        tid = self.query_one(TransfersPanel).focused_transfer()
        if tid:
            self._cancel_transfer(tid)

    def _cancel_transfer(self, tid: str) -> None:
        worker = self.transfer_workers.get(tid)
        if worker is not None and worker.is_running:
            worker.cancel()
            if tid.startswith("delete:"):
                self.notify("Deleting stopped; the archives deleted so far are recorded.",
                            timeout=4)
            else:
                self.notify("Transfer cancelled; press d again to resume.", timeout=4)

    # -- restore ----------------------------------------------------------------------------------

    def action_restore(self) -> None:
        if not self._writable("restore"):
            return
        selection = self._selection()
        if not selection:
            self.notify("Mark archives or a folder (space) first.", severity="warning")
            return
        self._open_restore(selection)

    @work(group="restore-dialog", exclusive=True, exit_on_error=False)
    async def _open_restore(self, selection: list[NodeData]) -> None:
        from glacier_tui.ui.restore_model import ArchiveRef
        from glacier_tui.ui.screens.restore import RestoreScreen

        targets = await asyncio.to_thread(self._resolve_archives, selection)
        if not targets:
            self.notify("Nothing to restore in the selection.", severity="warning")
            return
        refs = [ArchiveRef(a.archive_id, a.path, a.size or 0) for _, a in targets]
        settings = self.gapp.settings
        request = await self.app.push_screen_wait(
            RestoreScreen(refs, settings.prices, settings.default_tier))
        if request is None:
            return
        self._clear_marks()
        self.run_worker(self._initiate_restores(targets, request), group="restore",
                        exit_on_error=False)

    def _selection(self) -> list[NodeData]:
        """Marked folders (tree) and archives (list); else what is under the cursor."""
        tree = self.query_one(VaultTree)
        lst = self.query_one(ArchiveList)
        picked = [NodeData("archive", vault, path=_row_path(row), archive_id=aid, size=row.size)
                  for aid, (vault, row) in lst.marked_rows.items()]
        if tree.marks or picked:
            return list(tree.marks.values()) + picked
        if isinstance(self.focused, ArchiveList):
            row = lst.current_row()
            if row is None or not lst.context:
                return []
            return [NodeData("archive", lst.context, path=_row_path(row),
                             archive_id=row.archive_id, size=row.size)]
        return tree.selection()

    def _clear_marks(self) -> None:
        tree = self.query_one(VaultTree)
        lst = self.query_one(ArchiveList)
        if tree.marks:
            tree.clear_marks()
        if lst.marked:
            lst.clear_marks()

    def _resolve_archives(self, selection: list[NodeData]) -> list[tuple[str, ArchiveEntry]]:
        """Expand folders into their archives (descendants too) via the store."""
        store = self.gapp.store
        out: list[tuple[str, ArchiveEntry]] = []
        seen: set[str] = set()
        for data in selection:
            vault = self.vaults.get(data.vault)
            if vault is None:
                continue
            if data.kind == "archive":
                if data.archive_id not in seen:
                    seen.add(data.archive_id)
                    out.append((data.vault, ArchiveEntry(data.archive_id, data.path,
                                                         data.path.rpartition("/")[2], data.size)))
                continue
            prefix = data.path
            for row in store.iter_archives(vault_key(vault)):
                if prefix and row.folder != prefix and not row.folder.startswith(prefix + "/"):
                    continue
                if row.archive_id not in seen:
                    seen.add(row.archive_id)
                    out.append((data.vault, ArchiveEntry(row.archive_id, row.path, row.name,
                                                         row.size)))
        return out

    async def _initiate_restores(self, targets: list[tuple[str, ArchiveEntry]],
                                 request: Any) -> None:
        client = self.gapp.client
        if client is None or self.gapp.settings.readonly:
            return
        sem = asyncio.Semaphore(RESTORE_CONCURRENCY)
        failures: list[str] = []
        started = 0

        async def one(index: int, vault: str, archive: ArchiveEntry) -> None:
            nonlocal started
            await asyncio.sleep(RESTORE_SPACING * index / RESTORE_CONCURRENCY)
            async with sem:
                try:
                    job_id = await client.initiate_archive_retrieval(
                        vault, archive.archive_id, tier=str(request.tier),
                        byte_range=request.byte_range, sns_topic=request.sns_topic,
                        description=request.description)
                    self.gapp.archive_names[archive.archive_id] = archive.path
                    job = await client.describe_job(vault, job_id)
                except Exception as exc:
                    failures.append(f"{clean(archive.path)}: {_user_message(exc)}")
                    return
                started += 1
                self.post_message(JobStarted(job, archive.path, auto=True))

        await asyncio.gather(*(one(i, v, a) for i, (v, a) in enumerate(targets)))
        if failures:
            shown = "\n".join(failures[:5])
            more = f"\n… and {len(failures) - 5} more" if len(failures) > 5 else ""
            self.post_message(OperationError(
                f"{started} started, {len(failures)} failed:\n{shown}{more}",
                title="Restore"))
        else:
            self.post_message(OperationError(f"{started} restore job(s) started.",
                                             title="Restore", severity="information"))

    # -- other actions (UI-B screens) -----------------------------------------------------------

    def action_create_vault(self) -> None:
        if not self._writable("creating a vault"):
            return
        self._create_vault()

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _create_vault(self) -> None:
        from glacier_tui.ui.screens.create_vault import CreateVaultScreen

        name = await self.app.push_screen_wait(CreateVaultScreen(set(self.vaults)))
        if not name or self.gapp.client is None or self.gapp.settings.readonly:
            return
        try:
            await self.gapp.client.create_vault(str(name))
        except Exception as exc:
            self.post_message(OperationError(_user_message(exc), title="Create vault failed"))
            return
        self.notify(f"Vault {name} created.", markup=False)
        self.post_message(VaultsChanged())

    def action_upload(self) -> None:
        vault = self.query_one(VaultTree).current_vault()
        if vault is None:
            self.notify("Select a vault first.", severity="warning")
            return
        if not self._writable("upload"):
            return
        self._upload(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _upload(self, vault: str) -> None:
        from glacier_tui.ui.screens.upload import UploadScreen

        paths = await self.app.push_screen_wait(UploadScreen())
        if not paths:
            return
        for path in paths:
            tid = f"upload:{vault}:{path}"
            self.transfer_workers[tid] = self.run_worker(
                self._upload_one(vault, Path(path), tid), group="transfers",
                exit_on_error=False)

    async def _upload_one(self, vault: str, path: Path, tid: str) -> None:
        from glacier_tui.config import state_dir
        from glacier_tui.glacier import transfers

        client = self.gapp.client
        settings = self.gapp.settings
        if client is None or settings.readonly:
            return
        try:
            result = await transfers.upload_file(
                client, vault, path, concurrency=settings.transfer_concurrency,
                min_part_size=settings.part_size_mib * 1024 * 1024,
                threshold=settings.upload_threshold_mib * 1024 * 1024,
                on_progress=self._progress(tid, path.name, "upload"),
                journal_dir=state_dir() / "uploads", transfer_id=tid)
        except asyncio.CancelledError:
            self.post_message(TransferUpdate(TransferState(tid, "upload", path.name,
                                                           state="cancelled")))
            raise
        except Exception as exc:
            self.post_message(OperationError(_user_message(exc),
                                             title=f"Upload of {path.name} failed"))
            return
        v = self.vaults.get(vault)
        if v is not None:
            try:
                await asyncio.to_thread(self._mark_written, v)
            except Exception as exc:
                log.warning("recording the upload to %s: %s", vault, exc)
        self.post_message(OperationError(
            f"{path.name} → archive {result.archive_id[:16]}… (in the next inventory)",
            title="Uploaded", severity="information"))

    def action_delete(self) -> None:
        if not self._writable("delete"):
            return
        tree = self.query_one(VaultTree)
        archives = [d for d in self._selection() if d.kind == "archive"]
        if not archives:
            node = tree.cursor_node
            if node is not None and node.data is not None and node.data.kind == "vault":
                self.action_delete_vault()
                return
            self.notify("Mark archives to delete (space); folders are not deleted at once.",
                        severity="warning")
            return
        self._delete_archives(archives)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _delete_archives(self, archives: list[NodeData]) -> None:
        from glacier_tui.ui.screens.confirm import ConfirmScreen

        total = sum(a.size or 0 for a in archives)
        body: list[str | Text] = [
            Text(f"{len(archives)} archive(s), {human_size(total)}, will be deleted for good:")]
        body += [Text(f"  {a.vault}: {clean(a.path)}") for a in archives[:10]]
        if len(archives) > 10:
            body.append(Text(f"  … and {len(archives) - 10} more"))
        ok = await self.app.push_screen_wait(
            ConfirmScreen("Delete archives?", body, confirm_label="Delete"))
        if not ok or self.gapp.client is None or self.gapp.settings.readonly:
            return
        self._clear_marks()
        by_vault: dict[str, list[DeleteTarget]] = {}
        for a in archives:
            by_vault.setdefault(a.vault, []).append((a.archive_id, a.path, a.size))
        for vault, targets in by_vault.items():
            name = f"{targets[0][1]} ({vault})" if len(targets) == 1 else \
                f"{len(targets)} archives of {vault}"
            self._start_deletes(vault, targets, name, emptying=False)

    def _start_deletes(self, vault: str, targets: list[DeleteTarget], name: str, *,
                       emptying: bool) -> None:
        """Delete archives in a transfers worker (listed in the Transfers panel, cancellable)."""
        self._delete_seq += 1
        tid = f"delete:{vault}:{self._delete_seq}"
        self.post_message(TransferUpdate(TransferState(tid, "delete", name,
                                                       total=len(targets))))
        self.transfer_workers[tid] = self.run_worker(
            self._run_deletes(vault, targets, tid, name, emptying=emptying),
            group="transfers", exit_on_error=False)

    async def _run_deletes(self, vault: str, targets: list[DeleteTarget], tid: str, name: str,
                           *, emptying: bool) -> None:
        """DeleteArchive for each target, at most DELETE_CONCURRENCY at once.

        An archive already gone (ResourceNotFound) counts as deleted. Whatever happens
        (failures, cancel), the archives deleted are dropped from the cached inventory.
        """
        from glacier_tui.glacier.errors import ResourceNotFound

        client = self.gapp.client
        if client is None or self.gapp.settings.readonly:
            return
        total = len(targets)
        deleted: list[str] = []
        deleted_bytes = 0
        failures: list[str] = []
        pending = iter(targets)
        every = max(1, min(25, total // 20))
        state = "done"

        def progress(current: str = "running", message: str = "") -> None:
            self.post_message(TransferUpdate(TransferState(
                tid, "delete", name, total=total, done=len(deleted), state=current,
                message=message)))

        async def one_by_one() -> None:
            nonlocal deleted_bytes
            for archive_id, path, size in pending:
                try:
                    await client.delete_archive(vault, archive_id)
                except ResourceNotFound:
                    pass  # deleted already (here or elsewhere): done
                except Exception as exc:
                    failures.append(f"{clean(path)}: {_user_message(exc)}")
                    continue
                deleted.append(archive_id)
                deleted_bytes += size or 0
                if len(deleted) % every == 0:
                    progress()

        try:
            await asyncio.gather(*(one_by_one() for _ in range(min(DELETE_CONCURRENCY, total))))
        except asyncio.CancelledError:
            state = "cancelled"
            raise
        finally:
            if failures and state == "done":
                state = "failed"
            message = f"{len(failures)} failed" if failures else ""
            progress(state, message)
            if deleted:
                try:
                    await asyncio.to_thread(self._forget_archives, vault, deleted)
                except Exception as exc:  # the deletions happened; only the cache is stale
                    log.warning("dropping deleted archives of %s from the store: %s", vault, exc)
                self.post_message(ArchivesRemoved(vault, len(deleted)))
        if failures:
            shown = "\n".join(failures[:5])
            more = f"\n… and {len(failures) - 5} more" if len(failures) > 5 else ""
            self.post_message(OperationError(
                f"{len(deleted)} deleted, {len(failures)} failed:\n{shown}{more}",
                title=f"Deleting archives of {vault}"))
        if emptying:
            text = (f"{len(deleted)} of {total} archives ({human_size(deleted_bytes)}) of vault "
                    f"{vault} deleted. Glacier can delete the vault once its next inventory "
                    "(about a day from now) shows it empty: press D on it then.")
            if failures:
                text += " Delete the archives that failed first (press D again to retry)."
            self.notify(text, title="Vault emptied" if not failures else "Vault not emptied",
                        severity="information" if not failures else "warning", timeout=20,
                        markup=False)
        elif not failures:
            self.post_message(OperationError(
                f"{len(deleted)} archive(s) deleted (the inventory updates within a day).",
                title="Deleted", severity="information"))

    def _forget_archives(self, vault: str, archive_ids: list[str]) -> None:
        """Record deletions: drop them from the cached inventory, note the vault was written."""
        v = self.vaults.get(vault)
        if v is None:
            return
        key = vault_key(v)
        store = self.gapp.store
        if store.current_snapshot_id(key) is not None:
            store.remove_archives(key, archive_ids)
        self._mark_written(v)

    def _mark_written(self, vault: Vault) -> None:
        """Remember (in the store) that this app wrote to the vault now (thread)."""
        self.gapp.store.journal_put(WRITTEN_KEY + vault_key(vault), self.gapp.clock().isoformat())

    def _recently_written(self, vault: Vault) -> bool:
        """True when this app uploaded or deleted since the vault's last inventory (thread)."""
        value = self.gapp.store.journal_get(WRITTEN_KEY + vault_key(vault))
        return written_since_inventory(value, vault.last_inventory_date)

    def on_archives_removed(self, message: ArchivesRemoved) -> None:
        tree = self.query_one(VaultTree)
        tree.reset_vault(message.vault)
        if self._list_vault == message.vault:
            self._show_folder(NodeData("folder", message.vault, path=self._list_folder or ""),
                              force=True)

    def action_delete_vault(self) -> None:
        vault = self.query_one(VaultTree).current_vault()
        if vault is None or not self._writable("deleting a vault"):
            return
        self._delete_vault(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _delete_vault(self, vault: str) -> None:
        from glacier_tui.ui.screens.confirm import ConfirmScreen
        from glacier_tui.ui.screens.delete_vault import DeleteVaultChoice, DeleteVaultScreen

        v = self.vaults.get(vault)
        if v is None:
            return
        info = await asyncio.to_thread(self._snapshot_info, v)
        written = await asyncio.to_thread(self._recently_written, v)
        choice = await self.app.push_screen_wait(
            DeleteVaultScreen(v, info[0] if info else None, v.last_inventory_date,
                              recently_written=written))
        client = self.gapp.client
        if choice is None or client is None or self.gapp.settings.readonly:
            return
        if choice == DeleteVaultChoice.DELETE_ALL_ARCHIVES:
            targets = await asyncio.to_thread(self._all_archives, v)
            if not targets:
                self.notify("The cached inventory lists no archives.", severity="warning")
                return
            size = sum(t[2] or 0 for t in targets)
            ok = await self.app.push_screen_wait(ConfirmScreen(
                f"Delete all {len(targets)} archives ({human_size(size)}) of vault {vault}? "
                "This cannot be undone.",
                [f"Every archive of the last inventory is deleted ({DELETE_CONCURRENCY} at a "
                 "time; progress in the Transfers panel, x stops).",
                 "The vault itself can be deleted after Glacier's next inventory (about a "
                 "day) shows it empty."],
                confirm_label="Delete all"))
            if not ok or self.gapp.settings.readonly:
                return
            self._start_deletes(vault, targets, f"all {len(targets)} archives of {vault}",
                                emptying=True)
            return
        try:
            await client.delete_vault(vault)
        except Exception as exc:
            self.post_message(OperationError(_user_message(exc), title="Delete vault failed"))
            return
        self.notify(f"Vault {vault} deleted.", markup=False)
        self.post_message(VaultsChanged())

    def _all_archives(self, vault: Vault) -> list[DeleteTarget]:
        """Every archive of the vault's cached inventory (thread)."""
        key = vault_key(vault)
        store = self.gapp.store
        if store.current_snapshot_id(key) is None:
            return []
        return [(r.archive_id, r.path, r.size) for r in store.iter_archives(key)]

    def _snapshot_info(self, vault: Vault) -> tuple[int] | None:
        info = self.gapp.store.snapshot_info(vault_key(vault))
        return None if info is None else (info.archive_count or 0,)

    def action_vault_settings(self) -> None:
        vault = self.query_one(VaultTree).current_vault()
        client = self.gapp.client
        if vault is None or client is None:
            self.notify("Select a vault first.", severity="warning")
            return
        from glacier_tui.ui.screens.vault_settings import VaultSettingsScreen

        def reload(_: object) -> None:
            self._settings_vault = ""  # settings may have changed: read them again
            self._show_current_detail()

        self.app.push_screen(
            VaultSettingsScreen(client, vault, readonly=self.gapp.settings.readonly), reload)

    # -- navigation ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        focused = self.focused
        bar = self.query_one(FilterBar)
        if isinstance(focused, JobTable):
            bar.open("jobs", "jobs", focused.filter_text)
        elif isinstance(focused, ArchiveList):
            if not self.query_one(VaultTree).has_inventory.get(self._list_vault):
                self.notify("No cached inventory to search.", severity="warning")
                return
            self._index_for_search(self._list_vault)
            bar.open("archives", f"all archives of {self._list_vault}", self._search_text)
        else:
            tree = self.query_one(VaultTree)
            bar.open("vaults", "vaults", tree.filter_text)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        bar = self.query_one(FilterBar)
        if bar.target_id == "jobs":
            self.query_one(JobTable).set_filter(event.value)
        elif bar.target_id == "archives":
            self._set_search(event.value)
        else:
            self.query_one(VaultTree).set_filter(event.value)

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        bar = self.query_one(FilterBar)
        if bar.target_id == "archives":
            if message.clear:
                self._set_search("")
            self.query_one(ArchiveList).focus()
            return
        target = self.query_one(JobTable) if bar.target_id == "jobs" else \
            self.query_one(VaultTree)
        if message.clear:
            target.set_filter("")
        target.focus()

    def action_back(self) -> None:
        tree = self.query_one(VaultTree)
        if tree.marks or self.query_one(ArchiveList).marked:
            self._clear_marks()
            return
        if self._search_text:
            self._set_search("")
            return
        if tree.filter_text:
            tree.set_filter("")
            return
        table = self.query_one(JobTable)
        if table.filter_text:
            table.set_filter("")
            return
        node = tree.cursor_node
        if self.focused is tree and node is not None:
            if node.is_expanded:
                node.collapse()
            elif node.parent is not None and node.parent is not tree.root:
                tree.move_cursor(node.parent)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def action_jump(self) -> None:
        from glacier_tui.ui.screens.jump import JumpScreen

        text = await self.app.push_screen_wait(JumpScreen())
        if text:
            self.jump_to(text)

    def jump_to(self, text: str) -> bool:
        tree = self.query_one(VaultTree)
        lowered = text.lower()
        names = sorted(self.vaults)
        match = next((n for n in names if n.lower() == lowered), None) or \
            next((n for n in names if n.lower().startswith(lowered)), None)
        if match is not None:
            if tree.filter_text and not tree.select_vault(match):
                tree.set_filter("")
            tree.select_vault(match)
            tree.focus()
            return True
        table = self.query_one(JobTable)
        job_id = table.find_prefix(text)
        if job_id is not None:
            if not table.select_job(job_id):
                table.set_filter("")
                table.select_job(job_id)
            table.focus()
            return True
        self.notify(f"No vault or job matches {clean(text)!r}.", markup=False, severity="warning")
        return False

    def action_help(self) -> None:
        from glacier_tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.gapp.help_sections()))

    def action_quit(self) -> None:
        self.gapp.action_confirm_quit()


def written_since_inventory(written: object, last_inventory: datetime | None) -> bool:
    """Whether a recorded write time (ISO text from the store) is after the last inventory."""
    if not isinstance(written, str):
        return False
    try:
        when = datetime.fromisoformat(written)
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return last_inventory is None or when > last_inventory


def _row_path(row: Row) -> str:
    """A row's decoded path (store rows have one; other sources only a name)."""
    return str(getattr(row, "path", row.name))


def _user_message(exc: BaseException) -> str:
    from glacier_tui.glacier.errors import GlacierError

    if isinstance(exc, GlacierError):
        return exc.user_message()
    return clean(f"{type(exc).__name__}: {exc}")
