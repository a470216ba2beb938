"""The plan of a purge in words: one list of lines for the CLI and the TUI alike."""

from __future__ import annotations

from glacier_tui.glacier.pricing import VAULT_MIN_STORAGE_DAYS, PriceTable
from glacier_tui.glacier.purge_types import ArchiveClass, ItemState, PurgeInfo, PurgeStatus
from glacier_tui.glacier.sanitize import inert

__all__ = ["describe_plan", "human_bytes", "usd"]


def usd(value: float) -> str:
    """Dollars, with amounts under a cent shown as such rather than as $0.00."""
    return "<$0.01" if 0 < value < 0.005 else f"${value:,.2f}"


def human_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} PiB"  # pragma: no cover


def describe_plan(info: PurgeInfo, prices: PriceTable) -> list[str]:
    """The plan as lines of text (also used by the TUI's close-out screen)."""
    lines = [f"purge {info.id} of vault {inert(info.vault)} (inventory of "
             f"{inert(info.inventory_date or '?')}, {sum(n for n, _ in info.classes.values()):,}"
             " archives)"]
    notes = {
        ArchiveClass.PROVEN: "copy verified against the inventory's tree hash: deletable",
        ArchiveClass.UNPROVEN: "no copy, or one that does not match: kept",
        ArchiveClass.YOUNG: f"proven but younger than {VAULT_MIN_STORAGE_DAYS} days: kept "
                            "(accepting the early-deletion fee deletes them)",
    }
    for cls in ArchiveClass:
        lines.append(f"  {cls.value:<9} {info.count(cls):>10,}  {human_bytes(info.nbytes(cls)):>11}"
                     f"  {notes[cls]}")
    deletable = info.deletable
    lines.append(f"  to delete: {deletable:,} archive(s)")
    if info.early_fee_usd:
        state = "accepted" if info.accept_early_fee else "not accepted: those archives are kept"
        lines.append(f"  early-deletion fee: {usd(info.accepted_fee_usd)} for what is deleted"
                     f" ({usd(info.early_fee_usd)} for every young proven archive; {state})")
    else:
        lines.append("  early-deletion fee: $0.00 (no proven archive is younger than "
                     f"{VAULT_MIN_STORAGE_DAYS} days)")
    lines.append(f"  storage saved: {usd(info.monthly_saving_usd)} a month ({prices.region} "
                 f"list prices of {prices.as_of}; an estimate, not a bill)")
    kept = info.in_state(ItemState.KEPT)
    if info.keep_vault:
        lines.append("  vault: kept (--keep-vault)")
    elif kept:
        lines.append(f"  vault: kept, {kept:,} archive(s) stay in it")
    else:
        lines.append("  vault: deleted once an inventory shows it empty (about a day after "
                     "the last archive)")
    if info.status is PurgeStatus.PLANNED and info.message:
        lines.append(f"  note: {inert(info.message)}")
    if info.lock_note:
        lines.append(f"  lock: {inert(info.lock_note)}; archives it protects are reported, "
                     "not retried")
    return lines
