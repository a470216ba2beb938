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
import os
import stat
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

from glacier_tui.glacier import errors
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.descriptions import DescriptionTooLongError, encode_mt2
from glacier_tui.glacier.journal import (
    UploadJournal,
    atomic_write_json,
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


async def abort_saved_upload(
    client: GlacierClient, vault: str, path: Path, *, journal_dir: Path | None = None
) -> bool:
    """Abort the multipart upload journalled for ``path`` (the UI's "abort" answer)."""
    path = Path(path)
    st = await asyncio.to_thread(path.stat)
    jpath = upload_journal_path(journal_dir or default_journal_dir(), path, st.st_size,
                                st.st_mtime_ns, vault)
    saved = await asyncio.to_thread(UploadJournal.load, jpath)
    if saved is None:
        return False
    with contextlib.suppress(errors.ResourceNotFound):
        await client.abort_multipart_upload(vault, saved.upload_id)
    await asyncio.to_thread(remove_quietly, jpath)
    return True


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
    for resuming unless ``abort_on_cancel``.
    """
    _check_concurrency(concurrency)
    path = Path(path)
    name = relative_name if relative_name is not None else path.name
    tracker = _Tracker(TransferKind.UPLOAD, name, 0, on_progress, transfer_id)
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
    try:
        st = await asyncio.to_thread(path.stat)
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}",
                            hint="Check the path.") from None
    if not stat.S_ISREG(st.st_mode):
        raise TransferError(f"{path} is not a regular file", hint="Check the path.")
    size = st.st_size
    if size == 0:
        raise TransferError(f"{path} is empty; Glacier archives hold at least 1 byte",
                            hint="Nothing was sent.")
    # Everything that can be refused locally is refused before the first request.
    description = archive_description_for(name, st.st_mtime)
    multipart = size >= threshold or size > MAX_SINGLE_UPLOAD
    if multipart:
        if part_size is None:
            part_size = choose_part_size(size, min_part_size)
        else:
            _check_part_size(size, part_size)
    tracker.total = size
    try:
        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    except OSError as exc:
        raise TransferError(f"cannot open {path}: {exc.strerror or exc}",
                            hint="Check the path and permissions.") from None
    try:
        if not multipart:
            return await _upload_single(client, vault, fd, size, description, tracker,
                                        max_retries=max_retries, retry_delay=retry_delay)
        assert part_size is not None
        return await _upload_multipart(
            client, vault, path, fd, st, description, tracker, part_size=part_size,
            concurrency=concurrency, journal_dir=journal_dir or default_journal_dir(),
            abort_on_cancel=abort_on_cancel, max_retries=max_retries, retry_delay=retry_delay,
        )
    finally:
        await asyncio.to_thread(os.close, fd)


async def _upload_single(
    client: GlacierClient,
    vault: str,
    fd: int,
    size: int,
    description: str,
    tracker: _Tracker,
    *,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    tracker.set_state(TransferState.VERIFYING, "hashing")
    tree, sha = await asyncio.to_thread(_file_hashes, fd, 0, size)
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
        body = cast("IO[bytes]", _FileSlice(fd, 0, size, on_read))
        created = await client.upload_archive(
            vault, body, description=description, checksum=tree, content_sha256=sha
        )
        if created.checksum and created.checksum.lower() != tree:
            raise _Mismatch(f"the service computed {created.checksum}, expected {tree}")
        return UploadResult(created.archive_id, tree, size, 1, 0, description, created.location)

    result = await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
    tracker.baseline(size)
    return result


async def _upload_multipart(
    client: GlacierClient,
    vault: str,
    path: Path,
    fd: int,
    st: os.stat_result,
    description: str,
    tracker: _Tracker,
    *,
    part_size: int,
    concurrency: int,
    journal_dir: Path,
    abort_on_cancel: bool,
    max_retries: int,
    retry_delay: float,
) -> UploadResult:
    size = st.st_size
    jpath = upload_journal_path(journal_dir, path, size, st.st_mtime_ns, vault)
    saved = await asyncio.to_thread(UploadJournal.load, jpath)
    journal: UploadJournal | None = None
    reused: dict[int, str] = {}

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
            for part in parts:
                index = part.start // part_size
                want_end = min((index + 1) * part_size, size) - 1
                if part.start != index * part_size or part.end != want_end:
                    continue
                local = saved.parts.get(index)
                if local is None:  # uploaded, but killed before the journal was written
                    local = await asyncio.to_thread(
                        _file_tree_hash, fd, part.start, want_end - part.start + 1
                    )
                if local == part.tree_hash.lower():
                    reused[index] = local
            journal.parts = dict(reused)
            await asyncio.to_thread(journal.save, jpath)

    if journal is None:
        if saved is not None:
            await asyncio.to_thread(remove_quietly, jpath)
        upload_id = await _retrying(
            lambda: client.initiate_multipart_upload(vault, part_size, description=description),
            max_retries=max_retries, base_delay=retry_delay,
        )
        abs_path = await asyncio.to_thread(os.path.abspath, path)
        journal = UploadJournal(abs_path, size, st.st_mtime_ns, vault, upload_id,
                                part_size, description)
        await asyncio.to_thread(journal.save, jpath)

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
            fut = loop.run_in_executor(hash_pool, _prepare_part, fd, start,
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
            return await _retrying(attempt, max_retries=max_retries, base_delay=retry_delay)
        except (errors.GlacierError, _Mismatch):
            tracker.add(-sent)
            raise

    async def send_and_record(index: int) -> None:
        nonlocal uploaded
        assert journal is not None
        digest = await send_part(index)
        journal.parts[index] = digest
        uploaded += 1
        async with journal_lock:
            await asyncio.to_thread(atomic_write_json, jpath, journal.to_json())

    try:
        try:
            await _run_pool(pending, concurrency, send_and_record)
        finally:
            for fut in prepared.values():  # read ahead for parts that will not be sent now
                fut.cancel()
            prepared.clear()
            # Hashing threads read the descriptor the caller closes next.
            hash_pool.shutdown(wait=True, cancel_futures=True)
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
