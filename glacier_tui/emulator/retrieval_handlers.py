"""Retrieval limits: the data retrieval policy and provisioned capacity.

Besides their own operations, :meth:`RetrievalHandlers._enforce_policy` and
:meth:`RetrievalHandlers._check_capacity` are the checks InitiateJob runs before it
accepts a Standard or an Expedited retrieval.
"""

from __future__ import annotations

import calendar
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from glacier_tui.emulator.clock import fmt_ms
from glacier_tui.emulator.errors import GlacierError, ipv, mpv
from glacier_tui.emulator.service_base import ServiceBase


class RetrievalHandlers(ServiceBase):
    """Data retrieval policy and provisioned capacity handlers, and the checks they imply."""

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

    # ------------------------------------------------------------------ checks InitiateJob runs
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


def add_month(t: float) -> float:
    """One calendar month later, to the second, clamped at month end (31 Jan -> 28 Feb)."""
    d = datetime.fromtimestamp(int(t), UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day).timestamp()
