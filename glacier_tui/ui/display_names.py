"""How decoded archive names are shown (a display rule only: the store keeps its data).

The description decoder files archives that have no description under the folder
``descriptions.UNDEFINED_FOLDER`` named after their archive id. A user sees neither that
folder name nor a bare 138-character id: the folder reads "(no description)" and each
archive "(no description) <start of its id>…".
"""

from __future__ import annotations

from glacier_tui.glacier.descriptions import UNDEFINED_FOLDER

NO_DESCRIPTION = "(no description)"
ID_CHARS = 8  # enough of an archive id to tell archives apart at a glance


def folder_label(path: str, name: str) -> str:
    """A folder's shown name (the undefined-description folder sits at the root)."""
    return NO_DESCRIPTION if path == UNDEFINED_FOLDER else name


def folder_path_label(path: str) -> str:
    """A folder path as shown in titles and the detail pane."""
    if path == UNDEFINED_FOLDER or path.startswith(UNDEFINED_FOLDER + "/"):
        return NO_DESCRIPTION + path[len(UNDEFINED_FOLDER):]
    return path


def archive_label(folder: str, name: str, archive_id: str) -> str:
    """An archive's shown name: ``(no description) FA4CoG…`` for undescribed ones."""
    if folder == UNDEFINED_FOLDER:
        return f"{NO_DESCRIPTION} {archive_id[:ID_CHARS]}…"
    return name


def row_label(row: object) -> str:
    """The shown name of an archive-list row (store rows carry their folder)."""
    name = str(getattr(row, "name", ""))
    return archive_label(str(getattr(row, "folder", "")), name,
                         str(getattr(row, "archive_id", "")))
