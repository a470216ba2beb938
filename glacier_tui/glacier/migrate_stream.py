"""One archive from a ready retrieval job straight into one S3 object: no staging file.

Each part is one ranged GetJobOutput of P bytes (P a power of two MiB, so every range
is tree-hash aligned and Glacier returns its ``x-amz-sha256-tree-hash``). The bytes
are held once, in a buffer of P bytes (reused by later parts); a worker thread
computes their tree hash and CRC64NVME, and the upload sends slices of that same
buffer. A part whose tree hash differs from the header is fetched again and is never
uploaded. An accepted part (S3 checked its CRC64NVME) is recorded in the store
with its CRC and ETag before it counts. Memory: ``concurrency`` x P.

At the end the part tree hashes are folded and compared with the inventory's (and
the job's) tree hash; only then is the upload completed, with the FULL_OBJECT CRC64NVME
folded from the part CRCs (``combine_crc64nvme``: no second pass), ``MpuObjectSize``
and ``IfNoneMatch="*"``. Archives of at most one part are one PutObject.

Resuming: an upload recorded in the store is confirmed with ListParts; parts S3 no
longer has are sent again, parts it has but the store never recorded are sent again
too (their CRC is unknown). An object already at the key with the same length, CRC
and archive id is accepted as done.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from glacier_tui.glacier import errors
from glacier_tui.glacier import migrate_store as ms
from glacier_tui.glacier.campaign_types import SinkRefused
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.models import Job
from glacier_tui.glacier.s3_client import (
    FULL_OBJECT,
    ObjectExists,
    ObjectHead,
    S3Client,
    b64_crc,
    crc_from_b64,
)
from glacier_tui.glacier.store import Store
from glacier_tui.glacier.transfer_common import (
    CopyRefused,
    VerificationFailed,
    _Mismatch,
    _retrying,
    _run_pool,
)
from glacier_tui.glacier.treehash import combine_hex, tree_hash

__all__ = ["StreamResult", "StreamTarget", "object_matches", "stream_archive", "whole_crc"]

_READ_BUFFER: Final = 8 << 20


@dataclass(frozen=True)
class StreamTarget:
    item: int  # campaign item id (the store's key for accepted parts)
    archive_id: str
    bucket: str
    key: str
    storage_class: str
    metadata: dict[str, str]
    size: int
    tree_hash: str | None  # expected, from the inventory
    part_size: int


@dataclass(frozen=True)
class StreamResult:
    fetched: int  # bytes read from Glacier in this call
    tree_hash: str
    crc64nvme: str | None  # base64
    etag: str
    version_id: str | None
    parts_uploaded: int  # UploadPart/PutObject calls that S3 accepted in this call
    already_there: bool


def _crc(data: bytes | bytearray | memoryview) -> int:
    from awscrt.checksums import crc64nvme

    return int(crc64nvme(data))


def whole_crc(parts: list[tuple[int, int]]) -> int:
    """CRC64NVME of the concatenation of parts given as (crc, length), in order."""
    from awscrt.checksums import combine_crc64nvme

    if not parts:
        return _crc(b"")
    crc = parts[0][0]
    for part_crc, length in parts[1:]:
        crc = int(combine_crc64nvme(crc, part_crc, length))
    return crc


def object_matches(head: ObjectHead, target: StreamTarget, crc: str | None = None) -> bool:
    """True when the object at the key is this archive: same length, a FULL_OBJECT
    CRC64NVME (equal to ``crc`` when it is known) and the same archive id and tree hash
    in its metadata."""
    if head.size != target.size or not head.crc64nvme:
        return False
    if head.checksum_type not in (None, FULL_OBJECT):
        return False
    if crc is not None and head.crc64nvme != crc:
        return False
    if head.metadata.get("glacier-archive-id") != target.archive_id:
        return False
    recorded = head.metadata.get("glacier-tree-hash")
    return not (target.tree_hash and recorded and recorded.lower() != target.tree_hash.lower())


class _Buffers:
    """Part buffers kept for reuse: a fresh 8 MiB buffer costs ~2,000 page faults to
    fill, which on a 2-core box is CPU the hashing and the sockets need. At most one
    per part in flight, so memory stays ``concurrency`` x P."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[bytearray] = []

    def take(self) -> bytearray:
        return self._free.pop() if self._free else bytearray(self.size)

    def give(self, buf: bytearray) -> None:
        self._free.append(buf)


class _Ranges:
    """Ranged GetJobOutput into one buffer, checked against the range's tree hash."""

    def __init__(self, glacier: GlacierClient, vault: str, job: Job) -> None:
        self.glacier = glacier
        self.vault = vault
        self.job = job

    async def fetch(self, start: int, length: int, into: bytearray | None = None
                    ) -> tuple[memoryview, str, int]:
        """(bytes, tree hash hex, CRC64NVME) of one range, or ``_Mismatch``. The bytes
        are the first ``length`` of ``into`` when given (at least that long)."""
        buf = into if into is not None else bytearray(length)
        view = memoryview(buf)[:length]
        rng = (start, start + length - 1) if length else None
        async with self.glacier.job_output(self.vault, self.job.job_id, byte_range=rng) as stream:
            stream.widen_read_buffer(_READ_BUFFER)
            info = stream.info
            if info.content_length is not None and info.content_length != length:
                raise _Mismatch(f"Content-Length {info.content_length} != {length}")
            pos = 0
            async for piece in stream.pieces():
                end = pos + len(piece)
                if end > length:
                    raise _Mismatch("more bytes than requested")
                view[pos:end] = piece
                pos = end
        if pos != length:
            raise _Mismatch(f"got {pos:,} of {length:,} bytes")
        digest, crc = await asyncio.to_thread(lambda: (tree_hash(view), _crc(view)))
        if info.checksum and info.checksum.lower() != digest:
            raise _Mismatch(f"range {start:,}+{length:,}: tree hash {digest} differs from "
                            f"x-amz-sha256-tree-hash {info.checksum}")
        return view, digest, crc


async def stream_archive(
    glacier: GlacierClient,
    s3: S3Client,
    store: Store,
    vault: str,
    job: Job,
    target: StreamTarget,
    *,
    concurrency: int = 2,
    max_retries: int = 4,
    retry_delay: float = 0.2,
    on_bytes: Callable[[int], None] | None = None,
) -> StreamResult:
    """Move one archive; see the module doc. Raises ``VerificationFailed`` when a range
    or the whole keeps failing its tree hash (the caller requests the job again),
    ``SinkRefused`` when a different object is at the key, Glacier/S3 errors as is."""
    head = await s3.head(target.bucket, target.key)
    if head is not None:  # e.g. completed just before a kill, not yet recorded
        done = _existing(head, target)
        row = ms.object_row(store, target.item)
        if row is not None and row.upload_id:
            await s3.abort(target.bucket, target.key, row.upload_id)
        ms.set_completed(store, target.item, crc64nvme=done.crc64nvme,
                         checksum_type=head.checksum_type or FULL_OBJECT, etag=done.etag,
                         version_id=done.version_id)
        return done
    ranges = _Ranges(glacier, vault, job)
    expected = (target.tree_hash or job.expected_tree_hash or "").lower() or None
    if target.size <= target.part_size:
        return await _single(ranges, s3, store, target, expected, max_retries, retry_delay,
                             on_bytes)
    return await _multipart(ranges, s3, store, target, expected, concurrency, max_retries,
                            retry_delay, on_bytes)


def _existing(head: ObjectHead, target: StreamTarget, crc: str | None = None) -> StreamResult:
    if not object_matches(head, target, crc):
        raise SinkRefused(
            f"a different object is already at s3://{target.bucket}/{target.key} "
            f"({head.size:,} bytes, archive id "
            f"{head.metadata.get('glacier-archive-id', 'unknown')[:12]}...)")
    return StreamResult(0, (target.tree_hash or "").lower(), head.crc64nvme, head.etag,
                        head.version_id, 0, True)


def _is_bad_digest(exc: errors.GlacierError) -> bool:
    return exc.code in ("BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch")


async def _single(ranges: _Ranges, s3: S3Client, store: Store, target: StreamTarget,
                  expected: str | None, max_retries: int, retry_delay: float,
                  on_bytes: Callable[[int], None] | None) -> StreamResult:
    async def attempt() -> tuple[str, int, ms.AcceptedPart]:
        buf, digest, crc = await ranges.fetch(0, target.size)
        if expected and digest != expected:
            raise _Mismatch(f"tree hash {digest} differs from the inventory's {expected}")
        try:
            written = await s3.put_object(target.bucket, target.key, buf, crc=crc,
                                          storage_class=target.storage_class,
                                          metadata=target.metadata)
        except ObjectExists:
            head = await s3.head(target.bucket, target.key)
            if head is None:
                raise
            done = _existing(head, target, b64_crc(crc))
            return digest, crc, ms.AcceptedPart(1, target.size, b64_crc(crc), done.etag,
                                                digest)
        except errors.GlacierError as exc:
            if _is_bad_digest(exc):
                raise _Mismatch(f"S3 refused the checksum: {exc.detail}") from None
            raise
        if on_bytes is not None:
            on_bytes(target.size)
        return digest, crc, ms.AcceptedPart(1, target.size, b64_crc(crc), written.etag, digest)

    try:
        digest, crc, part = await _retrying(attempt, max_retries=max_retries,
                                            base_delay=retry_delay)
    except _Mismatch as exc:
        raise VerificationFailed(f"{target.key}: {exc}") from None
    ms.set_completed(store, target.item, crc64nvme=part.crc64nvme, checksum_type=FULL_OBJECT,
                     etag=part.etag, version_id=None)
    return StreamResult(target.size, digest, b64_crc(crc), part.etag, None, 1, False)


async def _open_upload(s3: S3Client, store: Store, target: StreamTarget
                       ) -> tuple[str, dict[int, ms.AcceptedPart]]:
    """The upload to continue (confirmed open by ListParts) or a new one."""
    row = ms.object_row(store, target.item)
    if row is not None and row.upload_id:
        listed = None
        if row.part_size == target.part_size:
            listed = await s3.list_parts(target.bucket, target.key, row.upload_id)
        if listed is not None:
            accepted = ms.accepted_parts(store, target.item)
            gone = [n for n, p in accepted.items() if listed.get(n) != p.size]
            if gone:
                ms.drop_parts(store, target.item, gone)
                for n in gone:
                    accepted.pop(n)
            return row.upload_id, accepted
        await s3.abort(target.bucket, target.key, row.upload_id)
        ms.set_upload(store, target.item, None, None)
    upload_id = await s3.create_upload(target.bucket, target.key,
                                       storage_class=target.storage_class,
                                       metadata=target.metadata)
    ms.set_upload(store, target.item, upload_id, target.part_size)
    return upload_id, {}


async def _multipart(ranges: _Ranges, s3: S3Client, store: Store, target: StreamTarget,
                     expected: str | None, concurrency: int, max_retries: int,
                     retry_delay: float, on_bytes: Callable[[int], None] | None
                     ) -> StreamResult:
    size, psize = target.size, target.part_size
    count = -(-size // psize)
    upload_id, accepted = await _open_upload(s3, store, target)
    if on_bytes is not None and accepted:
        on_bytes(sum(p.size for p in accepted.values()))
    pending = deque(n for n in range(1, count + 1) if n not in accepted)
    buffers = _Buffers(psize)
    fetched = 0
    uploaded = 0

    async def one(number: int) -> None:
        nonlocal fetched, uploaded
        start = (number - 1) * psize
        length = min(psize, size - start)

        async def attempt() -> ms.AcceptedPart:
            nonlocal fetched
            buf = buffers.take()
            try:
                view, digest, crc = await ranges.fetch(start, length, buf)
                fetched += length
                try:
                    etag = await s3.upload_part(target.bucket, target.key, upload_id, number,
                                                view, crc)
                except errors.GlacierError as exc:
                    if _is_bad_digest(exc):
                        raise _Mismatch(f"part {number}: S3 refused the checksum") from None
                    raise
                finally:
                    view.release()
            finally:
                buffers.give(buf)
            return ms.AcceptedPart(number, length, b64_crc(crc), etag, digest)

        try:
            part = await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
        except _Mismatch as exc:
            raise VerificationFailed(
                f"{target.key}: part {number} (bytes {start:,}-{start + length - 1:,}) still "
                f"failed after {max_retries + 1} attempts: {exc}",
                hint="Accepted parts are kept; the retrieval is requested again.") from None
        # Recorded before it counts: a kill after this line never sends the part again.
        ms.accept_part(store, target.item, part)
        accepted[number] = part
        uploaded += 1
        if on_bytes is not None:
            on_bytes(length)

    await _run_pool(pending, max(1, concurrency), one)
    parts = [accepted[n] for n in range(1, count + 1)]
    digest = combine_hex(p.tree_hash for p in parts)
    if expected and digest != expected:
        # Every range matched its header, yet the whole is wrong: nothing is completed.
        await s3.abort(target.bucket, target.key, upload_id)
        ms.set_upload(store, target.item, None, None)
        raise VerificationFailed(
            f"{target.key}: the folded tree hash {digest} differs from {expected}; the "
            "upload was aborted")
    crc = whole_crc([(crc_from_b64(p.crc64nvme), p.size) for p in parts])
    try:
        written = await s3.complete(
            target.bucket, target.key, upload_id,
            [(p.number, p.etag, crc_from_b64(p.crc64nvme)) for p in parts], crc=crc, size=size)
    except ObjectExists:
        head = await s3.head(target.bucket, target.key)
        if head is None:
            raise
        await s3.abort(target.bucket, target.key, upload_id)
        ms.set_upload(store, target.item, None, None)
        done = _existing(head, target, b64_crc(crc))
        ms.set_completed(store, target.item, crc64nvme=done.crc64nvme,
                         checksum_type=FULL_OBJECT, etag=done.etag, version_id=done.version_id)
        return StreamResult(fetched, digest, done.crc64nvme, done.etag, done.version_id,
                            uploaded, True)
    except errors.GlacierError as exc:
        if not _is_bad_digest(exc):
            raise
        # S3 holds parts whose whole differs from what was verified: start over.
        await s3.abort(target.bucket, target.key, upload_id)
        ms.set_upload(store, target.item, None, None)
        raise CopyRefused(
            f"{target.key}: S3 refused the whole-object CRC64NVME ({exc.detail}); the upload "
            "was aborted and will be sent again") from None
    ms.set_completed(store, target.item, crc64nvme=b64_crc(crc), checksum_type=FULL_OBJECT,
                     etag=written.etag, version_id=written.version_id)
    return StreamResult(fetched, digest, b64_crc(crc), written.etag, written.version_id,
                        uploaded, False)


def archive_shard(archive_id: str, count: int) -> int:
    """The shard of an archive when no plan assigns one: sha256(ArchiveId) mod ``count``."""
    return int(hashlib.sha256(archive_id.encode("ascii", "replace")).hexdigest()[:8], 16) % count
