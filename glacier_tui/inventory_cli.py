"""``glacier-tui inventory import|export|ls`` — the local inventory store from the shell.

Exit codes: 0 ok, 1 failure (e.g. malformed file), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from glacier_tui.glacier.errors import GlacierError
from glacier_tui.glacier.inventory import InventoryFormatError, import_inventory
from glacier_tui.glacier.inventory_export import export_inventory, write_export
from glacier_tui.glacier.masking import shown
from glacier_tui.glacier.store import Store
from glacier_tui.ui.formatting import human_size

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``import`` / ``export`` / ``ls`` sub-subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="inventory_command", metavar="{import,export,ls}")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--vault", required=True, help="vault key (name or ARN)")
        p.add_argument("--db", type=Path, default=None, help="store path (default: data dir)")

    p = sub.add_parser("import", help="import an inventory job output (JSON or CSV)")
    p.add_argument("file", type=Path)
    common(p)
    p.add_argument("--format", choices=("json", "csv"), default=None, help="default: detect")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("export", help="write the decoded inventory")
    common(p)
    p.add_argument("--format", choices=("json", "csv"), default="csv")
    p.add_argument("-o", "--output", type=Path, default=None, help="default: stdout")

    p = sub.add_parser("ls", help="list a folder of the decoded inventory")
    common(p)
    p.add_argument("path", nargs="?", default="", help="folder (default: root)")
    p.add_argument("--limit", type=int, default=1000)


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "inventory_command", None)
    # soft_wrap: an error stays one line whatever the terminal width.
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if cmd == "import" and not Path(args.file).is_file():  # before the store is created
        err.print(f"[red]no such file:[/] {escape(shown(args.file))}")
        return 2
    try:
        store = Store(args.db)
    except Exception as e:  # unreadable path, not a database, ...
        err.print(f"[red]cannot open store:[/] {escape(shown(e))}")
        return 1
    try:
        if cmd == "import":
            return _import(store, args, err)
        if cmd == "export":
            return _export(store, args, err)
        if cmd == "ls":
            return _ls(store, args, err)
        err.print("usage: inventory {import,export,ls} ...")
        return 2
    finally:
        store.close()


def _import(store: Store, args: argparse.Namespace, err: Console) -> int:
    path: Path = args.file
    if not path.is_file():
        err.print(f"[red]no such file:[/] {escape(shown(path))}")
        return 2
    progress = Progress(
        TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(), console=err, disable=bool(args.quiet), transient=True,
    )
    with progress:
        task = progress.add_task("import", total=path.stat().st_size)
        try:
            res = import_inventory(
                store, args.vault, path, fmt=args.format,
                progress=lambda done, _total: progress.update(task, completed=done),
            )
        except InventoryFormatError as e:
            err.print(f"[red]bad inventory:[/] {escape(shown(e))} — previous inventory kept")
            return 1
        except OSError as e:
            err.print(f"[red]cannot read:[/] {escape(shown(e))}")
            return 1
    out = Console(highlight=False)
    out.print(
        f"imported {res.archives:,} archives in {res.folders:,} folders"
        f" ({res.bytes_read:,} bytes, {res.format}) in {res.elapsed:.2f} s",
        markup=False,
    )
    decoded = ", ".join(f"{k} {v:,}" for k, v in sorted(res.sources.items()))
    out.print(f"descriptions: {decoded}", markup=False)
    for w in res.warnings:
        err.print(f"warning: {shown(w)}", markup=False)
    return 0


def _export(store: Store, args: argparse.Namespace, err: Console) -> int:
    if store.current_snapshot_id(args.vault) is None:
        err.print(f"no inventory stored for vault {shown(args.vault)!r}", markup=False)
        return 1
    if not args.output:
        write_export(store, args.vault, args.format, sys.stdout)
        sys.stdout.flush()
        return 0
    try:
        export_inventory(store, args.vault, args.format, args.output)
    except GlacierError as e:  # a symlink, FIFO or directory in the way
        err.print(f"cannot export: {e.user_message()}", markup=False)
        return 1
    except OSError as e:  # a full disk, no permission: the previous export is kept
        err.print(f"cannot write {shown(args.output)}: {shown(e.strerror or e)}"
                  " — nothing written, any previous export kept", markup=False)
        return 1
    return 0


def _human(n: int | None) -> str:
    return human_size(n, unknown="?")


def _ls(store: Store, args: argparse.Namespace, err: Console) -> int:
    if store.current_snapshot_id(args.vault) is None:
        err.print(f"no inventory stored for vault {shown(args.vault)!r}", markup=False)
        return 1
    path = str(args.path).strip("/")
    info = store.folder(args.vault, path)
    if info is None:
        err.print(f"no such folder: {shown(path)!r}", markup=False)
        return 1
    out = sys.stdout
    for sub in store.subfolders(args.vault, path, limit=args.limit):
        out.write(f"{shown(sub.name)}/\t{sub.count}\t{_human(sub.bytes)}\n")
    for a in store.archives(args.vault, path, limit=args.limit):
        out.write(f"{shown(a.name)}\t{_human(a.size)}\t{shown(a.created)}\n")
    out.write(f"-- {info.count:,} archives, {_human(info.bytes)} in {shown(path or '/')}\n")
    return 0
