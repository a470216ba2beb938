"""What every part of the main screen shares: its state, the app, guards, helpers.

:class:`MainScreenBase` holds the screen's state (set up in ``__init__``), the typed app
(``gapp``), the read-only guard and the record of this app's writes to a vault. The parts
(the mixins of this package) call one another through ``self``: the methods one part
calls on another are declared below for the type checker only (``TYPE_CHECKING``), so
that each definition is checked against its callers and nothing is added at run time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from textual.screen import Screen
from textual.worker import Worker

from glacier_tui.ui.job_followup import JobFollowUp
from glacier_tui.ui.widgets.archive_list import Row
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from glacier_tui.glacier.models import Job, Vault
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.poller import Poller
    from glacier_tui.ui.screens.main.campaigns import Campaigns
    from glacier_tui.ui.screens.main.close_out import CloseOut
    from glacier_tui.ui.screens.main.deletion import DeleteTarget
    from glacier_tui.ui.screens.main.migrate import Migrate
    from glacier_tui.ui.screens.main.restore import Restore

# Store journal key prefix: when this app last uploaded to / deleted from a vault.
WRITTEN_KEY = "vault-written:"


class MainScreenBase(Screen[None]):
    """The main screen's state and shared guards; the parts add what it does."""

    def __init__(self) -> None:
        super().__init__(id="main")
        self.connected = False
        self.vaults: dict[str, Vault] = {}
        # The jobs started here and what follows them (ui/job_followup.py).
        self.followup = JobFollowUp()
        self.transfer_workers: dict[str, Worker[Any]] = {}
        self.poller = self._make_poller()  # the refresh schedule (ui/poller.py)
        self._settings_vault = ""
        self._binding_state: tuple[bool | None, ...] = ()
        self._delete_seq = 0

    # The follow-up's records, under the names the parts (and their tests) use.
    @property
    def started_here(self) -> set[str]:
        return self.followup.started_here

    @property
    def inventory_jobs(self) -> dict[str, str]:
        return self.followup.inventory_jobs

    @property
    def index_jobs(self) -> dict[str, str]:
        return self.followup.index_jobs

    @property
    def handled(self) -> set[str]:
        return self.followup.handled

    @property
    def gapp(self) -> GlacierApp:
        from glacier_tui.ui.app import GlacierApp

        assert isinstance(self.app, GlacierApp)
        return self.app

    def _writable(self, what: str) -> bool:
        """Call-site guard: no mutating request in read-only mode, whatever the keymap does."""
        if self.gapp.settings.readonly:
            self.notify(f"Read-only mode: {what} is disabled.", severity="warning")
            return False
        if self.gapp.client is None:
            self.notify("Not connected yet.", severity="warning")
            return False
        return True

    def _mark_written(self, vault: Vault) -> None:
        """Remember (in the store) that this app wrote to the vault now (thread)."""
        self.gapp.store.journal_put(WRITTEN_KEY + vault_key(vault), self.gapp.clock().isoformat())

    def _recently_written(self, vault: Vault) -> bool:
        """True when this app uploaded or deleted since the vault's last inventory (thread)."""
        value = self.gapp.store.journal_get(WRITTEN_KEY + vault_key(vault))
        return written_since_inventory(value, vault.last_inventory_date)

    if TYPE_CHECKING:
        # Defined by one part, called by others.
        def start_connect(self) -> None: ...
        async def _post_vaults(self, vaults: list[Vault]) -> None: ...
        async def _load_jobs(self, vault_names: list[str], *, complete: bool) -> None: ...
        def _arm_poll(self, delay: float) -> None: ...
        def _make_poller(self) -> Poller: ...
        def _update_bindings(self) -> None: ...
        def _show_current_detail(self) -> None: ...
        def _show_archive_detail(self, row: Row) -> None: ...
        def _show_folder(self, data: NodeData | None, *, force: bool = False) -> None: ...
        def _set_search(self, text: str) -> None: ...
        def _refresh_list(self, vault_name: str) -> None: ...
        @property
        def _list_vault(self) -> str: ...
        @property
        def _list_folder(self) -> str | None: ...
        @property
        def _search_text(self) -> str: ...
        def _index_for_search(self, vault_name: str) -> None: ...
        def _selection(self) -> list[NodeData]: ...
        def _clear_marks(self) -> None: ...
        def _start_download(self, job: Job, inventory_for: str | None = None) -> None: ...
        def _import_inventory(self, vault: str, path: Path) -> int: ...
        def _appliance_rows(self, vault: str) -> list[tuple[str, str]]: ...
        def _fetch_index(self, job: Job, data: str) -> None: ...
        def _progress(self, tid: str, name: str, kind: str) -> Callable[[Any], None]: ...
        def _start_deletes(self, vault: str, targets: list[DeleteTarget], name: str, *,
                           emptying: bool) -> None: ...
        def action_delete_vault(self) -> None: ...
        # The parts (ui/screens/main/part.py), made by MainScreen.
        campaigns: Campaigns
        restore: Restore
        migrate: Migrate
        close_out: CloseOut
        def _jobs_title(self) -> None: ...


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


def row_path(row: Row) -> str:
    """A row's decoded path (store rows have one; other sources only a name)."""
    return str(getattr(row, "path", row.name))
