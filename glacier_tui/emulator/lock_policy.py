"""Vault lock policies that deny DeleteArchive, as the service enforces them.

A statement with ``"Effect": "Deny"`` whose Action covers ``glacier:DeleteArchive``
refuses the deletion when its Condition holds; the only condition key evaluated is
``glacier:ArchiveAgeInDays`` (numeric operators), the one AWS documents for vault locks
(https://docs.aws.amazon.com/amazonglacier/latest/dev/vault-lock-policy.html).
A statement with a condition on any other key is taken to apply.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    "numericlessthan": operator.lt,
    "numericlessthanequals": operator.le,
    "numericgreaterthan": operator.gt,
    "numericgreaterthanequals": operator.ge,
    "numericequals": operator.eq,
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _holds(condition: Any, age_days: float) -> bool:
    if not isinstance(condition, dict):
        return True
    for op, tests in condition.items():
        compare = _OPS.get(str(op).lower())
        if not isinstance(tests, dict):
            continue
        for key, value in tests.items():
            if str(key).lower() != "glacier:archiveageindays" or compare is None:
                continue
            try:
                limits = [float(v) for v in _as_list(value)]
            except (TypeError, ValueError):
                continue
            if not any(compare(age_days, limit) for limit in limits):
                return False
    return True


def denies_delete(policy: str | None, age_days: float) -> bool:
    """Whether the lock policy refuses deleting an archive ``age_days`` old."""
    if not policy:
        return False
    try:
        doc = json.loads(policy)
    except ValueError:
        return False
    for st in _as_list(doc.get("Statement", []) if isinstance(doc, dict) else []):
        if not isinstance(st, dict) or str(st.get("Effect", "")).lower() != "deny":
            continue
        actions = [str(a).lower() for a in _as_list(st.get("Action", []))]
        if not any(a in ("*", "glacier:*", "glacier:deletearchive") for a in actions):
            continue
        if _holds(st.get("Condition"), age_days):
            return True
    return False
