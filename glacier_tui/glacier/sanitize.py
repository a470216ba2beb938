"""The one sanitizer for untrusted text (vault names, descriptions, file names,
server messages, settings values) on its way to a screen, a terminal or a log.

``inert(text)`` returns plain text that cannot act on a terminal: ANSI/VT
escapes (CSI, OSC with its payload, other ESC forms, 8-bit CSI) are removed
whole; every other C0/C1 control, DEL, carriage return, and the bidi and
zero-width format characters (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069,
U+FEFF) are removed; newlines and tabs become spaces (one line) unless
``multiline``. The result is still *text*: where it goes into Rich markup, use
:func:`markup` (which also escapes ``[...]`` so ``[bold]`` or ``[/]`` print
literally), or better, build a ``rich.text.Text`` from it, which is never parsed.
"""

from __future__ import annotations

import re
from typing import Final

_ESCAPES: Final = (
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC + payload
    r"|\x1b[ -~]?"  # other two-byte ESC forms (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit OSC/DCS/...
)
_FORMAT: Final = "\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_ONE_LINE: Final = re.compile(_ESCAPES + r"|[\x00-\x1f\x7f-\x9f" + _FORMAT + "]")
_MULTI_LINE: Final = re.compile(
    _ESCAPES + r"|[\x00-\x08\x0b-\x1f\x7f-\x9f" + _FORMAT + "]"
)
_SPACES: Final = re.compile(r"[\n\t]")


def inert(text: object, *, multiline: bool = False) -> str:
    """``text`` as plain, harmless text (see the module's docstring)."""
    s = "" if text is None else str(text)
    if s.isascii() and s.isprintable():  # fast path: nothing to strip
        return s
    if multiline:
        return _MULTI_LINE.sub("", s.replace("\r\n", "\n"))
    return _ONE_LINE.sub("", _SPACES.sub(" ", s))


def markup(text: object, *, multiline: bool = False) -> str:
    """:func:`inert` text, escaped for use inside Rich console markup."""
    from rich.markup import escape  # Rich is light, but keep this module import-free

    return escape(inert(text, multiline=multiline))


def has_unsafe(text: str) -> bool:
    """True when :func:`inert` would change ``text`` (controls, escapes, bidi)."""
    return inert(text, multiline=True) != text.replace("\r\n", "\n")
