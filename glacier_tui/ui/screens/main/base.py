"""The record of this app's writes to a vault, and row helpers shared by the parts.

``mark_written`` / ``recently_written`` keep in the store when this app last uploaded to
or deleted from a vault (the delete-vault dialog warns when that is after the last
inventory).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from glacier_tui.ui.widgets.archive_list import Row
from glacier_tui.ui.widgets.vault_tree import vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Vault
    from glacier_tui.ui.app import GlacierApp

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
