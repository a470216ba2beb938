"""The files of one download: ``<final>.part``, its journal and lock, and the final rename.

Blocking I/O only (call from a thread). The rules, all enforced here:

- one run at a time per target: ``<final>.part.lock`` is held (``flock``) for the
  whole download, so a second run (CLI or TUI) stops with the holder's pid instead
  of sharing, truncating or renaming the first one's ``.part``;
- nothing is followed or written through a symlink, and nothing but a regular file
  is ever written or replaced (a directory, FIFO or device at the target is refused
  even with ``--force``): files are opened relative to the directory's descriptor
  with ``O_NOFOLLOW`` and checked with ``fstat``;
- the final name appears only by an atomic rename of the same ``.part`` inode that
  was written, at its full size; without ``--force`` it never replaces a file that
  appeared meanwhile (``link`` fails rather than overwrite).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from glacier_tui.glacier import errors, safe_files
from glacier_tui.glacier.journal import DownloadJournal, atomic_write_json
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.transfer_common import (
    CopyRefused,
    TargetExists,
    _Mismatch,
)
from glacier_tui.glacier.transfer_files import _file_tree_hash

# The .part becomes the user's file: ordinary permissions (the umask applies).
PART_MODE = 0o644


@dataclass(frozen=True)
class DownloadPaths:
    final: Path
    part: Path
    journal: Path
    lock: Path

    @classmethod
    def of(cls, dest: Path) -> DownloadPaths:
        part = dest.with_name(dest.name + ".part")
        return cls(dest, part, part.with_name(part.name + ".journal"),
                   part.with_name(part.name + ".lock"))


def check_target(dest: Path, overwrite: bool) -> None:
    """Refuse a target that is not a regular file, and an existing one without ``overwrite``."""
    try:
        exists = safe_files.check_target(dest)
    except safe_files.UnsafeFileError as exc:
        raise safe_files.UnsafeFileError(
            exc.detail, hint="Choose another file name with -o; it is never replaced."
        ) from None
    if exists and not overwrite:
        raise TargetExists(str(dest))


def lock_download(paths: DownloadPaths) -> safe_files.ExclusiveLock:
    """Hold ``<final>.part.lock`` (creating the folder, 0700, if missing)."""
    lock = safe_files.ExclusiveLock(
        paths.lock, what=f"{inert(paths.final.name)} is already being downloaded"
    )
    try:
        return lock.acquire()
    except OSError as exc:  # permissions, a read-only or full file system
        raise errors.LocalError(
            f"cannot create {paths.lock}: {exc.strerror or exc}",
            hint="Choose a folder you can write to with -o.",
        ) from None


def prepare_part_file(
    dfd: int, paths: DownloadPaths, fresh: DownloadJournal
) -> tuple[int, DownloadJournal, int, str]:
    """Open ``.part``; keep the journal's segments only if they still hash right on disk.

    Returns (fd, journal, reused bytes, a note for the user or ""). It may read a lot.
    """
    journal = DownloadJournal.load(paths.journal)
    fd = safe_files.open_regular(paths.part, os.O_RDWR | os.O_CREAT, PART_MODE, dirfd=dfd)
    try:
        if journal is None or not journal.matches(fresh):
            note = ""
            if journal is not None and journal.job_id == fresh.job_id and journal.segments:
                note = "the job output is not what the earlier run saw; starting over"
            os.ftruncate(fd, 0)
            journal = DownloadJournal(
                fresh.job_id, fresh.vault, fresh.total, fresh.segment_size, fresh.expected_hash
            )
            atomic_write_json(paths.journal, journal.to_json())
            return fd, journal, 0, note
        size = os.fstat(fd).st_size
        reused = 0
        for index, recorded in sorted(journal.segments.items()):
            start = index * journal.segment_size
            length = min(journal.segment_size, journal.total - start)
            ok = start + length <= size and length > 0
            if ok:
                try:
                    ok = _file_tree_hash(fd, start, length) == recorded
                except _Mismatch:
                    ok = False
            if ok:
                reused += length
            else:  # damaged or never flushed: fetch it again
                journal.forget(index)
        return fd, journal, reused, ""
    except BaseException:
        os.close(fd)
        raise


def _lstat_in(dfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def check_part_unchanged(fd: int, dfd: int, paths: DownloadPaths, total: int) -> None:
    """The ``.part`` name still holds the file we wrote (same inode), at the full size."""
    ours = os.fstat(fd)
    there = _lstat_in(dfd, paths.part.name)
    if there is None or (there.st_dev, there.st_ino) != (ours.st_dev, ours.st_ino):
        raise CopyRefused(
            f"{paths.part} was removed or replaced by something else during the download; "
            "nothing was renamed",
            hint="Run again to download it afresh, and let no other program write there.",
        )
    if ours.st_size != total:
        raise CopyRefused(
            f"{paths.part} holds {ours.st_size:,} bytes, expected {total:,}; nothing was renamed",
            hint="Run again to download it afresh, and let no other program write there.",
        )


def rename_into_place(dfd: int, paths: DownloadPaths, overwrite: bool) -> None:
    """``.part`` → final name, atomically, never through a link, never over a non-file."""
    part, final = paths.part.name, paths.final.name
    kept = f"The verified download is kept as {paths.part}."
    if not overwrite:
        try:
            os.link(part, final, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
        except FileExistsError:
            raise TargetExists(f"{paths.final} appeared while downloading", hint=kept) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                                 errno.EMLINK, errno.ENOSYS, errno.EACCES):
                raise
            # No hard links on this filesystem: check, then rename (a narrow race).
        else:
            os.unlink(part, dir_fd=dfd)
            with contextlib.suppress(OSError):
                os.fsync(dfd)
            return
    there = _lstat_in(dfd, final)
    if there is not None:
        if not stat.S_ISREG(there.st_mode):
            raise safe_files.UnsafeFileError(
                f"{paths.final} became something other than a regular file while "
                "downloading; it is never replaced", hint=kept)
        if not overwrite:
            raise TargetExists(f"{paths.final} appeared while downloading", hint=kept)
    os.replace(part, final, src_dir_fd=dfd, dst_dir_fd=dfd)
    with contextlib.suppress(OSError):
        os.fsync(dfd)
