"""Deterministic opaque IDs from seed + per-kind counter (persisted in the store)."""

from __future__ import annotations

import base64
import hashlib

LENGTHS = {"archive": 138, "job": 92, "upload": 92, "lock": 24, "capacity": 24, "request": 47}


def make_id(seed: int, kind: str, counter: int) -> str:
    length = LENGTHS[kind]
    raw = hashlib.shake_256(f"glacier-emu:{seed}:{kind}:{counter}".encode()).digest(length)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]
