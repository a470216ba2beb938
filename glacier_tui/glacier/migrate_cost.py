"""What a vault -> S3 migration costs, per retrieval tier and S3 storage class.

Per archive of S bytes moved in N = ceil(S / P) parts (P from ``s3_keys.part_size``):

* vault retrieval: tier $/GB x S, plus tier $/1,000 x one job per archive;
* transfer: $0 when this machine runs in the vault's region (EC2, Batch, EKS) and the
  bucket is there too; from outside AWS every byte is internet egress billed by the
  vault's region; from EC2 in another region it is inter-region transfer;
* S3 requests, every part counted: into GLACIER or DEEP_ARCHIVE a multipart upload is
  (1 + N) requests at the STANDARD PUT price plus 1 at the class's; into other classes
  (2 + N) at the class's; a single PutObject is 1 at the class's; the later audit is
  one HEAD (GET price);
* storage a month: GLACIER/DEEP_ARCHIVE bill (S + 32 KiB) at the class rate plus
  8 KiB at the STANDARD rate per object; GLACIER_IR bills at least 128 KiB; and the
  commitment: the minimum storage duration (180 days for DEEP_ARCHIVE) is billed even
  if the object is deleted earlier.

Sources: "Amazon S3 pricing" (aws.amazon.com/s3/pricing/) and "Understanding archival
storage in S3 Glacier Flexible Retrieval and S3 Glacier Deep Archive"
(docs.aws.amazon.com/AmazonS3/latest/userguide/archival-storage-objects.html). All prices
come from :mod:`pricing` (one table); figures that use a shipped S3 price are UNVERIFIED.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from glacier_tui.glacier.pricing import GB, PriceTable
from glacier_tui.glacier.s3_keys import part_size

__all__ = ["MigrationCost", "SizeSummary", "TransferKind", "detect_machine_region",
           "migration_cost", "summarize", "transfer_kind"]

KIB: Final = 1024
ARCHIVAL: Final = ("GLACIER", "DEEP_ARCHIVE")


@dataclass(frozen=True)
class SizeSummary:
    archives: int = 0
    nbytes: int = 0
    single: int = 0  # archives sent as one PutObject
    multipart: int = 0  # archives sent as multipart uploads
    parts: int = 0  # UploadPart calls of those
    gir_billable: int = 0  # sum of max(S, 128 KiB)


def summarize(sizes: Iterable[int], preferred: int, minimum: int) -> SizeSummary:
    archives = nbytes = single = multipart = parts = gir = 0
    for size in sizes:
        archives += 1
        nbytes += size
        gir += max(size, 128 * KIB)
        p = part_size(size, preferred, minimum=minimum)
        if size <= p:
            single += 1
        else:
            multipart += 1
            parts += -(-size // p)
    return SizeSummary(archives, nbytes, single, multipart, parts, gir)


class TransferKind:
    IN_REGION: Final = "in-region"
    INTERNET: Final = "internet"
    INTER_REGION: Final = "inter-region"


def transfer_kind(vault_region: str, bucket_region: str | None,
                  machine_region: str | None) -> str:
    """How the bytes travel: vault -> this machine -> bucket."""
    if not machine_region:
        return TransferKind.INTERNET
    if machine_region == vault_region and (bucket_region in (None, vault_region)):
        return TransferKind.IN_REGION
    return TransferKind.INTER_REGION


def detect_machine_region() -> str | None:
    """This machine's AWS region from EC2 instance metadata (IMDSv2); ``None`` off EC2
    or when ``AWS_EC2_METADATA_DISABLED`` is true."""
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return None
    try:
        from botocore.utils import InstanceMetadataRegionFetcher

        region = InstanceMetadataRegionFetcher(timeout=1, num_attempts=1).retrieve_region()
    except Exception:  # any failure means "not known to be on EC2"
        return None
    return str(region) if region else None


@dataclass(frozen=True)
class MigrationCost:
    tier: str
    storage_class: str
    archives: int
    nbytes: int
    retrieval_usd: float
    retrieval_requests_usd: float
    transfer: str
    transfer_usd: float
    put_requests: int
    s3_requests_usd: float
    audit_usd: float
    storage_month_usd: float
    min_days: int
    unverified: bool  # a shipped (unchecked) S3 price is in these figures

    @property
    def one_off_usd(self) -> float:
        return (self.retrieval_usd + self.retrieval_requests_usd + self.transfer_usd
                + self.s3_requests_usd)

    @property
    def commitment_usd(self) -> float:
        """Storage billed for the minimum duration even if deleted earlier."""
        return self.storage_month_usd * self.min_days / 30


def _s3(prices: PriceTable, key: str) -> float:
    try:
        return float(prices.s3[key])
    except KeyError:
        raise KeyError(f"no S3 price {key!r} in the price table") from None


def migration_cost(prices: PriceTable, sizes: SizeSummary, tier: str, storage_class: str,
                   transfer: str, *, verified_keys: frozenset[str] = frozenset()
                   ) -> MigrationCost:
    """The cost of moving ``sizes`` with ``tier`` into ``storage_class``.

    ``verified_keys``: S3 price keys the user supplied (not marked UNVERIFIED).
    """
    used: set[str] = set()

    def s3(key: str) -> float:
        used.add(key)
        return _s3(prices, key)

    retrieval, retrieval_requests = prices.retrieval_cost(tier, sizes.nbytes, sizes.archives)
    if transfer == TransferKind.IN_REGION:
        transfer_usd = 0.0
    elif transfer == TransferKind.INTERNET:
        transfer_usd = prices.egress_cost(sizes.nbytes)
    else:
        transfer_usd = sizes.nbytes / GB * s3("transfer.inter_region_per_gb")
    cls_put = s3(f"{storage_class}.put_per_1000") / 1000
    std_put = s3("STANDARD.put_per_1000") / 1000
    if storage_class in ARCHIVAL:
        std_requests = sizes.multipart + sizes.parts  # Create + parts, at STANDARD
        cls_requests = sizes.multipart + sizes.single  # Complete, PutObject
        requests_usd = std_requests * std_put + cls_requests * cls_put
    else:
        std_requests = 0
        cls_requests = 2 * sizes.multipart + sizes.parts + sizes.single
        requests_usd = cls_requests * cls_put
    audit = sizes.archives * s3("STANDARD.get_per_1000") / 1000
    rate = s3(f"{storage_class}.storage_gb_month")
    if storage_class in ARCHIVAL:
        std_rate = s3("STANDARD.storage_gb_month")
        month = ((sizes.nbytes + sizes.archives * 32 * KIB) / GB * rate
                 + sizes.archives * 8 * KIB / GB * std_rate)
    elif storage_class == "GLACIER_IR":
        month = sizes.gir_billable / GB * rate
    else:
        month = sizes.nbytes / GB * rate
    min_days = int(s3(f"{storage_class}.min_days"))
    return MigrationCost(
        tier, storage_class, sizes.archives, sizes.nbytes, retrieval, retrieval_requests,
        transfer, transfer_usd, std_requests + cls_requests, requests_usd, audit, month,
        min_days, unverified=bool(used - verified_keys),
    )
