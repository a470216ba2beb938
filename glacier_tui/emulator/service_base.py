"""The emulator service's shared core: state, lookups and checks that every area uses.

:class:`ServiceBase` holds the configuration, store and clock, the cache of 1 MiB leaf
digests of stored files, ids and ARNs, the vault lookup and the checks of descriptions,
limits and request hashes. The dataclasses here are what handlers hand to the server:
:class:`StreamSink` (where an upload body goes), :class:`BlobRef` and
:class:`RangeHash` (bytes and hashes to stream back), :class:`Notification`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glacier_tui.emulator.clock import VirtualClock
from glacier_tui.emulator.config import EmulatorConfig
from glacier_tui.emulator.errors import ipv, mpv, rnf
from glacier_tui.emulator.ids import make_id
from glacier_tui.emulator.store import Store

MAX_PART = 4 * 1024**3


@dataclass
class BlobRef:
    """A byte range of a file, streamed by the server."""

    path: Path
    offset: int
    length: int
    corruptible: bool = True


@dataclass
class RangeHash:
    """The tree hash of a byte range, computed by the server outside the store lock."""

    service: ServiceBase
    path: Path
    offset: int
    length: int

    def compute(self) -> str:
        return self.service.range_tree_hash(self.path, self.offset, self.length)


@dataclass
class StreamSink:
    """Where the server should stream an upload body, and what it was told.

    ``shared``: ``tmp`` is the upload's data file, written at ``offset`` and kept
    (not a private temp file removed afterwards). ``release`` is called when the body
    is done with, whatever happened.
    """

    tmp: Path
    expected_length: int | None
    context: dict[str, Any] = field(default_factory=dict)
    offset: int = 0
    shared: bool = False
    release: Callable[[], None] | None = None


@dataclass
class Notification:
    topic: str
    event: str
    message: dict[str, Any]
    time: float



class ServiceBase:
    """State and helpers shared by the handler mixins that make up ``Service``."""

    def __init__(self, cfg: EmulatorConfig, store: Store, clock: VirtualClock) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self.outbox: list[Notification] = []  # picked up by the server to POST to notify_url
        # 1 MiB leaf digests of stored files, keyed by (device, inode, size, mtime): job
        # outputs are hard links of archive blobs, so an archive's leaves (known from its
        # upload) serve ranged GetJobOutput without hashing again. Filled lazily otherwise.
        self._leaves: dict[tuple[int, int, int, int], dict[int, bytes]] = {}
        self._leaves_lock = threading.Lock()
        # Multipart parts written in place: ranges being written right now (upload id ->
        # starts), and the leaf digests of committed in-place parts (upload id -> start ->
        # leaves), to hand to the archive at completion. Guarded by _leaves_lock.
        self._inflight: dict[str, set[int]] = {}
        self._part_leaves: dict[str, dict[int, list[bytes]]] = {}

    # ------------------------------------------------------------------ leaf digests
    @staticmethod
    def _file_key(path: Path) -> tuple[int, int, int, int]:
        st = os.stat(path)
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def remember_leaves(self, path: Path, leaves: list[bytes], first: int = 0) -> None:
        """Record the 1 MiB leaf digests of ``path`` (from leaf index ``first``)."""
        key = self._file_key(path)
        with self._leaves_lock:
            if len(self._leaves) > 4096:  # bounded: 32 bytes per MiB per file
                self._leaves.clear()
            known = self._leaves.setdefault(key, {})
            known.update((first + i, d) for i, d in enumerate(leaves))

    def known_leaves(self, path: Path) -> dict[int, bytes]:
        with self._leaves_lock:
            return dict(self._leaves.get(self._file_key(path), {}))

    def range_tree_hash(self, path: Path, offset: int, length: int) -> str:
        """Tree hash of ``length`` bytes of ``path`` from ``offset`` (MiB aligned)."""
        from glacier_tui.glacier.treehash import CHUNK, file_leaf_digests, fold

        if offset % CHUNK:
            return fold(file_leaf_digests(path, offset, length, threads=1)).hex()
        first, n = offset // CHUNK, -(-length // CHUNK)
        known = self.known_leaves(path)
        leaves = [known.get(first + i) for i in range(n)]
        if (offset + length) % CHUNK and (offset + length) != os.stat(path).st_size:
            leaves[-1] = None  # a short last leaf that is not the file's last leaf
        missing = [i for i, d in enumerate(leaves) if d is None]
        if missing:
            lo, hi = missing[0], missing[-1] + 1
            got = file_leaf_digests(
                path, offset + lo * CHUNK, min(length, hi * CHUNK) - lo * CHUNK, threads=1
            )
            leaves[lo:hi] = got
            if (offset + length) % CHUNK == 0 or offset + length == os.stat(path).st_size:
                self.remember_leaves(path, got, first + lo)
        return fold([d for d in leaves if d is not None]).hex()

    # ------------------------------------------------------------------ names, ids, checks
    def arn(self, vault: str) -> str:
        return f"arn:aws:glacier:{self.cfg.region}:{self.cfg.account_id}:vaults/{vault}"

    def loc(self, vault: str, *rest: str) -> str:
        return "/".join([f"/{self.cfg.account_id}/vaults/{vault}", *rest])

    def archive_created(self, vault: str, archive_id: str, tree_hash: str) -> dict[str, Any]:
        """The UploadArchive / CompleteMultipartUpload response (ArchiveCreationOutput)."""
        return {
            "location": self.loc(vault, "archives", archive_id),
            "archiveId": archive_id,
            "checksum": tree_hash,
        }

    def new_id(self, kind: str) -> str:
        return make_id(self.cfg.seed, kind, self.store.next_counter(kind))

    def _vault(self, db: sqlite3.Connection, name: str | None) -> sqlite3.Row:
        row = db.execute("SELECT * FROM vaults WHERE name=?", (name,)).fetchone()
        if row is None:
            raise rnf(f"Vault not found for ARN: {self.arn(name or '')}")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _check_description(desc: str | None, what: str = "archive description") -> str:
        if desc is None:
            return ""
        if len(desc) > 1024:
            raise ipv(f"Invalid {what}: must be at most 1024 characters")
        if any(not (0x20 <= ord(c) <= 0x7E) for c in desc):
            raise ipv(f"Invalid {what}: only printable ASCII characters are allowed")
        return desc.lstrip(" ")

    @staticmethod
    def _limit(value: str | None, default: int, maximum: int, clamp: bool = False) -> int:
        if value is None or value == "":
            return default
        try:
            n = int(value)
        except ValueError as exc:
            raise ipv(f"Invalid limit: {value}") from exc
        if n < 1:
            raise ipv(f"Invalid limit: {value}. Limit must be at least 1.")
        if n > maximum:
            if clamp:
                return maximum
            raise ipv(f"Invalid limit: {value}. Limit must not exceed {maximum}.")
        return n

    def _mark_written(self, db: sqlite3.Connection, vault: str, now: float) -> None:
        db.execute(
            "UPDATE vaults SET dirty_since=COALESCE(dirty_since, ?) WHERE name=?", (now, vault)
        )

    # ------------------------------------------------------------------ request hashes
    def _check_account_hashes(self, p: dict[str, Any]) -> None:
        if not p.get("checksum"):
            raise mpv("Required parameter missing: x-amz-sha256-tree-hash")

    @staticmethod
    def _verify_hashes(p: dict[str, Any], tree: str, sha: str) -> None:
        given_sha = p.get("_content_sha256")
        if given_sha and given_sha not in ("UNSIGNED-PAYLOAD",) and given_sha.lower() != sha:
            raise ipv(f"x-amz-content-sha256 mismatch: expected {given_sha}, computed {sha}")
        given_tree = (p.get("checksum") or "").lower()
        if given_tree != tree:
            raise ipv(f"Checksum mismatch: expected {p.get('checksum')}, computed {tree}")
