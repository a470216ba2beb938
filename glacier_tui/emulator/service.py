"""Operation handlers: one method per Glacier operation, input dict in, output dict out.

Handlers run in a worker thread inside one store transaction (``Service.call``). The
streaming operations are split into ``*_begin`` (validate) and ``*_end`` (verify + commit)
around the body, which the server streams to a temp file -- or, for multipart parts, straight
to the part's offset in the upload's own data file. Either way the bytes are written and
fsynced outside the store lock; ``*_end`` is the request's one (short) transaction.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glacier_tui.emulator.clock import VirtualClock, fmt_ms, parse_iso
from glacier_tui.emulator.config import EmulatorConfig
from glacier_tui.emulator.errors import GlacierError, ipv, mpv, rnf
from glacier_tui.emulator.ids import make_id
from glacier_tui.emulator.jobs import (
    InvItem,
    decode_marker,
    inventory_csv,
    inventory_json,
    job_duration,
    page_inventory,
)
from glacier_tui.emulator.ranges import (
    MIB,
    is_mib_aligned,
    is_tree_hash_aligned,
    parse_content_range,
    parse_simple,
)
from glacier_tui.emulator.store import Store, commit_file, fsync_dir, remove

VAULT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
MAX_PART = 4 * 1024**3
EVENTS = ("ArchiveRetrievalCompleted", "InventoryRetrievalCompleted")
TIERS = ("Expedited", "Standard", "Bulk")
STATUS_CODES = ("InProgress", "Succeeded", "Failed")


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

    service: Service
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


class Service:
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

    # ------------------------------------------------------------------ plumbing
    def call(
        self, handler: str, params: dict[str, Any], *extra: Any, tick: bool = True
    ) -> Any:
        """Run one handler in one transaction, after letting time-driven work catch up.

        ``tick=False`` for validation-only handlers (``*_begin``): they write nothing, so
        their transaction commits without touching the disk.
        """
        fn = getattr(self, handler, None)
        if fn is None:
            raise GlacierError("UnknownOperationException", f"Not implemented: {handler}")
        with self.store.tx() as db:
            if tick:
                self._tick(db)
            return fn(db, params, *extra)

    def tick(self) -> None:
        with self.store.tx() as db:
            self._tick(db)

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

    def arn(self, vault: str) -> str:
        return f"arn:aws:glacier:{self.cfg.region}:{self.cfg.account_id}:vaults/{vault}"

    def loc(self, vault: str, *rest: str) -> str:
        return "/".join([f"/{self.cfg.account_id}/vaults/{vault}", *rest])

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

    # ------------------------------------------------------------------ time-driven work
    def _tick(self, db: sqlite3.Connection) -> None:
        now = self.clock.now()
        last = float(self.store.get_meta("clock") or "0")
        if now > last:
            self.store.set_meta("clock", repr(now))
        delay = self.cfg.inventory_delay_seconds
        # Inventory builds and job completions, in service-time order.
        events: list[tuple[float, int, str]] = []
        for v in db.execute(
            "SELECT name, dirty_since FROM vaults WHERE dirty_since IS NOT NULL"
        ).fetchall():
            if v["dirty_since"] + delay <= now:
                events.append((v["dirty_since"] + delay, 0, v["name"]))
        for j in db.execute(
            "SELECT id, due FROM jobs WHERE status='InProgress' AND due<=? ORDER BY due, seq",
            (now,),
        ).fetchall():
            events.append((j["due"], 1, j["id"]))
        for when, kind, key in sorted(events):
            if kind == 0:
                self._build_inventory(db, key, when)
            else:
                self._complete_job(db, key, when)
        # Expiries.
        for j in db.execute(
            "SELECT id, output FROM jobs WHERE expired=0 AND expires IS NOT NULL AND expires<=?",
            (now,),
        ).fetchall():
            db.execute("UPDATE jobs SET expired=1 WHERE id=?", (j["id"],))
            if j["output"]:
                remove(self.store.abs(j["output"]))
        db.execute(
            "UPDATE vaults SET lock_id=NULL, lock_state=NULL, lock_policy=NULL, "
            "lock_created=NULL, lock_expires=NULL "
            "WHERE lock_state='InProgress' AND lock_expires<=?",
            (now,),
        )
        stale = db.execute(
            "SELECT id FROM uploads WHERE (state='open' AND last_activity+?<=?) "
            "OR (state='completed' AND finished+?<=?) OR (state='aborted' AND finished+?<=?)",
            (
                self.cfg.upload_idle_expiry_seconds,
                now,
                self.cfg.completed_upload_retention_seconds,
                now,
                self.cfg.aborted_upload_retention_seconds,
                now,
            ),
        ).fetchall()
        for u in stale:
            self._drop_upload(db, u["id"])

    def _build_inventory(self, db: sqlite3.Connection, vault: str, when: float) -> None:
        db.execute("DELETE FROM inventory WHERE vault=?", (vault,))
        db.execute(
            "INSERT INTO inventory(vault, archive_id, description, creation, size, tree_hash) "
            "SELECT vault, id, description, creation, size, tree_hash FROM archives "
            "WHERE vault=? AND creation<=?",
            (vault, when),
        )
        count, size = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM inventory WHERE vault=?", (vault,)
        ).fetchone()
        db.execute(
            "UPDATE vaults SET last_inventory=?, inv_count=?, inv_size=?, dirty_since=NULL "
            "WHERE name=?",
            (when, count, size + count * self.cfg.size_overhead_bytes, vault),
        )

    def rebuild_inventory(self, vault: str | None = None) -> list[str]:
        """Admin: build inventories now (all vaults, or one)."""
        with self.store.tx() as db:
            self._tick(db)
            now = self.clock.now()
            names = [vault] if vault else [r[0] for r in db.execute("SELECT name FROM vaults")]
            for name in names:
                self._vault(db, name)
                self._build_inventory(db, name, now)
            return names

    def _complete_job(self, db: sqlite3.Connection, job_id: str, when: float) -> None:
        job = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        status, message = "Succeeded", "Succeeded"
        updates: dict[str, Any] = {}
        if job["fail"]:
            status, message = "Failed", "Job failed (forced by the emulator)"
        elif job["action"] == "ArchiveRetrieval":
            arch = db.execute("SELECT * FROM archives WHERE id=?", (job["archive_id"],)).fetchone()
            if arch is None:
                status, message = "Failed", "Archive was deleted before the retrieval finished"
            else:
                out = self.store.blob_path("outputs", job_id)
                src = self.store.abs(arch["blob"])
                remove(out)
                try:
                    os.link(src, out)  # outputs outlive archive deletion
                except OSError:
                    shutil.copyfile(src, out)
                updates = {
                    "output": self.store.rel(out),
                    "output_offset": job["range_start"],
                    "output_size": job["range_end"] - job["range_start"] + 1,
                    "content_type": "application/octet-stream",
                }
        elif job["action"] == "InventoryRetrieval":
            vault = db.execute("SELECT * FROM vaults WHERE name=?", (job["vault"],)).fetchone()
            if vault is None or vault["last_inventory"] is None:
                status, message = "Failed", "Vault inventory has not been generated yet"
            else:
                params = json.loads(job["inv_params"] or "{}")
                items = [
                    InvItem(
                        r["archive_id"], r["description"], r["creation"], r["size"], r["tree_hash"]
                    )
                    for r in db.execute("SELECT * FROM inventory WHERE vault=?", (job["vault"],))
                ]
                start = parse_iso(params["StartDate"]) if params.get("StartDate") else None
                end = parse_iso(params["EndDate"]) if params.get("EndDate") else None
                limit = int(params["Limit"]) if params.get("Limit") else None
                page, next_marker = page_inventory(items, start, end, limit, params.get("Marker"))
                if job["format"] == "CSV":
                    data = inventory_csv(page, self.cfg.inventory_date_ms, self.cfg.csv_line_ending)
                    ctype = "text/csv"
                else:
                    data = inventory_json(
                        self.arn(job["vault"]),
                        vault["last_inventory"],
                        page,
                        self.cfg.inventory_date_ms,
                    )
                    ctype = "application/json"
                out = self.store.blob_path("outputs", job_id)
                tmp = self.store.tmp_path(out.name)
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                commit_file(tmp, out)
                params["Marker"] = next_marker
                updates = {
                    "output": self.store.rel(out),
                    "output_offset": 0,
                    "output_size": len(data),
                    "content_type": ctype,
                    "inventory_size": len(data),
                    "inv_params": json.dumps(params),
                }
        updates.update(
            status=status,
            status_message=message,
            completion=when,
            expires=when + self.cfg.job_output_ttl_seconds,
        )
        sets = ", ".join(f"{k}=?" for k in updates)
        db.execute(f"UPDATE jobs SET {sets} WHERE id=?", (*updates.values(), job_id))
        self._notify(db, job_id, when)

    def _notify(self, db: sqlite3.Connection, job_id: str, when: float) -> None:
        job = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        doc = self._job_doc(job)
        event = (
            "InventoryRetrievalCompleted"
            if job["action"] == "InventoryRetrieval"
            else ("ArchiveRetrievalCompleted")
        )
        topics: list[str] = []
        vault = db.execute("SELECT * FROM vaults WHERE name=?", (job["vault"],)).fetchone()
        if (
            vault is not None
            and vault["notif_topic"]
            and event in json.loads(vault["notif_events"] or "[]")
        ):
            topics.append(vault["notif_topic"])
        if job["sns_topic"] and job["sns_topic"] not in topics:
            topics.append(job["sns_topic"])
        for topic in topics:
            db.execute(
                "INSERT INTO notifications(time, topic, event, message) VALUES(?,?,?,?)",
                (when, topic, event, json.dumps(doc)),
            )
            self.outbox.append(Notification(topic, event, doc, when))

    def notifications(self) -> list[dict[str, Any]]:
        with self.store.lock:
            rows = self.store.db.execute("SELECT * FROM notifications ORDER BY seq").fetchall()
        return [
            {
                "seq": r["seq"],
                "time": fmt_ms(r["time"]),
                "topic": r["topic"],
                "event": r["event"],
                "message": json.loads(r["message"]),
            }
            for r in rows
        ]

    def clear_notifications(self) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM notifications")

    # ------------------------------------------------------------------ vaults
    def _vault_doc(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "VaultARN": self.arn(row["name"]),
            "VaultName": row["name"],
            "CreationDate": fmt_ms(row["creation"]),
            "LastInventoryDate": fmt_ms(row["last_inventory"]) if row["last_inventory"] else None,
            "NumberOfArchives": row["inv_count"],
            "SizeInBytes": row["inv_size"],
        }

    def create_vault(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        name = p.get("vaultName") or ""
        if not VAULT_NAME.match(name):
            raise ipv(
                f"Invalid vault name: {name}. Vault names are 1-255 characters from "
                "a-z, A-Z, 0-9, '_', '-' and '.'."
            )
        exists = db.execute("SELECT 1 FROM vaults WHERE name=?", (name,)).fetchone()
        if not exists:
            (count,) = db.execute("SELECT COUNT(*) FROM vaults").fetchone()
            if count >= self.cfg.max_vaults:
                raise GlacierError(
                    "LimitExceededException",
                    f"The maximum number of vaults ({self.cfg.max_vaults}) has been reached",
                )
            db.execute("INSERT INTO vaults(name, creation) VALUES(?, ?)", (name, self.clock.now()))
        return {"location": self.loc(name)}

    def describe_vault(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        return self._vault_doc(self._vault(db, p.get("vaultName")))

    def list_vaults(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        limit = self._limit(p.get("limit"), 10, self.cfg.list_vaults_max_limit, clamp=True)
        marker = p.get("marker") or ""
        start = ""
        if marker:
            prefix = self.arn("")
            if not marker.startswith(prefix):
                raise ipv(f"Invalid marker: {marker}")
            start = marker[len(prefix) :]
        # Inclusive marker (§7.1): the page starts at the vault the marker names.
        rows = db.execute(
            "SELECT * FROM vaults WHERE name>=? ORDER BY name LIMIT ?", (start, limit + 1)
        ).fetchall()
        nxt = self.arn(rows[limit]["name"]) if len(rows) > limit else None
        return {"VaultList": [self._vault_doc(r) for r in rows[:limit]], "Marker": nxt}

    def delete_vault(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        if v["inv_count"] > 0 or v["dirty_since"] is not None:
            raise ipv(f"Vault not empty or recently written to: {self.arn(v['name'])}")
        if v["lock_state"] == "Locked":
            raise GlacierError("AccessDeniedException", "The vault is locked")
        name = v["name"]
        for u in db.execute("SELECT id FROM uploads WHERE vault=?", (name,)).fetchall():
            self._drop_upload(db, u["id"])
        for table in ("tags", "inventory"):
            db.execute(f"DELETE FROM {table} WHERE vault=?", (name,))
        db.execute("UPDATE jobs SET expired=1 WHERE vault=?", (name,))
        db.execute("DELETE FROM vaults WHERE name=?", (name,))
        return {}

    # ------------------------------------------------------------------ archives
    def _check_account_hashes(self, p: dict[str, Any]) -> None:
        if not p.get("checksum"):
            raise mpv("Required parameter missing: x-amz-sha256-tree-hash")

    def upload_archive_begin(self, db: sqlite3.Connection, p: dict[str, Any]) -> StreamSink:
        self._vault(db, p.get("vaultName"))
        desc = self._check_description(p.get("archiveDescription"))
        self._check_account_hashes(p)
        length = p.get("_content_length")
        if length is None:
            raise mpv("Required parameter missing: Content-Length")
        if length == 0:
            raise ipv("Invalid Content-Length: 0. An archive must contain at least 1 byte.")
        if length > MAX_PART:
            raise ipv(f"Invalid Content-Length: {length}. Use a multipart upload above 4 GB.")
        tmp = self.store.unique_tmp_path("upload")
        return StreamSink(tmp, length, {"description": desc})

    def upload_archive_end(
        self,
        db: sqlite3.Connection,
        p: dict[str, Any],
        sink: StreamSink,
        tree: str,
        sha: str,
        size: int,
    ) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        self._verify_hashes(p, tree, sha)
        archive_id = self.new_id("archive")
        final = self.store.blob_path("blobs", archive_id)
        commit_file(sink.tmp, final)
        if sink.context.get("leaves"):
            self.remember_leaves(final, sink.context["leaves"])
        now = self.clock.now()
        db.execute(
            "INSERT INTO archives(id, vault, description, creation, size, tree_hash, blob) "
            "VALUES(?,?,?,?,?,?,?)",
            (
                archive_id,
                vault,
                sink.context["description"],
                now,
                size,
                tree,
                self.store.rel(final),
            ),
        )
        self._mark_written(db, vault, now)
        return {
            "location": self.loc(vault, "archives", archive_id),
            "archiveId": archive_id,
            "checksum": tree,
        }

    @staticmethod
    def _verify_hashes(p: dict[str, Any], tree: str, sha: str) -> None:
        given_sha = p.get("_content_sha256")
        if given_sha and given_sha not in ("UNSIGNED-PAYLOAD",) and given_sha.lower() != sha:
            raise ipv(f"x-amz-content-sha256 mismatch: expected {given_sha}, computed {sha}")
        given_tree = (p.get("checksum") or "").lower()
        if given_tree != tree:
            raise ipv(f"Checksum mismatch: expected {p.get('checksum')}, computed {tree}")

    def delete_archive(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        archive_id = p.get("archiveId")
        arch = db.execute("SELECT * FROM archives WHERE id=?", (archive_id,)).fetchone()
        if arch is None:
            raise rnf(f"Archive not found: {archive_id}")
        if arch["vault"] != vault:
            raise ipv(f"Invalid vault name: {self.arn(vault)}")
        db.execute("DELETE FROM archives WHERE id=?", (archive_id,))
        remove(self.store.abs(arch["blob"]))  # job outputs hold their own hard link
        self._mark_written(db, vault, self.clock.now())
        return {}

    # ------------------------------------------------------------------ multipart
    def _upload(
        self,
        db: sqlite3.Connection,
        vault: str,
        upload_id: str | None,
        states: tuple[str, ...] = ("open",),
    ) -> sqlite3.Row:
        u = db.execute(
            "SELECT * FROM uploads WHERE id=? AND vault=?", (upload_id, vault)
        ).fetchone()
        if u is None or u["state"] not in states:
            raise rnf(f"The upload ID was not found: {upload_id}")
        return u  # type: ignore[no-any-return]

    def _drop_upload(self, db: sqlite3.Connection, upload_id: str) -> None:
        self._discard_parts(db, upload_id)
        db.execute("DELETE FROM uploads WHERE id=?", (upload_id,))

    def _discard_parts(self, db: sqlite3.Connection, upload_id: str) -> None:
        """Forget an upload's parts; their files go once the transaction has committed."""
        db.execute("DELETE FROM parts WHERE upload_id=?", (upload_id,))
        self.store.after_commit(lambda: self.store.remove_upload_dir(upload_id))
        with self._leaves_lock:
            self._part_leaves.pop(upload_id, None)

    def _in_place(self, part_path: str, upload_id: str) -> bool:
        """Whether a part row's bytes sit at their offset in the upload's data file."""
        return self.store.abs(part_path) == self.store.upload_data_path(upload_id)

    def _release_range(self, upload_id: str, start: int) -> None:
        with self._leaves_lock:
            starts = self._inflight.get(upload_id)
            if starts is not None:
                starts.discard(start)
                if not starts:
                    del self._inflight[upload_id]

    def initiate_multipart_upload(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        desc = p.get("archiveDescription")
        if desc is not None:
            desc = self._check_description(desc)
        raw = p.get("partSize")
        try:
            size = int(raw) if raw is not None else 0
        except ValueError:
            size = 0
        if size < MIB or size > MAX_PART or size & (size - 1):
            raise ipv(
                f"Invalid part size: {raw}. Part size must not be null, must be a power of two "
                "and be between 1048576 and 4294967296 bytes."
            )
        upload_id = self.new_id("upload")
        now = self.clock.now()
        db.execute(
            "INSERT INTO uploads(id, vault, description, part_size, creation, last_activity, state,"
            " seq) VALUES(?,?,?,?,?,?,'open',?)",
            (upload_id, vault, desc, size, now, now, self.store.next_counter("upload-seq")),
        )
        return {"location": self.loc(vault, "multipart-uploads", upload_id), "uploadId": upload_id}

    def upload_multipart_part_begin(self, db: sqlite3.Connection, p: dict[str, Any]) -> StreamSink:
        vault = self._vault(db, p.get("vaultName"))["name"]
        u = self._upload(db, vault, p.get("uploadId"))
        self._check_account_hashes(p)
        text = p.get("range")
        if not text:
            raise mpv("Required parameter missing: Content-Range")
        rng = parse_content_range(text)
        if rng is None:
            raise ipv(f"Invalid Content-Range: {text}")
        start, end = rng
        length = p.get("_content_length")
        if length is not None and end - start + 1 != length:
            raise ipv(f"Content-Range: {text} is incompatible with Content-Length: {length}")
        part_size = u["part_size"]
        if start % part_size or end - start + 1 > part_size:
            raise ipv(
                f"Invalid Content-Range: {text}. The range must start on a part boundary and be "
                f"at most the part size ({part_size} bytes)."
            )
        if start // part_size >= 10000:
            raise ipv(f"Invalid Content-Range: {text}. An upload has at most 10000 parts.")
        context = {"start": start, "end": end}
        committed = db.execute(
            "SELECT 1 FROM parts WHERE upload_id=? AND start=?", (u["id"], start)
        ).fetchone()
        upload_id = u["id"]
        with self._leaves_lock:
            busy = start in self._inflight.get(upload_id, ())
            if not committed and not busy:
                self._inflight.setdefault(upload_id, set()).add(start)
        if committed or busy:
            # A re-upload of an acknowledged range (or a concurrent twin): the old bytes
            # must stay intact until the new ones verify, so this one goes to a temp file.
            return StreamSink(self.store.unique_tmp_path("part"), end - start + 1, context)
        # First upload of the range: straight to its offset in the upload's data file,
        # no copy later. Until this request commits, nothing refers to those bytes.
        try:
            data = self.store.ensure_upload_data(upload_id)
        except BaseException:
            self._release_range(upload_id, start)
            raise
        return StreamSink(data, end - start + 1, context, offset=start, shared=True,
                          release=lambda: self._release_range(upload_id, start))

    def upload_multipart_part_end(
        self,
        db: sqlite3.Connection,
        p: dict[str, Any],
        sink: StreamSink,
        tree: str,
        sha: str,
        size: int,
    ) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        u = self._upload(db, vault, p.get("uploadId"))
        start, end = sink.context["start"], sink.context["end"]
        if size != end - start + 1:
            raise ipv(
                f"Content-Range: {p.get('range')} is incompatible with Content-Length: {size}"
            )
        self._verify_hashes(p, tree, sha)
        leaves = sink.context.get("leaves")
        if sink.shared:  # already fsynced at its offset by the server
            final = sink.tmp
            if leaves:
                with self._leaves_lock:
                    self._part_leaves.setdefault(u["id"], {})[start] = leaves
        else:
            final = self.store.part_path(u["id"], start)
            commit_file(sink.tmp, final)
            if leaves:
                self.remember_leaves(final, leaves)
            with self._leaves_lock:
                self._part_leaves.get(u["id"], {}).pop(start, None)
        db.execute(
            "INSERT INTO parts(upload_id, start, end_, tree_hash, path) VALUES(?,?,?,?,?) "
            "ON CONFLICT(upload_id, start) DO UPDATE SET end_=excluded.end_, "
            "tree_hash=excluded.tree_hash, path=excluded.path",
            (u["id"], start, end, tree, self.store.rel(final)),
        )
        db.execute("UPDATE uploads SET last_activity=? WHERE id=?", (self.clock.now(), u["id"]))
        return {"checksum": tree}

    def complete_multipart_upload(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        u = self._upload(db, vault, p.get("uploadId"), ("open", "completed"))
        checksum = (p.get("checksum") or "").lower()
        if not checksum:
            raise mpv("Required parameter missing: x-amz-sha256-tree-hash")
        if p.get("archiveSize") in (None, ""):
            raise mpv("Required parameter missing: x-amz-archive-size")
        try:
            total = int(p["archiveSize"])
        except ValueError as exc:
            raise ipv(f"Invalid x-amz-archive-size: {p['archiveSize']}") from exc
        if u["state"] == "completed":  # idempotent repeat within the retention window
            arch = db.execute("SELECT * FROM archives WHERE id=?", (u["archive_id"],)).fetchone()
            if arch is None or arch["tree_hash"] != checksum or arch["size"] != total:
                raise rnf(f"The upload ID was not found: {u['id']}")
            return {
                "location": self.loc(vault, "archives", arch["id"]),
                "archiveId": arch["id"],
                "checksum": arch["tree_hash"],
            }
        parts = db.execute(
            "SELECT * FROM parts WHERE upload_id=? ORDER BY start", (u["id"],)
        ).fetchall()
        if not parts:
            raise ipv("No parts have been uploaded for this multipart upload")
        part_size = u["part_size"]
        expect = 0
        for i, part in enumerate(parts):
            if part["start"] != expect:
                raise ipv(f"Missing part at range starting {expect}: the upload has a gap")
            length = part["end_"] - part["start"] + 1
            if length != part_size and i != len(parts) - 1:
                raise ipv(f"Part {part['start']}-{part['end_']} is shorter than the part size")
            expect = part["end_"] + 1
        if expect != total:
            raise ipv(f"Invalid x-amz-archive-size: {total}; the parts add up to {expect} bytes")
        from glacier_tui.glacier.treehash import combine_hex

        computed = combine_hex([part["tree_hash"] for part in parts])
        if computed != checksum:
            raise ipv(f"Invalid x-amz-sha256-tree-hash: {p.get('checksum')}")
        archive_id = self.new_id("archive")
        final = self.store.blob_path("blobs", archive_id)
        leaves = self._assemble(u["id"], parts, total, final)
        if leaves:
            self.remember_leaves(final, leaves)
        now = self.clock.now()
        db.execute(
            "INSERT INTO archives(id, vault, description, creation, size, tree_hash, blob) "
            "VALUES(?,?,?,?,?,?,?)",
            (
                archive_id,
                vault,
                u["description"] or "",
                now,
                total,
                computed,
                self.store.rel(final),
            ),
        )
        self._discard_parts(db, u["id"])
        db.execute(
            "UPDATE uploads SET state='completed', archive_id=?, finished=? WHERE id=?",
            (archive_id, now, u["id"]),
        )
        self._mark_written(db, vault, now)
        return {
            "location": self.loc(vault, "archives", archive_id),
            "archiveId": archive_id,
            "checksum": computed,
        }

    def _assemble(
        self, upload_id: str, parts: list[sqlite3.Row], total: int, final: Path
    ) -> list[bytes] | None:
        """Make ``final`` hold the archive, durably; return its leaf digests if known.

        Parts written in place already sit at their offsets in the upload's data file:
        that file is hard-linked as the archive blob (no byte copied; the upload's own
        name goes after the commit). Parts stored separately (re-uploads) are copied
        into it at their offsets first, in the kernel. When an in-place body for this
        upload is still being written (a straggler past the archive's end), the bytes
        are copied to a new file instead, so that writer cannot touch the archive.
        """
        data = self.store.ensure_upload_data(upload_id)
        with self._leaves_lock:
            straggler = bool(self._inflight.get(upload_id))
            mine = dict(self._part_leaves.get(upload_id, {}))
        leaves: list[bytes] | None = []
        fd = os.open(data, os.O_RDWR)
        try:
            for part in parts:
                length = part["end_"] - part["start"] + 1
                n = -(-length // MIB)
                if self._in_place(part["path"], upload_id):
                    got: list[bytes] | None = mine.get(part["start"])
                else:
                    part_path = self.store.abs(part["path"])
                    with open(part_path, "rb") as src:
                        _copy_range(src.fileno(), fd, length, part["start"])
                    known = self.known_leaves(part_path)
                    got = [known[i] for i in range(n)] if all(i in known for i in range(n)) \
                        else None
                leaves = leaves + got if leaves is not None and got and len(got) == n else None
            if not straggler:
                os.ftruncate(fd, total)  # drop bytes of failed bodies past the archive's end
                os.fsync(fd)
                remove(final)
                try:
                    os.link(data, final)
                except OSError:
                    pass  # no hard links here: copy below
                else:
                    fsync_dir(final.parent)
                    return leaves
            tmp = self.store.unique_tmp_path("complete")
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _copy_range(fd, out, total, 0)
                os.fsync(out)
            finally:
                os.close(out)
            commit_file(tmp, final)
            return leaves
        finally:
            os.close(fd)

    def abort_multipart_upload(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        u = self._upload(db, vault, p.get("uploadId"), ("open", "aborted"))
        self._discard_parts(db, u["id"])
        if u["state"] == "open":
            db.execute(
                "UPDATE uploads SET state='aborted', finished=? WHERE id=?",
                (self.clock.now(), u["id"]),
            )
        return {}

    def _upload_doc(self, u: sqlite3.Row) -> dict[str, Any]:
        return {
            "MultipartUploadId": u["id"],
            "VaultARN": self.arn(u["vault"]),
            "ArchiveDescription": u["description"],
            "PartSizeInBytes": u["part_size"],
            "CreationDate": fmt_ms(u["creation"]),
        }

    def list_parts(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        u = self._upload(db, vault, p.get("uploadId"))
        limit = self._limit(p.get("limit"), 50, 50, clamp=True)
        marker = p.get("marker") or ""
        start = 0
        if marker:
            if not marker.isdigit():
                raise ipv(f"Invalid marker: {marker}")
            start = int(marker)
        rows = db.execute(
            "SELECT * FROM parts WHERE upload_id=? AND start>=? ORDER BY start LIMIT ?",
            (u["id"], start, limit + 1),
        ).fetchall()
        doc = self._upload_doc(u)
        doc["Parts"] = [
            {"RangeInBytes": f"{r['start']}-{r['end_']}", "SHA256TreeHash": r["tree_hash"]}
            for r in rows[:limit]
        ]
        doc["Marker"] = str(rows[limit]["start"]) if len(rows) > limit else None
        return doc

    def list_multipart_uploads(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        limit = self._limit(p.get("limit"), 50, 50, clamp=True)
        marker = p.get("marker") or ""
        seq = 0
        if marker:
            row = db.execute("SELECT seq FROM uploads WHERE id=?", (marker,)).fetchone()
            if row is None:
                raise ipv(f"Invalid marker: {marker}")
            seq = row["seq"]
        rows = db.execute(
            "SELECT * FROM uploads WHERE vault=? AND state='open' AND seq>=? ORDER BY seq LIMIT ?",
            (vault, seq, limit + 1),
        ).fetchall()
        return {
            "UploadsList": [self._upload_doc(r) for r in rows[:limit]],
            "Marker": rows[limit]["id"] if len(rows) > limit else None,
        }

    # ------------------------------------------------------------------ jobs
    def _job_doc(self, j: sqlite3.Row) -> dict[str, Any]:
        archive = j["action"] == "ArchiveRetrieval"
        inv = j["action"] == "InventoryRetrieval"
        done = j["status"] != "InProgress"
        inv_params = None
        if inv:
            params = json.loads(j["inv_params"] or "{}")
            inv_params = {
                "Format": j["format"] or "JSON",
                **{k: params.get(k) for k in ("StartDate", "EndDate", "Limit", "Marker")},
            }
        tier = j["tier"] if not inv else self.cfg.inventory_job_tier
        message = j["status_message"] if done else self.cfg.running_status_message
        doc: dict[str, Any] = {
            "JobId": j["id"],
            "JobDescription": j["description"],
            "Action": j["action"],
            "ArchiveId": j["archive_id"] if not inv else None,
            "VaultARN": self.arn(j["vault"]),
            "CreationDate": fmt_ms(j["creation"]),
            "Completed": done,
            "StatusCode": j["status"],
            "StatusMessage": message,
            "ArchiveSizeInBytes": j["archive_size"] if archive else None,
            "InventorySizeInBytes": j["inventory_size"] if inv and done else None,
            "SNSTopic": j["sns_topic"],
            "CompletionDate": fmt_ms(j["completion"]) if done else None,
            "SHA256TreeHash": j["sha_tree_hash"] if archive else None,
            "ArchiveSHA256TreeHash": j["archive_tree_hash"] if archive else None,
            "RetrievalByteRange": f"{j['range_start']}-{j['range_end']}" if archive else None,
            "Tier": tier,
            "InventoryRetrievalParameters": inv_params,
        }
        if j["action"] == "Select":
            doc["SelectParameters"] = json.loads(j["select_params"] or "null")
            doc["OutputLocation"] = json.loads(j["output_location"] or "null")
        return {k: v for k, v in doc.items() if v is not None}

    def _job(self, db: sqlite3.Connection, vault: str, job_id: str | None) -> sqlite3.Row:
        j = db.execute(
            "SELECT * FROM jobs WHERE id=? AND vault=? AND expired=0", (job_id, vault)
        ).fetchone()
        if j is None:
            raise rnf(f"The job ID was not found: {job_id}")
        return j  # type: ignore[no-any-return]

    def initiate_job(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))
        name = vault["name"]
        jp = p.get("jobParameters") or {}
        jtype = jp.get("Type")
        if not jtype:
            raise mpv("Required parameter missing: Type")
        desc = self._check_description(jp.get("Description"), "job description") or None
        now = self.clock.now()
        seq = self.store.next_counter("job-seq")
        row: dict[str, Any] = {
            "seq": seq,
            "vault": name,
            "description": desc,
            "sns_topic": jp.get("SNSTopic"),
            "creation": now,
            "status": "InProgress",
            "fail": int(self.cfg.force_job_failure),
        }
        if jtype == "archive-retrieval":
            row.update(self._archive_job(db, name, jp, now))
            duration = job_duration(self.cfg.seed, seq, row["tier"])
        elif jtype == "inventory-retrieval":
            row.update(self._inventory_job(vault, jp))
            duration = job_duration(self.cfg.seed, seq, "Inventory")
        elif jtype == "select":
            if self.cfg.reject_select:
                raise ipv("Select jobs are not supported")
            row.update(self._select_job(db, name, jp))
            duration = job_duration(self.cfg.seed, seq, row["tier"])
        else:
            raise ipv(f"Invalid job type: {jtype}")
        job_id = self.new_id("job")
        row["id"] = job_id
        row["due"] = now + duration
        cols = ", ".join(row)
        db.execute(
            f"INSERT INTO jobs({cols}) VALUES({', '.join('?' * len(row))})", tuple(row.values())
        )
        if row.get("tier") == "Standard" and row["action"] == "ArchiveRetrieval":
            db.execute(
                "INSERT INTO retrievals(job_id, time, bytes) VALUES(?,?,?)",
                (job_id, now, row["range_end"] - row["range_start"] + 1),
            )
        out: dict[str, Any] = {"location": self.loc(name, "jobs", job_id), "jobId": job_id}
        if row["action"] == "Select":
            s3 = (jp.get("OutputLocation") or {}).get("S3") or {}
            out["jobOutputPath"] = f"{s3.get('Prefix', '')}{job_id}/"
        return out

    def _archive_job(
        self, db: sqlite3.Connection, vault: str, jp: dict[str, Any], now: float
    ) -> dict[str, Any]:
        if jp.get("InventoryRetrievalParameters") or jp.get("Format"):
            raise ipv("Format and InventoryRetrievalParameters apply only to inventory-retrieval")
        archive_id = jp.get("ArchiveId")
        if not archive_id:
            raise mpv("Required parameter missing: ArchiveId")
        arch = db.execute("SELECT * FROM archives WHERE id=?", (archive_id,)).fetchone()
        if arch is None:
            if len(archive_id) != 138:
                raise ipv(f"Invalid archive ID: {archive_id}")
            raise rnf(f"Archive not found for ID: {archive_id}")
        if arch["vault"] != vault:
            raise ipv(f"Invalid vault name: {self.arn(vault)}")
        tier = jp.get("Tier") or "Standard"
        if tier not in TIERS:
            raise ipv(f"Invalid tier: {tier}")
        size = arch["size"]
        text = jp.get("RetrievalByteRange")
        if text:
            rng = parse_simple(text)
            if rng is None or not is_mib_aligned(rng[0], rng[1], size):
                raise ipv(
                    f"Invalid RetrievalByteRange: {text}. The range must start on a megabyte "
                    "boundary and end on a megabyte boundary or at the end of the archive."
                )
            start, end = rng
        else:
            start, end = 0, size - 1
        nbytes = end - start + 1
        if tier == "Standard":
            self._enforce_policy(db, nbytes, now)
        if tier == "Expedited":
            self._check_capacity(db, now)
        if start == 0 and end == size - 1:
            sha: str | None = arch["tree_hash"]
        elif is_tree_hash_aligned(start, end, size):
            from glacier_tui.glacier.treehash import tree_hash_file

            sha = tree_hash_file(self.store.abs(arch["blob"]), start, nbytes, threads=1)
        else:
            sha = None
        return {
            "action": "ArchiveRetrieval",
            "archive_id": archive_id,
            "tier": tier,
            "range_start": start,
            "range_end": end,
            "archive_size": size,
            "archive_tree_hash": arch["tree_hash"],
            "sha_tree_hash": sha,
            "archive_description": arch["description"],
        }

    def _inventory_job(self, vault: sqlite3.Row, jp: dict[str, Any]) -> dict[str, Any]:
        if jp.get("ArchiveId"):
            raise ipv("ArchiveId must not be given for inventory-retrieval jobs")
        if jp.get("RetrievalByteRange"):
            raise ipv("RetrievalByteRange applies only to archive-retrieval jobs")
        fmt = jp.get("Format") or "JSON"
        if fmt not in ("JSON", "CSV"):
            raise ipv(f"Invalid format: {fmt}. Valid values are JSON and CSV.")
        params = dict(jp.get("InventoryRetrievalParameters") or {})
        for key in ("StartDate", "EndDate"):
            if params.get(key):
                try:
                    parse_iso(str(params[key]))
                except ValueError as exc:
                    raise ipv(f"Invalid {key}: {params[key]}") from exc
        if params.get("Limit") is not None:
            try:
                if int(params["Limit"]) < 1:
                    raise ValueError
            except ValueError as exc:
                raise ipv(f"Invalid Limit: {params['Limit']}") from exc
        if params.get("Marker"):
            decode_marker(str(params["Marker"]))
        if vault["last_inventory"] is None and self.cfg.never_inventoried_jobs == "reject":
            raise rnf(f"Inventory not yet generated for vault: {self.arn(vault['name'])}")
        keep = {k: params.get(k) for k in ("StartDate", "EndDate", "Limit", "Marker")}
        return {"action": "InventoryRetrieval", "format": fmt, "inv_params": json.dumps(keep)}

    def _select_job(self, db: sqlite3.Connection, vault: str, jp: dict[str, Any]) -> dict[str, Any]:
        archive_id = jp.get("ArchiveId")
        arch = db.execute(
            "SELECT * FROM archives WHERE id=? AND vault=?", (archive_id, vault)
        ).fetchone()
        if arch is None:
            raise rnf(f"Archive not found for ID: {archive_id}")
        if not jp.get("SelectParameters") or not jp.get("OutputLocation"):
            raise mpv("Required parameter missing: SelectParameters and OutputLocation")
        tier = jp.get("Tier") or "Standard"
        if tier not in TIERS:
            raise ipv(f"Invalid tier: {tier}")
        return {
            "action": "Select",
            "archive_id": archive_id,
            "tier": tier,
            "select_params": json.dumps(jp["SelectParameters"]),
            "output_location": json.dumps(jp["OutputLocation"]),
        }

    def _enforce_policy(self, db: sqlite3.Connection, nbytes: int, now: float) -> None:
        rule = self._policy(db)["Rules"][0]
        strategy = rule.get("Strategy")
        refuse = GlacierError(
            "PolicyEnforcedException",
            "InitiateJob request denied by current data retrieval policy.",
        )
        if strategy == "FreeTier":
            (used,) = db.execute(
                "SELECT COALESCE(SUM(bytes),0) FROM retrievals WHERE time>?", (now - 86400,)
            ).fetchone()
            if used + nbytes > self.cfg.free_tier_bytes_per_day:
                raise refuse
        elif strategy == "BytesPerHour":
            # A Standard retrieval is spread over ~4 h; cap the rate of those still running.
            (running,) = db.execute(
                "SELECT COALESCE(SUM(bytes),0) FROM retrievals WHERE time>?", (now - 4 * 3600,)
            ).fetchone()
            if (running + nbytes) / 4 > int(rule.get("BytesPerHour") or 0):
                raise refuse

    def _check_capacity(self, db: sqlite3.Connection, now: float) -> None:
        (units,) = db.execute("SELECT COUNT(*) FROM capacity WHERE expiration>?", (now,)).fetchone()
        if units == 0 and self.cfg.insufficient_capacity:
            raise GlacierError(
                "InsufficientCapacityException",
                "There is insufficient capacity to process this expedited request.",
                self.cfg.insufficient_capacity_status,
            )

    def describe_job(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        return self._job_doc(self._job(db, vault, p.get("jobId")))

    def list_jobs(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        vault = self._vault(db, p.get("vaultName"))["name"]
        limit = self._limit(p.get("limit"), 50, 50, clamp=True)
        where = ["vault=?", "expired=0"]
        args: list[Any] = [vault]
        status = p.get("statuscode")
        if status:
            if status not in STATUS_CODES:
                raise ipv(f"The job status code is not valid: {status}")
            where.append("status=?")
            args.append(status)
        completed = p.get("completed")
        if completed:
            if completed not in ("true", "false"):
                raise ipv(f"The completed value is not valid: {completed}")
            where.append("status!='InProgress'" if completed == "true" else "status='InProgress'")
        marker = p.get("marker")
        if marker:
            row = db.execute(
                "SELECT seq FROM jobs WHERE id=? AND vault=?", (marker, vault)
            ).fetchone()
            if row is None:
                raise ipv(f"Invalid marker: {marker}")
            where.append("seq>?")  # marker = last job of the previous page (docs example)
            args.append(row["seq"])
        rows = db.execute(
            f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        page = rows[:limit]
        return {
            "JobList": [self._job_doc(r) for r in page],
            "Marker": page[-1]["id"] if len(rows) > limit else None,
        }

    def get_job_output(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        from glacier_tui.emulator.ranges import parse_http_range

        vault = self._vault(db, p.get("vaultName"))["name"]
        j = self._job(db, vault, p.get("jobId"))
        if j["status"] != "Succeeded" or not j["output"]:
            raise ipv(f"The job is not currently available for download: {j['id']}")
        total = j["output_size"]
        path = self.store.abs(j["output"])
        archive = j["action"] == "ArchiveRetrieval"
        text = p.get("range")
        out: dict[str, Any] = {"acceptRanges": "bytes", "contentType": j["content_type"]}
        if archive and j["archive_description"]:
            out["archiveDescription"] = j["archive_description"]
        if text:
            rng = parse_http_range(text, total)
            if rng is None:
                raise ipv(f"Invalid Range: {text}")
            start, end = rng
            out["status"] = 206
            out["contentRange"] = f"bytes {start}-{end}/{total}"
        else:
            start, end = 0, total - 1
            out["status"] = 200
        length = end - start + 1
        if archive and j["sha_tree_hash"]:
            if start == 0 and end == total - 1:
                out["checksum"] = j["sha_tree_hash"]
            elif is_tree_hash_aligned(start, end, total):
                # Hashed by the server in a thread, outside the store's lock.
                out["checksum"] = RangeHash(self, path, j["output_offset"] + start, length)
        out["body"] = BlobRef(path, j["output_offset"] + start, length)
        return out

    # ------------------------------------------------------------------ retrieval policy
    def _policy(self, db: sqlite3.Connection) -> dict[str, Any]:
        raw = self.store.get_meta("retrieval_policy")
        return json.loads(raw) if raw else {"Rules": [{"Strategy": "None"}]}

    def get_data_retrieval_policy(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        return {"Policy": self._policy(db)}

    def set_data_retrieval_policy(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        policy = p.get("Policy")
        if not isinstance(policy, dict):
            raise mpv("Required parameter missing: Policy")
        rules = policy.get("Rules")
        if not isinstance(rules, list) or len(rules) != 1 or not isinstance(rules[0], dict):
            raise ipv("The data retrieval policy must contain exactly one rule")
        rule = rules[0]
        strategy = rule.get("Strategy")
        bph = rule.get("BytesPerHour")
        if strategy not in ("None", "FreeTier", "BytesPerHour"):
            raise ipv(f"Invalid data retrieval policy strategy: {strategy}")
        if strategy == "BytesPerHour":
            if not isinstance(bph, int) or isinstance(bph, bool) or not 1 <= bph < 2**63:
                raise ipv("BytesPerHour must be between 1 and 2^63-1 for the BytesPerHour strategy")
            clean: dict[str, Any] = {"Strategy": strategy, "BytesPerHour": bph}
        else:
            if bph is not None:
                raise ipv(f"BytesPerHour must not be set for the {strategy} strategy")
            clean = {"Strategy": strategy}
        self.store.set_meta("retrieval_policy", json.dumps({"Rules": [clean]}))
        return {}

    # ------------------------------------------------------------------ provisioned capacity
    def purchase_provisioned_capacity(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        now = self.clock.now()
        (units,) = db.execute("SELECT COUNT(*) FROM capacity WHERE expiration>?", (now,)).fetchone()
        if units >= self.cfg.max_capacity_units:
            raise GlacierError(
                "LimitExceededException",
                "The maximum number of provisioned capacity units has been reached",
            )
        cap_id = self.new_id("capacity")
        db.execute(
            "INSERT INTO capacity(id, start, expiration) VALUES(?,?,?)",
            (cap_id, now, add_month(now)),
        )
        return {"capacityId": cap_id}

    def list_provisioned_capacity(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        now = self.clock.now()
        rows = db.execute("SELECT * FROM capacity ORDER BY start, id").fetchall()
        return {
            "ProvisionedCapacityList": [
                {
                    "CapacityId": r["id"],
                    "StartDate": fmt_ms(r["start"]),
                    "ExpirationDate": fmt_ms(int(r["expiration"])),
                }
                for r in rows
                if self.cfg.list_expired_capacity or r["expiration"] > now
            ]
        }

    # ------------------------------------------------------------------ notifications
    def set_vault_notifications(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        cfg = p.get("vaultNotificationConfig") or {}
        topic, events = cfg.get("SNSTopic"), cfg.get("Events")
        if not topic:
            raise mpv("Required parameter missing: SNSTopic")
        if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
            raise ipv(f"Invalid notification events: {events}")
        db.execute(
            "UPDATE vaults SET notif_topic=?, notif_events=? WHERE name=?",
            (topic, json.dumps(events), name),
        )
        return {}

    def get_vault_notifications(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        if not v["notif_topic"]:
            raise rnf(f"No notification configuration is set for the vault: {self.arn(v['name'])}")
        return {
            "vaultNotificationConfig": {
                "SNSTopic": v["notif_topic"],
                "Events": json.loads(v["notif_events"]),
            }
        }

    def delete_vault_notifications(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        db.execute("UPDATE vaults SET notif_topic=NULL, notif_events=NULL WHERE name=?", (name,))
        return {}

    # ------------------------------------------------------------------ access policy
    def set_vault_access_policy(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        text = (p.get("policy") or {}).get("Policy")
        text = _check_policy_text(text)
        db.execute("UPDATE vaults SET access_policy=? WHERE name=?", (text, name))
        return {}

    def get_vault_access_policy(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        if not v["access_policy"]:
            raise rnf(f"No vault access policy is set for: {self.arn(v['name'])}")
        return {"policy": {"Policy": v["access_policy"]}}

    def delete_vault_access_policy(
        self, db: sqlite3.Connection, p: dict[str, Any]
    ) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        db.execute("UPDATE vaults SET access_policy=NULL WHERE name=?", (name,))
        return {}

    # ------------------------------------------------------------------ vault lock (§7.4)
    def initiate_vault_lock(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        text = _check_policy_text((p.get("policy") or {}).get("Policy"))
        if v["lock_state"] == "InProgress":
            raise GlacierError(
                "AccessDeniedException",
                "Vault lock is in progress; abort it before initiating a new one",
            )
        if v["lock_state"] == "Locked":
            raise GlacierError(self.cfg.initiate_lock_when_locked, "The vault is already locked")
        lock_id = self.new_id("lock")
        now = self.clock.now()
        db.execute(
            "UPDATE vaults SET lock_id=?, lock_state='InProgress', lock_policy=?, lock_created=?,"
            " lock_expires=? WHERE name=?",
            (lock_id, text, now, now + self.cfg.vault_lock_ttl_seconds, v["name"]),
        )
        return {"lockId": lock_id}

    def complete_vault_lock(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        lock_id = p.get("lockId")
        if v["lock_state"] is None:
            raise GlacierError(
                self.cfg.complete_lock_without_lock,
                f"No vault lock is in progress for: {self.arn(v['name'])}",
            )
        if lock_id != v["lock_id"]:
            if v["lock_state"] == "Locked":
                raise GlacierError("AccessDeniedException", "The vault is locked")
            raise ipv(f"Invalid lock ID: {lock_id}")
        db.execute(
            "UPDATE vaults SET lock_state='Locked', lock_expires=NULL WHERE name=?", (v["name"],)
        )
        return {}

    def abort_vault_lock(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        if v["lock_state"] == "Locked":
            raise GlacierError(
                "AccessDeniedException", "The vault lock policy is locked and cannot be aborted"
            )
        db.execute(
            "UPDATE vaults SET lock_id=NULL, lock_state=NULL, lock_policy=NULL, lock_created=NULL,"
            " lock_expires=NULL WHERE name=?",
            (v["name"],),
        )
        return {}

    def get_vault_lock(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        if v["lock_state"] is None:
            raise rnf(f"No vault lock policy is set for: {self.arn(v['name'])}")
        return {
            "Policy": v["lock_policy"],
            "State": v["lock_state"],
            "ExpirationDate": fmt_ms(v["lock_expires"]) if v["lock_expires"] else None,
            "CreationDate": fmt_ms(v["lock_created"]),
        }

    # ------------------------------------------------------------------ tags (§7.5)
    def add_tags_to_vault(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        tags = p.get("Tags") or {}
        if not isinstance(tags, dict):
            raise ipv("Tags must be a map of strings")
        for key, value in tags.items():
            if not isinstance(value, str) or not 1 <= len(key) <= 128 or len(value) > 255:
                raise ipv(f"Invalid tag: {key}")
            if key.startswith("aws:"):
                raise ipv(f"Invalid tag key: {key}. Keys may not start with 'aws:'")
            if not TAG_CHARS.match(key) or not TAG_CHARS.match(value):
                raise ipv(f"Invalid characters in tag: {key}")
        existing = {r["key"] for r in db.execute("SELECT key FROM tags WHERE vault=?", (name,))}
        if len(existing | set(tags)) > self.cfg.max_tags:
            raise GlacierError(
                "LimitExceededException", f"A vault can have at most {self.cfg.max_tags} tags"
            )
        for key, value in tags.items():
            db.execute(
                "INSERT INTO tags(vault, key, value) VALUES(?,?,?) "
                "ON CONFLICT(vault, key) DO UPDATE SET value=excluded.value",
                (name, key, value),
            )
        return {}

    def remove_tags_from_vault(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        for key in p.get("TagKeys") or []:
            db.execute("DELETE FROM tags WHERE vault=? AND key=?", (name, key))
        return {}

    def list_tags_for_vault(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        name = self._vault(db, p.get("vaultName"))["name"]
        rows = db.execute("SELECT key, value FROM tags WHERE vault=? ORDER BY key", (name,))
        return {"Tags": {r["key"]: r["value"] for r in rows}}


def _copy_range(src: int, dst: int, length: int, dst_offset: int, src_offset: int = 0) -> None:
    """Copy ``length`` bytes of ``src`` to ``dst`` at ``dst_offset``: in the kernel when it
    can (no user-space copy), else through a buffer."""
    done = 0
    with contextlib.suppress(OSError):  # not supported here (e.g. across filesystems)
        while done < length:
            n = os.copy_file_range(src, dst, length - done, src_offset + done, dst_offset + done)
            if n == 0:
                break
            done += n
    while done < length:
        chunk = os.pread(src, min(1 << 20, length - done), src_offset + done)
        if not chunk:
            raise OSError(f"stored part is shorter than recorded ({done} of {length} bytes)")
        view = memoryview(chunk)
        while view:
            w = os.pwrite(dst, view, dst_offset + done)
            view = view[w:]
            done += w


def _check_policy_text(text: Any) -> str:
    if not isinstance(text, str) or not text:
        raise mpv("Required parameter missing: Policy")
    if len(text.encode()) > 20 * 1024:
        raise ipv("The policy is larger than 20 KB")
    try:
        json.loads(text)
    except ValueError as exc:
        raise ipv("The policy is not valid JSON") from exc
    return text


def add_month(t: float) -> float:
    """One calendar month later, to the second, clamped at month end (31 Jan -> 28 Feb)."""
    d = datetime.fromtimestamp(int(t), UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day).timestamp()
