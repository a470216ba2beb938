"""The `?` help's rows: every binding of the program with its key (after the user's
keymap) and its id, grouped by where it applies.

Rows come from the classes' own bindings, so a binding added with an id shows up here
without another list to keep; a test checks that every known id is listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding, BindingType

# (keys, description, binding id); an empty id is a key of Textual's own widgets.
Row = tuple[str, str, str]
Section = tuple[str, list[Row]]

# Hidden in read-only mode: the actions that would send a mutating request.
_MUTATING_IDS = frozenset({"restore", "inventory", "create_vault", "upload", "delete",
                           "delete_vault", "close_out"})


def help_sections(keymap: Mapping[str, str], readonly: bool,
                  app_bindings: Iterable[BindingType]) -> list[Section]:
    from glacier_tui.ui.boot import BootScreen
    from glacier_tui.ui.screens.close_out import CloseOutScreen
    from glacier_tui.ui.screens.confirm import ConfirmScreen
    from glacier_tui.ui.screens.create_vault import CreateVaultScreen
    from glacier_tui.ui.screens.delete_vault import DeleteVaultScreen
    from glacier_tui.ui.screens.duplicates import DuplicatesScreen
    from glacier_tui.ui.screens.error import ErrorScreen
    from glacier_tui.ui.screens.help import HelpScreen
    from glacier_tui.ui.screens.jump import JumpScreen
    from glacier_tui.ui.screens.main import MainScreen
    from glacier_tui.ui.screens.migrate import MigrateScreen
    from glacier_tui.ui.screens.restore import RestoreScreen, TierSet
    from glacier_tui.ui.screens.restores import RestoresScreen
    from glacier_tui.ui.screens.upload import MarkingTree, UploadScreen
    from glacier_tui.ui.screens.vault_settings import VaultSettingsScreen
    from glacier_tui.ui.widgets.archive_list import ArchiveList
    from glacier_tui.ui.widgets.filter_bar import FilterBar
    from glacier_tui.ui.widgets.job_table import JobTable
    from glacier_tui.ui.widgets.restores_panel import RestoresPanel
    from glacier_tui.ui.widgets.transfers_panel import TransfersPanel
    from glacier_tui.ui.widgets.vault_tree import VaultTree

    def rows(bindings: Iterable[BindingType], prefix: str = "",
             described: Mapping[str, str] | None = None) -> list[Row]:
        out: list[Row] = []
        for b in bindings:
            if not isinstance(b, Binding):
                continue
            if readonly and b.id in _MUTATING_IDS:
                continue
            keys = keymap[b.id] if b.id and b.id in keymap else (b.key_display or b.key)
            text = (described or {}).get(b.id or "", b.description or b.action)
            out.append((keys, prefix + text, b.id or ""))
        return out

    move = ("up,down", "Move", "")  # the tree's and the table's own keys
    dialogs: list[Row] = []
    for name, classes in (
        ("Confirm", (ConfirmScreen,)), ("Restore", (RestoreScreen, TierSet)),
        ("Upload", (UploadScreen, MarkingTree)), ("New vault", (CreateVaultScreen,)),
        ("Delete vault", (DeleteVaultScreen,)), ("Close out", (CloseOutScreen,)),
        ("Migrate", (MigrateScreen,)), ("Jump", (JumpScreen,)),
        ("Duplicates", (DuplicatesScreen,)), ("Settings", (VaultSettingsScreen,)),
        ("Help", (HelpScreen,)), ("Start-up", (BootScreen,)), ("Error", (ErrorScreen,)),
    ):
        for cls in classes:
            dialogs += rows(cls.BINDINGS, f"{name}: ")
    return [
        ("Main screen", rows(MainScreen.BINDINGS)),
        ("Vault tree", [move, ("enter", "Expand / open", ""), *rows(VaultTree.BINDINGS)]),
        ("Archive list", [*rows(ArchiveList.BINDINGS), ("/", "Search the whole vault", "")]),
        ("Job table", [move, *rows(JobTable.BINDINGS), ("d", "Download succeeded job", "")]),
        ("Transfers", rows(TransfersPanel.BINDINGS)),
        ("Filter", [*rows(FilterBar.BINDINGS), ("enter", "Keep the filter", "")]),
        ("Restores", [*rows(RestoresPanel.BINDINGS), *rows(RestoresScreen.BINDINGS)]),
        ("Dialogs and other screens", dialogs),
        ("Everywhere", [*rows(app_bindings, described={
                            "command_palette": "Command palette",
                            "copy_id": "Copy the id under the cursor"}),
                        ("tab,shift+tab", "Next / previous pane", "")]),
    ]
