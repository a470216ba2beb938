"""Command palette (Ctrl+P) provider: vaults, jobs and actions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from glacier_tui.ui.screens.main import MainScreen

ACTIONS: list[tuple[str, str, str]] = [
    ("Refresh now", "refresh", "List vaults and jobs again"),
    ("Request inventory", "inventory", "InitiateJob inventory-retrieval for the selected vault"),
    ("Restore selection", "restore", "Restore the marked archives or folder"),
    ("Download job output", "download", "Download the selected succeeded job"),
    ("Upload files", "upload", "Upload files to the selected vault"),
    ("Create vault", "create_vault", "Create a new vault"),
    ("Delete vault", "delete_vault", "Delete the selected (empty) vault"),
    ("Vault settings", "vault_settings", "Notifications, tags, policy, lock"),
    ("Filter", "filter", "Filter the focused list"),
    ("Jump", "jump", "Jump to a vault or job"),
    ("Help", "help", "Every key binding"),
]


class GlacierCommands(Provider):
    def _main(self) -> MainScreen | None:
        from glacier_tui.ui.screens.main import MainScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _candidates(self) -> list[tuple[str, str, object]]:
        main = self._main()
        if main is None:
            return []
        from glacier_tui.ui.formatting import action_label, clean, short_id
        out: list[tuple[str, str, object]] = []
        for title, action, help_text in ACTIONS:
            if main.check_action(action, ()) is True:
                out.append((f"Action: {title}", help_text,
                            partial(main.run_action, action)))
        for name in sorted(main.vaults):
            out.append((f"Vault: {clean(name)}", "Go to vault", partial(main.jump_to, name)))
        from glacier_tui.ui.widgets.job_table import JobTable

        for job in main.query_one(JobTable).jobs.values():
            label = clean(f"Job: {short_id(job.job_id)} {action_label(job.action)} "
                          f"{job.vault_name} {job.status_code}")
            out.append((label, job.job_id, partial(main.jump_to, job.job_id)))
        return out

    # The palette parses a str prompt and help as markup: names go in as Text, escaped help.
    async def discover(self) -> Hits:
        from glacier_tui.glacier.sanitize import markup

        for text, help_text, callback in self._candidates()[:30]:
            yield DiscoveryHit(Text(text), callback, text=text,  # type: ignore[arg-type]
                               help=markup(help_text))

    async def search(self, query: str) -> Hits:
        from glacier_tui.glacier.sanitize import markup

        matcher = self.matcher(query)
        for text, help_text, callback in self._candidates():
            score = matcher.match(text)
            if score > 0:
                # highlight() parses its argument as markup: only safe without "[".
                shown = matcher.highlight(text) if "[" not in text else Text(text)
                yield Hit(score, shown, callback, text=text,  # type: ignore[arg-type]
                          help=markup(help_text))
