"""SHA-256 tree hash as Glacier defines it (https://docs.aws.amazon.com/amazonglacier/latest/dev/checksum-calculations.html).

Leaves are SHA-256 digests of 1 MiB chunks; each level pairs neighbours from the
left and an unpaired last node moves up unchanged. Leaves are independent, so
hashing a file spreads over threads (hashlib and ``os.pread`` release the GIL).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MIB = 1 << 20
CHUNK = MIB
EMPTY_SHA256 = hashlib.sha256(b"").digest()


def fold(digests: Sequence[bytes]) -> bytes:
    """Fold raw 32-byte node digests, in order, into their root digest."""
    level = list(digests)
    if not level:
        return EMPTY_SHA256
    while len(level) > 1:
        level = [
            hashlib.sha256(level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]


def combine_hex(hex_hashes: Iterable[str]) -> str:
    """Combine the hex tree hashes of consecutive aligned blocks (parts, segments)."""
    return fold([bytes.fromhex(h) for h in hex_hashes]).hex()


def leaf_digests(data: bytes | bytearray | memoryview) -> list[bytes]:
    view = memoryview(data)
    if len(view) == 0:
        return [EMPTY_SHA256]
    return [hashlib.sha256(view[i : i + CHUNK]).digest() for i in range(0, len(view), CHUNK)]


def tree_hash_digest(data: bytes | bytearray | memoryview) -> bytes:
    return fold(leaf_digests(data))


def tree_hash(data: bytes | bytearray | memoryview) -> str:
    """Hex tree hash of an in-memory payload."""
    return tree_hash_digest(data).hex()


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


class TreeHasher:
    """Incremental tree hash: feed bytes in any pieces, read the hash at the end.

    Only the pending partial leaf is buffered; completed leaves are kept as
    32-byte digests, so memory stays flat however large the stream.
    """

    def __init__(self) -> None:
        self._leaves: list[bytes] = []
        self._pending = hashlib.sha256()
        self._pending_len = 0
        self.total = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        self.total += len(view)
        while len(view):
            take = min(CHUNK - self._pending_len, len(view))
            self._pending.update(view[:take])
            self._pending_len += take
            view = view[take:]
            if self._pending_len == CHUNK:
                self._leaves.append(self._pending.digest())
                self._pending = hashlib.sha256()
                self._pending_len = 0

    def digest(self) -> bytes:
        leaves = list(self._leaves)
        if self._pending_len or not leaves:
            leaves.append(self._pending.digest())
        return fold(leaves)

    def hexdigest(self) -> str:
        return self.digest().hex()


def is_mib_aligned(start: int, end: int, total: int) -> bool:
    """The rule for RetrievalByteRange: start on a MiB, end on a MiB or at the end."""
    if start < 0 or end < start or end >= total:
        return False
    return start % MIB == 0 and ((end + 1) % MIB == 0 or end == total - 1)


def is_tree_hash_aligned(start: int, end: int, total: int) -> bool:
    """True when ``[start, end]`` is a node of the tree of a ``total``-byte payload."""
    if start < 0 or end < start or end >= total or start % MIB:
        return False
    block = MIB
    # Up to the first power of two >= total: the root may be a block cut short.
    while block // 2 < total:
        if start % block == 0 and end + 1 == min(start + block, total):
            return True
        if start % (block * 2):
            return False
        block *= 2
    return False


def file_leaf_digests(
    path: str | os.PathLike[str], offset: int = 0, length: int | None = None, threads: int = 0
) -> list[bytes]:
    """1 MiB leaf digests of ``length`` bytes of a file from ``offset``, hashed in threads."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if length is None:
            length = size - offset
        if length <= 0:
            return [EMPTY_SHA256]
        n_leaves = -(-length // CHUNK)
        workers = max(1, min(threads or (os.cpu_count() or 1), n_leaves))

        def read_leaves(first: int, last: int) -> list[bytes]:
            out: list[bytes] = []
            for leaf in range(first, last):
                pos = leaf * CHUNK
                data = os.pread(fd, min(CHUNK, length - pos), offset + pos)
                out.append(hashlib.sha256(data).digest())
            return out

        if workers == 1:
            return read_leaves(0, n_leaves)
        # Contiguous stripes: each thread reads sequentially, which the page cache likes.
        bounds = [n_leaves * i // workers for i in range(workers + 1)]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="treehash") as pool:
            parts = pool.map(lambda i: read_leaves(bounds[i], bounds[i + 1]), range(workers))
            return [d for part in parts for d in part]
    finally:
        os.close(fd)


def tree_hash_file(
    path: str | os.PathLike[str], offset: int = 0, length: int | None = None, threads: int = 0
) -> str:
    """Hex tree hash of a file (or of one range of it), parallel over threads."""
    return fold(file_leaf_digests(path, offset, length, threads)).hex()


def file_size(path: str | os.PathLike[str]) -> int:
    return Path(path).stat().st_size
