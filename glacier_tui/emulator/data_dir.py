"""Start-up check of the emulator's data dir: one clear line instead of a traceback."""

from __future__ import annotations

import errno
import os
import sqlite3
import uuid
from pathlib import Path

SUBDIRS = ("blobs", "parts", "outputs", "tmp")


class EmulatorStartError(Exception):
    """The emulator cannot start on this data dir; ``str()`` is one line for the user."""


def check_data_dir(path: Path) -> None:
    """Create ``path`` (and its sub-dirs) if needed and prove it is a writable directory."""
    if path.exists() and not path.is_dir():
        raise EmulatorStartError(f"data dir {path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmulatorStartError(f"cannot create data dir {path}: {_why(exc)}") from exc
    for sub in SUBDIRS:
        child = path / sub
        if child.exists() and not child.is_dir():
            raise EmulatorStartError(f"data dir {path} is unusable: {child} is not a directory")
    try:
        _probe(path)
    except OSError as exc:
        raise EmulatorStartError(f"data dir {path} is not writable: {_why(exc)}") from exc
    db = path / "glacier.sqlite3"
    if db.exists() and not db.is_file():
        raise EmulatorStartError(f"data dir {path} is unusable: {db} is not a file")


def _probe(path: Path) -> None:
    """Create and remove a file: the only test of writability that also holds for root
    and for read-only mounts."""
    probe = path / f".write-test-{uuid.uuid4().hex}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    os.unlink(probe)


def _why(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def store_error(path: Path, exc: sqlite3.Error | OSError) -> EmulatorStartError:
    """The one-line message for a store that fails to open after the checks passed."""
    return EmulatorStartError(f"cannot open the emulator store in {path}: {exc}")
