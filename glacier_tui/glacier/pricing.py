"""The one price table: retrieval per tier, requests, vault storage, internet egress.

Every cost shown anywhere (the restore dialog, ``glacier-tui restore``, a campaign's
"cost so far") is computed here from :data:`DEFAULT_PRICES`, optionally overridden
from the settings (``prices`` per tier, ``egress_price_per_gb``,
``storage_price_per_gb_month``). The table is keyed by *service* so that S3 storage
classes can join it later (``s3`` is reserved for that) without a second table.

Figures are us-east-1 list prices in USD; they are estimates, not a bill (free tiers,
volume discounts and other regions are not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final

__all__ = [
    "DEFAULT_PRICES",
    "GB",
    "S3_PRICES",
    "S3_PRICES_AS_OF",
    "S3_PRICE_SOURCES",
    "TIER_HOURS",
    "CostEstimate",
    "PriceTable",
    "TierPrice",
    "estimate",
    "tier_eta_seconds",
]

# AWS bills per GB = 2^30 bytes for data retrieval and transfer.
GB: Final = 1 << 30

PRICES_AS_OF: Final = "2025-01-01"
PRICE_SOURCES: Final = (
    "https://aws.amazon.com/s3/glacier/pricing/",
    "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
)

# Typical completion time of one retrieval job, in hours (low, high), from
# https://docs.aws.amazon.com/amazonglacier/latest/dev/downloading-an-archive-two-steps.html
TIER_HOURS: Final[Mapping[str, tuple[float, float]]] = {
    "Expedited": (1 / 60, 5 / 60),
    "Standard": (3.0, 5.0),
    "Bulk": (5.0, 12.0),
}
TIERS: Final[tuple[str, ...]] = tuple(TIER_HOURS)  # fastest first
# Seconds between job listings while a campaign waits: a fraction of the tier's shortest job.
POLL_BY_TIER: Final[Mapping[str, float]] = {"Expedited": 60.0, "Standard": 900.0, "Bulk": 1800.0}


@dataclass(frozen=True)
class TierPrice:
    """Price of one retrieval tier: per GB retrieved and per 1,000 InitiateJob requests."""

    per_gb: float
    per_1000_requests: float


@dataclass(frozen=True)
class PriceTable:
    """All prices the app uses. Build variants with :meth:`with_overrides`."""

    retrieval: Mapping[str, TierPrice]
    vault_storage_per_gb_month: float
    egress_per_gb: float  # data transfer out to the internet, first 10 TB a month
    provisioned_capacity_per_unit_month: float
    region: str = "us-east-1"
    as_of: str = PRICES_AS_OF
    sources: tuple[str, ...] = PRICE_SOURCES
    # S3 prices for migration, flat "<CLASS>.<item>" keys (see S3_PRICES).
    s3: Mapping[str, float] = field(default_factory=dict)

    def tier(self, tier: str) -> TierPrice:
        """The prices of ``tier`` (KeyError for an unknown tier)."""
        return self.retrieval[str(tier)]

    def retrieval_cost(self, tier: str, nbytes: int, requests: int) -> tuple[float, float]:
        """(data retrieval USD, request USD) for ``nbytes`` over ``requests`` jobs."""
        t = self.tier(tier)
        return nbytes / GB * t.per_gb, requests / 1000 * t.per_1000_requests

    def egress_cost(self, nbytes: int) -> float:
        return nbytes / GB * self.egress_per_gb

    def with_overrides(
        self,
        tiers: Mapping[str, Mapping[str, float]] | None = None,
        *,
        egress_per_gb: float | None = None,
        vault_storage_per_gb_month: float | None = None,
    ) -> PriceTable:
        """A copy with some prices replaced (unknown tiers are added as given)."""
        retrieval = dict(self.retrieval)
        for name, values in (tiers or {}).items():
            base = retrieval.get(name, TierPrice(0.0, 0.0))
            retrieval[name] = TierPrice(
                float(values.get("per_gb", base.per_gb)),
                float(values.get("per_1000_requests", base.per_1000_requests)),
            )
        return replace(
            self,
            retrieval=retrieval,
            egress_per_gb=self.egress_per_gb if egress_per_gb is None else egress_per_gb,
            vault_storage_per_gb_month=(
                self.vault_storage_per_gb_month
                if vault_storage_per_gb_month is None else vault_storage_per_gb_month
            ),
        )

    def with_s3(self, overrides: Mapping[str, float]) -> PriceTable:
        """A copy with some S3 prices (``"DEEP_ARCHIVE.put_per_1000"`` etc.) replaced."""
        return replace(self, s3={**self.s3, **{k: float(v) for k, v in overrides.items()}})

    def tier_dicts(self) -> dict[str, dict[str, float]]:
        """The retrieval prices as plain dicts (the settings' ``prices`` shape)."""
        return {
            k: {"per_gb": v.per_gb, "per_1000_requests": v.per_1000_requests}
            for k, v in self.retrieval.items()
        }


# S3 prices for vault -> S3 migration (us-east-1, USD). None of them could be checked
# against aws.amazon.com/s3/pricing (its tables load by script): they come from
# secondary pages and are shown as UNVERIFIED next to every figure that uses them.
# Keys: "<STORAGE CLASS>.storage_gb_month", "<CLASS>.put_per_1000" (PUT, COPY, POST,
# LIST), "<CLASS>.min_days" (minimum storage duration), "STANDARD.get_per_1000" (GET
# and HEAD), "transfer.inter_region_per_gb".
S3_PRICES_AS_OF: Final = "2026-12-02"
S3_PRICES_VERIFIED: Final = False
S3_PRICE_SOURCES: Final = (
    "https://aws.amazon.com/s3/pricing/ (tables not readable; figures from secondary pages)",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
    "archival-storage-objects.html (32 KB + 8 KB per archived object)",
)
S3_PRICES: Final[Mapping[str, float]] = {
    "STANDARD.storage_gb_month": 0.023,
    "STANDARD.put_per_1000": 0.005,
    "STANDARD.get_per_1000": 0.0004,
    "STANDARD.min_days": 0,
    "GLACIER_IR.storage_gb_month": 0.004,
    "GLACIER_IR.put_per_1000": 0.02,
    "GLACIER_IR.min_days": 90,
    "GLACIER.storage_gb_month": 0.0036,
    "GLACIER.put_per_1000": 0.03,
    "GLACIER.min_days": 90,
    "DEEP_ARCHIVE.storage_gb_month": 0.00099,
    "DEEP_ARCHIVE.put_per_1000": 0.05,
    "DEEP_ARCHIVE.min_days": 180,
    "transfer.inter_region_per_gb": 0.02,
}

DEFAULT_PRICES: Final = PriceTable(
    retrieval={
        "Expedited": TierPrice(per_gb=0.03, per_1000_requests=10.0),
        "Standard": TierPrice(per_gb=0.01, per_1000_requests=0.05),
        "Bulk": TierPrice(per_gb=0.0025, per_1000_requests=0.025),
    },
    vault_storage_per_gb_month=0.0036,
    egress_per_gb=0.09,
    provisioned_capacity_per_unit_month=100.0,
    s3=S3_PRICES,
)


@dataclass(frozen=True)
class CostEstimate:
    """What a retrieval of ``archives`` archives / ``nbytes`` bytes in ``tier`` costs and takes."""

    tier: str
    archives: int
    nbytes: int
    retrieval_usd: float
    requests_usd: float
    egress_usd: float
    egress_applies: bool  # the endpoint's region differs from the machine's (or unknown)
    eta_seconds: tuple[float, float]  # (best, worst) wall time to have every job done

    @property
    def total_usd(self) -> float:
        return self.retrieval_usd + self.requests_usd + self.egress_usd


def tier_eta_seconds(
    tier: str,
    archives: int,
    nbytes: int,
    *,
    max_jobs_in_flight: int,
    bytes_per_hour: int | None = None,
) -> tuple[float, float]:
    """(best, worst) seconds until every job of a campaign has completed.

    Jobs run in waves of ``max_jobs_in_flight``; each wave takes the tier's typical
    job time. A bytes-per-hour limit (the user's budget or the vault's retrieval
    policy) stretches it further. Download time is not included.
    """
    if archives <= 0:
        return 0.0, 0.0
    lo, hi = TIER_HOURS.get(str(tier), TIER_HOURS["Standard"])
    waves = math.ceil(archives / max(1, max_jobs_in_flight))
    best, worst = waves * lo * 3600, waves * hi * 3600
    if bytes_per_hour:
        paced = nbytes / bytes_per_hour * 3600
        best, worst = max(best, paced + lo * 3600), max(worst, paced + hi * 3600)
    return best, worst


def estimate(
    prices: PriceTable,
    tier: str,
    archives: int,
    nbytes: int,
    *,
    endpoint_region: str | None,
    machine_region: str | None,
    max_jobs_in_flight: int = 100,
    bytes_per_hour: int | None = None,
) -> CostEstimate:
    """Cost and time of retrieving ``archives`` archives totalling ``nbytes`` in ``tier``.

    Egress is charged when the machine is not in the endpoint's region (an unknown
    machine region counts as "outside AWS").
    """
    retrieval, requests = prices.retrieval_cost(tier, nbytes, archives)
    egress_applies = not machine_region or machine_region != endpoint_region
    egress = prices.egress_cost(nbytes) if egress_applies else 0.0
    eta = tier_eta_seconds(tier, archives, nbytes, max_jobs_in_flight=max_jobs_in_flight,
                           bytes_per_hour=bytes_per_hour)
    return CostEstimate(str(tier), archives, nbytes, retrieval, requests, egress,
                        egress_applies, eta)


# -- closing a vault out: early-deletion fee and storage saved ---------------------------
# An archive deleted within 90 days of its creation is billed for the remaining days
# ("pro-rated charge equal to the storage charge for the remaining days",
# https://aws.amazon.com/s3/glacier/pricing/). Each archive also stores 32 KiB of index
# and metadata billed at the vault rate
# (https://docs.aws.amazon.com/amazonglacier/latest/dev/uploading-an-archive.html).
VAULT_MIN_STORAGE_DAYS: Final = 90
VAULT_ARCHIVE_OVERHEAD_BYTES: Final = 32 * 1024
_DAYS_PER_MONTH: Final = 30.0


def vault_storage_month_usd(prices: PriceTable, nbytes: int, archives: int) -> float:
    """USD a month that ``archives`` archives of ``nbytes`` bytes cost in a vault."""
    billed = nbytes + archives * VAULT_ARCHIVE_OVERHEAD_BYTES
    return billed / GB * prices.vault_storage_per_gb_month


def early_deletion_fee_usd(prices: PriceTable, byte_days_left: float) -> float:
    """The fee for deleting early: the storage of ``byte_days_left`` (bytes x the days
    each archive still had to reach 90), at the vault rate."""
    return byte_days_left / GB * prices.vault_storage_per_gb_month / _DAYS_PER_MONTH
