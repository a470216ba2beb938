"""Get a vault's decoded tree for a campaign: request an inventory, wait, import it.

The pending job id is kept in the store's journal, so a run killed while waiting (the
job takes hours on AWS) adopts the same job when started again instead of requesting
a second one. The wait has a deadline (Glacier answers within about a day).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from glacier_tui.glacier import errors
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.downloads import download_job_output
from glacier_tui.glacier.inventory import ImportResult, InventoryFormatError, import_inventory
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = ["INVENTORY_DEADLINE", "fetch_inventory"]

INVENTORY_DEADLINE: Final = 48 * 3600.0  # seconds of waiting before giving up


def _journal_key(vault_key: str) -> str:
    return f"campaign-inventory:{vault_key}"


async def _pending_job(client: GlacierClient, store: Store, vault: str,
                       vault_key: str) -> Job | None:
    job_id = await asyncio.to_thread(store.journal_get, _journal_key(vault_key))
    if not isinstance(job_id, str) or not job_id:
        return None
    try:
        job = await client.describe_job(vault, job_id)
    except errors.ResourceNotFound:  # expired: request a new one
        return None
    return None if job.failed else job


async def fetch_inventory(
    client: GlacierClient,
    store: Store,
    vault: str,
    vault_key: str,
    *,
    poll: float,
    on_status: Callable[[str], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    deadline: float = INVENTORY_DEADLINE,
) -> ImportResult:
    """Request (or adopt) an inventory job of ``vault``, wait for it, import it.

    ``on_status`` hears one line per notable step. Raises ``LocalError`` when the job
    fails, the wait passes ``deadline`` seconds, or the output is not an inventory.
    """
    say = on_status or (lambda _text: None)
    job = await _pending_job(client, store, vault, vault_key)
    if job is None:
        job_id = await client.initiate_inventory_retrieval(vault, format="JSON")
        await asyncio.to_thread(store.journal_put, _journal_key(vault_key), job_id)
        say(f"inventory job {job_id[:16]}... requested")
    else:
        job_id = job.job_id
        say(f"waiting for the inventory job {job_id[:16]}... requested earlier")
    waited = 0.0
    while True:
        job = await client.describe_job(vault, job_id)
        if job.succeeded:
            break
        if job.failed:
            await asyncio.to_thread(store.journal_delete, _journal_key(vault_key))
            raise errors.LocalError(
                f"the inventory job failed ({inert(job.status_message or 'no reason')})",
                hint="A vault is inventoried about once a day after its first upload; try "
                "again later.")
        if waited >= deadline:
            raise errors.LocalError(
                f"the inventory of {inert(vault)} is still not ready after "
                f"{deadline / 3600:.0f} hours",
                hint="Run the same command again later: it waits for the same job.")
        await sleep(poll)
        waited += poll
    with tempfile.TemporaryDirectory(prefix="glacier-tui-inventory-") as tmp:
        path = Path(tmp) / "inventory.json"
        await download_job_output(client, vault, job, path)
        try:
            result = await asyncio.to_thread(import_inventory, store, vault_key, path)
        except InventoryFormatError as exc:
            raise errors.LocalError(f"the inventory of {inert(vault)} is unreadable: {exc}",
                                    hint="Request another inventory later.") from None
    await asyncio.to_thread(store.journal_delete, _journal_key(vault_key))
    return result
