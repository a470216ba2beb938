"""The local side of uploads: which files a folder holds, and proof a file held still.

:func:`iter_sources` walks folders without following symlinks and reports every
entry it will not upload (symlinks, FIFOs, sockets, devices, names that are not
UTF-8, unreadable folders) instead of dropping it silently. :func:`open_source`
opens a file the way :mod:`safe_files` does (no-follow, ``fstat``-checked regular
file) and returns its identity; :func:`check_unchanged` compares the open
descriptor and the path against it, so an upload can prove that every byte it
sent came from one version of the file.

All functions block: call them from a thread when on an event loop.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from glacier_tui.glacier import safe_files
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.transfer_common import TransferError

# (size, mtime in ns, inode, device): a rewrite, growth, truncation or a different
# file renamed over the path changes at least one of them.
Identity = tuple[int, int, int, int]


class _FileMessage(TransferError):
    """An error whose detail is one full sentence naming the file."""

    @property
    def message(self) -> str:
        return self.detail

    def user_message(self) -> str:
        return f"{self.detail.rstrip('.')}. {self.hint}".strip()


class SourceChanged(_FileMessage):
    """The file changed between the first and the last byte sent."""

    summary = "The file changed while it was being uploaded."
    default_hint = "Upload it again once nothing writes to it any more."


class SourceUnreadable(_FileMessage):
    """The path is not a regular file that can be read (skipped, not sent)."""

    summary = "The file cannot be uploaded."
    default_hint = "Nothing was sent for it."


def display_name(name: str | os.PathLike[str]) -> str:
    """``name`` safe for a terminal: undecodable bytes as ``\\xNN``, controls removed."""
    raw = os.fsencode(name)
    return inert(raw.decode("utf-8", "backslashreplace"))


def is_utf8(name: str) -> bool:
    """False when ``name`` holds bytes that are not UTF-8 (surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def identity(st: os.stat_result) -> Identity:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def changed_error(name: str) -> SourceChanged:
    return SourceChanged(
        f"{display_name(name)} changed while it was being uploaded; nothing was kept"
    )


def open_source(path: Path, name: str) -> tuple[int, os.stat_result]:
    """An open read-only descriptor of the regular file ``path`` and its ``fstat``.

    A symlink is never followed; a FIFO, socket, device or directory is refused
    with :class:`SourceUnreadable` before anything is read.
    """
    shown = display_name(name)
    try:
        before = os.lstat(path)
    except OSError as exc:
        raise SourceUnreadable(f"{shown}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(before.st_mode):
        raise SourceUnreadable(f"{shown} is {_what(before.st_mode)}")
    try:
        fd = safe_files.open_regular(path, os.O_RDONLY)
    except safe_files.UnsafeFileError:
        raise changed_error(name) from None  # a regular file a moment ago
    except OSError as exc:
        raise SourceUnreadable(f"{shown}: cannot open it ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if identity(st) != identity(before):
        os.close(fd)
        raise changed_error(name)
    return fd, st


def check_unchanged(fd: int, path: Path, expected: Identity, name: str) -> None:
    """Raise :class:`SourceChanged` unless the open file and the path still match."""
    try:
        now_fd = identity(os.fstat(fd))
        now_path = identity(os.lstat(path))
    except OSError:
        raise changed_error(name) from None  # removed or renamed away
    if now_fd != expected or now_path != expected:
        raise changed_error(name)


def _what(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink (symlinks are not followed; upload the target itself)"
    return f"{safe_files.file_kind(mode)}, not a regular file"


# -- folders ---------------------------------------------------------------------


@dataclass(frozen=True)
class UploadSource:
    """A regular file to upload, with the name its archive description will hold."""

    path: Path
    name: str


@dataclass(frozen=True)
class SkippedSource:
    """An entry that is not uploaded, and why (already safe to print)."""

    path: Path
    shown: str
    reason: str


def _check_entry(path: Path, name: str, mode: int) -> UploadSource | SkippedSource:
    shown = display_name(name)
    if not stat.S_ISREG(mode):
        return SkippedSource(path, shown, _what(mode))
    if not is_utf8(name):
        return SkippedSource(
            path, shown, "its name is not valid UTF-8 (undecodable bytes shown as \\xNN), "
            "which an archive description cannot hold; rename it"
        )
    return UploadSource(path, name)


def iter_sources(roots: Iterable[Path]) -> Iterator[UploadSource | SkippedSource]:
    """Every file under ``roots`` to upload, and every entry skipped, in a stable order.

    A root that is a file is named by its own name; files in a folder by their path
    relative to it. Within a folder files come first (sorted), then its subfolders.
    """
    for root in roots:
        root = Path(root)
        try:
            st = os.lstat(root)
        except OSError as exc:
            yield SkippedSource(root, display_name(root), f"cannot read it ({exc.strerror})")
            continue
        if not stat.S_ISDIR(st.st_mode):
            yield _check_entry(root, root.name, st.st_mode)
            continue
        yield from _walk(root)


def _walk(root: Path) -> Iterator[UploadSource | SkippedSource]:
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            shown = display_name(prefix.rstrip("/") or folder)
            yield SkippedSource(folder, shown, f"cannot read this folder ({exc.strerror})")
            continue
        subfolders: list[tuple[Path, str]] = []
        for entry in entries:
            name = prefix + entry.name
            path = Path(entry.path)
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                yield SkippedSource(path, display_name(name), f"cannot read it ({exc.strerror})")
                continue
            if stat.S_ISDIR(mode):
                if not is_utf8(entry.name):
                    yield SkippedSource(path, display_name(name) + "/",
                                        "a folder whose name is not valid UTF-8; nothing in "
                                        "it was uploaded")
                    continue
                subfolders.append((path, name + "/"))
                continue
            yield _check_entry(path, name, mode)
        stack.extend(reversed(subfolders))  # popped in sorted order
