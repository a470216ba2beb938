"""``glacier-tui inventory import|export|ls|names`` — the local inventory store from the shell.

Exit codes: 0 ok, 1 failure (e.g. malformed file, no inventory stored, the store being
written by another glacier-tui), 2 bad usage. ``ls`` and ``export`` never create a store.
"""

from __future__ import annotations

import argparse
import asyncio
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

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

from glacier_tui.glacier import errors
from glacier_tui.glacier.inventory import InventoryFormatError, WrongVaultError, import_inventory
from glacier_tui.glacier.inventory_export import export_inventory, write_export
from glacier_tui.glacier.masking import shown
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store, StoreMissingError
from glacier_tui.ui.formatting import human_size

if TYPE_CHECKING:
    from glacier_tui.glacier.appliance_index import IndexImport

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``import`` / ``export`` / ``ls`` sub-subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="inventory_command", metavar="{import,export,ls,names}")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--vault", required=True, help="vault key (name or ARN)")
        p.add_argument("--db", type=Path, default=None, help="store path (default: data dir)")

    p = sub.add_parser("import", help="import an inventory job output (JSON or CSV)")
    p.add_argument("file", type=Path, help="the file, a FIFO, or - for standard input")
    common(p)
    p.add_argument("--format", choices=("json", "csv"), default=None, help="default: detect")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="import even if the inventory's VaultARN names another vault")

    p = sub.add_parser("export", help="write the decoded inventory")
    common(p)
    p.add_argument("--format", choices=("json", "csv"), default="csv")
    p.add_argument("-o", "--output", type=Path, default=None, help="default: stdout")

    p = sub.add_parser("ls", help="list a folder of the decoded inventory")
    common(p)
    p.add_argument("path", nargs="?", default="", help="folder (default: root)")
    p.add_argument("--limit", type=int, default=1000)

    p = sub.add_parser("names", help="name a vault's archives from a Synology index file "
                       "(the archive of its <vault>_mapping vault)")
    common(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--index", type=Path, metavar="FILE",
                     help="the downloaded index (a SQLite database)")
    src.add_argument("--retrieve", action="store_true",
                     help="request the index from <vault>_mapping (whose inventory must be "
                     "imported); run again once the job has succeeded to download and import it")


def _source_problem(path: Path) -> str | None:
    """Why ``path`` cannot be imported (checked before the store is created), or None."""
    if str(path) == "-":
        return None
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "no such file"
    except OSError as e:
        return f"cannot read ({e.strerror})"
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):  # a FIFO or pipe is read as a stream
        return None
    return "not a file" if stat.S_ISDIR(mode) else "not a regular file or FIFO"


def _no_inventory(err: Console, vault: str) -> int:
    err.print(f"no inventory stored for {inert(vault)}; run `glacier-tui inventory import"
              f" FILE --vault {inert(vault)}` first", markup=False)
    return 1


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "inventory_command", None)
    # soft_wrap: an error stays one line whatever the terminal width.
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if cmd == "import" and (problem := _source_problem(Path(args.file))):  # before the store
        err.print(f"[red]{problem}:[/] {escape(shown(args.file))}")
        return 2
    try:
        store = Store(args.db, create=cmd in ("import", "names"))  # reading never creates one
    except StoreMissingError:
        return _no_inventory(err, args.vault)
    except errors.GlacierError as e:  # a symlink in the way, the store being written...
        err.print(f"[red]cannot open store:[/] {escape(shown(e.message))}")
        return 1
    except Exception as e:  # unreadable path, not a database, ...
        err.print(f"[red]cannot open store:[/] {escape(shown(e))}")
        return 1
    try:
        args.vault_given = args.vault
        args.vault = _store_key(store, args)
        if cmd in ("ls", "export") and store.current_snapshot_id(args.vault) is None:
            return _no_inventory(err, args.vault)
        if cmd == "import":
            return _import(store, args, err)
        if cmd == "export":
            return _export(store, args, err)
        if cmd == "ls":
            return _ls(store, args, err)
        if cmd == "names":
            return _names(store, args, err)
        err.print("usage: inventory {import,export,ls,names} ...")
        return 2
    finally:
        store.close()


def _store_key(store: Store, args: argparse.Namespace) -> str:
    """The store key of ``--vault`` (a name or an ARN): the one the app uses too."""
    from glacier_tui.glacier.vault_keys import arn_in_document, resolve_vault_key

    document_arn = None
    path = Path(getattr(args, "file", None) or "-")
    if args.inventory_command == "import" and str(path) != "-" and path.is_file():
        try:
            with path.open("rb") as f:
                document_arn = arn_in_document(f)
        except OSError:
            document_arn = None  # the import itself says why it cannot read the file
    return resolve_vault_key(args.vault, store.vault_keys(), document_arn)


def _import(store: Store, args: argparse.Namespace, err: Console) -> int:
    from glacier_tui.glacier.vault_keys import is_vault_arn

    path: Path = args.file
    stdin = str(path) == "-"
    total = path.stat().st_size if not stdin and path.is_file() else None
    given = getattr(args, "vault_given", args.vault)
    expected_name = None if is_vault_arn(given) else given
    progress = Progress(
        TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(), console=err, disable=bool(args.quiet), transient=True,
    )
    with progress:
        task = progress.add_task("import", total=total)
        try:
            res = import_inventory(
                store, args.vault, sys.stdin.buffer if stdin else path, fmt=args.format,
                expected_vault_name=expected_name, force=bool(args.force),
                progress=lambda done, _total: progress.update(task, completed=done),
            )
        except InventoryFormatError as e:
            err.print(f"[red]bad inventory:[/] {escape(shown(e))} — previous inventory kept")
            return 1
        except WrongVaultError as e:
            err.print(f"[red]refused:[/] {escape(shown(e))} — previous inventory kept")
            return 1
        except errors.GlacierError as e:  # the store is being written by another glacier-tui
            err.print(f"[red]not imported:[/] {escape(shown(e.message))}")
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
    if not is_vault_arn(args.vault):
        arn = res.vault_arn or "arn:aws:glacier:REGION:ACCOUNT:vaults/" + given
        err.print(f"note: stored under the name {inert(given)!r} (the inventory names no vault "
                  f"ARN); the app looks a vault up by its ARN: import it again with --vault "
                  f"{inert(arn)} to browse it there", markup=False, soft_wrap=True)
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
    except errors.GlacierError as e:  # a symlink, FIFO or directory in the way
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
        return _no_inventory(err, args.vault)
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


def _names(store: Store, args: argparse.Namespace, err: Console) -> int:
    from glacier_tui.glacier.appliance_index import IndexFormatError, IndexImport, import_index
    from glacier_tui.glacier.errors import GlacierError

    try:
        if args.retrieve:
            got = asyncio.run(_retrieve_index(store, args, err))
            if not isinstance(got, IndexImport):
                return got
            res = got
        else:
            res = import_index(store, args.vault, args.index, origin=str(args.index))
    except (IndexFormatError, GlacierError) as e:
        err.print(e.user_message(), markup=False, highlight=False, soft_wrap=True)
        return 1
    out = Console(highlight=False)
    task = res.info.get("taskName")
    out.print(
        f"Synology index version {res.version}"
        + (f" (task {inert(task)!r})" if task else "")
        + f": {res.entries:,} archives named, {res.renamed:,} in the current inventory",
        markup=False, soft_wrap=True,
    )
    if res.duplicates:
        out.print(f"{res.duplicates:,} more path(s) listed for archives already named"
                  " (the current one is used)", markup=False, soft_wrap=True)
    if res.skipped:
        err.print(f"warning: {res.skipped:,} index rows without a usable archive id or path"
                  " were skipped", markup=False, soft_wrap=True)
    if store.current_snapshot_id(args.vault) is None:
        err.print("no inventory stored for this vault yet: the names apply when it is imported",
                  markup=False)
    return 0


async def _retrieve_index(
    store: Store, args: argparse.Namespace, err: Console
) -> IndexImport | int:
    """Request the index job, or download and import its output once it has succeeded:
    an :class:`IndexImport`, or an exit code when there is nothing to import yet."""
    from glacier_tui.config import state_dir
    from glacier_tui.glacier.appliance_fetch import (
        download_and_import_index,
        find_index_job,
        index_archive,
        start_index_retrieval,
    )
    from glacier_tui.glacier.appliance_index import MAPPING_SUFFIX
    from glacier_tui.glacier.client import GlacierClient
    from glacier_tui.glacier.models import vault_name_from_arn

    settings = getattr(args, "settings", None)
    mapping_key = args.vault + MAPPING_SUFFIX  # a name or an ARN: both end in the name
    mapping = vault_name_from_arn(mapping_key)
    index = index_archive(store, mapping_key)
    if index is None or settings is None:
        err.print(f"no cached inventory of {inert(mapping)!r}: import one first"
                  f" (inventory import --vault {inert(mapping_key)} FILE)", markup=False)
        return 1
    async with GlacierClient(settings.client_options()) as client:
        job = await find_index_job(client, mapping, index.archive_id)
        if job is None:
            if settings.readonly:
                err.print("read-only mode: not requesting the index", markup=False)
                return 1
            job = await start_index_retrieval(client, mapping, index.archive_id,
                                              tier=str(settings.default_tier.value))
            print(f"requested the index of {mapping} (job {job.job_id}); run this again once"
                  " the job has succeeded (hours on AWS)")
            return 0
        if not job.succeeded:
            print(f"the index job {job.job_id} is {job.status_code}; run this again once it"
                  " has succeeded")
            return 0
        return await download_and_import_index(client, store, job, args.vault,
                                               state_dir() / "appliance-index")
