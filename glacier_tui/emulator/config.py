"""EmulatorConfig: every knob and switch of the emulator in one dataclass."""

from __future__ import annotations

import dataclasses
import math
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
        "auth_clock_offset_seconds",
    }
)

# Runtime string switches with a fixed set of values (None: any text up to MAX_TEXT).
CHOICES: dict[str, tuple[str | None, ...]] = {
    "never_inventoried_jobs": ("fail", "reject"),
    "inventory_job_tier": (None, "Expedited", "Standard", "Bulk"),
    "csv_line_ending": ("\n", "\r\n"),
    "complete_lock_without_lock": ("ResourceNotFoundException", "InvalidParameterValueException"),
    "initiate_lock_when_locked": ("AccessDeniedException", "InvalidParameterValueException"),
}
NULLABLE_TEXT = frozenset({"running_status_message", "notify_url"})
MAX_TEXT = 2048
# Runtime numbers: (lowest, highest). Durations are bounded by 100 years so that any date
# computed from them still formats; counts by what a test could meaningfully ask for.
CENTURY = 100 * 365 * 86400.0
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "insufficient_capacity_status": (400, 599),
    "inventory_delay_seconds": (0, CENTURY),
    "size_overhead_bytes": (0, 1 << 40),
    "free_tier_bytes_per_day": (0, 1 << 60),
    "completed_upload_retention_seconds": (0, CENTURY),
    "aborted_upload_retention_seconds": (0, CENTURY),
    "upload_idle_expiry_seconds": (0, CENTURY),
    "job_output_ttl_seconds": (0, CENTURY),
    "vault_lock_ttl_seconds": (0, CENTURY),
    "max_vaults": (0, 1_000_000),
    "max_tags": (0, 1_000_000),
    "max_capacity_units": (0, 1_000_000),
    "list_vaults_max_limit": (1, 1_000_000),
    "auth_clock_offset_seconds": (-CENTURY, CENTURY),
}


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

    # --- switches (behaviours AWS does not document, and failure modes) ---
    no_longer_supported: bool = False  # NoLongerSupportedException on every operation
    reject_select: bool = True  # select jobs -> 400 IPV "Select jobs are not supported"
    insufficient_capacity: bool = False  # Expedited jobs without capacity units -> IC
    # The error table lists InsufficientCapacityException as 503 Service Unavailable, type
    # Server (https://docs.aws.amazon.com/amazonglacier/latest/dev/api-error-responses.html);
    # botocore's service model says 400.
    insufficient_capacity_status: int = 503
    force_job_failure: bool = False  # new jobs end Failed
    never_inventoried_jobs: str = "fail"  # inventory job on never-inventoried vault: fail|reject
    inventory_delay_seconds: float = 12 * 3600.0  # service-seconds after first change
    size_overhead_bytes: int = 32 * 1024  # per-archive overhead in SizeInBytes (AWS-like)
    free_tier_bytes_per_day: int = 10 * 1024**3 // 30  # FreeTier policy allowance
    require_version_header: bool = False  # reject requests without x-amz-glacier-version
    # Documented: repeating CompleteMultipartUpload "within a short period" succeeds with the
    # same archive ID (https://docs.aws.amazon.com/amazonglacier/latest/dev/api-multipart-complete-upload.html);
    # aborting an already-aborted upload "will succeed, for a short time" and aborting a
    # completed one fails (https://docs.aws.amazon.com/amazonglacier/latest/dev/api-multipart-abort-upload.html).
    # How long "short" is, is not documented: these windows are guesses.
    completed_upload_retention_seconds: float = 3600.0
    aborted_upload_retention_seconds: float = 3600.0
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
    # ListVaults returns "up to 10 items" by default
    # (https://docs.aws.amazon.com/amazonglacier/latest/dev/api-vaults-get.html); whether a
    # larger limit is honoured, clamped or refused is not documented. Larger ones are clamped.
    list_vaults_max_limit: int = 10
    complete_lock_without_lock: str = "ResourceNotFoundException"  # or InvalidParameterValue...
    initiate_lock_when_locked: str = "AccessDeniedException"

    # --- signatures ---
    # "KEY:SECRET[:TOKEN[:EXPIRY]],..." (see sigv4.parse_credentials); None: any key works.
    credentials: str | None = None
    # Added to the wall clock that signature dates and token expiries are checked against
    # (not the virtual service clock: clients sign with the real time). Tests use it to
    # stand for a client whose clock is off.
    auth_clock_offset_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not 0 < self.time_scale <= 1e9:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale}")
        if self.credentials is not None:
            from glacier_tui.emulator.sigv4 import parse_credentials

            parse_credentials(self.credentials)  # ValueError names the bad entry

    def switches(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in sorted(RUNTIME_FIELDS)}

    def update(self, values: dict[str, Any]) -> None:
        """Apply runtime switches, checking names, types and ranges first: all or nothing."""
        checked = {key: self._checked(key, value) for key, value in values.items()}
        for key, value in checked.items():
            setattr(self, key, value)

    def _checked(self, key: str, value: Any) -> Any:
        if key not in RUNTIME_FIELDS:
            raise ValueError(f"unknown or read-only config key: {key}")
        default = {f.name: f for f in dataclasses.fields(self)}[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            return value
        if key in NUMBER_RANGES:
            low, high = NUMBER_RANGES[key]
            return finite_number(key, value, low, high, integer=isinstance(default, int))
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise ValueError(f"{key} must be one of {list(CHOICES[key])}")
            return value
        if value is None and key in NULLABLE_TEXT:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"{key} must be text of at most {MAX_TEXT} characters")
        if key == "notify_url" and not value.startswith(("http://", "https://")):
            raise ValueError("notify_url must be an http:// or https:// URL")
        return value


def finite_number(key: str, value: Any, low: float, high: float, integer: bool = False) -> Any:
    """``value`` if it is a JSON number within [low, high] (a whole one if ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{key} must be a finite number from {low:g} to {high:g}, got {value!r}")
    if integer:
        if value != int(value):
            raise ValueError(f"{key} must be a whole number, got {value!r}")
        return int(value)
    return float(value)
