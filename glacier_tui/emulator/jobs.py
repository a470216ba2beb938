"""Job timing and inventory documents (retrieval tiers' delays; inventory JSON and CSV)."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from glacier_tui.emulator.clock import fmt_ms, fmt_s
from glacier_tui.emulator.errors import ipv

# Service-seconds ranges per tier; the virtual clock applies --time-scale.
TIER_SECONDS: dict[str, tuple[float, float]] = {
    "Expedited": (60.0, 300.0),
    "Standard": (3 * 3600.0, 5 * 3600.0),
    "Bulk": (5 * 3600.0, 12 * 3600.0),
    "Inventory": (3.5 * 3600.0, 4.5 * 3600.0),
}


def job_duration(seed: int, seq: int, tier: str) -> float:
    """Deterministic pseudo-random duration from seed + job counter."""
    lo, hi = TIER_SECONDS[tier]
    return random.Random(f"{seed}:job:{seq}").uniform(lo, hi)


@dataclass(frozen=True)
class InvItem:
    archive_id: str
    description: str
    creation: float
    size: int
    tree_hash: str


def encode_marker(creation: float, archive_id: str) -> str:
    raw = json.dumps([creation, archive_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_marker(marker: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4))
        creation, archive_id = json.loads(raw)
        return float(creation), str(archive_id)
    except (ValueError, TypeError) as exc:
        raise ipv(f"Invalid marker: {marker}") from exc


def page_inventory(
    items: Sequence[InvItem],
    start: float | None,
    end: float | None,
    limit: int | None,
    marker: str | None,
) -> tuple[list[InvItem], str | None]:
    """Filter (StartDate inclusive, EndDate exclusive), resume at marker, cut at limit."""
    ordered = sorted(items, key=lambda i: (i.creation, i.archive_id))
    pos = decode_marker(marker) if marker else None
    out = [
        i
        for i in ordered
        if (start is None or i.creation >= start)
        and (end is None or i.creation < end)
        and (pos is None or (i.creation, i.archive_id) >= pos)
    ]
    if limit is not None and len(out) > limit:
        nxt = out[limit]
        return out[:limit], encode_marker(nxt.creation, nxt.archive_id)
    return out, None


def inventory_json(vault_arn: str, inv_date: float, items: Sequence[InvItem], ms: bool) -> bytes:
    fmt = fmt_ms if ms else fmt_s
    doc = {
        "VaultARN": vault_arn,
        "InventoryDate": fmt(inv_date),
        "ArchiveList": [
            {
                "ArchiveId": i.archive_id,
                "ArchiveDescription": i.description,
                "CreationDate": fmt(i.creation),
                "Size": i.size,
                "SHA256TreeHash": i.tree_hash,
            }
            for i in items
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def csv_field(value: str) -> str:
    """AWS inventory CSV quoting: quote when ',' or '"' occurs; '"' -> '\\"'."""
    if "," in value or '"' in value:
        return '"' + value.replace('"', '\\"') + '"'
    return value


def inventory_csv(items: Sequence[InvItem], ms: bool, newline: str) -> bytes:
    fmt = fmt_ms if ms else fmt_s
    lines = ["ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"]
    for i in items:
        lines.append(
            ",".join(
                [
                    csv_field(i.archive_id),
                    csv_field(i.description),
                    fmt(i.creation),
                    str(i.size),
                    i.tree_hash,
                ]
            )
        )
    return (newline.join(lines) + newline).encode()
