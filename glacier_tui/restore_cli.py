"""``glacier-tui restore``: restore a folder, a filter's matches or a vault, headless.

For nohup, tmux and cron: plans a campaign (kept in the local store), prints the cost
and time estimate, then runs it to the end with a progress display (rich on a
terminal, plain lines otherwise), writes a manifest and exits 0 only when every
selected archive is verified. ``restore status|resume|cancel|verify`` manage
campaigns. Exit codes: 0 ok, 1 not everything verified (or a failure), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
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
from glacier_tui.cli_args import positive_float as _positive_float
from glacier_tui.cli_args import positive_int as _positive_int
from glacier_tui.cli_status import counts_line, manifest_lines, message_lines, problem_lines
from glacier_tui.glacier import campaign_store, errors
from glacier_tui.glacier.campaign_inventory import fetch_inventory
from glacier_tui.glacier.campaigns import (
    CampaignInfo,
    CampaignProgress,
    CampaignSpec,
    CampaignStatus,
    EngineOptions,
    ItemState,
    Limits,
    Selection,
    campaign_active,
    campaign_items,
    cancel_campaign,
    estimate_campaign,
    find_unfinished,
    get_campaign,
    list_campaigns,
    manifest_paths,
    plan_campaign,
    run_campaign,
    verify_manifest,
)
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.pricing import POLL_BY_TIER, TIERS, PriceTable, estimate
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = ["add_arguments", "run"]

ACTIONS = ("status", "resume", "cancel", "verify")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--poll-interval", type=_positive_float, default=None, metavar="SECONDS",
                   help="seconds between job listings (default: by tier, 60 s for Expedited)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--db", type=Path, default=None, help="store path (default: data dir)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The plan-and-run form's flags, and the status/resume/cancel/verify actions."""
    p.add_argument("--vault", help="vault name")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--path", action="append", metavar="FOLDER",
                      help="a decoded folder, recursively (repeatable)")
    what.add_argument("--all", action="store_true", help="every archive of the vault")
    what.add_argument("--archive", nargs="+", metavar="ID", help="archive ids")
    what.add_argument("--filter", metavar="TEXT",
                      help="archives whose decoded path contains TEXT (case-insensitive)")
    p.add_argument("--tier", choices=TIERS, default=None, help="retrieval tier")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                   help="destination folder (decoded paths are created below it)")
    p.add_argument("--budget-usd", type=_positive_float, default=None, metavar="USD",
                   help="stop requesting once retrieval + requests would cost more")
    p.add_argument("--max-jobs", type=_positive_int, default=None, metavar="N",
                   help="retrieval jobs in flight at once (default 100)")
    p.add_argument("--bytes-per-hour", type=_positive_int, default=None, metavar="BYTES",
                   help="request at most this many bytes per hour")
    p.add_argument("--byte-range", default=None, metavar="START-END",
                   help="with one --archive: retrieve only these bytes (inclusive, MiB-aligned)")
    p.add_argument("--inventory", type=Path, default=None, metavar="FILE",
                   help="import this inventory job output first (JSON or CSV)")
    p.add_argument("--dry-run", action="store_true",
                   help="plan and print the estimate; request nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before starting")
    _run_options(p)
    sub = p.add_subparsers(dest="restore_command", metavar="{status,resume,cancel,verify}")
    s = sub.add_parser("status", help="list campaigns, or show one")
    s.add_argument("id", nargs="?", type=_positive_int, help="campaign id")
    s.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    r = sub.add_parser("resume", help="run a campaign on from where it stopped")
    r.add_argument("id", type=_positive_int)
    _run_options(r)
    c = sub.add_parser("cancel", help="cancel a campaign (running jobs cannot be stopped)")
    c.add_argument("id", type=_positive_int)
    c.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    v = sub.add_parser("verify", help="re-check restored files against a manifest")
    v.add_argument("manifest", type=Path, metavar="MANIFEST")
    v.add_argument("--quiet", action="store_true", help="only the summary")


# -- shared --------------------------------------------------------------------------------


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    error_line("restore", text)


def _usd(amount: float) -> str:
    if 0 < amount < 0.01:
        return "<$0.01"
    return f"${amount:,.2f}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def _store(args: argparse.Namespace, settings: Any) -> Store:
    path = getattr(args, "db", None) or settings.resolved_store_path()
    return Store(path)


def _prices(settings: Any) -> PriceTable:
    factory = getattr(settings, "price_table", None)
    if callable(factory):
        table = factory()
        if isinstance(table, PriceTable):
            return table
    from glacier_tui.glacier.pricing import DEFAULT_PRICES

    return DEFAULT_PRICES


def run(args: argparse.Namespace, settings: Any) -> int:
    action = getattr(args, "restore_command", None)
    try:
        if action == "verify":
            return _verify(args)
        if action == "status":
            prices = _prices(settings)
            machine = getattr(settings, "machine_region", None)
            return _with_store(args, settings,
                               lambda store, a: _status(store, a, prices, machine))
        if action == "cancel":
            return _with_store(args, settings, _cancel)
        main: Callable[[], Awaitable[int]]
        if action == "resume":
            main = lambda: _resume(args, settings)  # noqa: E731
        else:
            _check_plan_args(args, settings)
            main = lambda: _plan_and_run(args, settings)  # noqa: E731
        return asyncio.run(main())
    except UsageError as exc:
        _err(f"{exc} (see --help)")
        return EXIT_USAGE
    except errors.GlacierError as exc:
        _err(exc.user_message())
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted; `glacier-tui restore resume ID` goes on from here")
        return EXIT_FAILED


def _with_store(args: argparse.Namespace, settings: Any,
                fn: Callable[[Store, argparse.Namespace], int]) -> int:
    try:
        store = _store(args, settings)
    except Exception as exc:  # unreadable path, not a database
        _err(f"cannot open the store: {exc}")
        return EXIT_FAILED
    try:
        return fn(store, args)
    finally:
        store.close()


# -- status / cancel / verify ----------------------------------------------------------------


def _summary(info: CampaignInfo, store: Store) -> str:
    verified = info.counts.get(ItemState.VERIFIED, 0)
    status = info.status.value
    if info.status == CampaignStatus.RUNNING and not campaign_active(store, info.id):
        status = "stopped"  # killed or rebooted mid-run: `restore resume ID` goes on
    return (f"{info.id:>4}  {status:<10} {verified:,}/{info.total_items:,} verified  "
            f"{human_bytes(info.verified_bytes)}/{human_bytes(info.total_bytes)}  {info.tier:<9} "
            f"{inert(info.vault)}: {inert(info.selection.describe())} -> "
            f"{inert(str(info.destination))}")


def _cost(info: CampaignInfo, prices: PriceTable, machine_region: str | None) -> float:
    # Without the endpoint's region at hand, egress counts unless the machine says where
    # it is (then the campaign's data stayed in that region or the user set it so).
    return info.cost_so_far(prices, egress=not machine_region)


def _status(store: Store, args: argparse.Namespace, prices: PriceTable,
            machine_region: str | None) -> int:
    if args.id is None:
        campaigns = list_campaigns(store)
        if not campaigns:
            _out("no restore campaigns")
        for info in campaigns:
            _out(_summary(info, store))
        return EXIT_OK
    info = get_campaign(store, args.id)
    _out(_summary(info, store))
    _out(counts_line(info.counts))
    _out(f"      jobs started {info.requests_made:,} (re-requested {info.re_requests:,}), "
         f"requested {human_bytes(info.bytes_requested)}, downloaded "
         f"{human_bytes(info.bytes_downloaded)}, cost so far "
         f"{_usd(_cost(info, prices, machine_region))} (estimate)")
    bad = campaign_items(store, info.id, states=[ItemState.FAILED, ItemState.SKIPPED], limit=20)
    csv_path, _ = manifest_paths(info.destination, info.id)
    for line in (*message_lines(info.message),
                 *problem_lines((i.state.value, i.path, i.reason) for i in bad),
                 *manifest_lines(csv_path)):
        _out(line)
    return EXIT_OK if info.all_verified else EXIT_FAILED


def _cancel(store: Store, args: argparse.Namespace) -> int:
    info = cancel_campaign(store, args.id)
    _out(f"campaign {info.id} cancelled; jobs already running cannot be stopped and will "
         "expire (they are billed). Verified files stay.")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    check = verify_manifest(args.manifest)
    if not args.quiet:
        for problem in check.problems:
            _out(f"{problem.problem}: {inert(problem.path)}")
    if check.problem_count > len(check.problems):
        _out(f"... and {check.problem_count - len(check.problems):,} more")
    _out(f"{check.ok:,} of {check.rows:,} file(s) verified against "
         f"{inert(str(args.manifest))}")
    return EXIT_OK if check.all_ok else EXIT_FAILED


# -- plan and run ---------------------------------------------------------------------------


def _selection(args: argparse.Namespace) -> Selection:
    if args.path:
        return Selection.folders(args.path)
    if args.all:
        return Selection.whole_vault()
    if args.archive:
        return Selection.archives(args.archive)
    if args.filter is not None:
        if not args.filter.strip():
            raise UsageError("--filter needs some text")
        return Selection.matching(args.filter)
    raise UsageError("choose what to restore: --path, --all, --archive or --filter")


def _byte_range(args: argparse.Namespace) -> tuple[int, int] | None:
    text = args.byte_range
    if text is None:
        return None
    if not args.archive or len(args.archive) != 1:
        raise UsageError("--byte-range needs exactly one --archive ID")
    first, sep, last = text.partition("-")
    try:
        start, end = int(first), int(last)
    except ValueError:
        start = end = -1
    mib = 1 << 20
    if not sep or start < 0 or end < start or start % mib:
        raise UsageError(f"--byte-range {text!r}: expected START-END, inclusive, START a "
                         "multiple of 1 MiB (1048576)")
    return start, end


def _check_plan_args(args: argparse.Namespace, settings: Any) -> None:
    if not args.vault:
        raise UsageError("--vault is required")
    _selection(args)
    _byte_range(args)
    if args.output is None:
        raise UsageError("-o DIR is required (the destination folder)")
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"-o {args.output}: not a folder")
    if args.inventory is not None and not args.inventory.is_file():
        raise UsageError(f"--inventory {args.inventory}: no such file")
    if getattr(settings, "readonly", False) and not args.dry_run:
        raise UsageError("restores start retrieval jobs, which read-only mode refuses "
                         "(--readonly / readonly = true); --dry-run still works")


def _client(settings: Any) -> GlacierClient:
    from glacier_tui.transfers_cli import _client_options

    return GlacierClient(_client_options(settings))


async def _vault_key(glacier: GlacierClient, store: Store, vault: str) -> str:
    """The store's key of the vault: its ARN (as the app uses), or the name if stored so."""
    from glacier_tui.glacier.vault_keys import vault_store_key

    arn = (await glacier.describe_vault(vault)).arn or vault
    stored = [key for key in (arn, vault) if store.current_snapshot_id(key) is not None]
    return vault_store_key(vault, arn, stored)


async def _ensure_inventory(args: argparse.Namespace, glacier: GlacierClient, store: Store,
                            key: str, poll: float) -> None:
    from glacier_tui.glacier.inventory import InventoryFormatError, import_inventory

    if args.inventory is not None:
        try:
            result = await asyncio.to_thread(import_inventory, store, key, args.inventory)
        except InventoryFormatError as exc:
            raise errors.LocalError(f"bad inventory {args.inventory}: {exc}") from None
        _out(f"imported {result.archives:,} archives from {inert(str(args.inventory))}")
        return
    if store.current_snapshot_id(key) is not None:
        return
    _out(f"no inventory of {inert(args.vault)} is stored: requesting one from Glacier and "
         "waiting for it (on AWS this takes about 4 hours; --inventory FILE skips it)")
    result = await fetch_inventory(glacier, store, args.vault, key, poll=poll, on_status=_out)
    _out(f"inventory received: {result.archives:,} archives")


def _print_estimate(store: Store, info: CampaignInfo, prices: PriceTable, region: str,
                    machine_region: str | None) -> None:
    est = estimate_campaign(store, info.id, prices=prices, endpoint_region=region,
                            machine_region=machine_region)
    _out(f"campaign {info.id}: {info.total_items:,} archive(s), {human_bytes(info.total_bytes)} "
         f"from {inert(info.vault)} ({inert(info.selection.describe())}) -> "
         f"{inert(str(info.destination))}")
    if info.already_verified or est.archives < info.total_items:
        _out(f"  to retrieve: {est.archives:,} archive(s), {human_bytes(est.nbytes)}")
    _out("  estimate (us-east-1 list prices, "
         f"{prices.as_of}; not a bill):")
    for tier in TIERS:
        if tier not in prices.retrieval:
            continue
        e = estimate(prices, tier, est.archives, est.nbytes, endpoint_region=region,
                     machine_region=machine_region,
                     max_jobs_in_flight=info.limits.max_jobs_in_flight,
                     bytes_per_hour=info.limits.bytes_per_hour)
        mark = "*" if tier == info.tier else " "
        lo, hi = e.eta_seconds
        egress = f" + egress {_usd(e.egress_usd)}" if e.egress_applies else ""
        _out(f"  {mark} {tier:<9} retrieval {_usd(e.retrieval_usd)} + requests "
             f"{_usd(e.requests_usd)}{egress} = {_usd(e.total_usd)}; jobs done in "
             f"{_duration(lo)}-{_duration(hi)}")
    if est.egress_applies:
        _out("  egress: this machine is not known to be in the endpoint's region "
             "(set machine_region if it is)")


def _confirm(args: argparse.Namespace) -> bool:
    if args.yes or not sys.stdin.isatty():
        return True
    try:
        answer = input("Start the retrieval? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


async def _plan_and_run(args: argparse.Namespace, settings: Any) -> int:
    prices = _prices(settings)
    selection = _selection(args)
    tier = str(args.tier or getattr(settings, "default_tier", "Standard") or "Standard")
    poll = args.poll_interval or POLL_BY_TIER.get(tier, 900.0)
    destination = args.output.expanduser().absolute()
    limits = Limits(max_jobs_in_flight=args.max_jobs or 100, budget_usd=args.budget_usd,
                    bytes_per_hour=args.bytes_per_hour)
    store = _store(args, settings)
    try:
        async with _client(settings) as glacier:
            key = await _vault_key(glacier, store, args.vault)
            if selection.needs_inventory or args.inventory is not None:
                await _ensure_inventory(args, glacier, store, key, poll)
            spec = CampaignSpec(args.vault, key, selection, tier, destination, limits,
                                byte_range=_byte_range(args))
            info = None if args.dry_run else find_unfinished(store, spec)
            if info is not None:
                _out(f"resuming campaign {info.id} (same vault, selection, tier and folder)")
            else:
                info = await asyncio.to_thread(plan_campaign, store, spec)
            machine = getattr(settings, "machine_region", None)
            _print_estimate(store, info, prices, glacier.region, machine)
            if args.dry_run:
                await asyncio.to_thread(campaign_store.delete, store, info.id)
                _out("dry run: nothing requested")
                return EXIT_OK
            if args.budget_usd is not None:
                _out(f"  budget: {_usd(args.budget_usd)} for retrieval and requests")
            if not _confirm(args):
                await asyncio.to_thread(campaign_store.delete, store, info.id)
                _out("not started")
                return EXIT_FAILED
            return await _execute(glacier, store, info.id, args, settings, prices, poll)
    finally:
        store.close()


async def _resume(args: argparse.Namespace, settings: Any) -> int:
    store = _store(args, settings)
    try:
        info = get_campaign(store, args.id)
        poll = args.poll_interval or POLL_BY_TIER.get(info.tier, 900.0)
        async with _client(settings) as glacier:
            return await _execute(glacier, store, info.id, args, settings, _prices(settings),
                                  poll)
    finally:
        store.close()


async def _execute(glacier: GlacierClient, store: Store, cid: int, args: argparse.Namespace,
                   settings: Any, prices: PriceTable, poll: float) -> int:
    concurrency = int(getattr(settings, "transfer_concurrency", 4) or 4)
    segment = int(getattr(settings, "segment_size_mib", 32) or 32) << 20
    options = EngineOptions(
        poll_interval=poll, segment_concurrency=concurrency, segment_size=segment,
        prices=prices, machine_region=getattr(settings, "machine_region", None),
        progress_interval=0.5,
    )
    display = _Display(enabled=not args.quiet, total=get_campaign(store, cid).total_items)
    with display:
        info = await run_campaign(glacier, store, cid, options=options,
                                  on_progress=display.update)
    code = _report(info, prices, getattr(settings, "machine_region", None))
    if not info.all_verified:
        for item in campaign_items(store, cid, states=[ItemState.FAILED, ItemState.SKIPPED],
                                   limit=5):
            _out(f"  {item.state.value}: {inert(item.path)}: {inert(item.reason)}")
    return code


def _report(info: CampaignInfo, prices: PriceTable, machine_region: str | None) -> int:
    csv_path, json_path = manifest_paths(info.destination, info.id)
    if info.all_verified and info.already_verified == info.total_items:
        _out(f"already verified: all {info.total_items:,} archive(s) are in "
             f"{inert(str(info.destination))} with matching tree hashes; nothing retrieved")
    elif info.all_verified:
        extra = (f" ({info.already_verified:,} already verified)"
                 if info.already_verified else "")
        _out(f"every archive verified: {info.total_items:,} file(s), "
             f"{human_bytes(info.total_bytes)}{extra}; cost "
             f"{_usd(_cost(info, prices, machine_region))} (estimate)")
    else:
        counts = ", ".join(f"{s.value} {n:,}" for s, n in info.counts.items() if n)
        _out(f"campaign {info.id} {info.status.value}: {counts}")
        if info.message:
            _out(f"  {inert(info.message)}")
    _out(f"manifest: {inert(str(csv_path))} (and {json_path.name})")
    if info.all_verified:
        return EXIT_OK
    if info.status in (CampaignStatus.PAUSED, CampaignStatus.RUNNING):
        _err(f"not finished: `glacier-tui restore resume {info.id}` goes on")
    return EXIT_FAILED


class _Display:
    """Counts per state, bytes, rate, ETA and cost: rich on a terminal, else plain lines."""

    PLAIN_EVERY = 10.0

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.live: Any = None
        self._last = 0.0
        self._last_line = ""
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live("", console=Console(stderr=True), refresh_per_second=4,
                             transient=False)

    def __enter__(self) -> _Display:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    @staticmethod
    def line(p: CampaignProgress) -> str:
        order = (ItemState.PLANNED, ItemState.REQUESTED, ItemState.READY,
                 ItemState.DOWNLOADING, ItemState.VERIFIED, ItemState.FAILED, ItemState.SKIPPED)
        counts = " ".join(f"{s.value} {p.counts.get(s, 0):,}" for s in order
                          if p.counts.get(s, 0))
        eta = f", ETA {_duration(p.eta_seconds)}" if p.eta_seconds else ""
        rate = f", {human_bytes(p.rate_bps)}/s" if p.rate_bps else ""
        paced = ""
        if p.paced_until:
            paced = f", paused until {time.strftime('%H:%M', time.localtime(p.paced_until))}"
        text = (f"[{counts}] {human_bytes(p.verified_bytes + p.downloading_bytes)} of "
                f"{human_bytes(p.total_bytes)}{rate}{eta}, cost {_usd(p.cost_so_far_usd)}{paced}")
        if p.message:
            text += f" - {inert(p.message)}"
        return text

    def update(self, p: CampaignProgress) -> None:
        if not self.enabled:
            return
        text = self.line(p)
        if self.live is not None:
            from rich.text import Text

            self.live.update(Text(text))
            return
        now = time.monotonic()
        if text != self._last_line and (now - self._last >= self.PLAIN_EVERY
                                        or p.status != CampaignStatus.RUNNING):
            self._last, self._last_line = now, text
            print(text, file=sys.stderr, flush=True)

