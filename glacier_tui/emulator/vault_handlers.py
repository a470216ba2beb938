"""Vault operations: CreateVault, DescribeVault, ListVaults, DeleteVault."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from glacier_tui.emulator.clock import fmt_ms
from glacier_tui.emulator.errors import GlacierError, ipv
from glacier_tui.emulator.multipart_handlers import MultipartHandlers

VAULT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")


class VaultHandlers(MultipartHandlers):
    """Vault handlers; deleting a vault drops its multipart uploads (hence the base)."""

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
        # Inclusive marker (ListVaults' marker is a vault ARN): the page starts at the
        # vault the marker names.
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
