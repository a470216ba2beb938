"""Archive-description decoders for other backup tools (mt-aws-glacier mt1/mt2,
FastGlacier, CloudBerry, QNAP, plain text).

A vault stores only an opaque description; every tool encodes its own
metadata there. :func:`decode_description` recovers a relative path (and a
file mtime when the tool recorded one) so every archive gets exactly one
place in a browsable tree:

* empty description      -> ``00undefined/<archive id>``
* undecodable description -> ``00error/<archive id>``

(the convention AWS's own vault-to-S3 tooling uses).

Decoded names are never trusted: control characters and terminal escape
sequences are removed, ``\\`` becomes ``/``, and ``.``/``..``/empty segments
are dropped so a path can never climb out of the tree. The result is plain
text; rendering it without markup interpretation is the UI's job.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from glacier_tui.glacier.sanitize import inert

__all__ = [
    "ERROR_FOLDER",
    "UNDEFINED_FOLDER",
    "DecodedDescription",
    "DescriptionTooLongError",
    "decode_description",
    "decode_fields",
    "encode_mt2",
    "normalize_path",
    "parse_compact_time",
    "safe_text",
]

UNDEFINED_FOLDER: Final = "00undefined"
ERROR_FOLDER: Final = "00error"
MAX_DESCRIPTION_BYTES: Final = 1024

SOURCES: Final = ("mt2", "mt1", "fastglacier", "cloudberry", "qnap", "plain", "empty", "error")


@dataclass(frozen=True, slots=True)
class DecodedDescription:
    path: str  # sanitised relative path, never empty, "/" separated
    mtime: datetime | None  # file modification time recorded by the tool (UTC)
    source: str  # one of SOURCES
    raw: str  # the description exactly as stored in the vault


class DescriptionTooLongError(ValueError):
    """The encoded description would exceed Glacier's 1024-byte limit."""


# The one sanitizer (terminal escapes whole, C0/C1/DEL, CR, bidi and zero-width
# format characters; newlines and tabs become spaces). Its ASCII fast path keeps the
# importer's hot loop cheap.
safe_text: Final = inert


def normalize_path(s: str) -> str:
    """Sanitise a decoded path: NFC, no controls, ``/`` separators, no ``.``/``..``/empty parts.

    Returns ``""`` when nothing usable is left.
    """
    if (  # fast path: already clean (no controls, NFC, no "\\", no empty/"."/".." parts)
        s.isprintable()
        and (s.isascii() or unicodedata.is_normalized("NFC", s))
        and "\\" not in s
        and "//" not in s
        and "/." not in s
        and s[:1] not in ("/", ".")
        and s[-1:] != "/"
    ):
        return s
    if not s.isprintable():  # isprintable() is False for every C0/C1/DEL and format char
        s = inert(s)
    if not s.isascii() and not unicodedata.is_normalized("NFC", s):
        s = inert(unicodedata.normalize("NFC", s))
    if "\\" in s:
        s = s.replace("\\", "/")
    # Dropping ".." (rather than resolving it) means a name can never climb.
    return "/".join(p for p in s.split("/") if p and p != "." and p != "..")


def parse_compact_time(s: str) -> datetime | None:
    """Parse ``YYYYMMDDTHHMMSSZ`` (or ISO 8601) into an aware UTC datetime; None if invalid."""
    s = s.strip()
    try:
        if len(s) == 16 and s[8] == "T" and s[15] == "Z":
            return datetime(
                int(s[0:4]), int(s[4:6]), int(s[6:8]),
                int(s[9:11]), int(s[11:13]), int(s[13:15]), tzinfo=UTC,
            )
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_COMPACT_RE: Final = re.compile(r"\d{8}T\d{6}Z")


def _iso(compact: str | None) -> str | None:
    """``YYYYMMDDTHHMMSSZ`` -> ``YYYY-MM-DDTHH:MM:SSZ`` by slicing (no datetime on the hot path)."""
    if compact is None:
        return None
    c = compact.strip()
    if _COMPACT_RE.fullmatch(c) is None:
        dt = parse_compact_time(c)
        return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{c[0:4]}-{c[4:6]}-{c[6:8]}T{c[9:11]}:{c[11:13]}:{c[13:15]}Z"


_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")


def _b64url(data: str) -> bytes:
    raw = data.strip().encode("ascii").translate(_URLSAFE)
    # == base64.b64decode(..., validate=True), minus its Python-level wrapper
    return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)


def _b64std(data: str) -> bytes:
    raw = "".join(data.split()).encode("ascii")
    return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)


_P_RE: Final = re.compile(r"<p>(.*?)</p>", re.S)
_LM_RE: Final = re.compile(r"<lm>(.*?)</lm>", re.S)
_PATH_RE: Final = re.compile(r"<Path>(.*?)</Path>", re.S)


_MT_FAST_RE: Final = re.compile(rb'\{"filename":"([^"\\]*)","mtime":"(\d{8}T\d{6}Z)"\}')


class _Undecodable(Exception):
    pass


def _decode_mt(body: str, double_utf8: bool) -> tuple[str, str | None]:
    data = _b64url(body)
    if not double_utf8:
        # Fast path for mt-aws-glacier's own key order and no JSON escapes.
        m = _MT_FAST_RE.fullmatch(data)
        if m is not None:
            return m.group(1).decode("utf-8"), m.group(2).decode("ascii")
    text = data.decode("utf-8")
    if double_utf8:
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # written by a fixed version after all: keep the single decode
    obj = json.loads(text)
    if not isinstance(obj, dict) or not isinstance(obj.get("filename"), str):
        raise _Undecodable("no filename")
    mtime = obj.get("mtime")
    return obj["filename"], mtime if isinstance(mtime, str) else None


def _decode_json(obj: Any) -> tuple[str, str | None, str] | None:
    if not isinstance(obj, dict):
        return None
    cloudberry = "UTCDateModified" in obj or "Flags" in obj or "Path" in obj
    path = obj.get("Path", obj.get("path"))
    if not isinstance(path, str):
        return None
    if cloudberry:
        try:
            path = path.encode("latin-1").decode("utf-7")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # an undecodable description keeps its raw text
        when = obj.get("UTCDateModified")
        return path, when if isinstance(when, str) else None, "cloudberry"
    return path, None, "qnap"


def _decode(raw: str) -> tuple[str | None, str | None, str]:
    """Return (unsanitised path or None, mtime text as the tool wrote it, source)."""
    s = raw.strip()
    if not s:
        return None, None, "empty"
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        unwrapped: Any = None
        if s[1] == "{":  # maybe a JSON document double-encoded as a JSON string
            try:
                unwrapped = json.loads(s)
            except ValueError:
                unwrapped = None
        s = unwrapped.strip() if isinstance(unwrapped, str) else s[1:-1].strip()
        if not s:
            return None, None, "empty"
    try:
        head = s[:4]
        if head == "mt2 ":
            path, mtime = _decode_mt(s[4:], double_utf8=False)
            return path, mtime, "mt2"
        if head == "mt1 ":
            path, mtime = _decode_mt(s[4:], double_utf8=True)
            return path, mtime, "mt1"
        if s.startswith("<m>"):
            m = _P_RE.search(s)
            if m is None:
                raise _Undecodable("no <p>")
            path = _b64std(m.group(1)).decode("utf-8")
            lm = _LM_RE.search(s)
            mtime = lm.group(1) if lm else None
            # QNAP Hybrid Backup Sync writes the v4 shape without <ce>, with a leading "/".
            src = "qnap" if "<ce>" not in s and path.startswith("/") else "fastglacier"
            return path, mtime, src
        if s.startswith("<ArchiveMetadata>"):
            m = _PATH_RE.search(s)
            if m is None:
                raise _Undecodable("no <Path>")
            return _b64std(m.group(1)).decode("utf-8"), None, "fastglacier"
        if s[0] == "{":
            try:
                obj: Any = json.loads(s)
                if isinstance(obj, str):  # double-encoded
                    obj = json.loads(obj)
            except ValueError:
                obj = None
            found = _decode_json(obj)
            if found is not None:
                return found
    except (ValueError, UnicodeError, binascii.Error, _Undecodable):
        return None, None, "error"
    return s, None, "plain"


def decode_fields(raw: str, archive_id: str) -> tuple[str, str, str | None, str]:
    """Hot-path decoder for bulk import: ``(folder, name, mtime ISO or None, source)``.

    ``folder`` is ``""`` for the root. Same rules as :func:`decode_description`.
    """
    path, mtime, source = _decode(raw)
    clean = normalize_path(path) if path is not None else ""
    if not clean:
        if source != "empty":
            source = "error"
        folder = UNDEFINED_FOLDER if source == "empty" else ERROR_FOLDER
        return folder, normalize_path(archive_id) or "_", None, source
    folder, _, name = clean.rpartition("/")
    return folder, name, _iso(mtime), source


def decode_description(raw: str, archive_id: str) -> DecodedDescription:
    """Decode one archive description into a sanitised path.

    Tried in order: mt2, mt1, FastGlacier, CloudBerry, QNAP, then plain text.

    A description that decodes to nothing usable (e.g. only ``..``) counts as
    ``error``; an empty one as ``empty``.
    """
    path, mtime, source = _decode(raw)
    clean = normalize_path(path) if path is not None else ""
    if not clean:
        if source != "empty":
            source = "error"
        folder = UNDEFINED_FOLDER if source == "empty" else ERROR_FOLDER
        name = normalize_path(archive_id) or "_"
        return DecodedDescription(f"{folder}/{name}", None, source, raw)
    return DecodedDescription(clean, parse_compact_time(mtime) if mtime else None, source, raw)


def encode_mt2(relative_path: str, mtime: datetime) -> str:
    """Encode an mt-aws-glacier ``mt2`` description (ASCII, b64url without padding).

    Raises :class:`DescriptionTooLongError` if the result exceeds 1024 bytes.
    """
    if mtime.tzinfo is not None:
        mtime = mtime.astimezone(UTC)
    doc = {"filename": relative_path.replace("\\", "/"), "mtime": mtime.strftime("%Y%m%dT%H%M%SZ")}
    payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text = "mt2 " + base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    if len(text) > MAX_DESCRIPTION_BYTES:
        raise DescriptionTooLongError(
            f"mt2 description is {len(text)} bytes, over the {MAX_DESCRIPTION_BYTES}-byte limit"
        )
    return text
