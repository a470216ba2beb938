"""Streaming import of Glacier inventory job output into the local store.

Parsing is in ``inventory_json.py`` (careful and fast paths) and ``inventory_csv.py``
on the shared pieces of ``inventory_parse.py``; decoding and storing batches, on one
core or two, in ``inventory_pipeline.py``. Rows are inserted in batches into a new
snapshot that becomes current only when the whole file was read; memory stays flat in
the number of archives.

The file is cut into units (whole ArchiveList entries, or whole CSV lines) that this
process and, for large files, a helper process parse, decode and store as each is free.
A JSON unit that is not valid JSON makes the import start over the careful way (entry
by entry, in this process, exact error offsets), which JSON from an unseekable stream
takes from the start; a CSV unit reports its own error's exact offset, and the first in
the file wins.

One writer at a time: an import holds the store's writer lock (``<store>.lock``, an
``flock`` naming the holder's pid) from start to end; a second import into the same
store, from this process or another, is refused at once with
:class:`~glacier_tui.glacier.safe_files.LockedError` ("the store is being written by
another glacier-tui (pid N)") before it reads a byte or changes anything.

Input: a regular file, or a pipe/FIFO read as a stream (a FIFO nobody writes to reads
as empty, never blocks the open); a directory or device is refused. A UTF-8 byte order
mark is skipped. Memory caps per line / entry: see ``inventory_parse``.

Validation policy:
* truncated / malformed file -> :class:`InventoryFormatError` naming the byte
  offset; the new snapshot is dropped and the previous inventory stays current;
* VaultARN naming another vault than the expected one (the expected ARN, or the
  ARN's vault name against the expected name) -> :class:`WrongVaultError` as soon as
  the header is read, unless ``force`` (then a warning);
* duplicate ArchiveId -> the first occurrence is kept, the rest counted as a warning;
* missing/empty ArchiveId -> row skipped, counted as a warning;
* size not an integer, negative or > 40 TiB (the multipart maximum) -> the
  archive is kept (it exists and may need deleting) with ``size`` NULL
  ("unknown"), counted as a warning;
* descriptions are stored raw; only the derived path is sanitised.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from .inventory_csv import CsvUnits, parse_csv_line
from .inventory_json import JsonUnits, iter_json
from .inventory_parse import (
    MAX_ARCHIVE_SIZE,
    MAX_ENTRY_BYTES,
    MAX_LINE_BYTES,
    InventoryFormatError,
    NotFast,
    ProgressFn,
    RawRow,
    Reader,
    Stats,
    WrongVaultError,
    rows_to_columns,
)
from .inventory_pipeline import Helper, Sink, UnitFailed, feed_units, lock_path
from .malloc_tuning import bulk_allocations
from .sanitize import inert
from .store import Store

__all__ = [
    "MAX_ARCHIVE_SIZE",
    "MAX_ENTRY_BYTES",
    "MAX_LINE_BYTES",
    "ImportResult",
    "InventoryFormat",
    "InventoryFormatError",
    "InventorySourceError",
    "WrongVaultError",
    "import_inventory",
    "parse_csv_line",
]

InventoryFormat = Literal["json", "csv"]

_PARALLEL_MIN_BYTES = 24 * 1024 * 1024  # smaller files: a helper process is not worth starting
_UNIT_BYTES = 1024 * 1024  # a fast-path unit: ~2,400 AWS entries
_MAX_WATCHED_IDS = 1 << 23  # 8M ids, ~70 MB of packed id hashes (see IdHashes)


@dataclass
class ImportResult:
    vault_key: str
    snapshot_id: int
    format: InventoryFormat
    archives: int  # rows stored (after removing duplicates and skipped rows)
    folders: int
    duplicates: int
    skipped: int
    invalid_sizes: int
    vault_arn: str | None
    inventory_date: str | None
    bytes_read: int
    elapsed: float
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)  # decode status -> count


class InventorySourceError(OSError):
    """The path given is not something an inventory can be read from (a directory...)."""


def _open_path(path: Path) -> tuple[IO[bytes], bool, int | None]:
    """A regular file, or a FIFO/pipe read as a stream. The open never blocks: a FIFO
    is opened non-blocking (a FIFO with no writer then reads as empty)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except IsADirectoryError:
        raise InventorySourceError(f"{path} is a directory, not an inventory file") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InventorySourceError(f"{path} is a directory, not an inventory file")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise InventorySourceError(f"{path} is a device or socket, not an inventory file")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return f, True, st.st_size if stat.S_ISREG(st.st_mode) else None


def _open(source: IO[bytes] | str | os.PathLike[str]) -> tuple[IO[bytes], bool, int | None]:
    if isinstance(source, str | os.PathLike):
        return _open_path(Path(source))
    total: int | None = None
    try:
        total = os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        try:
            pos = source.tell()
            total = source.seek(0, os.SEEK_END) - pos
            source.seek(pos)
        except (AttributeError, OSError, ValueError):
            total = None
    return source, False, total


def import_inventory(
    store: Store,
    vault_key: str,
    source: IO[bytes] | str | os.PathLike[str],
    *,
    fmt: InventoryFormat | None = None,
    expected_vault_arn: str | None = None,
    expected_vault_name: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    batch_size: int = 10_000,
) -> ImportResult:
    """Import an inventory (path or binary file object) as the vault's new current snapshot.

    ``fmt`` is detected from the first byte when None (``{`` -> json). The vault ARN in a
    JSON document is checked against ``expected_vault_arn`` (default: ``vault_key`` when it
    is an ARN), or else its vault name against ``expected_vault_name``; a mismatch raises
    :class:`WrongVaultError` unless ``force`` (then it is a warning).
    ``progress(bytes_read, total_or_None)`` is called after every chunk (it starts over if
    the fast path gives way to the careful one).
    Raises :class:`InventoryFormatError` (previous inventory kept) on a bad file, and
    :class:`~glacier_tui.glacier.safe_files.LockedError` when another import is writing
    the store. Synchronous and long-running: call it from a worker thread.
    """
    t0 = time.perf_counter()
    with store.writer_lock():
        f, owned, total = _open(source)
        try:
            return _import(store, vault_key, f, total, fmt, progress, t0, _VaultCheck(
                vault_key, expected_vault_arn, expected_vault_name, force), batch_size)
        finally:
            if owned:
                f.close()


def _import(
    store: Store, vault_key: str, f: IO[bytes], total: int | None,
    fmt: InventoryFormat | None, progress: ProgressFn | None, t0: float,
    vault: _VaultCheck, batch_size: int,
) -> ImportResult:
    with bulk_allocations():
        start = f.tell() if _seekable(f) else None
        reader = Reader(f, total, progress)
        reader.skip_bom()
        if not reader.peek():
            raise InventoryFormatError("the inventory file is empty", reader.offset)
        if fmt is None:
            head = reader.peek().lstrip(b" \t\r\n")
            fmt = "json" if head.startswith((b"{", b"[")) else "csv"
        job = _Import(store, vault_key, fmt, vault, batch_size)
        parallel = (total or 0) >= _PARALLEL_MIN_BYTES
        if fmt == "csv" or start is not None:
            try:
                return job.run(reader, fast=True, parallel=parallel, t0=t0)
            except NotFast:  # only JSON, read from a seekable file, gives way
                assert start is not None
                f.seek(start)
                reader = Reader(f, total, progress)
                reader.skip_bom()
        return job.run(reader, fast=False, parallel=False, t0=t0)


def _seekable(f: IO[bytes]) -> bool:
    try:
        return f.seekable()
    except (AttributeError, OSError, ValueError):
        return False


@dataclass
class _VaultCheck:
    """Refuses an inventory whose VaultARN names another vault (unless ``force``)."""

    vault_key: str
    expected_arn: str | None
    expected_name: str | None
    force: bool
    header: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.expected_arn is None and self.vault_key.startswith("arn:"):
            self.expected_arn = self.vault_key

    def mismatch(self) -> str | None:
        """What the inventory's ARN names instead of the expected vault, if it does."""
        arn = self.header.get("VaultARN")
        if arn is None:
            return None
        name = arn.rpartition(":vaults/")[2] if ":vaults/" in arn else arn
        if self.expected_arn is not None:
            if arn == self.expected_arn:
                return None
            want = self.expected_arn
        elif self.expected_name is not None and ":vaults/" in arn and name != self.expected_name:
            want = self.expected_name  # only an ARN that does name a vault is compared
        else:
            return None
        return f"this inventory is of vault {inert(name)} ({inert(arn)}), not {inert(want)}"

    def __call__(self) -> None:
        if not self.force and (what := self.mismatch()) is not None:
            raise WrongVaultError(f"{what}; pass --force to import it anyway")


@dataclass
class _Import:
    store: Store
    vault_key: str
    fmt: InventoryFormat
    vault: _VaultCheck
    batch_size: int

    def run(self, reader: Reader, *, fast: bool, parallel: bool, t0: float) -> ImportResult:
        """One attempt. ``fast``: JSON in units (CSV always is); ``parallel``: a helper."""
        store = self.store
        header = self.vault.header
        header.clear()
        snap = store.begin_snapshot(self.vault_key, self.fmt)
        sink = helper = None
        try:
            helper = Helper.start(store, snap, _MAX_WATCHED_IDS) if parallel else None
            sink = Sink(store, snap, _MAX_WATCHED_IDS, lock_path(store) if helper else None)
            try:
                self._feed(reader, sink, helper, header, fast=fast)
            except UnitFailed as failed:  # the helper's unit: the first error in the file
                raise failed.error from None
            except InventoryFormatError:
                earlier = helper.earlier_failure() if helper is not None else None
                if earlier is not None:
                    raise earlier from None
                raise
            self.vault()  # a VaultARN after the list
            stats = sink.stats
            warnings = _warnings(stats, header, self.vault, self.fmt)
            count, dups, folders = store.finish_snapshot(
                snap,
                vault_arn=header.get("VaultARN"),
                inventory_date=header.get("InventoryDate"),
                warnings=warnings,
                folder_totals=sink.totals,
                maybe_duplicates=sink.ids.repeated,
            )
        except BaseException:
            if helper is not None:
                helper.close()  # before the drop: it may still be writing
            store.abort_snapshot(snap)
            raise
        finally:
            if sink is not None:
                sink.close()
            if helper is not None:
                helper.close()  # idempotent
                with contextlib.suppress(OSError):
                    os.unlink(lock_path(store))
        # Names from an appliance's own index (appliance_index) outlive each inventory.
        store.apply_name_overlay(self.vault_key)
        return ImportResult(
            vault_key=self.vault_key, snapshot_id=snap, format=self.fmt, archives=count,
            folders=folders, duplicates=dups, skipped=stats.skipped,
            invalid_sizes=stats.invalid_sizes, vault_arn=header.get("VaultARN"),
            inventory_date=header.get("InventoryDate"), bytes_read=reader.offset,
            elapsed=time.perf_counter() - t0, warnings=warnings, sources=dict(stats.sources),
        )

    def _feed(
        self, reader: Reader, sink: Sink, helper: Helper | None, header: dict[str, str], *,
        fast: bool,
    ) -> None:
        """Store every row of the document (the helper's share too, merged at the end)."""
        seq = 0
        if self.fmt == "csv":
            lines = CsvUnits(reader, _UNIT_BYTES)
            seq = feed_units(sink, lines, helper) + 1
            sink.add(seq, lines.parser.last_line(lines.tail, lines.tail_at, sink.stats))
        else:
            if fast:
                units = JsonUnits(reader, header, _UNIT_BYTES, on_header=self.vault)
                seq = feed_units(sink, units, helper)
                rest = Reader(io.BytesIO(units.tail), None, None)
                rows = iter_json(rest, sink.stats, header, list_at=units.tail_at,
                                 on_header=self.vault)
            else:
                rows = iter_json(reader, sink.stats, header, on_header=self.vault)
            sink.stats.seq = seq + 1  # examples met below sort after the units' ones
            for batch in _batches(rows, self.batch_size):
                seq += 1
                sink.add(seq, rows_to_columns(batch))
                sink.stats.seq = seq + 1
        if helper is not None:
            sink.merge(helper.finish())


def _batches(rows: Iterator[RawRow], size: int) -> Iterator[list[RawRow]]:
    batch: list[RawRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _warnings(stats: Stats, header: dict[str, str], vault: _VaultCheck, fmt: str) -> list[str]:
    out: list[str] = []
    if (what := vault.mismatch()) is not None:  # imported anyway: --force
        out.append(f"{what} (imported with --force)")
    arn = header.get("VaultARN")
    if fmt == "json" and arn is None:
        out.append("inventory JSON has no VaultARN")
    if stats.skipped:
        ex = ", ".join(stats.texts("skipped"))
        out.append(f"{stats.skipped} entr(y/ies) without a usable ArchiveId skipped (e.g. {ex})")
    if stats.invalid_sizes:
        ex = "; ".join(stats.texts("size"))
        out.append(
            f"{stats.invalid_sizes} archive(s) with an invalid size (not an integer in"
            f" 0..40 TiB) stored with unknown size (e.g. {ex})"
        )
    return out
