"""What ``y`` copies: the id under the cursor of the focused widget.

A widget says what it would copy with a ``copy_value()`` method returning
``(what, value)`` — e.g. ``("archive id", "…")`` — or ``None`` when its cursor is on
nothing. The focused widget is asked first, then its parents up to the screen (a
campaign block has none of its own: the Restores panel around it answers).
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
