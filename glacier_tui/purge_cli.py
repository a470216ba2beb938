"""``glacier-tui purge``: close out a vault, deleting only archives proven safe elsewhere.

``purge plan --vault V --proof MANIFEST...`` classifies every archive of the vault's
stored inventory (proven / unproven / young) and prints counts, bytes, the early-deletion
fee and the storage saved. ``purge run`` executes it (resumable: run it again after a
kill or a reboot), then deletes the vault once an inventory shows it empty.
``purge status`` says where each purge stands; ``purge cancel ID`` stops one.
``--dry-run`` writes the archives a run would delete to a CSV and sends no mutating
request. Exit codes: 0 ok (also while the vault waits for its inventory), 1 a failure
or archives left undeleted by errors, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from glacier_tui.cli_args import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    error_line,
    human_bytes,
)
from glacier_tui.cli_args import positive_int as _positive_int
from glacier_tui.cli_status import message_lines, problem_lines
from glacier_tui.glacier import errors
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.pricing import VAULT_MIN_STORAGE_DAYS, PriceTable
from glacier_tui.glacier.purge import (
    ItemState,
    PurgeInfo,
    PurgeOptions,
    PurgeProgress,
    PurgeSpec,
    PurgeStatus,
    RunOptions,
    cancel_purge,
    drop_purge,
    find_unfinished,
    forget_deleted,
    get_purge,
    has_purges,
    kept_examples,
    list_purges,
    plan_purge,
    problem_examples,
    run_purge,
    write_dry_run,
    write_purge_manifest,
)
from glacier_tui.glacier.purge_text import describe_plan
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = ["add_arguments", "run"]

ACTIONS = ("plan", "run", "status", "cancel")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vault", required=True, help="vault name")
    p.add_argument("--proof", nargs="+", action="extend", type=Path, default=[],
                   metavar="MANIFEST", help="restore or migration manifests (CSV or JSON)")
    p.add_argument("--accept-early-fee", action="store_true",
                   help=f"also delete proven archives younger than {VAULT_MIN_STORAGE_DAYS} "
                        "days (their early-deletion fee is shown)")
    p.add_argument("--max-proof-age-days", type=_non_negative, default=None, metavar="N",
                   help="trust a restore's recorded verify this recent instead of re-hashing "
                        "its file")
    p.add_argument("--keep-vault", action="store_true",
                   help="delete the archives but not the vault")
    p.add_argument("--dry-run", action="store_true",
                   help="write the archives that would be deleted to a CSV; delete nothing")
    p.add_argument("--csv", type=Path, default=None, metavar="FILE",
                   help="the dry run's CSV (default: purge-dry-run-VAULT.csv here)")
    p.add_argument("--s3-endpoint-url", default=None, metavar="URL",
                   help="S3 endpoint for migration proofs (default: AWS)")
    p.add_argument("--s3-region", default=None, metavar="REGION",
                   help="S3 region for migration proofs (default: the Glacier region)")
    p.add_argument("--db", type=Path, default=None, help="store path (default: data dir)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from glacier_tui.cli import _add_connection_options

    sub = p.add_subparsers(dest="purge_command", metavar="{plan,run,status,cancel}")
    plan = sub.add_parser("plan", help="classify the vault's archives against the proofs")
    _plan_options(plan)
    _add_connection_options(plan, top_level=False)
    runp = sub.add_parser("run", help="delete the proven archives, then the vault")
    _plan_options(runp)
    _add_connection_options(runp, top_level=False)
    runp.add_argument("--yes", "-y", action="store_true",
                      help="do not ask for the vault's name before deleting")
    runp.add_argument("--wait", action="store_true",
                      help="after the archives, poll until the vault can be deleted")
    runp.add_argument("--poll-interval", type=_non_negative, default=3600.0,
                      metavar="SECONDS", help="between DescribeVault polls (default 3600)")
    runp.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                      help="DeleteArchive requests in flight at most (default 8)")
    runp.add_argument("--manifest", type=Path, default=None, metavar="FILE",
                      help="per-archive result CSV (default: purges/ beside the store)")
    status = sub.add_parser("status", help="where each purge stands")
    status.add_argument("id", nargs="?", type=_positive_int, help="purge id")
    status.add_argument("--db", type=Path, default=None, help="store path")
    cancel = sub.add_parser("cancel", help="stop a purge for good")
    cancel.add_argument("id", type=_positive_int)
    cancel.add_argument("--db", type=Path, default=None, help="store path")


# -- output --------------------------------------------------------------------------------


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    error_line("purge", text)


def _utc(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _prices(settings: Any) -> PriceTable:
    factory = getattr(settings, "price_table", None)
    if callable(factory):
        table = factory()
        if isinstance(table, PriceTable):
            return table
    from glacier_tui.glacier.pricing import DEFAULT_PRICES

    return DEFAULT_PRICES


def _summary(info: PurgeInfo) -> str:
    return (f"{info.id:>4}  {info.status.value:<18} {inert(info.vault)}: deleted "
            f"{info.in_state(ItemState.DELETED):,}, gone {info.in_state(ItemState.GONE):,}, "
            f"to do {info.open:,}, kept {info.in_state(ItemState.KEPT):,}, refused "
            f"{info.in_state(ItemState.REFUSED):,}, failed {info.in_state(ItemState.FAILED):,}")


def _status_lines(store: Store, info: PurgeInfo) -> list[str]:
    lines = [_summary(info), *message_lines(info.message)]
    resume = f"`glacier-tui purge run --vault {inert(info.vault)}`"
    explain = {
        PurgeStatus.PLANNED: f"planned: {resume} starts it",
        PurgeStatus.RUNNING: f"deleting (or killed while deleting: {resume} goes on)",
        PurgeStatus.PAUSED: f"stopped: {resume} goes on",
        PurgeStatus.AWAITING_INVENTORY: (
            "archives deleted; Glacier deletes a vault only once an inventory shows it empty "
            f"(next expected around {_utc(info.next_inventory_at)}): run {resume} again "
            "then, or add --wait"),
        PurgeStatus.VAULT_DELETED: f"the vault was deleted {_utc(info.vault_deleted_at)}",
        PurgeStatus.DONE: "finished; the vault is kept",
        PurgeStatus.CANCELLED: "cancelled",
    }
    lines.append(f"      {explain[info.status]}")
    lines += problem_lines((state, path, reason)
                           for path, state, reason in problem_examples(store, info.id, limit=10))
    return lines


# -- commands ------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Any) -> int:
    action = getattr(args, "purge_command", None)
    try:
        if action is None:
            raise UsageError("choose an action: plan, run, status or cancel")
        if action in ("status", "cancel"):
            return _store_action(args, settings, action)
        _check(args, settings, action)
        return asyncio.run(_plan_or_run(args, settings, action))
    except UsageError as exc:
        _err(f"{exc} (see --help)")
        return EXIT_USAGE
    except errors.GlacierError as exc:
        _err(exc.user_message())
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted; `glacier-tui purge run --vault VAULT` goes on from here")
        return EXIT_FAILED


def _store(args: argparse.Namespace, settings: Any, *, create: bool = True) -> Store:
    return Store(getattr(args, "db", None) or settings.resolved_store_path(), create=create)


def _store_action(args: argparse.Namespace, settings: Any, action: str) -> int:
    store = _store(args, settings, create=False)
    try:
        if action == "cancel":
            if not has_purges(store):
                raise errors.LocalError(f"purge {args.id} does not exist")
            info = cancel_purge(store, args.id)
            _out(f"purge {info.id} of {inert(info.vault)}: {info.status.value}; what was "
                 "deleted stays deleted")
            return EXIT_OK
        if not has_purges(store):
            if args.id:
                raise errors.LocalError(f"purge {args.id} does not exist")
            _out("no purges")
            return EXIT_OK
        infos = [get_purge(store, args.id)] if args.id else list_purges(store)
        if not infos:
            _out("no purges")
        for info in infos:
            for line in _status_lines(store, info):
                _out(line)
        return EXIT_OK
    finally:
        store.close()


def _check(args: argparse.Namespace, settings: Any, action: str) -> None:
    for path in args.proof:
        if not path.is_file():
            raise UsageError(f"--proof {path}: no such file")
    if action == "plan" and not args.proof:
        raise UsageError("--proof MANIFEST is required (restore or migration manifests)")
    if action == "run" and not args.dry_run and getattr(settings, "readonly", False):
        raise UsageError("a purge deletes archives, which read-only mode refuses "
                         "(--readonly / readonly = true); --dry-run still works")
    if args.csv is not None and not args.dry_run:
        raise UsageError("--csv goes with --dry-run")


def _client(settings: Any) -> GlacierClient:
    from glacier_tui.transfers_cli import _client_options

    return GlacierClient(_client_options(settings))


async def _vault_key(glacier: GlacierClient, store: Store, vault: str) -> str:
    arn = (await glacier.describe_vault(vault)).arn or vault
    for key in (arn, vault):
        if store.current_snapshot_id(key) is not None:
            return key
    return arn


def _spec(args: argparse.Namespace, key: str) -> PurgeSpec:
    return PurgeSpec(args.vault, key, tuple(p.expanduser().absolute() for p in args.proof),
                     accept_early_fee=args.accept_early_fee,
                     max_proof_age_days=args.max_proof_age_days, keep_vault=args.keep_vault)


def _confirm(args: argparse.Namespace) -> bool:
    if getattr(args, "yes", False) or not sys.stdin.isatty():
        return True
    try:
        answer = input(f"Type the vault's name ({args.vault}) to delete its proven archives: ")
    except EOFError:
        return False
    return answer.strip() == str(args.vault)


def _manifest_path(args: argparse.Namespace, store: Store, purge_id: int) -> Path:
    given = getattr(args, "manifest", None)
    if given is not None:
        return Path(given).expanduser().absolute()
    return Path(store.path).parent / "purges" / f"purge-manifest-{purge_id}.csv"


async def _plan_or_run(args: argparse.Namespace, settings: Any, action: str) -> int:
    prices = _prices(settings)
    store = _store(args, settings)
    try:
        async with _client(settings) as glacier:
            key = await _vault_key(glacier, store, args.vault)
            info = await asyncio.to_thread(find_unfinished, store, key)
            planned_here = False
            if info is None or (info.status is PurgeStatus.PLANNED and args.proof) or (
                    action == "plan"):
                if not args.proof:
                    raise UsageError("--proof MANIFEST is required: no purge of "
                                     f"{args.vault} is planned or under way")
                options = PurgeOptions(s3_endpoint_url=args.s3_endpoint_url,
                                       s3_region=args.s3_region or glacier.region,
                                       s3_profile=getattr(settings, "profile", None))
                step = None if args.quiet else (lambda text: print(text, file=sys.stderr))
                info = await plan_purge(glacier, store, _spec(args, key), options=options,
                                        on_step=step)
                planned_here = True
            elif args.proof:
                _out(f"going on with purge {info.id} ({info.status.value}); its proofs were "
                     "checked when it was planned")
            for line in describe_plan(info, prices):
                _out(line)
            kept = kept_examples(store, info.id, limit=10)
            for path, cls, reason in kept:
                _out(f"    kept ({cls}): {inert(path)}: {inert(reason)}")
            if args.dry_run:
                target = (args.csv or Path(f"purge-dry-run-{args.vault}.csv")).expanduser()
                count = await asyncio.to_thread(write_dry_run, store, info.id, target)
                if planned_here:
                    await asyncio.to_thread(drop_purge, store, info.id)
                _out(f"dry run: {count:,} archive(s) would be deleted, listed in "
                     f"{inert(str(target))}; nothing was deleted")
                return EXIT_OK
            if action == "plan":
                _out(f"planned: `glacier-tui purge run --vault {inert(args.vault)}` "
                     "deletes the proven archives")
                return EXIT_OK
            if info.status is PurgeStatus.PLANNED and info.deletable and not _confirm(args):
                _out("not started")
                return EXIT_FAILED
            return await _execute(glacier, store, info, args)
    finally:
        store.close()


def _after_run(store: Store, purge_id: int, manifest: Path) -> None:
    """The per-archive manifest, and the cached inventory without the deleted archives."""
    write_purge_manifest(store, purge_id, manifest)
    forget_deleted(store, purge_id)


async def _execute(glacier: GlacierClient, store: Store, info: PurgeInfo,
                   args: argparse.Namespace) -> int:
    last_line = [0.0]

    def progress(p: PurgeProgress) -> None:
        if args.quiet:
            return
        now = time.monotonic()
        if p.status is PurgeStatus.RUNNING and now - last_line[0] < 5.0:
            return
        last_line[0] = now
        text = (f"[{p.status.value}] deleted {p.deleted:,}/{p.deletable:,} "
                f"({human_bytes(p.deleted_bytes)}), refused {p.refused:,}, failed {p.failed:,}, "
                f"{p.concurrency} in flight, throttled {p.throttled:,}")
        if p.message:
            text += f" - {inert(p.message)}"
        print(text, file=sys.stderr, flush=True)

    options = RunOptions(max_concurrency=args.concurrency, wait_for_inventory=args.wait,
                         poll_interval=args.poll_interval)
    try:
        final = await run_purge(glacier, store, info.id, options=options, on_progress=progress)
    finally:
        path = _manifest_path(args, store, info.id)
        await asyncio.shield(asyncio.to_thread(_after_run, store, info.id, path))
    for line in _status_lines(store, final):
        _out(line)
    _out(f"manifest: {inert(str(path))}")
    if final.status is PurgeStatus.PAUSED or final.in_state(ItemState.FAILED):
        return EXIT_FAILED
    return EXIT_OK
