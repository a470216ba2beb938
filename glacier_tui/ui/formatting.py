"""Pure formatting helpers for the UI: sizes, ages, short ids, status colours, safe text.

No Textual imports here, so these are cheap to test. Every relative time takes an
explicit ``now`` (the app's injected clock) so snapshots are deterministic.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from rich.text import Text

from glacier_tui.glacier.masking import shown

STATUS_STYLES: dict[str, str] = {
    "InProgress": "bold yellow",
    "Succeeded": "bold green",
    "Failed": "bold red",
}


# Every piece of wire text or settings value on screen: passwords masked, then the one
# sanitizer (terminal escapes, controls, CR, bidi overrides removed; one line).
clean = shown


def clean_lines(text: object) -> str:
    """:func:`clean`, keeping line breaks (multi-line messages)."""
    return shown(text, multiline=True)


def user_message(exc: BaseException) -> str:
    """What to show for an error: a GlacierError's own message with its hint, else one line."""
    from glacier_tui.glacier.errors import GlacierError  # not at import: start-up stays light

    if isinstance(exc, GlacierError):
        return exc.user_message()
    return clean(f"{type(exc).__name__}: {exc}")


def plain(text: object, style: str = "") -> Text:
    """Wire text as a Rich Text: never parsed as markup."""
    return Text(clean(text), style=style, no_wrap=True, overflow="ellipsis")


def human_size(n: int | None, unknown: str = "—") -> str:
    """Binary units everywhere sizes are shown: 1536 -> '1.5 KiB', 150 MiB -> '150 MiB'.

    One decimal below 100, none from 100 up (the column width stays steady);
    ``unknown`` for None (an inventory entry without a valid size).
    """
    if n is None:
        return unknown
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024.0
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"  # pragma: no cover


def human_rate(bps: float | None) -> str:
    if not bps:
        return "—"
    return f"{human_size(int(bps))}/s"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """Compact duration: 45s, 12m, 3h 5m, 2d 4h."""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    m = s // 60
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m:02d}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d {h}h" if h else f"{d}d"


def countdown_text_lasts(seconds: float) -> float:
    """How long ``human_duration`` of a countdown now at ``seconds`` keeps showing the same text.

    The text depends on whole seconds under a minute, whole minutes under 48 hours and
    whole hours above; it changes when the countdown drops below that unit's boundary.
    """
    if seconds <= 0:
        return math.inf  # "expired" for good
    s = int(seconds)
    unit = 1 if s < 60 else 60 if s < 48 * 3600 else 3600
    return seconds - (s // unit) * unit


def age_text_lasts(dt: datetime | None, now: datetime) -> float:
    """How long ``age(dt, now)`` keeps showing the same text as ``now`` moves on (seconds).

    An age counts up: its text changes when it reaches the next whole unit (seconds under
    a minute, minutes under 48 hours, hours above); "just now" lasts until ``dt``.
    """
    if dt is None:
        return math.inf
    seconds = (_aware(now) - _aware(dt)).total_seconds()
    if seconds < 0:
        return -seconds
    s = int(seconds)
    unit = 1 if s < 60 else 60 if s < 48 * 3600 else 3600
    return (s // unit + 1) * unit - seconds


def age(dt: datetime | None, now: datetime) -> str:
    """'5m ago' relative to ``now``; '—' when unknown."""
    if dt is None:
        return "—"
    delta = (_aware(now) - _aware(dt)).total_seconds()
    if delta < 0:
        return "just now"
    return f"{human_duration(delta)} ago"


def expires_in(dt: datetime | None, now: datetime) -> str:
    if dt is None:
        return "—"
    delta = (_aware(dt) - _aware(now)).total_seconds()
    if delta <= 0:
        return "expired"
    return human_duration(delta)


def timestamp(dt: datetime | None) -> str:
    """Short absolute UTC time: '2024-05-01 12:30'."""
    if dt is None:
        return "—"
    return _aware(dt).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def short_id(job_id: str, n: int = 8) -> str:
    return job_id[:n] if len(job_id) > n else job_id


def status_text(status: str) -> Text:
    return Text(clean(status) or "?", style=STATUS_STYLES.get(status, ""))


ACTION_LABELS: dict[str, str] = {
    "ArchiveRetrieval": "restore",
    "InventoryRetrieval": "inventory",
    "Select": "select",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, clean(action))


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
