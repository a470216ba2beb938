"""File helpers that run in worker threads: positional writes, hashing, upload bodies.

Downloads hash each block into 1 MiB leaves and write it at its offset
(``_hash_and_write``); uploads read and hash a part in one pass (``_prepare_part``)
or stream it from the file through a seekable window (:class:`_FileSlice`). Nothing
here touches the event loop.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

from glacier_tui.glacier.transfer_common import TransferError, _Mismatch
from glacier_tui.glacier.treehash import CHUNK, MIB, fold

# Upload parts up to this size are read into memory once and sent from there.
IN_MEMORY_PART = 16 * MIB


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """``os.pwrite`` until everything is written (it may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _hash_and_write(fd: int, block: bytearray | memoryview, offset: int) -> list[bytes]:
    """Leaf digests of ``block`` (1 MiB leaves), then write it at ``offset``."""
    view = memoryview(block)
    leaves = [hashlib.sha256(view[i : i + CHUNK]).digest() for i in range(0, len(view), CHUNK)]
    _pwrite_all(fd, view, offset)
    return leaves


def _file_tree_hash(fd: int, offset: int, length: int) -> str:
    leaves: list[bytes] = []
    pos = 0
    while pos < length:
        data = os.pread(fd, min(CHUNK, length - pos), offset + pos)
        if not data:
            raise _Mismatch("file shorter than expected")
        leaves.append(hashlib.sha256(data).digest())
        pos += len(data)
    return fold(leaves).hex()


def _file_hashes(fd: int, offset: int, length: int) -> tuple[str, str]:
    """Tree hash and plain SHA-256 of one range of a file, in a single read pass."""
    whole = hashlib.sha256()
    leaves: list[bytes] = []
    pos = 0
    while pos < length:
        data = os.pread(fd, min(CHUNK, length - pos), offset + pos)
        if not data:
            raise TransferError(f"the file shrank while reading it (at byte {offset + pos:,})",
                                hint="Do not modify files while they upload.")
        whole.update(data)
        leaves.append(hashlib.sha256(data).digest())
        pos += len(data)
    return fold(leaves).hex(), whole.hexdigest()


def _read_and_hash(fd: int, offset: int, length: int) -> tuple[bytes, str, str]:
    """Read one range of a file into memory; return it with its tree hash and SHA-256."""
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise TransferError(f"the file shrank while reading it (at byte {offset + len(data):,})",
                            hint="Do not modify files while they upload.")
    view = memoryview(data)
    leaves = [hashlib.sha256(view[i : i + CHUNK]).digest() for i in range(0, length, CHUNK)]
    return data, fold(leaves).hex(), hashlib.sha256(view).hexdigest()


def _prepare_part(fd: int, offset: int, length: int) -> tuple[bytes | None, str, str]:
    """One upload part's body (in memory up to ``IN_MEMORY_PART``, else None: it streams
    from the file) with its tree hash and SHA-256."""
    if length <= IN_MEMORY_PART:
        return _read_and_hash(fd, offset, length)
    return (None, *_file_hashes(fd, offset, length))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every filesystem allows fsync on a directory
    finally:
        os.close(fd)


class _FileSlice(io.RawIOBase):
    """A seekable read-only window on a file descriptor, used as an upload body.

    botocore sizes it by seeking to the end and rewinds it before retries;
    aiohttp reads it in worker threads, so ``on_read`` is called from threads.
    """

    def __init__(
        self, fd: int, offset: int, length: int, on_read: Callable[[int], None] | None = None
    ) -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._length = length
        self._pos = 0
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._length + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def read(self, size: int = -1, /) -> bytes:
        remaining = max(0, self._length - self._pos)
        n = remaining if size is None or size < 0 else min(size, remaining)
        if n == 0:
            return b""
        data = os.pread(self._fd, n, self._offset + self._pos)
        self._pos += len(data)
        if self._on_read is not None and data:
            self._on_read(len(data))
        return data

    def readall(self) -> bytes:
        return self.read(-1)
