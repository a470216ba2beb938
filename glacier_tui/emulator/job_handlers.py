"""Job operations: InitiateJob (archive, inventory and select jobs), DescribeJob, ListJobs,
GetJobOutput. Jobs complete later, in the time-driven work (``time_driven``)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from glacier_tui.emulator.clock import fmt_ms, parse_iso
from glacier_tui.emulator.errors import ipv, mpv, rnf
from glacier_tui.emulator.jobs import decode_marker, job_duration
from glacier_tui.emulator.ranges import is_mib_aligned, is_tree_hash_aligned, parse_simple
from glacier_tui.emulator.retrieval_handlers import RetrievalHandlers
from glacier_tui.emulator.service_base import BlobRef, RangeHash

TIERS = ("Expedited", "Standard", "Bulk")
STATUS_CODES = ("InProgress", "Succeeded", "Failed")


class JobHandlers(RetrievalHandlers):
    """Job handlers; new retrievals are checked against the retrieval policy and capacity."""

    def _job_doc(self, j: sqlite3.Row, keep_nulls: bool = False) -> dict[str, Any]:
        """The GlacierJobDescription of a job.

        ``keep_nulls``: every documented key, ``null`` when empty, as in the SNS
        completion message of https://docs.aws.amazon.com/amazonglacier/latest/dev/api-describe-job-get.html
        (botocore drops nulls, so DescribeJob answers without them).
        """
        archive = j["action"] == "ArchiveRetrieval"
        inv = j["action"] == "InventoryRetrieval"
        done = j["status"] != "InProgress"
        inv_params = None
        if inv:
            params = json.loads(j["inv_params"] or "{}")
            # Same shape in DescribeJob and SNS: Format always, the others only when given.
            inv_params = {
                "Format": j["format"] or "JSON",
                **{
                    k: params[k]
                    for k in ("StartDate", "EndDate", "Limit", "Marker")
                    if params.get(k) is not None
                },
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
        if keep_nulls:
            return doc
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
