"""Uploads of files as archives: one request for small files, else parallel multipart.

Files below a threshold go through UploadArchive, larger ones through multipart with
parts in parallel; each part is hashed once in a worker thread and both hashes are
passed to botocore. A journal in the state directory keeps the upload id so a killed
upload resumes via ListParts. The archive description is the mt2 encoding of the
file's relative name and mtime (:func:`archive_description_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from glacier_tui.glacier import errors, safe_files
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.descriptions import DescriptionTooLongError, encode_mt2
from glacier_tui.glacier.journal import (
    UploadJournal,
    default_journal_dir,
    remove_quietly,
    upload_journal_path,
)
from glacier_tui.glacier.paths import sanitize_relative_name
from glacier_tui.glacier.transfer_common import (
    DEFAULT_CONCURRENCY,
    DescriptionError,
    ProgressCallback,
    TransferError,
    TransferKind,
    TransferState,
    _check_concurrency,
    _check_part_size,
    _Mismatch,
    _retrying,
    _run_pool,
    _Tracker,
    choose_part_size,
)
from glacier_tui.glacier.transfer_files import (
    _file_hashes,
    _file_tree_hash,
    _FileSlice,
    _prepare_part,
)
from glacier_tui.glacier.treehash import MIB, combine_hex
from glacier_tui.glacier.upload_sources import (
    Identity,
    SourceChanged,
    check_unchanged,
    display_name,
    identity,
    is_utf8,
    open_source,
)

DEFAULT_UPLOAD_THRESHOLD = 64 * MIB
DEFAULT_MIN_PART_SIZE = 8 * MIB
MAX_SINGLE_UPLOAD = 4 * 1000**3  # UploadArchive takes at most 4 GB in one request


@dataclass(frozen=True)
class UploadResult:
    archive_id: str
    tree_hash: str
    size: int
    parts_uploaded: int
    parts_reused: int
    description: str
    location: str | None = None


def archive_description_for(relative_name: str, mtime: float) -> str:
    """The mt2 description of a file: ASCII, ≤ 1024 bytes, or :class:`DescriptionError`."""
    if not is_utf8(relative_name):
        raise DescriptionError(
            f"{display_name(relative_name)}: the name is not valid UTF-8 (undecodable bytes "
            "shown as \\xNN), which an archive description cannot hold",
            hint="Rename the file; nothing was sent.",
        )
    name = relative_name.replace("\\", "/").lstrip("/")
    if not sanitize_relative_name(name):
        raise DescriptionError(f"the name {relative_name!r} is empty or not a relative path")
    try:
        text = encode_mt2(name, datetime.fromtimestamp(mtime, UTC))
    except DescriptionTooLongError as exc:
        raise DescriptionError(f"{relative_name!r}: {exc}") from None
    if not (text.isascii() and text.isprintable()):  # encode_mt2 promises this; never send raw
        raise DescriptionError(f"{relative_name!r} did not encode to printable ASCII")
    return text


# -- the upload journal: one per (file, size, mtime, vault), with a lock beside it ----------

# 10,000 parts of about 80 bytes of JSON each, with room to spare.
JOURNAL_LIMIT = 4 * MIB


def _lock_path(jpath: Path) -> Path:
    return jpath.with_name(jpath.stem + ".lock")


def _upload_lock(jpath: Path, name: str) -> safe_files.ExclusiveLock:
    """Held for the whole upload of one file, so two runs never share one upload id."""
    return safe_files.ExclusiveLock(
        _lock_path(jpath), what=f"{display_name(name)} is already being uploaded"
    )


def _load_journal(jpath: Path) -> tuple[UploadJournal | None, int | None]:
    """The saved journal (None when there is none usable: torn, too big) and the inode
    of the file it was written for (None in journals older than that field)."""
    try:
        raw = safe_files.read_bytes(jpath, limit=JOURNAL_LIMIT)
    except FileNotFoundError:
        return None, None
    except safe_files.UnsafeFileError:
        raise
    except (OSError, errors.LocalError):
        return None, None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    ino = doc.get("ino")
    return UploadJournal.from_json(doc), ino if isinstance(ino, int) else None


def atomic_write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write a journal whole: 0600 in a 0700 folder, never through a symlink, atomic."""
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
    safe_files.atomic_write(path, data)


def _save_journal(jpath: Path, journal: UploadJournal, st: os.stat_result) -> None:
    doc = journal.to_json()
    doc["ino"] = st.st_ino  # the same name, size and mtime on another file never resumes
    atomic_write_json(jpath, doc)


async def abort_saved_upload(
    client: GlacierClient, vault: str, path: Path, *, journal_dir: Path | None = None
) -> bool:
    """Abort the multipart upload journalled for ``path`` (the UI's "abort" answer)."""
    path = Path(path)
    st = await asyncio.to_thread(os.lstat, path)
    jpath = upload_journal_path(journal_dir or default_journal_dir(), path, st.st_size,
                                st.st_mtime_ns, vault)
    lock = _upload_lock(jpath, path.name)
    await asyncio.to_thread(lock.acquire)
    try:
        saved, _ino = await asyncio.to_thread(_load_journal, jpath)
        if saved is None:
            return False
        with contextlib.suppress(errors.ResourceNotFound):
            await client.abort_multipart_upload(vault, saved.upload_id)
        await asyncio.to_thread(remove_quietly, jpath)
        return True
    finally:
        await asyncio.to_thread(lock.release, remove=True)


# -- uploads -------------------------------------------------------------------------------


async def upload_file(
    client: GlacierClient,
    vault: str,
    path: Path,
    *,
    relative_name: str | None = None,
    part_size: int | None = None,
    min_part_size: int = DEFAULT_MIN_PART_SIZE,
    threshold: int = DEFAULT_UPLOAD_THRESHOLD,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    journal_dir: Path | None = None,
    abort_on_cancel: bool = False,
    max_retries: int = 5,
    retry_delay: float = 0.5,
    transfer_id: str | None = None,
) -> UploadResult:
    """Upload one file as an archive: one request below ``threshold``, else multipart.

    The description is the mt2 encoding of ``relative_name`` (default: the file
    name) and the file's mtime. Multipart uploads are journalled in
    ``journal_dir`` and resume after a kill; on cancellation the upload is kept
    for resuming unless ``abort_on_cancel``. The file is never followed through a
    symlink; if it changes while it uploads (size, mtime or inode, checked before,
    after every part and before completing), the upload is aborted and
    :class:`SourceChanged` raised. Another upload of the same file (another
    process) holds a lock: :class:`~glacier_tui.glacier.safe_files.LockedError`.
    """
    _check_concurrency(concurrency)
    path = Path(path)
    name = relative_name if relative_name is not None else path.name
    tracker = _Tracker(TransferKind.UPLOAD, display_name(name), 0, on_progress, transfer_id)
    tracker.set_state(TransferState.QUEUED)
    try:
        result = await _upload(
            client, vault, path, name, tracker, part_size=part_size,
            min_part_size=min_part_size, threshold=threshold, concurrency=concurrency,
            journal_dir=journal_dir, abort_on_cancel=abort_on_cancel,
            max_retries=max_retries, retry_delay=retry_delay,
        )
    except (asyncio.CancelledError, KeyboardInterrupt):
        tracker.set_state(TransferState.CANCELLED, "cancelled")
        raise
    except errors.GlacierError as exc:
        tracker.set_state(TransferState.FAILED, exc.user_message())
        raise
    tracker.set_state(TransferState.DONE)
    return result


async def _upload(
    client: GlacierClient,
    vault: str,
    path: Path,
    name: str,
    tracker: _Tracker,
    *,
    part_size: int | None,
    min_part_size: int,
    threshold: int,
    concurrency: int,
    journal_dir: Path | None,
    abort_on_cancel: bool,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    fd, st = await asyncio.to_thread(open_source, path, name)
    try:
        size = st.st_size
        if size == 0:
            raise TransferError(f"{display_name(name)} is empty; Glacier archives hold at "
                                "least 1 byte", hint="Nothing was sent.")
        # Everything that can be refused locally is refused before the first request.
        description = archive_description_for(name, st.st_mtime)
        multipart = size >= threshold or size > MAX_SINGLE_UPLOAD
        if multipart:
            if part_size is None:
                part_size = choose_part_size(size, min_part_size)
            else:
                _check_part_size(size, part_size)
        tracker.total = size
        source = _Source(fd, path, name, st)
        jpath = upload_journal_path(journal_dir or default_journal_dir(), path, size,
                                    st.st_mtime_ns, vault)
        lock = _upload_lock(jpath, name)
        await asyncio.to_thread(lock.acquire)
        try:
            if not multipart:
                return await _upload_single(client, vault, source, description, tracker,
                                            max_retries=max_retries, retry_delay=retry_delay)
            assert part_size is not None
            return await _upload_multipart(
                client, vault, source, jpath, description, tracker, part_size=part_size,
                concurrency=concurrency, abort_on_cancel=abort_on_cancel,
                max_retries=max_retries, retry_delay=retry_delay,
            )
        finally:
            await asyncio.to_thread(lock.release, remove=True)
    finally:
        await asyncio.to_thread(os.close, fd)


@dataclass(frozen=True)
class _Source:
    """The open file being uploaded and the identity every check compares against."""

    fd: int
    path: Path
    name: str
    st: os.stat_result

    @property
    def expected(self) -> Identity:
        return identity(self.st)

    def check(self) -> None:
        """Blocking: raise :class:`SourceChanged` unless the file still is what was opened."""
        check_unchanged(self.fd, self.path, self.expected, self.name)

    async def check_async(self) -> None:
        await asyncio.to_thread(self.check)

    def prepare_part(self, offset: int, length: int) -> tuple[bytes | None, str, str]:
        """Blocking: read and hash one part, then prove the file did not change meanwhile."""
        try:
            prepared = _prepare_part(self.fd, offset, length)
        except (TransferError, _Mismatch):
            self.check()  # a short read is a change: say so
            raise
        self.check()
        return prepared

    def tree_hash(self, offset: int, length: int) -> str:
        try:
            digest = _file_tree_hash(self.fd, offset, length)
        except _Mismatch:
            self.check()
            raise
        self.check()
        return digest

    def hashes(self, offset: int, length: int) -> tuple[str, str]:
        try:
            found = _file_hashes(self.fd, offset, length)
        except TransferError:
            self.check()
            raise
        self.check()
        return found


async def _upload_single(
    client: GlacierClient,
    vault: str,
    source: _Source,
    description: str,
    tracker: _Tracker,
    *,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    size = source.st.st_size
    tracker.set_state(TransferState.VERIFYING, "hashing")
    tree, sha = await asyncio.to_thread(source.hashes, 0, size)
    tracker.set_state(TransferState.RUNNING)
    loop = asyncio.get_running_loop()
    sent = 0

    def on_read(n: int) -> None:  # called from aiohttp's reader threads
        loop.call_soon_threadsafe(count, n)

    def count(n: int) -> None:
        nonlocal sent
        sent += n
        tracker.add(n)

    async def attempt() -> UploadResult:
        nonlocal sent
        tracker.add(-sent)
        sent = 0
        await source.check_async()
        body = cast("IO[bytes]", _FileSlice(source.fd, 0, size, on_read))
        try:
            created = await client.upload_archive(
                vault, body, description=description, checksum=tree, content_sha256=sha
            )
        except (errors.GlacierError, _Mismatch):
            await source.check_async()  # a body that changed mid-read is refused: say why
            raise
        if created.checksum and created.checksum.lower() != tree:
            raise _Mismatch(f"the service computed {created.checksum}, expected {tree}")
        return UploadResult(created.archive_id, tree, size, 1, 0, description, created.location)

    result = await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
    try:
        await source.check_async()
    except SourceChanged:
        # The body was read while the file changed: the archive may match no version of it.
        await _discard_archive(client, vault, result.archive_id, source.name)
        raise
    tracker.baseline(size)
    return result


async def _discard_archive(client: GlacierClient, vault: str, archive_id: str, name: str) -> None:
    try:
        await asyncio.wait_for(client.delete_archive(vault, archive_id), 30)
    except (errors.GlacierError, TimeoutError) as exc:
        reason = exc.message if isinstance(exc, errors.GlacierError) else "no answer"
        raise SourceChanged(
            f"{display_name(name)} changed while it was being uploaded, and deleting the "
            f"archive it made ({archive_id}) failed ({reason}): delete that archive by hand"
        ) from None


async def _abort_upload(
    client: GlacierClient, vault: str, upload_id: str, jpath: Path, name: str
) -> None:
    """Abort a multipart upload whose file changed, and forget it."""
    await asyncio.to_thread(remove_quietly, jpath)
    try:
        await asyncio.wait_for(client.abort_multipart_upload(vault, upload_id), 30)
    except errors.ResourceNotFound:
        pass
    except (errors.GlacierError, TimeoutError) as exc:
        reason = exc.message if isinstance(exc, errors.GlacierError) else "no answer"
        raise SourceChanged(
            f"{display_name(name)} changed while it was being uploaded; nothing was completed, "
            f"but aborting its multipart upload {upload_id} failed ({reason})"
        ) from None


async def _upload_multipart(
    client: GlacierClient,
    vault: str,
    source: _Source,
    jpath: Path,
    description: str,
    tracker: _Tracker,
    *,
    part_size: int,
    concurrency: int,
    abort_on_cancel: bool,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    st = source.st
    size = st.st_size
    fd = source.fd
    saved, saved_ino = await asyncio.to_thread(_load_journal, jpath)
    journal: UploadJournal | None = None
    reused: dict[int, str] = {}
    if saved is not None and saved_ino not in (None, st.st_ino):
        # Same name, size and mtime, but another file: its parts are not this file's.
        with contextlib.suppress(errors.GlacierError):
            await client.abort_multipart_upload(vault, saved.upload_id)
        saved = None
        await asyncio.to_thread(remove_quietly, jpath)

    if saved is not None and saved.size == size and saved.mtime_ns == st.st_mtime_ns \
            and saved.vault == vault and saved.description == description:
        tracker.set_state(TransferState.VERIFYING, "checking the upload of an earlier run")
        try:
            info, parts = await _retrying(
                lambda: client.list_parts(vault, saved.upload_id),
                max_retries=max_retries, base_delay=retry_delay,
            )
        except errors.ResourceNotFound:
            info, parts = None, []  # expired or aborted meanwhile: start a new upload
        if info is not None and (not info.part_size or info.part_size == saved.part_size):
            journal = saved
            part_size = saved.part_size
            try:
                for part in parts:
                    index = part.start // part_size
                    want_end = min((index + 1) * part_size, size) - 1
                    if part.start != index * part_size or part.end != want_end:
                        continue
                    local = saved.parts.get(index)
                    if local is None:  # uploaded, but killed before the journal was written
                        local = await asyncio.to_thread(
                            source.tree_hash, part.start, want_end - part.start + 1
                        )
                    if local == part.tree_hash.lower():
                        reused[index] = local
            except SourceChanged:
                await _abort_upload(client, vault, saved.upload_id, jpath, source.name)
                raise
            journal.parts = dict(reused)
            await asyncio.to_thread(_save_journal, jpath, journal, st)

    if journal is None:
        if saved is not None:
            await asyncio.to_thread(remove_quietly, jpath)
        upload_id = await _retrying(
            lambda: client.initiate_multipart_upload(vault, part_size, description=description),
            max_retries=max_retries, base_delay=retry_delay,
        )
        abs_path = await asyncio.to_thread(os.path.abspath, source.path)
        journal = UploadJournal(abs_path, size, st.st_mtime_ns, vault, upload_id,
                                part_size, description)
        await asyncio.to_thread(_save_journal, jpath, journal, st)

    n_parts = -(-size // part_size)
    upload_id = journal.upload_id
    pending: deque[int] = deque(i for i in range(n_parts) if i not in reused)
    reused_bytes = sum(min(part_size, size - i * part_size) for i in reused)
    tracker.baseline(reused_bytes)
    tracker.set_state(TransferState.RUNNING)
    loop = asyncio.get_running_loop()
    journal_lock = asyncio.Lock()
    uploaded = 0
    hash_pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="upload-hash")

    # Parts are read and hashed ahead of their turn (at most ``concurrency`` beyond the ones
    # being sent), so a connection goes straight on to its next part instead of waiting
    # for a read and two hashes: memory stays bounded by 2 × concurrency parts.
    prepared: dict[int, asyncio.Future[tuple[bytes | None, str, str]]] = {}

    def prepare(index: int) -> asyncio.Future[tuple[bytes | None, str, str]]:
        fut = prepared.get(index)
        if fut is None:
            start = index * part_size
            fut = loop.run_in_executor(hash_pool, source.prepare_part, start,
                                       min(part_size, size - start))
            prepared[index] = fut
        return fut

    def prefetch() -> None:
        for index in list(pending)[:concurrency]:
            if len(prepared) >= concurrency:
                return
            prepare(index)

    async def send_part(index: int) -> str:
        start = index * part_size
        length = min(part_size, size - start)
        fut = prepare(index)
        try:
            prefetch()
            # Small parts come read into memory and go in one write; big ones stream from
            # the file through a window.
            data, tree, sha = await fut
        finally:
            prepared.pop(index, None)
        prefetch()
        sent = 0

        def count(n: int) -> None:
            nonlocal sent
            sent += n
            tracker.add(n)

        def on_read(n: int) -> None:  # called from aiohttp's reader threads
            loop.call_soon_threadsafe(count, n)

        async def attempt() -> str:
            nonlocal sent
            tracker.add(-sent)
            sent = 0
            if data is None:  # streamed from the file: it must still be the same file
                await source.check_async()
            body: bytes | IO[bytes] = (
                data if data is not None
                else cast("IO[bytes]", _FileSlice(fd, start, length, on_read))
            )
            echoed = await client.upload_part(vault, upload_id, body, start=start, length=length,
                                              checksum=tree, content_sha256=sha)
            if data is not None:
                count(length)
            if echoed and echoed.lower() != tree:
                raise _Mismatch(f"part {index}: the service computed {echoed}, expected {tree}")
            return tree

        try:
            digest = await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
        except (errors.GlacierError, _Mismatch):
            tracker.add(-sent)
            await source.check_async()  # a part refused because the file changed: say so
            raise
        await source.check_async()
        return digest

    async def send_and_record(index: int) -> None:
        nonlocal uploaded
        assert journal is not None
        digest = await send_part(index)
        journal.parts[index] = digest
        uploaded += 1
        async with journal_lock:
            await asyncio.to_thread(_save_journal, jpath, journal, st)

    try:
        try:
            await _run_pool(pending, concurrency, send_and_record)
        finally:
            for fut in prepared.values():  # read ahead for parts that will not be sent now
                fut.cancel()
            prepared.clear()
            # Hashing threads read the descriptor the caller closes next.
            hash_pool.shutdown(wait=True, cancel_futures=True)
        # The last proof before the archive exists: every part came from this version.
        await source.check_async()
    except SourceChanged:
        await _abort_upload(client, vault, upload_id, jpath, source.name)
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        if abort_on_cancel:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(
                    asyncio.shield(client.abort_multipart_upload(vault, upload_id)), 10
                )
            await asyncio.to_thread(remove_quietly, jpath)
        raise
    except _Mismatch as exc:
        raise TransferError(f"{exc} (after {max_retries + 1} attempts)",
                            hint="Run again to resume the upload.") from None

    tracker.set_state(TransferState.VERIFYING, "completing the upload")
    tree = combine_hex(journal.parts[i] for i in range(n_parts))
    created = await _retrying(
        lambda: client.complete_multipart_upload(vault, upload_id, archive_size=size,
                                                 checksum=tree),
        max_retries=max_retries, base_delay=retry_delay,
    )
    if created.checksum and created.checksum.lower() != tree:
        raise TransferError(f"the service computed {created.checksum} for the archive, "
                            f"expected {tree}")
    await asyncio.to_thread(remove_quietly, jpath)
    tracker.baseline(size)
    return UploadResult(created.archive_id, tree, size, uploaded, len(reused), description,
                        created.location)
