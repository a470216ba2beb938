"""Writing a vault's decoded inventory as CSV or JSON, to a file or a stream.

A file is written whole or not at all (``safe_files.atomic_write``: temp file, fsync,
rename), so a full disk keeps the previous export, and a symlink, FIFO or directory at
the target is refused. CSV cells are plain text safe to open in a spreadsheet: control
characters and terminal escapes are removed (:func:`~glacier_tui.glacier.sanitize.inert`)
and a cell that starts like a formula (``=``, ``+``, ``-``, ``@``, tab, CR) gets a
leading ``'`` (see OWASP "CSV Injection"). JSON keeps every description exactly,
escaped, so it is also safe on a terminal.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, Literal

from glacier_tui.glacier import safe_files
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import ArchiveRow, Store

__all__ = ["CSV_HEADER", "csv_cell", "export_inventory", "write_export"]

ExportFormat = Literal["csv", "json"]

CSV_HEADER: Final = ("ArchiveId", "Path", "Size", "CreationDate", "FileModified",
                     "SHA256TreeHash", "DecodedFrom", "ArchiveDescription")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """One CSV cell: plain one-line text, never read as a formula by a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    raw = str(value)
    text = inert(raw)
    if raw.startswith(_FORMULA_START) or text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv_row(r: ArchiveRow) -> list[str]:
    return [csv_cell(v) for v in (r.archive_id, r.path, r.size, r.created, r.mtime,
                                  r.tree_hash, r.source, r.description)]


def _as_json(r: ArchiveRow) -> dict[str, Any]:
    return {
        "ArchiveId": r.archive_id, "Path": r.path, "Size": r.size, "CreationDate": r.created,
        "FileModified": r.mtime, "SHA256TreeHash": r.tree_hash, "DecodedFrom": r.source,
        "ArchiveDescription": r.description,
    }


def write_export(store: Store, vault: str, fmt: ExportFormat, out: IO[str]) -> None:
    """Stream the export of ``vault`` to a text stream (rows never all in memory)."""
    rows: Iterable[ArchiveRow] = store.iter_archives(vault)
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(CSV_HEADER)
        for r in rows:
            w.writerow(_csv_row(r))
        return
    info = store.snapshot_info(vault)
    # ensure_ascii (the default) escapes every control, escape and bidi character.
    out.write(json.dumps({
        "VaultKey": vault,
        "VaultARN": info.vault_arn if info else None,
        "InventoryDate": info.inventory_date if info else None,
    })[:-1] + ',"ArchiveList":[')
    for i, r in enumerate(rows):
        out.write(("," if i else "") + "\n" + json.dumps(_as_json(r)))
    out.write("\n]}\n")


def export_inventory(store: Store, vault: str, fmt: ExportFormat, path: Path) -> None:
    """Write the export to ``path`` atomically (0600; the old file stays on any failure)."""

    def body(fh: BinaryIO) -> None:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=True)
        try:
            write_export(store, vault, fmt, text)
            text.flush()
        finally:
            text.detach()  # atomic_write owns (fsyncs and closes) the binary file

    safe_files.atomic_write(Path(path), body)
