"""Closing out a vault (P on a vault): the close-out screen, then the purge in a worker.

The purge itself is the service layer's (``glacier.purge``): resumable, throttle-aware,
state in the store. Here it runs as a transfer (Transfers panel, ``x`` stops it; run
again to go on) with one toast per milestone: a quarter, half, three quarters, all
archives done, the vault waiting for its inventory, the vault deleted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from glacier_tui.ui.messages import ArchivesRemoved, OperationError, TransferState, TransferUpdate
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.vault_tree import VaultTree, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.purge import PurgeProgress


def _milestone(p: PurgeProgress, reached: set[str]) -> str | None:
    """The first milestone ``p`` reaches that was not announced yet."""
    from glacier_tui.glacier.purge import PurgeStatus

    if p.status is PurgeStatus.AWAITING_INVENTORY:
        key = "awaiting" if p.next_inventory_at is not None else ""  # once it is known
    elif p.status is PurgeStatus.VAULT_DELETED:
        key = "vault"
    elif p.deletable:
        quarter = min(4, p.deleted * 4 // p.deletable)
        key = f"q{quarter}" if quarter else ""
    else:
        key = ""
    if not key or key in reached:
        return None
    reached.add(key)
    if key == "awaiting":
        return f"{p.vault}: every proven archive is deleted; {p.message}"
    if key == "vault":
        return f"{p.vault}: vault deleted."
    done = {"q1": "a quarter", "q2": "half", "q3": "three quarters", "q4": "all"}[key]
    return f"{p.vault}: {done} of {p.deletable:,} proven archives deleted."


class CloseOutMixin(MainScreenBase):
    """P on a vault: close it out (delete what is proven safe elsewhere, then the vault)."""

    def action_close_out(self) -> None:
        vault = self.query_one(VaultTree).current_vault()
        if vault is None:
            self.notify("Select a vault to close out.", severity="warning")
            return
        if not self._writable("closing out a vault"):
            return
        self._close_out(vault)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _close_out(self, vault: str) -> None:
        from glacier_tui.glacier.purge import PurgeStatus, drop_purge, find_unfinished
        from glacier_tui.ui.screens.close_out import CloseOutScreen

        v = self.vaults.get(vault)
        store = self.gapp.store
        if v is None:
            return
        key = vault_key(v)
        if await asyncio.to_thread(store.current_snapshot_id, key) is None:
            self.notify(f"Close-out works from an inventory: request one for {vault} (i) "
                        "first.", severity="warning", markup=False)
            return
        existing = await asyncio.to_thread(find_unfinished, store, key)
        if existing is not None and existing.status is PurgeStatus.PLANNED:
            existing = None  # a plan never started: checked afresh
        screen = CloseOutScreen(vault, key, store=store, client=self.gapp.client,
                                prices=self.gapp.settings.price_table(), existing=existing)
        purge_id = await self.app.push_screen_wait(screen)
        if screen.abandoned is not None:
            await asyncio.to_thread(drop_purge, store, screen.abandoned)
        if purge_id is None or self.gapp.client is None or self.gapp.settings.readonly:
            return
        self._start_purge(vault, int(purge_id))

    def _start_purge(self, vault: str, purge_id: int) -> None:
        tid = f"purge:{vault}:{purge_id}"
        name = f"close out {vault}"
        self.post_message(TransferUpdate(TransferState(tid, "delete", name)))
        self.transfer_workers[tid] = self.run_worker(
            self._run_purge(vault, purge_id, tid, name), group="transfers", exit_on_error=False)

    async def _run_purge(self, vault: str, purge_id: int, tid: str, name: str) -> None:
        from glacier_tui.glacier import errors
        from glacier_tui.glacier.purge import PurgeStatus, RunOptions, run_purge

        client = self.gapp.client
        store = self.gapp.store
        if client is None or self.gapp.settings.readonly:
            return
        reached: set[str] = set()

        def progress(p: PurgeProgress) -> None:
            state = "running" if p.status is PurgeStatus.RUNNING else "done"
            self.post_message(TransferUpdate(TransferState(
                tid, "delete", name, total=p.deletable or None, done=p.deleted, state=state,
                message=p.message)))
            text = _milestone(p, reached)
            if text:
                self.post_message(OperationError(text, title="Close-out",
                                                 severity="information"))

        try:
            final = await run_purge(client, store, purge_id,
                                    options=RunOptions(progress_interval=0.25),
                                    on_progress=progress)
        except asyncio.CancelledError:
            self.post_message(TransferUpdate(TransferState(tid, "delete", name,
                                                           state="cancelled")))
            raise
        except errors.GlacierError as exc:
            self.post_message(TransferUpdate(TransferState(tid, "delete", name, state="failed",
                                                           message=exc.message)))
            self.post_message(OperationError(exc.user_message(), title="Close-out stopped"))
            return
        finally:
            manifest = Path(store.path).parent / "purges" / f"purge-manifest-{purge_id}.csv"
            await asyncio.shield(asyncio.to_thread(self._after_purge, vault, purge_id,
                                                   manifest))
        if final.status is PurgeStatus.PAUSED:
            self.post_message(OperationError(f"{vault}: stopped: {final.message}",
                                             title="Close-out stopped"))
        self.post_message(ArchivesRemoved(vault, final.removed))

    def _after_purge(self, vault: str, purge_id: int, manifest: Path) -> None:
        """Write the per-archive manifest; drop deleted archives from the cached inventory
        (thread)."""
        from glacier_tui.glacier.purge import forget_deleted, write_purge_manifest

        store = self.gapp.store
        if str(store.path) != ":memory:":
            write_purge_manifest(store, purge_id, manifest)
        v = self.vaults.get(vault)
        if forget_deleted(store, purge_id) and v is not None:
            self._mark_written(v)
