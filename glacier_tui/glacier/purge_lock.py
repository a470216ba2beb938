"""Reading a vault lock policy: does it deny DeleteArchive, and for which archives?

A vault lock policy is an IAM-style JSON document; a locked one cannot be changed, so an
archive it protects cannot be deleted by anyone until its condition stops holding
(typically ``glacier:ArchiveAgeInDays`` below N). See
https://docs.aws.amazon.com/amazonglacier/latest/dev/vault-lock-policy.html
"""

from __future__ import annotations

import json
from typing import Any

from glacier_tui.glacier.sanitize import inert

__all__ = ["describe_delete_denial"]

_AGE_KEY = "glacier:archiveageindays"
_WORDS = {
    "numericlessthan": "younger than {} days",
    "numericlessthanequals": "at most {} days old",
    "numericgreaterthan": "older than {} days",
    "numericgreaterthanequals": "at least {} days old",
    "numericequals": "exactly {} days old",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _denies_delete(statement: dict[str, Any]) -> bool:
    if str(statement.get("Effect", "")).lower() != "deny":
        return False
    actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
    return any(a in ("*", "glacier:*", "glacier:deletearchive") for a in actions)


def _condition_text(condition: Any) -> str:
    if not isinstance(condition, dict) or not condition:
        return "every archive"
    parts: list[str] = []
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            continue
        for key, value in tests.items():
            words = _WORDS.get(str(operator).lower())
            shown = inert(",".join(str(v) for v in _as_list(value)))
            if str(key).lower() == _AGE_KEY and words:
                parts.append("archives " + words.format(shown))
            else:
                parts.append(f"{inert(operator)} {inert(key)} {shown}")
    return " and ".join(parts) or "every archive"


def describe_delete_denial(policy: str, state: str = "") -> str | None:
    """One line saying which archives the lock policy denies DeleteArchive for, or None."""
    try:
        doc = json.loads(policy)
    except (TypeError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    denied = [_condition_text(s.get("Condition")) for s in _as_list(doc.get("Statement", []))
              if isinstance(s, dict) and _denies_delete(s)]
    if not denied:
        return None
    where = f"the vault lock policy ({inert(state)})" if state else "the vault lock policy"
    return f"{where} denies DeleteArchive for " + "; ".join(denied)
