"""Restoring archives: the marked archives and folders, a dialog, then a restore campaign.

Resolving the selection is a service operation (:mod:`glacier_tui.glacier.operations`);
the campaign is planned and run by the ``campaigns`` part. With an SNS topic or a job description
the jobs are initiated one by one (the campaign engine writes its own descriptions).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from glacier_tui.ui.messages import JobStarted, Notice, OperationError
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Job
    from glacier_tui.glacier.operations import ArchiveTarget, Selected
    from glacier_tui.ui.restore_model import RestoreRequest


class Restore(Part):
    """Restore the selection: resolve folders to archives, ask, initiate the jobs."""

    def __init__(self) -> None:
        super().__init__(id="restore-part")

    def start(self) -> None:
        """r: the restore dialog for the marks (or the folder or archive under the cursor)."""
        if not self.main.writable("restore"):
            return
        selection = self.main.browse.selection()
        if not selection:
            self.notify("Mark archives or a folder (space) first.", severity="warning")
            return
        self._open_restore(selection)

    @work(group="restore-dialog", exclusive=True, exit_on_error=False)
    async def _open_restore(self, selection: list[NodeData]) -> None:
        from glacier_tui.ui.restore_model import ArchiveRef
        from glacier_tui.ui.screens.restore import RestoreScreen

        targets = await asyncio.to_thread(self.resolve_archives, selection)
        if not targets:
            self.notify("Nothing to restore in the selection.", severity="warning")
            return
        refs = [ArchiveRef(t.archive_id, t.path, t.size or 0) for t in targets]
        settings = self.gapp.settings
        request = await self.app.push_screen_wait(
            RestoreScreen(refs, settings.prices, settings.default_tier))
        if request is None:
            return
        self.main.browse.clear_marks()
        if request.sns_topic or request.description:
            # Jobs with the user's own topic or description: started one by one, as asked
            # (a campaign's jobs carry the engine's description).
            self.run_worker(self._initiate_restores(targets, request), group="restore",
                            exit_on_error=False)
            return
        self.main.campaigns.start(selection, request, len(targets) == 1)

    def resolve_archives(self, selection: list[NodeData]) -> list[ArchiveTarget]:
        """Expand folders into their archives (descendants too) via the store (thread)."""
        from glacier_tui.glacier.operations import resolve_archives

        keys = {name: vault_key(v) for name, v in self.main.connection.vaults.items()}
        return resolve_archives(self.gapp.store, selected(selection), keys)

    async def _initiate_restores(self, targets: list[ArchiveTarget],
                                 request: RestoreRequest) -> None:
        from glacier_tui.glacier.operations import RetrievalRequest, initiate_retrievals

        client = self.gapp.client
        if client is None or self.gapp.settings.readonly:
            return

        def started(target: ArchiveTarget, job: Job) -> None:
            self.gapp.archive_names[target.archive_id] = target.path
            self.post_message(JobStarted(job, target.path, auto=True))

        outcome = await initiate_retrievals(
            client, targets, RetrievalRequest(
                str(request.tier), byte_range=request.byte_range,
                sns_topic=request.sns_topic, description=request.description),
            on_started=started)
        count, failures = len(outcome.started), outcome.failures
        if failures:
            shown = "\n".join(failures[:5])
            more = f"\n… and {len(failures) - 5} more" if len(failures) > 5 else ""
            self.post_message(OperationError(
                f"{count} started, {len(failures)} failed:\n{shown}{more}",
                title="Restore"))
        else:
            self.post_message(Notice(f"{count} restore job(s) started.", title="Restore"))


def selected(selection: list[NodeData]) -> list[Selected]:
    """The tree's and the list's marks as the service layer's selection."""
    from glacier_tui.glacier.operations import Selected

    out: list[Selected] = []
    for data in selection:
        if data.kind == "archive":
            out.append(Selected("archive", data.vault, data.path, data.archive_id, data.size))
        elif data.kind in ("vault", "folder"):
            out.append(Selected("folder", data.vault, data.path if data.kind == "folder" else ""))
    return out
