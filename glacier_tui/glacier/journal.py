"""Transfer journals: small JSON files that let a killed transfer resume.

A journal is rewritten whole on every change, atomically (temp file, fsync,
rename, through ``safe_files``), so a kill at any moment leaves either the old or
the new version, never a torn one; symlinks are never followed. The functions
here do blocking I/O: call them from a worker thread (``asyncio.to_thread``),
never on the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glacier_tui.glacier import safe_files

JOURNAL_VERSION = 1
# A 40 TiB download in 1 MiB segments needs ~3 MB of hashes; anything far larger is not ours.
MAX_JOURNAL_BYTES = 64 << 20


def atomic_write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` so that readers see the old or the new file, whole.

    Through :func:`safe_files.atomic_write`: 0600 in a 0700 directory we create, and a
    symlink, FIFO or device at ``path`` is refused rather than followed or replaced.
    """
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
    safe_files.atomic_write(path, data)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or not a JSON object.

    Never follows a symlink: one at ``path`` raises :class:`safe_files.UnsafeFileError`
    (as does anything but a regular file), and so does a file over the size limit.
    """
    try:
        raw = safe_files.read_bytes(path, limit=MAX_JOURNAL_BYTES)
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@dataclass
class DownloadJournal:
    """Which segments of ``<final>.part`` are written and verified, with their tree hashes."""

    job_id: str
    vault: str
    total: int
    segment_size: int
    expected_hash: str | None
    segments: dict[int, str] = field(default_factory=dict)  # index -> hex tree hash
    version: int = JOURNAL_VERSION
    # Segments whose response carried no x-amz-sha256-tree-hash: their hash is only
    # what arrived, checked later against the job's whole-output hash if it has one.
    unchecked: set[int] = field(default_factory=set)

    def matches(self, other: DownloadJournal) -> bool:
        """Same job and layout, so the recorded segments still describe the .part file."""
        return (
            self.version == other.version
            and self.job_id == other.job_id
            and self.vault == other.vault
            and self.total == other.total
            and self.segment_size == other.segment_size
            and self.expected_hash == other.expected_hash
        )

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["segments"] = {str(k): v for k, v in sorted(self.segments.items())}
        doc["unchecked"] = sorted(self.unchecked & set(self.segments))
        return doc

    def forget(self, index: int) -> None:
        self.segments.pop(index, None)
        self.unchecked.discard(index)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DownloadJournal | None:
        try:
            return cls(
                job_id=str(doc["job_id"]),
                vault=str(doc["vault"]),
                total=int(doc["total"]),
                segment_size=int(doc["segment_size"]),
                expected_hash=doc.get("expected_hash") or None,
                segments={int(k): str(v) for k, v in (doc.get("segments") or {}).items()},
                version=int(doc.get("version", 0)),
                unchecked={int(k) for k in (doc.get("unchecked") or [])},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    @classmethod
    def load(cls, path: Path) -> DownloadJournal | None:
        doc = read_json(path)
        return cls.from_json(doc) if doc is not None else None

    def save(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())


@dataclass
class UploadJournal:
    """A multipart upload in flight: its id, layout and the parts known to be uploaded."""

    path: str
    size: int
    mtime_ns: int
    vault: str
    upload_id: str
    part_size: int
    description: str
    parts: dict[int, str] = field(default_factory=dict)  # index -> hex tree hash
    version: int = JOURNAL_VERSION

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["parts"] = {str(k): v for k, v in sorted(self.parts.items())}
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> UploadJournal | None:
        try:
            return cls(
                path=str(doc["path"]),
                size=int(doc["size"]),
                mtime_ns=int(doc["mtime_ns"]),
                vault=str(doc["vault"]),
                upload_id=str(doc["upload_id"]),
                part_size=int(doc["part_size"]),
                description=str(doc.get("description") or ""),
                parts={int(k): str(v) for k, v in (doc.get("parts") or {}).items()},
                version=int(doc.get("version", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    @classmethod
    def load(cls, path: Path) -> UploadJournal | None:
        doc = read_json(path)
        return cls.from_json(doc) if doc is not None else None

    def save(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())


def default_journal_dir() -> Path:
    """``<user state dir>/uploads`` (callers override it with ``journal_dir=``)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("glacier-tui")) / "uploads"


def upload_journal_path(
    journal_dir: Path, path: Path, size: int, mtime_ns: int, vault: str
) -> Path:
    """One journal per (file, size, mtime, vault): a changed file never resumes a stale upload."""
    key = f"{path.absolute()}\0{size}\0{mtime_ns}\0{vault}".encode()
    return journal_dir / f"{hashlib.sha256(key).hexdigest()}.json"
