"""Time-driven work: what happens as the virtual clock advances, before each request.

Inventories are rebuilt a while after a vault was written, jobs complete when due
(their output written, notifications queued in ``outbox``), job outputs expire,
stale vault locks and multipart uploads are dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from typing import Any

from glacier_tui.emulator.clock import fmt_ms, parse_iso
from glacier_tui.emulator.job_handlers import JobHandlers
from glacier_tui.emulator.jobs import InvItem, inventory_csv, inventory_json, page_inventory
from glacier_tui.emulator.multipart_handlers import MultipartHandlers
from glacier_tui.emulator.service_base import Notification
from glacier_tui.emulator.store import commit_file, remove


class TimeDrivenWork(JobHandlers, MultipartHandlers):
    """Catching up with the clock: inventories, job completion, expiries, notifications."""

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
        doc = self._job_doc(job, keep_nulls=True)
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
