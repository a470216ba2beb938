"""Credentials never reach a screen, a log or a terminal.

An endpoint URL may carry user-info (``http://user:pass@host``). :func:`mask_url`
is the one way such a URL is shown: ``http://user:***@host``. Libraries echo the
URL in their own messages (botocore: ``Could not connect to the endpoint URL:
"http://user:pass@..."``), so :func:`mask_text` masks the user-info of every URL
in a free text, and also every password :func:`remember_url` was told about,
wherever it appears (a password holding ``/``, ``"`` or a space defeats any URL
pattern, a literal replacement does not). :func:`shown` is what every display and
log path calls: masked, then :func:`~glacier_tui.glacier.sanitize.inert`.
"""

from __future__ import annotations

import re
import threading
from typing import Final
from urllib.parse import unquote

from glacier_tui.glacier.sanitize import inert

MASK: Final = "***"

# scheme://user[:password]@ ; the password runs to the last "@" of the token, so one
# holding "@" or ":" is masked whole (a path holding "@" is over-masked, never leaked).
_USERINFO: Final = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<user>[^\s:/?#@\"'<>\[\]]*)"
    r"(?::(?P<password>[^\s\"'<>]*))?@"
)
_MIN_SECRET: Final = 3  # shorter strings would mask ordinary text, not protect anything

_lock = threading.Lock()
_secrets: set[str] = set()


def _mask_match(m: re.Match[str]) -> str:
    user = m.group("user")
    if m.group("password") is None:
        # No colon: the whole user-info may be a token.
        return f"{m.group('scheme')}{MASK}@"
    return f"{m.group('scheme')}{user}:{MASK}@"


def _split_userinfo(url: str) -> tuple[str, str] | None:
    """(user-info, rest) of ``url`` when it has user-info; None when it has none."""
    _, sep, rest = url.partition("://")
    if not sep:
        return None
    authority_end = len(rest)
    for ch in "/?#":
        i = rest.find(ch)
        if i >= 0:
            authority_end = min(authority_end, i)
    at = rest.rfind("@", 0, authority_end)
    if at < 0:
        # A password holding "/", "?" or "#" moves the apparent authority end before
        # its "@": over-mask rather than leak.
        at = rest.rfind("@")
        if at < 0 or ":" not in rest[:at]:
            return None
    return rest[:at], rest[at + 1:]


def remember_url(url: str | None) -> None:
    """Record the password of ``url`` (raw and percent-decoded) to mask it everywhere."""
    if not url:
        return
    parts = _split_userinfo(url)
    if parts is None:
        return
    userinfo = parts[0]
    _, colon, password = userinfo.partition(":")
    candidates = {password, unquote(password)} if colon else {userinfo, unquote(userinfo)}
    with _lock:
        _secrets.update(c for c in candidates if len(c) >= _MIN_SECRET)


def mask_url(url: str | None) -> str:
    """``url`` with its password (or a user-info token) replaced by ``***``."""
    if not url:
        return ""
    remember_url(url)
    parts = _split_userinfo(url)
    if parts is None:
        return mask_text(url)
    userinfo, rest = parts
    scheme = url.partition("://")[0]
    user, colon, _ = userinfo.partition(":")
    shown_info = f"{user}:{MASK}" if colon else MASK
    return f"{scheme}://{shown_info}@{rest}"


def mask_text(text: object) -> str:
    """``text`` with the user-info of every URL in it, and every remembered password, masked."""
    s = "" if text is None else str(text)
    if _secrets:
        with _lock:
            secrets = sorted(_secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in s:
                s = s.replace(secret, MASK)
    if "@" in s and "://" in s:
        s = _USERINFO.sub(_mask_match, s)
    return s


def shown(text: object, *, multiline: bool = False) -> str:
    """Untrusted text ready for a screen, a terminal or a log: masked, then inert."""
    return inert(mask_text(text), multiline=multiline)


def forget_all() -> None:
    """Drop every remembered password (tests)."""
    with _lock:
        _secrets.clear()
