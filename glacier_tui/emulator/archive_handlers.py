"""Archive operations: UploadArchive (``*_begin``/``*_end`` around the body), DeleteArchive."""

from __future__ import annotations

import sqlite3
from typing import Any

from glacier_tui.emulator.errors import GlacierError, ipv, mpv, rnf
from glacier_tui.emulator.lock_policy import denies_delete
from glacier_tui.emulator.service_base import MAX_PART, ServiceBase, StreamSink
from glacier_tui.emulator.store import commit_file, remove


class ArchiveHandlers(ServiceBase):
    """Single-request archive uploads and archive deletion."""

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
        return self.archive_created(vault, archive_id, tree)

    def delete_archive(self, db: sqlite3.Connection, p: dict[str, Any]) -> dict[str, Any]:
        v = self._vault(db, p.get("vaultName"))
        vault = v["name"]
        archive_id = p.get("archiveId")
        arch = db.execute("SELECT * FROM archives WHERE id=?", (archive_id,)).fetchone()
        if arch is None:
            raise rnf(f"Archive not found: {archive_id}")
        if arch["vault"] != vault:
            raise ipv(f"Invalid vault name: {self.arn(vault)}")
        # An in-progress lock is enforced too: AWS applies it while it may still be aborted.
        age_days = (self.clock.now() - arch["creation"]) / 86400.0
        if v["lock_state"] and denies_delete(v["lock_policy"], age_days):
            raise GlacierError(
                "AccessDeniedException",
                f"User is not authorized to perform: glacier:DeleteArchive on resource: "
                f"{self.arn(vault)} with an explicit deny in a vault lock policy",
            )
        db.execute("DELETE FROM archives WHERE id=?", (archive_id,))
        remove(self.store.abs(arch["blob"]))  # job outputs hold their own hard link
        self._mark_written(db, vault, self.clock.now())
        return {}
