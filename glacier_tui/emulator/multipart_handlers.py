"""Multipart upload operations: initiate, upload parts, complete, abort, list.

A part's first body is streamed straight to its offset in the upload's data file
(``*_begin`` hands the server a shared :class:`StreamSink`); a re-upload of an
acknowledged range goes to a temp file and is copied in at completion. Completion
hard-links the data file as the archive blob when it can (no byte copied).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from glacier_tui.emulator.clock import fmt_ms
from glacier_tui.emulator.errors import ipv, mpv, rnf
from glacier_tui.emulator.ranges import MIB, parse_content_range
from glacier_tui.emulator.service_base import MAX_PART, ServiceBase, StreamSink
from glacier_tui.emulator.store import commit_file, fsync_dir, remove


class MultipartHandlers(ServiceBase):
    """Multipart upload handlers and the bookkeeping of parts being written."""

    # ------------------------------------------------------------------ multipart upload state
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
            return self.archive_created(vault, arch["id"], arch["tree_hash"])
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
        return self.archive_created(vault, archive_id, computed)

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

