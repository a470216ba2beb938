"""Typed results of the service layer: parsed dates and sizes, never raw dicts.

Each model keeps the wire document it came from in ``raw`` (for the JSON pane)
and is built with ``from_api``, which tolerates absent and null members alike
(botocore drops nulls from JSON responses).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

OUTPUT_LIFETIME = timedelta(hours=24)


def parse_date(value: Any) -> datetime | None:
    """Glacier dates are strings like ``2012-03-20T17:03:43.221Z``; None when absent."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def vault_name_from_arn(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


class Tier(StrEnum):
    EXPEDITED = "Expedited"
    STANDARD = "Standard"
    BULK = "Bulk"


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class JobAction(StrEnum):
    ARCHIVE_RETRIEVAL = "ArchiveRetrieval"
    INVENTORY_RETRIEVAL = "InventoryRetrieval"
    SELECT = "Select"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Vault(_Model):
    name: str
    arn: str
    creation_date: datetime | None = None
    last_inventory_date: datetime | None = None
    number_of_archives: int | None = None
    size_in_bytes: int | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> Vault:
        arn = str(doc.get("VaultARN") or "")
        return cls(
            name=str(doc.get("VaultName") or vault_name_from_arn(arn)),
            arn=arn,
            creation_date=parse_date(doc.get("CreationDate")),
            last_inventory_date=parse_date(doc.get("LastInventoryDate")),
            number_of_archives=parse_int(doc.get("NumberOfArchives")),
            size_in_bytes=parse_int(doc.get("SizeInBytes")),
            raw={k: v for k, v in doc.items() if k != "ResponseMetadata"},
        )


class InventoryParameters(_Model):
    format: str = "JSON"
    start_date: datetime | None = None
    end_date: datetime | None = None
    limit: int | None = None
    marker: str | None = None

    @classmethod
    def from_api(cls, doc: dict[str, Any] | None) -> InventoryParameters | None:
        if not doc:
            return None
        return cls(
            format=str(doc.get("Format") or "JSON"),
            start_date=parse_date(doc.get("StartDate")),
            end_date=parse_date(doc.get("EndDate")),
            limit=parse_int(doc.get("Limit")),
            marker=doc.get("Marker") or None,
        )


class Job(_Model):
    job_id: str
    vault_arn: str
    action: str
    status_code: str
    completed: bool = False
    creation_date: datetime | None = None
    completion_date: datetime | None = None
    status_message: str | None = None
    description: str | None = None
    archive_id: str | None = None
    archive_size: int | None = None
    inventory_size: int | None = None
    sns_topic: str | None = None
    sha256_tree_hash: str | None = None
    archive_sha256_tree_hash: str | None = None
    retrieval_byte_range: str | None = None
    tier: str | None = None
    inventory_parameters: InventoryParameters | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> Job:
        return cls(
            job_id=str(doc.get("JobId") or ""),
            vault_arn=str(doc.get("VaultARN") or ""),
            action=str(doc.get("Action") or ""),
            status_code=str(doc.get("StatusCode") or ""),
            completed=bool(doc.get("Completed")),
            creation_date=parse_date(doc.get("CreationDate")),
            completion_date=parse_date(doc.get("CompletionDate")),
            status_message=doc.get("StatusMessage") or None,
            description=doc.get("JobDescription") or None,
            archive_id=doc.get("ArchiveId") or None,
            archive_size=parse_int(doc.get("ArchiveSizeInBytes")),
            inventory_size=parse_int(doc.get("InventorySizeInBytes")),
            sns_topic=doc.get("SNSTopic") or None,
            sha256_tree_hash=doc.get("SHA256TreeHash") or None,
            archive_sha256_tree_hash=doc.get("ArchiveSHA256TreeHash") or None,
            retrieval_byte_range=doc.get("RetrievalByteRange") or None,
            tier=doc.get("Tier") or None,
            inventory_parameters=InventoryParameters.from_api(
                doc.get("InventoryRetrievalParameters")
            ),
            raw={k: v for k, v in doc.items() if k != "ResponseMetadata"},
        )

    @property
    def vault_name(self) -> str:
        return vault_name_from_arn(self.vault_arn)

    @property
    def is_archive_retrieval(self) -> bool:
        return self.action == JobAction.ARCHIVE_RETRIEVAL

    @property
    def is_inventory_retrieval(self) -> bool:
        return self.action == JobAction.INVENTORY_RETRIEVAL

    @property
    def succeeded(self) -> bool:
        return self.status_code == JobStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status_code == JobStatus.FAILED

    @property
    def byte_range(self) -> tuple[int, int] | None:
        """The retrieved range, inclusive, or None when unknown."""
        if not self.retrieval_byte_range or "-" not in self.retrieval_byte_range:
            return None
        start, _, end = self.retrieval_byte_range.partition("-")
        first, last = parse_int(start), parse_int(end)
        if first is None or last is None:
            return None
        return first, last

    @property
    def output_size(self) -> int | None:
        """Bytes GetJobOutput returns in whole, when Glacier tells us."""
        if self.is_inventory_retrieval:
            return self.inventory_size
        rng = self.byte_range
        if rng is not None:
            return rng[1] - rng[0] + 1
        return self.archive_size

    @property
    def is_full_archive(self) -> bool:
        rng = self.byte_range
        return rng is None or (
            self.archive_size is not None and rng == (0, self.archive_size - 1)
        )

    @property
    def expected_tree_hash(self) -> str | None:
        """The tree hash the whole output must have, if Glacier gives one (whole-archive
        retrievals, and ranges aligned to the tree hash)."""
        if self.sha256_tree_hash:
            return self.sha256_tree_hash
        if self.is_full_archive:
            return self.archive_sha256_tree_hash
        return None

    @property
    def output_expires(self) -> datetime | None:
        """Earliest moment the output may vanish (at least 24 h after completion)."""
        if self.completion_date is None or not self.succeeded:
            return None
        return self.completion_date + OUTPUT_LIFETIME


class ArchiveCreated(_Model):
    archive_id: str
    checksum: str | None = None
    location: str | None = None


class MultipartUpload(_Model):
    upload_id: str
    vault_arn: str = ""
    description: str | None = None
    part_size: int = 0
    creation_date: datetime | None = None

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> MultipartUpload:
        return cls(
            upload_id=str(doc.get("MultipartUploadId") or ""),
            vault_arn=str(doc.get("VaultARN") or ""),
            description=doc.get("ArchiveDescription") or None,
            part_size=parse_int(doc.get("PartSizeInBytes")) or 0,
            creation_date=parse_date(doc.get("CreationDate")),
        )


class UploadedPart(_Model):
    start: int
    end: int
    tree_hash: str

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> UploadedPart:
        start, _, end = str(doc.get("RangeInBytes") or "0-0").partition("-")
        return cls(start=int(start), end=int(end), tree_hash=str(doc.get("SHA256TreeHash") or ""))


class VaultNotifications(_Model):
    sns_topic: str
    events: list[str]


class VaultLock(_Model):
    policy: str
    state: str
    expiration_date: datetime | None = None
    creation_date: datetime | None = None


class RetrievalStrategy(StrEnum):
    NONE = "None"
    FREE_TIER = "FreeTier"
    BYTES_PER_HOUR = "BytesPerHour"


class DataRetrievalPolicy(_Model):
    strategy: str = RetrievalStrategy.NONE
    bytes_per_hour: int | None = None

    @classmethod
    def from_api(cls, doc: dict[str, Any] | None) -> DataRetrievalPolicy:
        rules = (doc or {}).get("Rules") or []
        if not rules:
            return cls()
        rule = rules[0]
        return cls(
            strategy=str(rule.get("Strategy") or RetrievalStrategy.NONE),
            bytes_per_hour=parse_int(rule.get("BytesPerHour")),
        )


class ProvisionedCapacity(_Model):
    capacity_id: str
    start_date: datetime | None = None
    expiration_date: datetime | None = None


class JobOutputInfo(_Model):
    """Headers of a GetJobOutput response."""

    status: int
    content_length: int | None = None
    content_range: str | None = None
    content_type: str | None = None
    checksum: str | None = None
    accept_ranges: str | None = None
    archive_description: str | None = None
