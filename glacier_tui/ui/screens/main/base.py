"""The record of this app's writes to a vault, row helpers, and a transitional base.

``mark_written`` / ``recently_written`` keep in the store when this app last uploaded to
or deleted from a vault (the delete-vault dialog warns when that is after the last
inventory). :class:`MainScreenBase` only remains for the areas that are still mixins.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from textual.screen import Screen
from textual.worker import Worker

from glacier_tui.glacier.campaign_view import Milestones
from glacier_tui.ui.campaign_board import CampaignBoard
from glacier_tui.ui.widgets.archive_list import Row
from glacier_tui.ui.widgets.restores_panel import CampaignRow
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Vault
    from glacier_tui.glacier.operations import ArchiveTarget
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.restore_model import RestoreRequest
    from glacier_tui.ui.screens.main.browse import Browse
    from glacier_tui.ui.screens.main.connection import Connection
    from glacier_tui.ui.screens.main.jobs import Jobs
    from glacier_tui.ui.screens.main.transfers import Transfers

# Store journal key prefix: when this app last uploaded to / deleted from a vault.
WRITTEN_KEY = "vault-written:"


def mark_written(gapp: GlacierApp, vault: Vault) -> None:
    """Remember (in the store) that this app wrote to the vault now (thread)."""
    gapp.store.journal_put(WRITTEN_KEY + vault_key(vault), gapp.clock().isoformat())


def recently_written(gapp: GlacierApp, vault: Vault) -> bool:
    """True when this app uploaded or deleted since the vault's last inventory (thread)."""
    value = gapp.store.journal_get(WRITTEN_KEY + vault_key(vault))
    return written_since_inventory(value, vault.last_inventory_date)


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


# transitional: removed when campaigns/restore/migrate/close_out are parts. The four
# areas still written as mixins reach the parts through the old names below, and the
# parts reach those four through ``main.campaigns`` / ``main.restore`` shims.
class MainScreenBase(Screen[None]):
    """Transitional: what the remaining mixins share (the campaign board) and the old
    names they call, each delegating to the part that owns it."""

    def __init__(self) -> None:
        super().__init__(id="main")
        # Restore campaigns: rows, runners, their jobs, milestones (ui/campaign_board.py).
        self.board = CampaignBoard()

    # The campaign board's records, under the names the campaign mixins use.
    @property
    def campaign_rows(self) -> dict[int, CampaignRow]:
        return self.board.rows

    @property
    def campaign_active(self) -> set[int]:
        return self.board.active

    @property
    def campaign_runners(self) -> dict[int, Any]:
        return self.board.runners

    @property
    def campaign_jobs(self) -> set[str]:
        return self.board.jobs

    @property
    def milestones(self) -> Milestones:
        return self.board.milestones

    # Old names, delegating to the parts.
    @property
    def vaults(self) -> dict[str, Vault]:
        return self.connection.vaults

    @property
    def transfer_workers(self) -> dict[str, Worker[Any]]:
        return self.transfers.transfer_workers

    def _writable(self, what: str) -> bool:
        return self.writable(what)

    def _selection(self) -> list[NodeData]:
        return self.browse.selection()

    def _clear_marks(self) -> None:
        self.browse.clear_marks()

    def _jobs_title(self) -> None:
        self.jobs.title()

    def _mark_written(self, vault: Vault) -> None:
        mark_written(self.gapp, vault)

    # The parts' view of the mixins, under the names they have as parts.
    @property
    def campaigns(self) -> _CampaignsShim:
        return _CampaignsShim(self)

    @property
    def restore(self) -> _RestoreShim:
        return _RestoreShim(self)

    if TYPE_CHECKING:
        # Defined by MainScreen.
        connection: Connection
        browse: Browse
        jobs: Jobs
        transfers: Transfers

        @property
        def gapp(self) -> GlacierApp: ...
        def writable(self, what: str) -> bool: ...

        # Defined by one mixin, called by another or by a shim.
        async def _find_campaigns(self) -> None: ...
        async def _start_campaigns(self, selection: list[NodeData], request: RestoreRequest,
                                   single_archive: bool) -> None: ...
        def _clear_campaign_filter(self) -> bool: ...
        def _state_lookup(self, vault_name: str) -> Any: ...
        def _resolve_archives(self, selection: list[NodeData]) -> list[ArchiveTarget]: ...


class _CampaignsShim:
    """transitional: ``main.campaigns`` until the campaigns area is a part."""

    def __init__(self, screen: MainScreenBase) -> None:
        self._screen = screen

    @property
    def board(self) -> CampaignBoard:
        return self._screen.board

    def find(self) -> None:
        screen = self._screen
        screen.run_worker(screen._find_campaigns(), group="campaigns-find", exclusive=True,
                          exit_on_error=False)

    def state_lookup(self, vault_name: str) -> Any:
        return self._screen._state_lookup(vault_name)

    def clear_filter(self) -> bool:
        return self._screen._clear_campaign_filter()


class _RestoreShim:
    """transitional: ``main.restore`` until the restore area is a part."""

    def __init__(self, screen: MainScreenBase) -> None:
        self._screen = screen

    def resolve_archives(self, selection: list[NodeData]) -> list[ArchiveTarget]:
        return self._screen._resolve_archives(selection)
