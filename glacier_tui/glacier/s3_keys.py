"""Vault archive -> S3 object: key, user metadata and part size, by fixed rules.

The rules are deterministic so that a re-run, another shard or a later audit
computes the same key for the same archive. Never change them without a new
rule name: manifests record which rule produced each key.

Keys (Amazon S3 "Naming objects", docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html:
any UTF-8 up to 1,024 bytes):

1. The archive's decoded path (mt2, mt1, FastGlacier, CloudBerry, QNAP, plain, or a
   backup-appliance index) as the store holds it: NFC, ``/``-separated, no empty,
   ``.`` or ``..`` segments, control and bidi characters removed.
2. key = prefix + path. An archive with no usable path gets ``_unnamed/<ArchiveId>``.
3. A key over 1,024 bytes becomes ``_long/<sha256(path)[:32]><extension>``.
4. A key ending in ``/`` or ``.`` gets ``_`` appended (the console cannot download it).
5. Duplicates (the same key for several archives): ordered by (CreationDate,
   ArchiveId), the newest keeps the key; each older one gets
   ``~<CreationDate YYYYMMDDTHHMMSSZ>~<ArchiveId[:12]>`` before its last extension.

Metadata (``x-amz-meta-*``, ASCII only: botocore refuses other characters; S3
returns keys lowercased; at most 2 KB in all, "Working with object metadata",
docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html): archive id, tree
hash, creation date, the description verbatim when it is printable ASCII, else
base64; the original path (base64url) when the key differs from it; the source
mtime. Over budget, ``orig-path-b64`` is dropped first, then the description
(both stay in the manifest).
"""

from __future__ import annotations

import base64
import hashlib
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

MIB: Final = 1024 * 1024
MAX_KEY_BYTES: Final = 1024
MAX_PARTS: Final = 10_000
MIN_PART: Final = 8 * MIB
MAX_PART: Final = 4096 * MIB  # 4 GiB x 10,000 parts = 40 TiB, the vault archive maximum
DEFAULT_PART: Final = 64 * MIB
METADATA_BUDGET: Final = 2048
UNNAMED: Final = "_unnamed"
LONG: Final = "_long"
RULES: Final = "keys-v1"

TEMPLATE_FIELDS: Final = ("prefix", "path", "archive_id", "folder", "name", "creation_date",
                          "tree_hash")


class KeyTemplateError(ValueError):
    """A ``--key-template`` that names an unknown field or is malformed."""


@dataclass(frozen=True, slots=True)
class ArchiveKeyInput:
    archive_id: str
    path: str  # decoded, sanitised path; "" when there is none
    creation_date: str  # ISO 8601 from the inventory
    tree_hash: str = ""


def part_size(size: int, preferred: int = DEFAULT_PART, *, minimum: int = MIN_PART) -> int:
    """The S3 part size for an archive of ``size`` bytes: a power of two MiB.

    At least ``preferred`` (itself rounded up to a power of two MiB, 8 MiB..4 GiB),
    raised until the archive fits in 10,000 parts. Every part is then aligned to
    Glacier's 1 MiB tree-hash chunks, so a ranged GetJobOutput of one part returns
    that part's tree hash. ``minimum`` (a power of two MiB) exists for tests against
    a local S3 whose smallest part has been lowered; AWS needs at least 5 MiB.
    """
    if minimum < MIB or minimum & (minimum - 1):
        raise ValueError(f"the minimum part size must be a power of two MiB, got {minimum:,}")
    p = minimum
    while p < min(max(preferred, minimum), MAX_PART):
        p *= 2
    while p < MAX_PART and -(-size // p) > MAX_PARTS:
        p *= 2
    if -(-size // p) > MAX_PARTS:
        raise ValueError(f"an archive of {size:,} bytes does not fit in {MAX_PARTS:,} parts")
    return p


def _split_ext(path: str) -> tuple[str, str]:
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 15:
        return path, ""
    return (f"{folder}/{stem}" if folder else stem), "." + ext


def base_key(prefix: str, item: ArchiveKeyInput) -> tuple[str, str]:
    """``(key, rule)`` for one archive before duplicates are resolved."""
    path = item.path.strip("/")
    rule = "path"
    if not path:
        path, rule = f"{UNNAMED}/{item.archive_id}", "unnamed"
    key = prefix + path
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        _, ext = _split_ext(path)
        digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]
        key, rule = f"{prefix}{LONG}/{digest}{ext}", "long"
    if key.endswith(("/", ".")):
        key, rule = key + "_", rule + "+underscore"
    return key, rule


def _compact(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return "".join(ch for ch in iso if ch.isalnum())[:16] or "undated"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def duplicate_key(key: str, item: ArchiveKeyInput) -> str:
    """The key an older duplicate gets: a stamp and the id's start before the extension."""
    stem, ext = _split_ext(key)
    return f"{stem}~{_compact(item.creation_date)}~{item.archive_id[:12]}{ext}"


def assign_keys(
    prefix: str, items: Iterable[ArchiveKeyInput]
) -> Iterator[tuple[ArchiveKeyInput, str, str]]:
    """``(item, key, rule)`` for every archive, duplicates resolved (see the module doc).

    Holds one entry per distinct key in memory; for millions of archives group by
    ``base_key`` in the store first and call this per group.
    """
    groups: dict[str, list[tuple[ArchiveKeyInput, str]]] = {}
    for item in items:
        key, rule = base_key(prefix, item)
        groups.setdefault(key, []).append((item, rule))
    for key, members in groups.items():
        members.sort(key=lambda m: (m[0].creation_date, m[0].archive_id))
        *older, newest = members
        yield newest[0], key, newest[1]
        for item, rule in older:
            yield item, duplicate_key(key, item), rule + "+duplicate"


def render_template(template: str, fields: Mapping[str, str]) -> str:
    """A ``--key-template`` such as ``{prefix}{archive_id}`` filled from ``fields``."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    unknown = sorted({n for n in names if n not in TEMPLATE_FIELDS})
    if unknown:
        raise KeyTemplateError(
            f"unknown field {{{unknown[0]}}} in the key template; "
            f"use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
        )
    if not names:
        raise KeyTemplateError("the key template names no field, so every key would be the same")
    try:
        return template.format_map(fields)
    except (ValueError, IndexError) as exc:
        raise KeyTemplateError(f"the key template is malformed: {exc}") from None


def _printable_ascii(text: str) -> bool:
    return (
        0 < len(text) <= 1024 and text.isascii() and text.isprintable()
        and text == text.strip()
    )


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def object_metadata(
    item: ArchiveKeyInput,
    *,
    key: str,
    prefix: str,
    description: str,
    mtime: str | None,
) -> dict[str, str]:
    """User metadata for the object (without the ``x-amz-meta-`` prefix), in budget."""
    meta: dict[str, str] = {
        "glacier-archive-id": item.archive_id,
        "glacier-tree-hash": item.tree_hash,
        "glacier-creation-date": item.creation_date,
    }
    if mtime:
        meta["src-mtime"] = mtime
    if description:
        if _printable_ascii(description):
            meta["glacier-description"] = description
        else:
            meta["glacier-description-b64"] = base64.b64encode(
                description.encode("utf-8", "surrogatepass")
            ).decode("ascii")
    if item.path and key != prefix + item.path:
        meta["orig-path-b64"] = _b64url(item.path)
    for droppable in ("orig-path-b64", "glacier-description", "glacier-description-b64"):
        if metadata_bytes(meta) <= METADATA_BUDGET:
            break
        meta.pop(droppable, None)
    return meta


def metadata_bytes(meta: Mapping[str, str]) -> int:
    """The size S3 counts (keys with their ``x-amz-meta-`` prefix, to be safe, plus values)."""
    return sum(len(("x-amz-meta-" + k).encode()) + len(v.encode()) for k, v in meta.items())
