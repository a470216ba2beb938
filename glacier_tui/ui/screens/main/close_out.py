"""Closing out a vault (P on a vault): the close-out screen, then the purge in a worker.

The purge itself is the service layer's (``glacier.purge``): resumable, throttle-aware,
state in the store. Here it is a row of the campaigns pane (the Restores screen, ``c``),
driven by the runner's typed progress: deleted of deletable, its state, the deferred
DeleteVault stage (waiting for an inventory, expected around a time). ``x`` there stops
a running one (P on the vault resumes it) or cancels a stopped one for good. One toast
per milestone: a quarter, half, three quarters, all archives done, the vault waiting for
its inventory, the vault deleted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from glacier_tui.glacier.purge_types import PurgeStatus
from glacier_tui.glacier.sanitize import inert
from glacier_tui.ui.messages import ArchivesRemoved, PurgeListed, PurgeProgressed, PurgeStopped
from glacier_tui.ui.screens.main.base import mark_written
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.screens.restores import show_row
from glacier_tui.ui.widgets.close_out_row import PurgeRow
from glacier_tui.ui.widgets.vault_tree import vault_key

if TYPE_CHECKING:

    from textual.worker import Worker

    from glacier_tui.glacier.models import Vault
    from glacier_tui.glacier.purge import PurgeInfo, PurgeProgress
    from glacier_tui.ui.app import GlacierApp


def reached_before(status: str, deleted: int, deletable: int) -> set[str]:
    """The milestones a close-out found at start-up has passed (not told again)."""
    keys = {f"q{q}" for q in range(1, min(4, deleted * 4 // deletable) + 1)} \
        if deletable else set()
    if status == "awaiting-inventory":
        keys.add("awaiting")
    elif status == "vault-deleted":
        keys |= {"awaiting", "vault"}
    return keys


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


class CloseOut(Part):
    """P on a vault: close it out (delete what is proven safe elsewhere, then the vault)."""

    def __init__(self) -> None:
        super().__init__(id="close-out-part")
        self.rows: dict[int, PurgeRow] = {}  # what the campaigns pane shows, by purge id
        self.running: dict[int, Worker[None]] = {}  # purge id -> its worker, running here
        self._told: dict[int, set[str]] = {}  # the milestones already announced

    def start(self) -> None:
        """P: the close-out screen for the vault under the cursor."""
        vault = self.main.vault_tree.current_vault()
        if vault is None:
            self.notify("Select a vault to close out.", severity="warning")
            return
        if not self.main.writable("closing out a vault"):
            return
        self._close_out(vault)

    def find(self) -> None:
        """At start-up: list the close-outs in the store (shown, never resumed: P on the
        vault resumes one, asking for its name again)."""
        self._find()

    # @work defers the call: an app closed before it starts leaves no coroutine behind.
    @work(group="close-out-find", exclusive=True, exit_on_error=False)
    async def _find(self) -> None:
        from glacier_tui.glacier.purge import has_purges, list_purges

        store = self.gapp.store

        def read() -> list[PurgeInfo]:
            if not has_purges(store):  # creates nothing in a store without close-outs
                return []
            return [p for p in list_purges(store) if p.status is not PurgeStatus.PLANNED]

        purges = await asyncio.to_thread(read)
        if purges:
            self.post_message(PurgeListed(purges))

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _close_out(self, vault: str) -> None:
        from glacier_tui.glacier.purge import PurgeStatus, drop_purge, find_unfinished
        from glacier_tui.ui.screens.close_out import CloseOutScreen

        v = self.main.connection.vaults.get(vault)
        store = self.gapp.store
        if v is None:
            return
        key = vault_key(v)
        if await asyncio.to_thread(store.current_snapshot_id, key) is None:
            self.notify(f"Close-out works from an inventory: request one for {inert(vault)} (i) "
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
        if purge_id in self.running:
            return
        self.running[purge_id] = self.run_worker(
            self._run_purge(vault, purge_id), group="close-out", exit_on_error=False)

    async def _run_purge(self, vault: str, purge_id: int) -> None:
        from glacier_tui.glacier import errors
        from glacier_tui.glacier.purge import RunOptions, run_purge

        client = self.gapp.client
        store = self.gapp.store
        if client is None or self.gapp.settings.readonly:
            self.running.pop(purge_id, None)
            return

        def progress(p: PurgeProgress) -> None:
            self.post_message(PurgeProgressed(p))

        # Read now, on the loop: the thread after the run must not walk the DOM (the
        # screen may be gone when quitting stops the purge).
        v = self.main.connection.vaults.get(vault)
        gapp = self.gapp
        final = None
        try:
            final = await run_purge(client, store, purge_id,
                                    options=RunOptions(progress_interval=0.25),
                                    on_progress=progress)
        except asyncio.CancelledError:
            # Stopped here (x, or quitting): the runner left it paused, to be resumed.
            self.post_message(PurgeStopped(purge_id, vault, None, interrupted=True))
            raise
        except errors.GlacierError as exc:
            self.post_message(PurgeStopped(purge_id, vault, None, exc.user_message()))
        finally:
            self.running.pop(purge_id, None)
            manifest = Path(store.path).parent / "purges" / f"purge-manifest-{purge_id}.csv"
            await asyncio.shield(asyncio.to_thread(self._after_purge, gapp, v, purge_id,
                                                   manifest))
        if final is not None:
            self.post_message(PurgeStopped(purge_id, vault, final))
            self.post_message(ArchivesRemoved(vault, final.removed))

    # -- the row in the campaigns pane -----------------------------------------------------

    def _show_purge(self, row: PurgeRow) -> None:
        self.rows[row.id] = row
        show_row(self.app, row)

    def on_purge_listed(self, message: PurgeListed) -> None:
        for info in message.infos:
            row = PurgeRow.from_info(info)
            self._show_purge(row)
            # Found at start-up: what was reached before is not news.
            self._told.setdefault(row.id, set()).update(
                reached_before(row.status, row.deleted, row.deletable))

    def on_purge_progressed(self, message: PurgeProgressed) -> None:
        p = message.progress
        row = self.rows.get(p.purge_id)
        row = PurgeRow.from_progress(p) if row is None else row.with_progress(p)
        self._show_purge(row)
        text = _milestone(p, self._told.setdefault(p.purge_id, set()))
        if text:
            self.notify(inert(text), title=inert(row.name), timeout=8, markup=False)

    def on_purge_stopped(self, message: PurgeStopped) -> None:
        row = self.rows.get(message.purge_id)
        if message.info is not None:
            self._show_purge(PurgeRow.from_info(message.info))
            if message.info.status is PurgeStatus.PAUSED:
                self.notify(inert(f"{message.vault}: stopped: {message.info.message}"),
                            title=inert(f"Close-out {message.vault} stopped"),
                            severity="warning", timeout=10, markup=False)
            return
        if row is None:
            row = PurgeRow(message.purge_id, message.vault, "paused", 0, 0)
        if message.interrupted:
            self._show_purge(replace(row, status="paused",
                                     message="stopped here; P on the vault resumes it"))
            return
        self._show_purge(replace(row, status="paused", message=message.error))
        self.notify(inert(message.error, multiline=True),
                    title=inert(f"Close-out {message.vault} stopped"), severity="error",
                    timeout=12, markup=False)

    def action(self, what: str, row: PurgeRow) -> None:
        """x on a close-out: stop it if it runs here, else cancel it for good."""
        if what == "pause":
            self.notify("P on the vault resumes a close-out (it asks for the vault's name "
                        "again).", timeout=6, markup=False)
        elif what == "cancel" and not row.finished and self.main.writable("stopping a close-out"):
            self._confirm_purge_stop(row)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def _confirm_purge_stop(self, row: PurgeRow) -> None:
        from glacier_tui.glacier.purge import cancel_purge
        from glacier_tui.ui.screens.confirm import ConfirmScreen

        worker = self.running.get(row.id)
        if worker is not None:
            ok = await self.app.push_screen_wait(ConfirmScreen(
                f"Stop closing out {inert(row.vault)}?",
                ["Archives already deleted stay deleted; nothing more is deleted now.",
                 "P on the vault resumes it where it stopped."],
                confirm_label="Stop close-out"))
            if ok and row.id in self.running:
                worker.cancel()
            return
        ok = await self.app.push_screen_wait(ConfirmScreen(
            f"Cancel the close-out of {inert(row.vault)} for good?",
            ["Nothing more is deleted, and the vault is not deleted; archives already "
             "deleted stay deleted.", "A new close-out (P) checks the proofs afresh."],
            confirm_label="Cancel close-out"))
        if ok:
            info = await asyncio.to_thread(cancel_purge, self.gapp.store, row.id)
            self.post_message(PurgeStopped(row.id, row.vault, info))

    @staticmethod
    def _after_purge(gapp: GlacierApp, v: Vault | None, purge_id: int, manifest: Path) -> None:
        """Write the per-archive manifest; drop deleted archives from the cached inventory
        (thread)."""
        from glacier_tui.glacier.purge import forget_deleted, write_purge_manifest

        store = gapp.store
        if str(store.path) != ":memory:":
            write_purge_manifest(store, purge_id, manifest)
        if forget_deleted(store, purge_id) and v is not None:
            mark_written(gapp, v)
