"""Deleting archives: the marked ones, or all of a vault's (from ``vault_admin``).

Deletes run as a transfer (listed in the Transfers panel, cancellable); the archives
deleted are dropped from the cached inventory, whatever happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work

from glacier_tui.ui.formatting import clean, human_size
from glacier_tui.ui.messages import (
    ArchivesRemoved,
    Notice,
    OperationError,
    TransferRow,
    TransferUpdate,
)
from glacier_tui.ui.screens.main.base import mark_written
from glacier_tui.ui.screens.main.part import Part
from glacier_tui.ui.widgets.vault_tree import NodeData, vault_key

if TYPE_CHECKING:
    from glacier_tui.glacier.models import Vault
    from glacier_tui.ui.app import GlacierApp

# An archive to delete: (archive id, path, size).
DeleteTarget = tuple[str, str, int | None]


class Deletion(Part):
    """Confirm and delete archives, a few requests at a time."""

    def __init__(self) -> None:
        super().__init__()
        self._seq = 0  # numbers the delete transfers (their ids)

    def delete(self) -> None:
        """Delete: the marked archives (or, on a vault, the vault itself)."""
        main = self.main
        if not main.writable("delete"):
            return
        tree = main.vault_tree
        archives = [d for d in main.browse.selection() if d.kind == "archive"]
        if not archives:
            node = tree.cursor_node
            if node is not None and node.data is not None and node.data.kind == "vault":
                main.vault_admin.delete_vault()
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
        body += [Text(f"  {clean(a.vault)}: {clean(a.path)}") for a in archives[:10]]
        if len(archives) > 10:
            body.append(Text(f"  … and {len(archives) - 10} more"))
        ok = await self.app.push_screen_wait(
            ConfirmScreen("Delete archives?", body, confirm_label="Delete"))
        if not ok or self.gapp.client is None or self.gapp.settings.readonly:
            return
        self.main.browse.clear_marks()
        by_vault: dict[str, list[DeleteTarget]] = {}
        for a in archives:
            by_vault.setdefault(a.vault, []).append((a.archive_id, a.path, a.size))
        for vault, targets in by_vault.items():
            name = f"{targets[0][1]} ({vault})" if len(targets) == 1 else \
                f"{len(targets)} archives of {vault}"
            self.start(vault, targets, name, emptying=False)

    def start(self, vault: str, targets: list[DeleteTarget], name: str, *,
              emptying: bool) -> None:
        """Delete archives in a transfers worker (listed in the Transfers panel, cancellable)."""
        self._seq += 1
        tid = f"delete:{vault}:{self._seq}"
        self.post_message(TransferUpdate(TransferRow(tid, "delete", name,
                                                       total=len(targets))))
        self.main.transfers.transfer_workers[tid] = self.run_worker(
            self._run_deletes(vault, targets, tid, name, emptying=emptying),
            group="transfers", exit_on_error=False)

    async def _run_deletes(self, vault: str, targets: list[DeleteTarget], tid: str, name: str,
                           *, emptying: bool) -> None:
        """Run the service's delete_archives; show its progress and outcome."""
        from glacier_tui.glacier.operations import ArchiveTarget, DeleteProgress, delete_archives

        client = self.gapp.client
        if client is None or self.gapp.settings.readonly:
            return
        # Read here, on the UI loop: record() runs in a thread.
        gapp, v = self.gapp, self.main.connection.vaults.get(vault)

        def progress(p: DeleteProgress) -> None:
            self.post_message(TransferUpdate(TransferRow(
                tid, "delete", name, total=p.total, done=p.deleted, state=p.state,
                message=f"{p.failed} failed" if p.failed and p.state != "running" else "")))

        def record(archive_ids: list[str]) -> None:  # in a thread, whatever happens
            try:
                forget_archives(gapp, v, archive_ids)
            finally:
                self.post_message(ArchivesRemoved(vault, len(archive_ids)))

        outcome = await delete_archives(
            client, vault, [ArchiveTarget(vault, aid, path, size) for aid, path, size in targets],
            on_progress=progress, record=record)
        deleted, failures = outcome.deleted, outcome.failures
        if failures:
            shown = "\n".join(failures[:5])
            more = f"\n… and {len(failures) - 5} more" if len(failures) > 5 else ""
            self.post_message(OperationError(
                f"{len(deleted)} deleted, {len(failures)} failed:\n{shown}{more}",
                title=f"Deleting archives of {vault}"))
        if emptying:
            text = (f"{len(deleted)} of {outcome.total} archives "
                    f"({human_size(outcome.deleted_bytes)}) of vault "
                    f"{clean(vault)} deleted. Glacier can delete the vault once its next inventory "
                    "(about a day from now) shows it empty: press D on it then.")
            if failures:
                text += " Delete the archives that failed first (press D again to retry)."
            self.notify(text, title="Vault emptied" if not failures else "Vault not emptied",
                        severity="information" if not failures else "warning", timeout=20,
                        markup=False)
        elif not failures:
            self.post_message(Notice(
                f"{len(deleted)} archive(s) deleted (the inventory updates within a day).",
                title="Deleted"))

    def removed(self, message: ArchivesRemoved) -> None:
        """Archives were deleted (here or by a close-out): show the vault and list again."""
        self.main.vault_tree.reset_vault(message.vault)
        self.main.browse.refresh_list(message.vault)


def forget_archives(gapp: GlacierApp, v: Vault | None, archive_ids: list[str]) -> None:
    """Record deletions: drop them from the cached inventory, note the vault was written
    (thread)."""
    from glacier_tui.glacier.operations import forget_archives as forget

    if v is None:
        return
    forget(gapp.store, vault_key(v), archive_ids)
    mark_written(gapp, v)
