"""Pure logic behind the restore dialog: cost estimate and input validation.

No Textual here, so every rule can be unit tested without an app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from glacier_tui.glacier.models import Tier
from glacier_tui.glacier.treehash import MIB, is_mib_aligned

__all__ = [
    "GB", "MIB", "TIER_TIMES", "ArchiveRef", "RestoreRequest", "estimate_cost", "format_cost",
    "parse_byte_range", "validate_description", "validate_sns_topic",
]

GB = 1024**3  # AWS bills retrieval per GB meaning GiB.
MAX_DESCRIPTION = 1024

# Typical completion time per tier (Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h:
# https://docs.aws.amazon.com/amazonglacier/latest/dev/downloading-an-archive-two-steps.html).
TIER_TIMES: dict[Tier, str] = {
    Tier.EXPEDITED: "1–5 min",
    Tier.STANDARD: "3–5 h",
    Tier.BULK: "5–12 h",
}

_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True)
class ArchiveRef:
    """One archive to restore: its id, decoded display name and size in bytes."""

    archive_id: str
    name: str
    size: int


@dataclass(frozen=True)
class RestoreRequest:
    """What the user confirmed in the restore dialog."""

    tier: Tier
    byte_range: tuple[int, int] | None
    sns_topic: str | None
    description: str | None
    archives: list[ArchiveRef] = field(default_factory=list)

    @property
    def range_text(self) -> str | None:
        """The wire form ``"start-end"`` of the byte range."""
        return None if self.byte_range is None else f"{self.byte_range[0]}-{self.byte_range[1]}"


def estimate_cost(
    total_bytes: int, requests: int, tier: Tier | str, prices: Mapping[str, Mapping[str, float]]
) -> float:
    """bytes/GB × per_gb + requests/1000 × per_1000_requests, in USD."""
    table = prices.get(str(tier)) or {}
    per_gb = float(table.get("per_gb", 0.0))
    per_req = float(table.get("per_1000_requests", 0.0))
    return total_bytes / GB * per_gb + requests / 1000 * per_req


def format_cost(usd: float) -> str:
    """``$0.01`` style; tiny but non-zero amounts read ``<$0.01`` rather than ``$0.00``."""
    if 0 < usd < 0.005:
        return "<$0.01"
    return f"${usd:,.2f}"


def parse_byte_range(text: str, size: int) -> tuple[tuple[int, int] | None, str | None]:
    """Parse ``"start-end"`` (inclusive) for an archive of ``size`` bytes.

    Returns ``(range, None)`` when valid, ``(None, None)`` for empty input (the whole
    archive) and ``(None, message)`` when invalid.
    """
    text = text.strip()
    if not text:
        return None, None
    match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
    if not match:
        return None, "Byte range must look like start-end, e.g. 0-1048575."
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        return None, "Byte range end is before its start."
    if end >= size:
        return None, f"Byte range ends past the archive (last byte is {size - 1})."
    if not is_mib_aligned(start, end, size):
        return None, (
            f"Byte range must be MiB-aligned: start a multiple of {MIB}, end+1 a multiple "
            f"of {MIB} or end = {size - 1}."
        )
    return (start, end), None


def validate_sns_topic(text: str) -> str | None:
    """An error message, or None when empty or shaped like an SNS topic ARN."""
    text = text.strip()
    if not text or _SNS_ARN.match(text):
        return None
    return "SNS topic must look like arn:aws:sns:<region>:<12-digit account>:<topic name>."


def validate_description(text: str) -> str | None:
    """An error message, or None when the job description is acceptable (at most 1,024
    printable ASCII characters, as for archive descriptions)."""
    if len(text) > MAX_DESCRIPTION:
        return f"Description is {len(text)} characters; at most {MAX_DESCRIPTION}."
    if not _PRINTABLE.match(text):
        return "Description may hold only printable ASCII (no accents, tabs or emoji)."
    return None
