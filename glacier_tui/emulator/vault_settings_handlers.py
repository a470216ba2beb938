"""Vault settings: notification configuration, access policy, vault lock, tags."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from glacier_tui.emulator.clock import fmt_ms
from glacier_tui.emulator.errors import GlacierError, ipv, mpv, rnf
from glacier_tui.emulator.service_base import ServiceBase

TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
EVENTS = ("ArchiveRetrievalCompleted", "InventoryRetrievalCompleted")


class VaultSettingsHandlers(ServiceBase):
    """Handlers of the per-vault settings operations."""

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

    # ------------------------------------------------------------------ vault lock
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

    # ------------------------------------------------------------------ tags
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

