"""Turning untrusted names (archive descriptions) into safe local paths.

A description is written by whoever uploaded the archive, possibly another tool
or an attacker: it may hold absolute paths, ``..``, drive letters, control
characters or terminal escapes. The result here always lies inside the chosen
download directory, checked after resolving symlinks.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from glacier_tui.glacier import errors
from glacier_tui.glacier.sanitize import inert

_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_COMPONENT_BYTES = 255


class UnsafePathError(errors.LocalError):
    summary = "Refusing an unsafe file name."
    default_hint = "Choose an explicit output file with -o."


def sanitize_relative_name(name: str) -> str:
    """A clean ``/``-separated relative path, or ``""`` when nothing usable is left."""
    # Terminal escapes, C0/C1 controls, DEL and the bidi/format characters that make a
    # name display differently from what it is: gone (the one sanitizer).
    text = inert(unicodedata.normalize("NFC", name))
    text = text.replace("\\", "/").strip()
    text = _DRIVE.sub("", text)
    parts: list[str] = []
    for raw in text.split("/"):
        part = raw.strip()
        # Dropping "." and ".." (rather than resolving them) means a name never climbs.
        if not part or part in (".", ".."):
            continue
        encoded = part.encode("utf-8")
        if len(encoded) > _MAX_COMPONENT_BYTES:
            part = encoded[:_MAX_COMPONENT_BYTES].decode("utf-8", "ignore")
        parts.append(part)
    return "/".join(parts)


def is_within(path: Path, directory: Path) -> bool:
    try:
        path.relative_to(directory)
    except ValueError:
        return False
    return True


def safe_download_path(directory: Path, name_from_description: str) -> Path:
    """A path for ``name_from_description`` that is guaranteed to lie inside ``directory``.

    Raises :class:`UnsafePathError` when nothing usable is left of the name, or
    when an existing symlink in the way points outside the directory.
    """
    clean = sanitize_relative_name(name_from_description)
    if not clean:
        raise UnsafePathError(f"the name {name_from_description!r} has no usable characters")
    root = Path(directory).expanduser().resolve()
    candidate = root.joinpath(*clean.split("/"))
    # Resolve the parents as they exist now: a symlinked folder leading outside
    # the download directory is refused, not followed.
    resolved_parent = candidate.parent.resolve()
    if not is_within(resolved_parent, root):
        raise UnsafePathError(
            f"{clean!r} would be written outside {root} (through a symlink)",
            hint="Remove the symlink or choose an explicit output file with -o.",
        )
    final = resolved_parent / candidate.name
    if final.is_symlink():
        target = Path(os.path.realpath(final))
        if not is_within(target, root):
            raise UnsafePathError(f"{final} is a symlink pointing outside {root}")
        # Downloads never write through a symlink, even one that stays inside.
        raise UnsafePathError(f"{final} is a symlink; it is never followed or replaced")
    if final.exists() and not final.is_file():
        raise UnsafePathError(
            f"{final} exists and is not a regular file; it is never written or replaced"
        )
    return final
