"""The one safe path for every file this program writes.

Every write (a download's ``.part`` and final name, journals, lock files, exports,
manifests, the store) goes through here, so the rules hold by construction:

- no symlink is ever followed at the final component (``O_NOFOLLOW``), and every
  file is opened relative to its directory's descriptor, which is itself opened
  with ``O_NOFOLLOW | O_DIRECTORY``;
- after opening, ``fstat`` proves the file is a regular file: a FIFO, a device
  node, a directory or a socket is refused, never written into or replaced, even
  when the caller asked to overwrite;
- whole-file writes go to a fresh temp file (``O_EXCL``) in the same directory,
  are fsynced, and are renamed over the target atomically, so a crash or a full
  disk leaves the old file or the new one, never a torn one;
- files that hold names or ids are created 0600, in directories created 0700;
- :class:`ExclusiveLock` is the one inter-process lock (``flock``, released by the
  kernel when the process dies), naming the pid that holds it.

All functions block: call them from a thread when on an event loop.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from glacier_tui.glacier import errors

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafeFileError(errors.LocalError):
    """A path that is a symlink or not a regular file where one is about to be written."""

    summary = "Refusing to write to this path."
    default_hint = "Remove or rename what is in the way, or choose another path."


class LockedError(errors.LocalError):
    """Another process holds the lock."""

    summary = "Already in use by another glacier-tui."
    default_hint = "Wait for the other run to finish, or stop it first."

    def __init__(self, message: str, *, pid: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.pid = pid

    @property
    def message(self) -> str:
        return self.detail  # already one full sentence: "already ... (pid N)"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _make_dirs(path: Path, mode: int) -> None:
    """``mkdir -p`` where every folder created gets ``mode`` (``Path.mkdir`` gives
    the missing parents the default mode instead)."""
    missing: list[Path] = []
    while not os.path.lexists(path):
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=mode)

def file_kind(mode: int) -> str:
    """What ``mode`` is, in words ("a FIFO", "a symlink", ...), for messages."""
    return _kind(mode)


def ensure_dir(path: Path, *, private: bool = True) -> Path:
    """Create ``path`` (and parents) if missing; refuse when it is a symlink or not a dir.

    New directories are 0700 when ``private`` (they will hold names or ids).
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        try:
            _make_dirs(path, PRIVATE_DIR if private else 0o777)
        except NotADirectoryError:
            raise UnsafeFileError(f"{path}: a parent is not a directory") from None
        except PermissionError as exc:
            raise errors.LocalError(f"cannot create {path}: {exc.strerror}") from None
        except OSError as exc:
            raise errors.LocalError(f"cannot create {path}: {exc.strerror or exc}") from None
        st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        # A symlinked directory the user made is theirs to keep; we only refuse to
        # follow links at the file level. Resolve it once and check it is a dir.
        target = path.resolve()
        if not target.is_dir():
            raise UnsafeFileError(f"{path} is a symlink to something that is not a directory")
        return path
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"{path} is {_kind(st.st_mode)}, not a directory")
    return path


@contextlib.contextmanager
def dir_fd(directory: Path) -> Iterator[int]:
    """An open descriptor of ``directory`` (which must exist), closed on exit."""
    try:
        fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except NotADirectoryError:
        raise UnsafeFileError(f"{directory} is not a directory") from None
    except FileNotFoundError:
        raise errors.LocalError(f"{directory} does not exist") from None
    except PermissionError as exc:
        raise errors.LocalError(f"cannot open {directory}: {exc.strerror}") from None
    try:
        yield fd
    finally:
        os.close(fd)


def check_target(path: Path) -> bool:
    """True when ``path`` exists as a regular file; False when absent.

    Raises :class:`UnsafeFileError` for a symlink (dangling or not), a directory, a
    FIFO, a device or a socket: those are never replaced, whatever the caller wants.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise UnsafeFileError(f"{path}: a parent is not a directory") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{path} is {_kind(st.st_mode)}; it is never written or replaced")
    return True


def open_regular(
    path: Path, flags: int, mode: int = PRIVATE_FILE, *, dirfd: int | None = None
) -> int:
    """``os.open`` that never follows a symlink and only ever returns a regular file.

    ``flags`` are the usual ``os.O_*`` (``O_NOFOLLOW`` is always added). Opening a
    FIFO for writing could block forever, so ``O_NONBLOCK`` is added for the open
    itself and removed again once ``fstat`` proved a regular file.
    """
    path = Path(path)
    name: str | Path = path.name if dirfd is not None else path
    try:
        fd = os.open(
            name, flags | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK, mode, dir_fd=dirfd
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(f"{path} is a symlink; it is never followed") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR, errno.ENODEV):
            raise UnsafeFileError(f"{path} is not a regular file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(
                f"{path} is {_kind(st.st_mode)}; it is never written or replaced"
            )
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path, *, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` of them (a larger file is an error)."""
    fd = open_regular(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise errors.LocalError(f"{path} is {size:,} bytes; the limit is {limit:,}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise errors.LocalError(f"{path} grew past the limit of {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _temp_name(name: str) -> str:
    return f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"


def atomic_write(
    path: Path,
    data: bytes | Callable[[BinaryIO], None],
    *,
    mode: int = PRIVATE_FILE,
    overwrite: bool = True,
    private_dir: bool = True,
) -> None:
    """Write ``path`` whole, or leave what was there: temp file, fsync, atomic rename.

    ``data`` is the bytes, or a function that writes to the open binary file. The
    target may be absent or a regular file (replaced only when ``overwrite``);
    anything else is refused before a byte is written. On any failure (a full
    disk included) the temp file is removed and the old file is untouched.
    """
    path = Path(path)
    directory = ensure_dir(path.parent, private=private_dir)
    if check_target(path) and not overwrite:
        raise errors.LocalError(
            f"{path} already exists", hint="Pass --force to replace it, or choose another path."
        )
    tmp = _temp_name(path.name)
    with dir_fd(directory) as dfd:
        fd = open_regular(
            Path(directory) / tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, dirfd=dfd
        )
        try:
            with os.fdopen(fd, "wb", closefd=True) as fh:
                if isinstance(data, bytes | bytearray | memoryview):
                    fh.write(data)
                else:
                    data(fh)
                fh.flush()
                os.fsync(fh.fileno())
            # Checked again right before the rename: something may have appeared.
            check_target(path)
            os.replace(tmp, path.name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        with contextlib.suppress(OSError):
            os.fsync(dfd)


def replace_into(src: Path, dest: Path) -> None:
    """Rename ``src`` (a regular file we wrote) over ``dest`` atomically.

    ``dest`` must be absent or a regular file: a symlink, directory, FIFO or device
    there is refused (and nothing is moved). Both must be in the same directory
    tree; the rename never follows a link at ``dest``.
    """
    check_target(dest)
    st = os.lstat(src)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{src} is {_kind(st.st_mode)}; refusing to move it")
    with dir_fd(Path(src).parent) as sfd, dir_fd(Path(dest).parent) as dfd:
        os.replace(Path(src).name, Path(dest).name, src_dir_fd=sfd, dst_dir_fd=dfd)
        with contextlib.suppress(OSError):
            os.fsync(dfd)


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0)
        return int(raw.decode("ascii", "ignore").strip() or "0") or None
    except (OSError, ValueError):
        return None


def _same_file(fd: int, path: Path) -> bool:
    """True when ``path`` (not followed) still names the file open as ``fd``."""
    try:
        st, now = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


class ExclusiveLock:
    """An exclusive ``flock`` on a lock file that records the holder's pid.

    The kernel drops it when the process exits or is killed, so a crash never
    leaves a stale lock. ``acquire(wait=False)`` raises :class:`LockedError` naming
    the holder's pid when another process (or another lock object) holds it.
    """

    def __init__(self, path: Path, *, what: str = "in use") -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, wait: bool = False) -> ExclusiveLock:
        if self._fd is not None:
            return self
        ensure_dir(self.path.parent)
        for _ in range(100):
            fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                holder = f"pid {pid}" if pid else "pid unknown"
                raise LockedError(
                    f"{self.what} by another glacier-tui ({holder})", pid=pid
                ) from None
            except BaseException:
                os.close(fd)
                raise
            # A holder that used release(remove=True) may have unlinked the file
            # between our open and our flock: that lock protects nothing, try again.
            if _same_file(fd, self.path):
                break
            os.close(fd)
        else:
            raise errors.LocalError(f"cannot lock {self.path}: it keeps being replaced")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self, *, remove: bool = False) -> None:
        """Unlock; with ``remove`` also delete the lock file (while still holding it,
        so a waiting process notices the file is gone and locks a fresh one)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if remove and _same_file(fd, self.path):
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> ExclusiveLock:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()
