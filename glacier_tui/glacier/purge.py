"""Verified close-out of a vault: delete archives only when each is proven safe elsewhere.

A *purge* is planned from the vault's latest inventory in the local store and proof
manifests (restore campaigns: files on disk, re-hashed; migrations: S3 objects checked
with ``HeadObject``, see :mod:`~glacier_tui.glacier.purge_proofs`). Every archive is
classified:

* **proven** — a copy was verified against the inventory's tree hash: deletable;
* **unproven** — no copy, a copy that does not match, or one verified against another
  tree hash: never deleted;
* **young** — proven, but younger than 90 days: deleting it costs the early-deletion fee,
  so it is kept unless the fee is accepted.

:class:`~glacier_tui.glacier.purge_engine.PurgeRunner` then deletes the deletable ones
(resumable after a kill, throttle-aware) and, once an inventory shows the vault empty,
the vault. The plan, each archive's state and ``deleted_at`` live in the store
(:mod:`~glacier_tui.glacier.purge_store`); a per-archive manifest is written atomically.

No Textual here; the CLI (``glacier-tui purge``) and the TUI's close-out screen are two
presentations of these functions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from glacier_tui.glacier import errors
from glacier_tui.glacier import purge_store as db
from glacier_tui.glacier.client import GlacierClient
from glacier_tui.glacier.pricing import DEFAULT_PRICES, PriceTable
from glacier_tui.glacier.purge_engine import PurgeRunner, expected_inventory_at
from glacier_tui.glacier.purge_lock import describe_delete_denial
from glacier_tui.glacier.purge_proofs import (
    HeadObject,
    ManifestHead,
    ProofRow,
    check_migration_rows,
    read_head,
    restore_proofs,
    s3_head_function,
)
from glacier_tui.glacier.purge_types import (
    ArchiveClass,
    ItemState,
    ProofSource,
    PurgeError,
    PurgeInfo,
    PurgeNotFound,
    PurgeOptions,
    PurgeProgress,
    PurgeSpec,
    PurgeStatus,
    RunOptions,
)
from glacier_tui.glacier.sanitize import inert
from glacier_tui.glacier.store import Store

__all__ = [
    "ArchiveClass",
    "ItemState",
    "PurgeError",
    "PurgeInfo",
    "PurgeNotFound",
    "PurgeOptions",
    "PurgeProgress",
    "PurgeRunner",
    "PurgeSpec",
    "PurgeStatus",
    "RunOptions",
    "cancel_purge",
    "check_manifests",
    "expected_inventory_at",
    "find_unfinished",
    "forget_deleted",
    "get_purge",
    "has_purges",
    "kept_examples",
    "list_purges",
    "plan_purge",
    "problem_examples",
    "run_purge",
    "write_dry_run",
    "write_purge_manifest",
]

_PROOF_BATCH = 2000
StepCallback = Callable[[str], None]


def check_manifests(paths: tuple[Path, ...], vault: str,
                    store: Store | None = None) -> list[ManifestHead]:
    """Read each manifest's kind and vault; refuse one of another vault, or of none."""
    heads: list[ManifestHead] = []
    for path in paths:
        head = read_head(path, store)
        if head.vault is None:
            raise PurgeError(
                f"{inert(str(path))} does not say which vault it belongs to: refused",
                hint="Give the restore manifest's .json file (it names the vault), or a "
                     "migration manifest with a vault column.")
        if head.vault != vault:
            raise PurgeError(
                f"{inert(str(path))} is a manifest of vault {inert(head.vault)}, not "
                f"{inert(vault)}: refused")
        heads.append(head)
    return heads


@asynccontextmanager
async def open_s3_head(options: PurgeOptions) -> AsyncIterator[HeadObject]:
    """A HeadObject function over the project's S3 client (deadlines, standard retries)."""
    from glacier_tui.glacier.s3_client import S3Client, S3Options

    s3_options = S3Options(profile=options.s3_profile, region=options.s3_region,
                           endpoint_url=options.s3_endpoint_url,
                           max_pool_connections=max(10, options.head_concurrency))
    async with S3Client(s3_options) as s3:
        yield s3_head_function(s3)


def _restore_into(store: Store, purge_id: int, path: Path, max_age_days: float | None,
                  now: float, on_step: StepCallback | None) -> None:
    batch: list[ProofRow] = []

    def seen(n: int) -> None:
        if on_step is not None and n % 1000 == 0:
            on_step(f"{path.name}: {n:,} rows checked")

    for proof in restore_proofs(path, max_age_days=max_age_days, now=now, on_row=seen):
        batch.append(proof)
        if len(batch) >= _PROOF_BATCH:
            db.add_proofs(store, purge_id, batch)
            batch.clear()
    db.add_proofs(store, purge_id, batch)


async def _migration_into(store: Store, purge_id: int, path: Path, head: HeadObject,
                          concurrency: int, on_step: StepCallback | None) -> None:
    batch: list[ProofRow] = []

    def seen(n: int) -> None:
        if on_step is not None:
            on_step(f"{path.name}: {n:,} objects checked in S3")

    async for proof in check_migration_rows(path, head, concurrency=concurrency,
                                            on_row=seen):
        batch.append(proof)
        if len(batch) >= _PROOF_BATCH:
            await asyncio.to_thread(db.add_proofs, store, purge_id, list(batch))
            batch.clear()
    await asyncio.to_thread(db.add_proofs, store, purge_id, batch)


async def plan_purge(
    glacier: GlacierClient | None,
    store: Store,
    spec: PurgeSpec,
    *,
    options: PurgeOptions | None = None,
    head: HeadObject | None = None,
    on_step: StepCallback | None = None,
) -> PurgeInfo:
    """Check the proofs and classify every archive of the vault's stored inventory.

    Sends no mutating request: restore proofs re-hash files on disk, migration proofs
    send one S3 HeadObject per row (``head``, or a client from ``options``), and with a
    ``glacier`` client the vault lock policy is read (GetVaultLock) to explain it.
    An earlier plan of the vault that never started is replaced. Raises
    :class:`PurgeError` for a manifest of another vault, a vault with no stored
    inventory, or a purge of the vault already under way.
    """
    options = options or PurgeOptions()
    now = options.now if options.now is not None else time.time()
    heads = await asyncio.to_thread(check_manifests, spec.proofs, spec.vault, store)
    pid = await asyncio.to_thread(db.create, store, spec, now=now)
    try:
        for h in heads:
            if on_step is not None:
                on_step(f"checking {h.path.name} ({h.kind.value} manifest)")
            if h.kind is ProofSource.RESTORE:
                await asyncio.to_thread(_restore_into, store, pid, h.path,
                                        spec.max_proof_age_days, now, on_step)
            elif head is not None:
                await _migration_into(store, pid, h.rows_path, head,
                                      options.head_concurrency, on_step)
            else:
                async with open_s3_head(options) as s3_head:
                    await _migration_into(store, pid, h.rows_path, s3_head,
                                          options.head_concurrency, on_step)
        lock_note = ""
        if glacier is not None:
            try:
                lock = await glacier.get_vault_lock(spec.vault)
            except errors.GlacierError:
                lock = None
            if lock is not None:
                lock_note = describe_delete_denial(lock.policy, lock.state) or ""
        return await asyncio.to_thread(db.classify, store, pid, lock_note=lock_note)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(db.delete, store, pid))
        raise


async def run_purge(
    glacier: GlacierClient,
    store: Store,
    purge_id: int,
    *,
    options: RunOptions | None = None,
    on_progress: Callable[[PurgeProgress], None] | None = None,
) -> PurgeInfo:
    """Run a planned (or interrupted) purge to its next resting point; see PurgeRunner."""
    return await PurgeRunner(glacier, store, purge_id, options=options,
                             on_progress=on_progress).run()


def get_purge(store: Store, purge_id: int, prices: PriceTable = DEFAULT_PRICES) -> PurgeInfo:
    return db.get(store, purge_id, prices)


def list_purges(store: Store) -> list[PurgeInfo]:
    return db.list_all(store)


def find_unfinished(store: Store, vault_key: str) -> PurgeInfo | None:
    return db.find_unfinished(store, vault_key)


def cancel_purge(store: Store, purge_id: int) -> PurgeInfo:
    """Stop a purge for good: nothing more is deleted (what was deleted stays deleted)."""
    return db.cancel(store, purge_id)


def drop_purge(store: Store, purge_id: int) -> None:
    """Forget a plan (a dry run's, or one not started)."""
    db.delete(store, purge_id)


def write_purge_manifest(store: Store, purge_id: int, path: Path) -> Path:
    """Every archive with its class, state and deleted-at, as CSV (atomic)."""
    return db.write_manifest(store, purge_id, path)


def write_dry_run(store: Store, purge_id: int, path: Path) -> int:
    """The archives a run would delete, as CSV (atomic); returns how many."""
    return db.write_dry_run(store, purge_id, path)


def kept_examples(store: Store, purge_id: int, limit: int = 20) -> list[tuple[str, str, str]]:
    """(path, class, reason) of a few archives the plan keeps."""
    return db.kept(store, purge_id, limit)


def problem_examples(store: Store, purge_id: int,
                     limit: int = 20) -> list[tuple[str, str, str]]:
    """(path, state, reason) of a few refused or failed archives."""
    return db.problems(store, purge_id, states=(ItemState.REFUSED, ItemState.FAILED),
                       limit=limit)


def forget_deleted(store: Store, purge_id: int) -> int:
    """Drop the archives the purge found deleted from the vault's cached inventory (so
    browsing and a later plan no longer list them); returns how many were dropped."""
    info = db.get(store, purge_id)
    ids = db.removed_ids(store, purge_id)
    if not ids or store.current_snapshot_id(info.vault_key) is None:
        return 0
    return store.remove_archives(info.vault_key, ids)


def has_purges(store: Store) -> bool:
    """Whether any purge was ever planned in this store (creates nothing)."""
    return db.exists(store)
