"""Checking the user's keymap (binding id -> keys) before the app applies it.

Textual applies a keymap silently: an id that names no binding does nothing, and a key
given to two bindings of one widget leaves one of them unreachable. Both are mistakes in
the settings, so they are reported like any other bad setting: one line, exit status 2.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping

from textual.binding import Binding
from textual.dom import DOMNode

# The package whose app, screens and widgets carry the bindings a keymap can name (all of
# it: a screen defined beside the app, like the boot screen, has keys too).
_PACKAGE = "glacier_tui.ui"


class KeymapError(ValueError):
    """The keymap names an unknown binding id or gives one key to two bindings."""


def _import_all() -> None:
    package = importlib.import_module(_PACKAGE)
    for info in pkgutil.walk_packages(package.__path__, _PACKAGE + "."):
        importlib.import_module(info.name)


def _subclasses(cls: type[DOMNode]) -> Iterator[type[DOMNode]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _bindings_of(cls: type[DOMNode]) -> list[Binding]:
    """The class's bindings with its bases' (a widget's own keys shadow its bases')."""
    out: list[Binding] = []
    for base in reversed(cls.__mro__):
        for item in vars(base).get("BINDINGS", ()):
            out.extend(Binding.make_bindings([item]))
    return out


def binding_classes() -> list[type[DOMNode]]:
    """Every app, screen and widget class of this program that has key bindings."""
    _import_all()
    seen = {c for c in _subclasses(DOMNode) if c.__module__.startswith("glacier_tui.")}
    return sorted((c for c in seen if _bindings_of(c)), key=lambda c: c.__qualname__)


def own_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings the class itself declares (one per key), not its bases'."""
    return list(Binding.make_bindings(vars(cls).get("BINDINGS", ())))


def known_ids() -> set[str]:
    return {b.id for c in binding_classes() for b in _bindings_of(c) if b.id}


def check_keymap(keymap: Mapping[str, str]) -> None:
    """Raise :class:`KeymapError` (one line) for an unknown id or a clash of keys."""
    if not keymap:
        return
    classes = binding_classes()
    ids = {b.id for c in classes for b in _bindings_of(c) if b.id}
    unknown = sorted(k for k in keymap if k not in ids)
    if unknown:
        raise KeymapError(f"keymap: unknown binding id {unknown[0]!r} "
                          f"(known ids: {', '.join(sorted(ids))})")
    for cls in classes:
        _check_clashes(cls, keymap)


def _keys(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def _check_clashes(cls: type[DOMNode], keymap: Mapping[str, str]) -> None:
    """Two bindings of one class on one key, where the keymap moved one of them there.

    (A subclass's binding that replaces its base's on the same key is the program's
    choice, not a clash; Textual's own check misses a key taken from a binding that the
    keymap does not mention.)
    """
    owners: dict[str, tuple[str, bool]] = {}  # key -> (binding, moved there by the keymap)
    for binding in reversed(_bindings_of(cls)):  # the subclass's bindings first
        name = binding.id or binding.action
        moved = binding.id is not None and binding.id in keymap
        keys = _keys(keymap[binding.id]) if moved and binding.id else _keys(binding.key)
        for key in keys:
            other = owners.get(key)
            if other is None:
                owners[key] = (name, moved)
            elif other[0] != name and (moved or other[1]):
                mover, fixed = (name, other[0]) if moved else (other[0], name)
                raise KeymapError(f"keymap: {mover} = {keymap[mover]!r} clashes with "
                                  f"{fixed!r} (key {key!r} in {cls.__name__})")
