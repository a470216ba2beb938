"""What ``y`` copies: the id under the cursor of the focused widget.

A widget says what it would copy with a ``copy_value()`` method returning
``(what, value)`` — e.g. ``("archive id", "…")`` — or ``None`` when its cursor is on
nothing. The focused widget is asked first, then its parents up to the screen. Widgets
of the main screen without that method are read through their public cursor accessors
(``current_job_id()``, ``current_row()``, a tree's cursor node), so ``y`` works before
every widget has one.
"""

from __future__ import annotations

from typing import Any

Copied = tuple[str, str]


def copy_value_of(screen: Any) -> Copied | None:
    """The (what, value) to copy for the screen's focused widget, or None."""
    node = screen.focused
    while node is not None:
        method = getattr(node, "copy_value", None)
        if callable(method):
            found = _checked(method())
            if found is not None:
                return found
        found = _from_cursor(node, screen)
        if found is not None:
            return found
        if node is screen:
            break
        node = node.parent
    return None


def _checked(found: object) -> Copied | None:
    if isinstance(found, tuple) and len(found) == 2 and all(isinstance(x, str) for x in found) \
            and found[1]:
        return found[0], found[1]
    if isinstance(found, str) and found:
        return "id", found
    return None


def _from_cursor(node: Any, screen: Any) -> Copied | None:
    """The main screen's widgets, read through the accessors they have today."""
    job_id = getattr(node, "current_job_id", None)
    if callable(job_id):
        value = job_id()
        return ("job id", value) if isinstance(value, str) and value else None
    current_row = getattr(node, "current_row", None)
    if callable(current_row):
        row = current_row()
        archive_id = getattr(row, "archive_id", "")
        return ("archive id", archive_id) if isinstance(archive_id, str) and archive_id \
            else None
    data = getattr(getattr(node, "cursor_node", None), "data", None)
    if data is not None:
        archive_id = getattr(data, "archive_id", "")
        if isinstance(archive_id, str) and archive_id:
            return "archive id", archive_id
        vault_name = getattr(data, "vault", "")
        vault = getattr(screen, "vaults", {}).get(vault_name) if vault_name else None
        arn = getattr(vault, "arn", "") if vault is not None else ""
        if isinstance(arn, str) and arn:
            return "vault ARN", arn
    return None
