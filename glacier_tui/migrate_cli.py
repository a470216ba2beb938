"""``glacier-tui migrate``: move vault archives into S3 storage classes, headless.

``plan`` prints the keys' rules, the archives and the cost (tiers x storage classes);
``run`` plans (or resumes the same plan), then retrieves and streams every archive into
S3, verified, and writes a manifest; ``status``; ``verify MANIFEST`` (HEAD only);
``merge`` joins shard manifests. ``--demo`` runs everything on the embedded Glacier
emulator and a local S3 bucket. Exit codes: 0 ok, 1 not everything verified, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
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
from glacier_tui.glacier import errors
from glacier_tui.glacier import migrate_store as ms
from glacier_tui.glacier.campaigns import (
    CampaignStatus,
    EngineOptions,
    ItemState,
    Limits,
    Selection,
    campaign_items,
    get_campaign,
    run_campaign,
)
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.migrate import (
    STORAGE_CLASSES,
    MigrationError,
    MigrationPlan,
    MigrationSink,
    MigrationSpec,
    parse_s3_url,
    parse_shard,
    plan_migration,
)
from glacier_tui.glacier.migrate_cost import (
    TransferKind,
    detect_machine_region,
    migration_cost,
    summarize,
    transfer_kind,
)
from glacier_tui.glacier.migrate_manifest import (
    merge_manifests,
    migration_manifest_path,
    verify_s3_manifest,
)
from glacier_tui.glacier.pricing import (
    POLL_BY_TIER,
    S3_PRICE_SOURCES,
    S3_PRICES_AS_OF,
    TIERS,
    PriceTable,
)
from glacier_tui.glacier.s3_client import S3Client, S3Options
from glacier_tui.glacier.s3_keys import DEFAULT_PART, MIN_PART, KeyTemplateError
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = ["add_arguments", "run"]

MIB = 1 << 20
DEMO_BUCKET = "demo-bucket"


def _pow2_mib(text: str) -> int:
    value = _positive_int(text)
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two MiB (8, 16, 64 ...), "
                                         f"got {value}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    from glacier_tui.cli import _add_connection_options

    _add_connection_options(p, top_level=False)
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="use the embedded Glacier emulator and a local S3 bucket")
    p.add_argument("--s3-endpoint-url", default=argparse.SUPPRESS, metavar="URL",
                   help="S3 endpoint (default: AWS_ENDPOINT_URL_S3, the profile's services "
                   "section, or AWS); --endpoint-url applies to Glacier only")
    p.add_argument("--db", type=Path, default=None, help="store path (default: data dir)")


def _plan_flags(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--vault", help="vault name")
    p.add_argument("--to", metavar="s3://BUCKET/PREFIX", help="where the objects go")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--path", action="append", metavar="FOLDER",
                      help="a decoded folder, recursively (repeatable)")
    what.add_argument("--all", action="store_true", help="every archive of the vault")
    what.add_argument("--filter", metavar="TEXT",
                      help="archives whose decoded path contains TEXT (case-insensitive)")
    p.add_argument("--storage-class", choices=STORAGE_CLASSES, default="DEEP_ARCHIVE")
    p.add_argument("--tier", choices=TIERS, default=None, help="retrieval tier (default Bulk)")
    p.add_argument("--key-template", default="", metavar="TEMPLATE",
                   help="S3 key from {prefix} {path} {folder} {name} {archive_id} "
                   "{creation_date} {tree_hash} (default {prefix}{path})")
    p.add_argument("--part-size-mib", type=_pow2_mib, default=DEFAULT_PART // MIB,
                   metavar="MIB", help="preferred part size (raised to fit 10,000 parts)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="do only shard I of N (default: AWS_BATCH_JOB_ARRAY_INDEX or "
                   "JOB_COMPLETION_INDEX / AWS_BATCH_JOB_ARRAY_SIZE)")
    p.add_argument("--manifest-dir", type=Path, default=Path("."), metavar="DIR",
                   help="where the manifest is written (default: the current folder)")
    p.add_argument("--inventory", type=Path, default=None, metavar="FILE",
                   help="import this inventory job output first (JSON or CSV)")
    p.add_argument("--prices", type=Path, default=None, metavar="FILE.json",
                   help='override prices, e.g. {"s3": {"DEEP_ARCHIVE.put_per_1000": 0.05}}')
    p.add_argument("--poll-interval", type=_positive_float, default=None, metavar="SECONDS")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="use the embedded Glacier emulator and a local S3 bucket")
    sub = p.add_subparsers(dest="migrate_command", metavar="{plan,run,status,verify,merge}")
    plan = sub.add_parser("plan", help="print the plan and its cost; change nothing")
    _plan_flags(plan)
    r = sub.add_parser("run", help="migrate (resumes an unfinished run of the same plan)")
    _plan_flags(r)
    r.add_argument("--yes", "-y", action="store_true", help="do not ask before starting")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.add_argument("--max-jobs", type=_positive_int, default=None, metavar="N")
    r.add_argument("--budget-usd", type=_positive_float, default=None, metavar="USD")
    r.add_argument("--part-concurrency", type=_positive_int, default=None, metavar="N",
                   help="parts in flight per archive (memory: N x part size; default: "
                   "as many as fit in 128 MiB, at most 12)")
    s = sub.add_parser("status", help="list migrations, or show one")
    _common(s)
    s.add_argument("id", nargs="?", type=_positive_int)
    v = sub.add_parser("verify", help="HEAD every object of a manifest: checksum, type, length")
    _common(v)
    v.add_argument("manifest", type=Path, metavar="MANIFEST")
    v.add_argument("--quiet", action="store_true", help="only the summary")
    m = sub.add_parser("merge", help="join shard manifests; report missing or duplicated")
    m.add_argument("manifests", type=Path, nargs="+", metavar="MANIFEST")
    m.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")


# -- output ------------------------------------------------------------------------------


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    error_line("migrate", text)


def _usd(value: float, unverified: bool) -> str:
    return f"${value:,.2f}" + (" UNVERIFIED" if unverified else "")


# -- entry -------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Any) -> int:
    action = getattr(args, "migrate_command", None)
    try:
        if action is None:
            raise UsageError("choose an action: plan, run, status, verify or merge")
        if action == "merge":
            return _merge(args)
        with ExitStack() as stack:
            env = _environment(args, settings, stack)
            main: Callable[[], Awaitable[int]]
            if action == "verify":
                main = lambda: _verify(args, env)  # noqa: E731
            elif action == "status":
                return _status(args, env)
            else:
                _check_plan_args(args, env)
                main = lambda: _plan_and_run(args, env)  # noqa: E731
            return asyncio.run(main())
    except UsageError as exc:
        _err(f"{exc} (see --help)")
        return EXIT_USAGE
    except KeyTemplateError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except errors.GlacierError as exc:
        _err(exc.user_message())
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted; run the same `glacier-tui migrate run` again to resume")
        return EXIT_FAILED


class _Env:
    """Where things are: Glacier and S3 clients' options, the store, prices."""

    def __init__(self, glacier: ClientOptions, s3: S3Options, store_path: Path,
                 prices: PriceTable, verified_keys: frozenset[str], demo: bool,
                 machine_region: str | None, readonly: bool = False) -> None:
        self.readonly = readonly
        self.glacier = glacier
        self.s3 = s3
        self.store_path = store_path
        self.prices = prices
        self.verified_keys = verified_keys
        self.demo = demo
        self.machine_region = machine_region


def _load_prices(settings: Any, path: Path | None) -> tuple[PriceTable, frozenset[str]]:
    from glacier_tui.restore_cli import _prices

    table = _prices(settings)
    if path is None:
        return table, frozenset()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--prices {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"--prices {path}: expected a JSON object")
    s3 = doc.get("s3") or {}
    try:
        table = table.with_overrides(doc.get("retrieval"), egress_per_gb=doc.get(
            "egress_per_gb")).with_s3({str(k): float(v) for k, v in s3.items()})
    except (TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"--prices {path}: {exc}") from None
    return table, frozenset(str(k) for k in s3)


def _environment(args: argparse.Namespace, settings: Any, stack: ExitStack) -> _Env:
    from glacier_tui.transfers_cli import _client_options

    glacier = _client_options(settings)
    s3_url = getattr(args, "s3_endpoint_url", None) or getattr(settings, "s3_endpoint_url",
                                                                 None)
    store_path = getattr(args, "db", None) or settings.resolved_store_path()
    demo = bool(getattr(args, "demo", False))
    machine = getattr(settings, "machine_region", None)
    if demo:
        from glacier_tui.demo import start_demo
        from glacier_tui.local_s3 import start_local_s3

        backend = start_demo()
        stack.callback(backend.stop)
        glacier = backend.client_options(settings)
        local = start_local_s3()
        stack.callback(local.stop)
        s3_url = s3_url or local.url
        store_path = getattr(args, "db", None) or backend.store_path
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        import boto3

        boto3.client("s3", endpoint_url=local.url, region_name=backend.region,
                     aws_access_key_id=backend.access_key,
                     aws_secret_access_key=backend.secret_key).create_bucket(Bucket=DEMO_BUCKET)
        _out(f"demo: Glacier emulator at {backend.url}, local S3 at {local.url} with bucket "
             f"{DEMO_BUCKET} (both gone when this command ends)")
    s3 = S3Options(profile=glacier.profile, region=glacier.region, endpoint_url=s3_url,
                   access_key=glacier.access_key, secret_key=glacier.secret_key,
                   session_token=glacier.session_token)
    prices, verified = _load_prices(settings, getattr(args, "prices", None))
    return _Env(glacier, s3, Path(store_path), prices, verified, demo, machine,
                readonly=bool(getattr(settings, "readonly", False)))


def _check_plan_args(args: argparse.Namespace, env: _Env) -> None:
    if not args.vault:
        raise UsageError("--vault is required")
    if env.readonly and args.migrate_command == "run":
        raise UsageError("a migration starts retrieval jobs and writes to S3, which "
                         "read-only mode refuses (--readonly / readonly = true); "
                         "`migrate plan` still works")
    if not args.to:
        raise UsageError("--to s3://BUCKET/PREFIX is required")
    try:
        parse_s3_url(args.to)
        parse_shard(args.shard, dict(os.environ))
    except MigrationError as exc:
        raise UsageError(exc.detail) from None
    _selection(args)
    if args.manifest_dir.exists() and not args.manifest_dir.is_dir():
        raise UsageError(f"--manifest-dir {args.manifest_dir}: not a folder")
    if args.inventory is not None and not args.inventory.is_file():
        raise UsageError(f"--inventory {args.inventory}: no such file")


def _selection(args: argparse.Namespace) -> Selection:
    if args.path:
        return Selection.folders(args.path)
    if args.all:
        return Selection.whole_vault()
    if args.filter is not None:
        if not args.filter.strip():
            raise UsageError("--filter needs some text")
        return Selection.matching(args.filter)
    raise UsageError("choose what to migrate: --path, --all or --filter")


# -- plan and run ---------------------------------------------------------------------------


def _sizes(store: Store, cid: int) -> Iterator[int]:
    for (size,) in ms.conn(store).execute(
        "SELECT size FROM campaign_items WHERE campaign=? AND state IN ('planned',"
        " 'requested', 'ready', 'downloading')", (cid,)):
        yield int(size or 0)


async def _regions(glacier: GlacierClient, s3: S3Client, bucket: str,
                   env: _Env) -> tuple[str, str | None, str | None, str]:
    vault_region = glacier.region
    try:
        bucket_region = await s3.bucket_region(bucket)
    except errors.GlacierError as exc:
        raise errors.LocalError(f"cannot reach bucket {bucket!r}: {exc.user_message()}",
                                hint="Create the bucket first, or check --s3-endpoint-url "
                                "and your credentials.") from None
    machine = env.machine_region
    if machine is None and not env.demo:
        machine = await asyncio.to_thread(detect_machine_region)
    if env.demo:  # everything is local: no transfer is billed
        return vault_region, bucket_region, vault_region, TransferKind.IN_REGION
    return vault_region, bucket_region, machine, transfer_kind(vault_region, bucket_region,
                                                               machine)


def _print_plan(store: Store, plan: MigrationPlan, env: _Env, tier: str,
                regions: tuple[str, str | None, str | None, str]) -> None:
    info, row = plan.info, plan.row
    vault_region, bucket_region, machine, transfer = regions
    shard = f", shard {row.shard_index}/{row.shard_count} of {row.selected:,}" if (
        row.shard_count > 1) else ""
    _out(f"migration {info.id}: {info.total_items:,} archive(s), {human_bytes(info.total_bytes)} "
         f"from {inert(info.vault)} ({inert(info.selection.describe())}{shard}) -> "
         f"s3://{inert(row.bucket)}/{inert(row.prefix)} as {row.storage_class}")
    rules = ms.conn(store).execute(
        "SELECT rule, COUNT(*) FROM migration_objects WHERE campaign=? GROUP BY rule"
        " ORDER BY COUNT(*) DESC", (info.id,)).fetchall()
    _out("  keys: " + ", ".join(f"{n:,} by rule {inert(r)}" for r, n in rules)
         + " (rules: decoded path under the prefix; no name -> _unnamed/ID; older "
         "duplicates -> name~DATE~ID12.ext)")
    examples = ms.conn(store).execute(
        "SELECT orig_path, key FROM migration_objects WHERE campaign=? ORDER BY"
        " rule != 'path', item LIMIT 3", (info.id,)).fetchall()
    for orig, key in examples:
        _out(f"    {inert(orig or '(no name)')} -> {inert(key)}")
    sizes = summarize(_sizes(store, info.id), row.part_size, row.min_part)
    done = info.counts.get(ItemState.VERIFIED, 0)
    if done:
        _out(f"  already verified: {done:,}; still to move: {sizes.archives:,} "
             f"({human_bytes(sizes.nbytes)})")
    _out(f"  requests: {sizes.single:,} PutObject, {sizes.multipart:,} multipart uploads "
         f"with {sizes.parts:,} parts")
    where = {TransferKind.IN_REGION: "in the vault's region: transfer $0",
             TransferKind.INTERNET: "outside AWS (no EC2 region found): every byte is "
             "internet egress from the vault's region",
             TransferKind.INTER_REGION: f"in {machine}, not with the vault ({vault_region}) "
             f"and bucket ({bucket_region}): inter-region transfer"}[transfer]
    _out(f"  this machine: {where}")
    if transfer != TransferKind.IN_REGION:
        _out(f"  Running on EC2 (or AWS Batch/EKS) in {vault_region}, with the bucket in "
             f"{vault_region}, avoids the transfer charge entirely.")
    if bucket_region and bucket_region != vault_region:
        _out(f"  note: the bucket is in {bucket_region}, the vault in {vault_region}")
    _out(f"  prices: {env.prices.region} list prices, S3 table as of {S3_PRICES_AS_OF} "
         f"(UNVERIFIED unless overridden with --prices); sources: "
         f"{'; '.join(S3_PRICE_SOURCES[:1])}")
    classes = list(STORAGE_CLASSES)
    header = f"  {'one-off cost':<13}" + "".join(f"{c:>16}" for c in classes)
    _out("  one-off = retrieval + jobs + transfer + S3 requests (every part counted)")
    _out(header)
    for t in TIERS:
        cells = []
        for c in classes:
            cost = migration_cost(env.prices, sizes, t, c, transfer,
                                  verified_keys=env.verified_keys)
            mark = "*" if (t, c) == (tier, row.storage_class) else ""
            cells.append(f"{mark}${cost.one_off_usd:,.2f}")
        _out(f"  {t:<13}" + "".join(f"{x:>16}" for x in cells))
    month = [migration_cost(env.prices, sizes, tier, c, transfer,
                            verified_keys=env.verified_keys) for c in classes]
    _out(f"  {'storage/month':<13}" + "".join(f"{'$' + format(m.storage_month_usd, ',.2f'):>16}"
                                          for m in month))
    _out(f"  {'minimum days':<13}" + "".join(f"{m.min_days:>16}" for m in month))
    _out(f"  {'commitment':<13}" + "".join(f"{'$' + format(m.commitment_usd, ',.2f'):>16}"
                                        for m in month))
    chosen = migration_cost(env.prices, sizes, tier, row.storage_class, transfer,
                            verified_keys=env.verified_keys)
    u = chosen.unverified
    _out(f"  * {tier} into {row.storage_class}: retrieval {_usd(chosen.retrieval_usd, False)}"
         f" + {chosen.archives:,} jobs {_usd(chosen.retrieval_requests_usd, False)}, transfer "
         f"{_usd(chosen.transfer_usd, u and transfer == TransferKind.INTER_REGION)}, "
         f"{chosen.put_requests:,} S3 requests {_usd(chosen.s3_requests_usd, u)}, one HEAD "
         f"audit {_usd(chosen.audit_usd, u)}; then {_usd(chosen.storage_month_usd, u)} a "
         f"month, at least {chosen.min_days} days ({_usd(chosen.commitment_usd, u)}); "
         "per object 32 KB at the class rate + 8 KB at STANDARD counted")
    _out("  while a multipart upload is open its parts are billed as STANDARD storage "
         "(minutes per archive here, so cents at most); abort leftovers with an "
         "AbortIncompleteMultipartUpload lifecycle rule")
    _out("  the vault keeps billing storage until its archives are deleted (deleting "
         "within 90 days of upload bills the rest of the 90 days)")


async def _vault_key(glacier: GlacierClient, store: Store, vault: str) -> str:
    from glacier_tui.restore_cli import _vault_key as key

    return await key(glacier, store, vault)


async def _plan_and_run(args: argparse.Namespace, env: _Env) -> int:
    from glacier_tui.restore_cli import _confirm, _Display, _ensure_inventory

    bucket, prefix = parse_s3_url(args.to)
    tier = str(args.tier or ("Expedited" if env.demo else "Bulk"))
    poll = args.poll_interval or (2.0 if env.demo else POLL_BY_TIER[tier])
    shard = parse_shard(args.shard, dict(os.environ))
    run_it = args.migrate_command == "run"
    store = Store(env.store_path)
    try:
        async with GlacierClient(env.glacier) as glacier, S3Client(env.s3) as s3:
            key = await _vault_key(glacier, store, args.vault)
            await _ensure_inventory(args, glacier, store, key, poll)
            limits = Limits(max_jobs_in_flight=getattr(args, "max_jobs", None) or 100,
                            budget_usd=getattr(args, "budget_usd", None))
            spec = MigrationSpec(
                args.vault, key, _selection(args), tier, bucket, prefix,
                args.manifest_dir.expanduser().absolute(), args.storage_class,
                args.key_template, args.part_size_mib * MIB, MIN_PART, shard, limits)
            plan = await asyncio.to_thread(plan_migration, store, spec)
            if plan.resumed:
                _out(f"resuming migration {plan.info.id} (same vault, selection, target)")
            regions = await _regions(glacier, s3, bucket, env)
            _print_plan(store, plan, env, tier, regions)
            if not run_it:
                if not plan.resumed:
                    await asyncio.to_thread(ms.delete_migration, store, plan.info.id)
                _out("plan only: nothing requested")
                return EXIT_OK
            if regions[3] != TransferKind.IN_REGION and not args.yes:
                _out("  (transfer is billed; --yes confirms without asking)")
            if not _confirm(args):
                _out("not started")
                return EXIT_FAILED
            sink = MigrationSink(glacier, s3, store, plan.row,
                                 part_concurrency=args.part_concurrency)
            options = EngineOptions(poll_interval=poll, prices=env.prices,
                                    machine_region=regions[2], progress_interval=0.5,
                                    sink=sink)
            display = _Display(enabled=not args.quiet, total=plan.info.total_items)
            with display:
                info = await run_campaign(glacier, store, plan.info.id, options=options,
                                          on_progress=display.update)
            return _report(info, plan, sink)
    finally:
        store.close()


def _report(info: Any, plan: MigrationPlan, sink: MigrationSink) -> int:
    row = plan.row
    path = migration_manifest_path(Path(info.destination), info.id,
                                   (row.shard_index, row.shard_count))
    if info.all_verified and sink.already == info.total_items:
        _out(f"already in S3: all {info.total_items:,} object(s) match (HEAD); nothing "
             "retrieved or uploaded")
    elif info.all_verified:
        _out(f"every archive verified in S3: {info.total_items:,} object(s), "
             f"{human_bytes(info.total_bytes)} ({sink.already:,} already there, "
             f"{sink.parts_uploaded:,} parts/objects uploaded)")
    else:
        counts = ", ".join(f"{s.value} {n:,}" for s, n in info.counts.items() if n)
        _out(f"migration {info.id} {info.status.value}: {counts}")
        if info.message:
            _out(f"  {inert(info.message)}")
    _out(f"manifest: {inert(str(path))}")
    if info.all_verified:
        return EXIT_OK
    if info.status in (CampaignStatus.PAUSED, CampaignStatus.RUNNING):
        _err("not finished: run the same `glacier-tui migrate run` again to resume")
    return EXIT_FAILED


# -- status / verify / merge --------------------------------------------------------------------


def _status(args: argparse.Namespace, env: _Env) -> int:
    store = Store(env.store_path)
    try:
        rows = ms.migrations(store)
        if args.id is not None:
            rows = [r for r in rows if r.campaign == args.id]
            if not rows:
                raise UsageError(f"there is no migration {args.id}")
        if not rows:
            _out("no migrations")
        ok = True
        for row in rows:
            info = get_campaign(store, row.campaign)
            verified = info.counts.get(ItemState.VERIFIED, 0)
            ok = ok and info.all_verified
            shard = f" shard {row.shard_index}/{row.shard_count}" if row.shard_count > 1 else ""
            _out(f"{info.id:>4}  {info.status.value:<10} {verified:,}/{info.total_items:,} "
                 f"in S3  {human_bytes(info.verified_bytes)}/{human_bytes(info.total_bytes)}  "
                 f"{inert(info.vault)} -> s3://{inert(row.bucket)}/{inert(row.prefix)} "
                 f"{row.storage_class} {info.tier}{shard}")
            if args.id is not None:
                bad = campaign_items(store, info.id, states=[ItemState.FAILED,
                                                             ItemState.SKIPPED])
                path = migration_manifest_path(info.destination, info.id,
                                               (row.shard_index, row.shard_count))
                for line in (counts_line(info.counts), *message_lines(info.message),
                             *problem_lines((i.state.value, i.path, i.reason) for i in bad),
                             *manifest_lines(path)):
                    _out(line)
        return EXIT_OK if ok else EXIT_FAILED
    finally:
        store.close()


async def _verify(args: argparse.Namespace, env: _Env) -> int:
    async with S3Client(env.s3) as s3:
        check = await verify_s3_manifest(s3, args.manifest)
    if not args.quiet:
        for problem in check.problems:
            _out(f"{problem.problem}: {inert(problem.key)}")
    if check.problem_count > len(check.problems):
        _out(f"... and {check.problem_count - len(check.problems):,} more")
    _out(f"{check.ok:,} of {check.rows:,} object(s) verified by HEAD ({check.heads:,} HEAD "
         f"requests, no data read) against {inert(str(args.manifest))}")
    return EXIT_OK if check.all_ok else EXIT_FAILED


def _merge(args: argparse.Namespace) -> int:
    report = merge_manifests(args.manifests, args.output)
    _out(f"merged {len(args.manifests)} manifest(s): {report.rows:,} row(s), "
         f"{report.verified:,} verified -> {inert(str(args.output))}")
    if report.missing_shards:
        _out(f"missing shard(s): {', '.join(map(str, report.missing_shards))} of "
             f"{report.shard_count}")
    if report.duplicates:
        _out(f"duplicated archive(s): {len(report.duplicates):,}, e.g. "
             f"{inert(report.duplicates[0])}")
    if report.not_verified:
        _out(f"not verified: {len(report.not_verified):,}, e.g. "
             f"{inert(report.not_verified[0])}")
    if report.missing:
        _out(f"missing: {report.missing:,} archive(s) of the {report.selected:,} selected "
             "have no row")
    return EXIT_OK if report.all_ok else EXIT_FAILED

