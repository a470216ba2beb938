"""EmulatorConfig: every knob and switch of the emulator in one dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# Switches that POST /_emulator/config may change at run time.
RUNTIME_FIELDS = frozenset(
    {
        "no_longer_supported",
        "reject_select",
        "insufficient_capacity",
        "insufficient_capacity_status",
        "force_job_failure",
        "never_inventoried_jobs",
        "inventory_delay_seconds",
        "size_overhead_bytes",
        "free_tier_bytes_per_day",
        "require_version_header",
        "completed_upload_retention_seconds",
        "aborted_upload_retention_seconds",
        "upload_idle_expiry_seconds",
        "job_output_ttl_seconds",
        "vault_lock_ttl_seconds",
        "list_expired_capacity",
        "inventory_job_tier",
        "running_status_message",
        "inventory_date_ms",
        "csv_line_ending",
        "notify_url",
        "max_vaults",
        "max_tags",
        "max_capacity_units",
        "list_vaults_max_limit",
        "complete_lock_without_lock",
        "initiate_lock_when_locked",
    }
)


@dataclass
class EmulatorConfig:
    data_dir: Path = field(default_factory=lambda: Path("glacier-emulator-data"))
    host: str = "127.0.0.1"
    port: int = 0
    time_scale: float = 1.0
    seed: int = 0
    seed_demo: bool = False
    faults: str = ""
    account_id: str = "123456789012"
    region: str = "us-east-1"
    start_time: datetime | None = None  # virtual clock starts here (UTC); None = now
    frozen: bool = False  # clock moves only via /_emulator/clock

    # --- switches (GLACIER.md §12 unverified behaviours and failure modes) ---
    no_longer_supported: bool = False  # NoLongerSupportedException on every operation
    reject_select: bool = True  # select jobs -> 400 IPV "Select jobs are not supported"
    insufficient_capacity: bool = False  # Expedited jobs without capacity units -> IC
    insufficient_capacity_status: int = 503  # 503 (docs) or 400 (model)
    force_job_failure: bool = False  # new jobs end Failed
    never_inventoried_jobs: str = "fail"  # inventory job on never-inventoried vault: fail|reject
    inventory_delay_seconds: float = 12 * 3600.0  # service-seconds after first change
    size_overhead_bytes: int = 32 * 1024  # per-archive overhead in SizeInBytes (AWS-like)
    free_tier_bytes_per_day: int = 10 * 1024**3 // 30  # FreeTier policy allowance
    require_version_header: bool = False  # reject requests without x-amz-glacier-version
    completed_upload_retention_seconds: float = 3600.0  # idempotent Complete window
    aborted_upload_retention_seconds: float = 3600.0  # idempotent Abort window
    upload_idle_expiry_seconds: float = 24 * 3600.0
    job_output_ttl_seconds: float = 24 * 3600.0
    vault_lock_ttl_seconds: float = 24 * 3600.0
    list_expired_capacity: bool = False
    inventory_job_tier: str | None = None  # e.g. "Bulk": echoed as Tier of inventory jobs
    running_status_message: str | None = None  # e.g. "Operation in progress."
    inventory_date_ms: bool = False  # inventory dates with milliseconds instead of seconds
    csv_line_ending: str = "\n"
    notify_url: str | None = None  # POST each SNS message here too
    max_vaults: int = 1000
    max_tags: int = 50
    max_capacity_units: int = 2
    list_vaults_max_limit: int = 10  # larger limits are clamped
    complete_lock_without_lock: str = "ResourceNotFoundException"  # or InvalidParameterValue...
    initiate_lock_when_locked: str = "AccessDeniedException"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not 0 < self.time_scale <= 1e9:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale}")

    def switches(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in sorted(RUNTIME_FIELDS)}

    def update(self, values: dict[str, Any]) -> None:
        """Apply runtime switches, checking names and types."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        for key, value in values.items():
            if key not in RUNTIME_FIELDS:
                raise ValueError(f"unknown or read-only config key: {key}")
            current = getattr(self, key)
            if isinstance(current, bool) and not isinstance(value, bool):
                raise ValueError(f"{key} must be a boolean")
            if isinstance(current, (int, float)) and not isinstance(current, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{key} must be a number")
                value = type(current)(value)
            _ = fields[key]
            setattr(self, key, value)
