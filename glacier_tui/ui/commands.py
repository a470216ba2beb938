"""Command palette (Ctrl+P) providers: every key of the screen it was opened on, vaults, jobs.

The actions are read from the calling screen's active bindings (ids, descriptions and
keys, as the footer and the keymap see them), so the palette lists exactly what the keys
do on that screen, each with its key: "Restore  r", "Download  d". A binding whose action
is disabled right now (no selection, not connected) is left out; one that the keymap
rebinds shows its new key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from textual.binding import Binding

    from glacier_tui.ui.screens.main import MainScreen

# Bindings that make no sense as a palette entry (the palette itself, moving around).
_SKIPPED_ACTIONS = frozenset({"command_palette", "back", "app.command_palette"})


@dataclass(frozen=True)
class KeyCommand:
    """One action of the screen: what it does, the keys that run it, how to run it."""

    description: str
    keys: str
    action: str
    namespace: Any

    @property
    def title(self) -> str:
        return f"{self.description}  {self.keys}" if self.keys else self.description


def key_commands(screen: Any) -> list[KeyCommand]:
    """The screen's enabled bindings with a description, one entry per action (keys joined)."""
    app = screen.app
    found: dict[tuple[int, str], tuple[Binding, Any, list[str]]] = {}
    for active in screen.active_bindings.values():
        binding, node = active.binding, active.node
        if not active.enabled or binding.system or not binding.description:
            continue
        if binding.action in _SKIPPED_ACTIONS:
            continue
        entry = found.setdefault((id(node), binding.action), (binding, node, []))
        shown = app.get_key_display(binding)
        if shown not in entry[2]:
            entry[2].append(shown)
    return [KeyCommand(b.description, " ".join(keys), b.action, node)
            for b, node, keys in found.values()]


class KeyCommands(Provider):
    """Every action a key runs on the screen the palette was opened on."""

    def _commands(self) -> list[KeyCommand]:
        try:
            return key_commands(self.screen)
        except Exception:  # a screen being torn down: no entries rather than an error
            return []

    def _run(self, command: KeyCommand) -> None:
        self.app.call_later(self.app.run_action, command.action, command.namespace)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(Text(command.title), partial(self._run, command),
                               text=command.title)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            # Matched on the description and on the keys: "down" finds "Download  d".
            score = matcher.match(command.title)
            if score > 0:
                # highlight() parses markup: a "[" key is shown plain.
                title = command.title
                shown = matcher.highlight(title) if "[" not in title else Text(title)
                yield Hit(score, shown, partial(self._run, command), text=title)


class GlacierCommands(Provider):
    """The main screen's vaults and jobs: jump to one."""

    def _main(self) -> MainScreen | None:
        from glacier_tui.ui.screens.main import MainScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _candidates(self) -> list[tuple[str, str, object]]:
        main = self._main()
        if main is None or self.screen is not main:
            return []
        from glacier_tui.ui.formatting import action_label, clean, short_id
        out: list[tuple[str, str, object]] = []
        jump_to = main.navigation.jump_to
        for name in sorted(main.connection.vaults):
            out.append((f"Vault: {clean(name)}", "Go to vault", partial(jump_to, name)))
        for job in main.job_table.jobs.values():
            label = clean(f"Job: {short_id(job.job_id)} {action_label(job.action)} "
                          f"{job.vault_name} {job.status_code}")
            out.append((label, job.job_id, partial(jump_to, job.job_id)))
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
