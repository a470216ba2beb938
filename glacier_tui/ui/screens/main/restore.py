"""Restoring archives: the marked archives and folders, a dialog, then one job each."""

from __future__ import annotations

import asyncio
from typing import Any

from textual import work

from glacier_tui.ui.formatting import clean, user_message
from glacier_tui.ui.messages import JobStarted, Notice, OperationError
from glacier_tui.ui.screens.main.base import MainScreenBase
from glacier_tui.ui.widgets.vault_tree import ArchiveEntry, NodeData, vault_key

RESTORE_CONCURRENCY = 4
RESTORE_SPACING = 0.05  # seconds between InitiateJob starts: be gentle with the API


class RestoreMixin(MainScreenBase):
    """Restore the selection: resolve folders to archives, ask, initiate the jobs."""

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
                    failures.append(f"{clean(archive.path)}: {user_message(exc)}")
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
            self.post_message(Notice(f"{started} restore job(s) started.", title="Restore"))
