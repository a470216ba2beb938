"""Settings: one pydantic-settings model fed by CLI flags, env, a TOML file and defaults.

Precedence: CLI flags > environment (``GLACIER_TUI_*``) > TOML file in the platform
config dir (or ``--config``) > defaults. ``load_settings`` records where each value
came from, so ``glacier-tui config show`` can say it and a bad value can be
reported as "source, key, allowed values" in one line.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from glacier_tui.glacier import pricing as _pricing
from glacier_tui.glacier.masking import mask_url, remember_url
from glacier_tui.glacier.models import Tier

APP_NAME = "glacier-tui"
ENV_PREFIX = "GLACIER_TUI_"
# Env variables with our prefix that are not settings themselves.
_ENV_NOT_SETTINGS = {"GLACIER_TUI_CONFIG"}

RetryMode = Literal["standard", "adaptive", "legacy"]

# USD per tier (per GB retrieved, per 1,000 requests), from the one price table.
DEFAULT_PRICES: dict[str, dict[str, float]] = _pricing.DEFAULT_PRICES.tier_dicts()


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_download_dir() -> Path:
    return Path(platformdirs.user_downloads_dir()) / APP_NAME


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


@dataclass(frozen=True)
class AppPaths:
    """Every directory (and the store file) the program uses, computed in one place.

    ``Settings.paths()`` builds it from the settings; the demo replaces the downloads and
    the store with its own (``dataclasses.replace``).
    """

    downloads: Path  # where downloaded archives go
    state: Path  # journals, downloaded inventories, logs
    data: Path  # the default home of the store
    store: Path  # the SQLite store file

    @property
    def inventories(self) -> Path:
        """Downloaded inventory documents, kept until imported."""
        return self.state / "inventories"

    @property
    def uploads(self) -> Path:
        """Upload journals (a killed upload resumes from its journal)."""
        return self.state / "uploads"

    @property
    def appliance_index(self) -> Path:
        """Downloaded Synology index databases."""
        return self.state / "appliance-index"


def client_options_from(settings: object) -> Any:
    """The one Settings -> ClientOptions conversion (the CLI and the TUI both use it).

    Reads attributes, so that any settings-like object works; the defaults are the
    settings' own.
    """
    from glacier_tui.glacier.client import ClientOptions

    def get(name: str, default: Any) -> Any:
        value = getattr(settings, name, None)
        return default if value is None else value

    return ClientOptions(
        profile=get("profile", None),
        region=get("region", None),
        endpoint_url=get("endpoint_url", None),
        retry_mode=get("retry_mode", "standard"),
        max_attempts=get("max_attempts", 5),
        max_pool_connections=max(10, int(get("transfer_concurrency", 4)) * 2 + 4),
    )


class ConfigError(Exception):
    """A bad setting: the message is one line naming source, key and allowed values."""


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class Settings(BaseSettings):
    """Every setting of glacier-tui. Credentials are never settings: AWS's chain owns them."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
    )

    profile: str | None = Field(None, description="AWS profile (else the default chain)")
    region: str | None = Field(None, description="AWS region, e.g. us-east-1")
    endpoint_url: str | None = Field(None, description="Glacier endpoint URL override")
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint URL override for migrations (e.g. a local S3)")
    readonly: bool = Field(False, description="Never send a mutating request")
    download_dir: Path = Field(default_factory=default_download_dir,
                               description="Where restored files go")
    poll_interval: float | None = Field(
        None, gt=0, le=3600, description="Seconds between job polls (default 60; 1 on --demo)"
    )
    transfer_concurrency: int = Field(4, ge=1, le=32, description="Parallel segments/parts")
    part_size_mib: int = Field(16, ge=1, le=4096,
                               description="Minimum multipart part size, MiB (power of two)")
    segment_size_mib: int = Field(32, ge=1, le=4096,
                                  description="Download segment size, MiB (power of two)")
    upload_threshold_mib: int = Field(64, ge=1, le=4096,
                                      description="Files at least this big use multipart")
    default_tier: Tier = Field(Tier.STANDARD, description="Default retrieval tier")
    retry_mode: RetryMode = Field("standard", description="botocore retry mode")
    max_attempts: int = Field(5, ge=1, le=20, description="botocore attempts per request")
    theme: str = Field("textual-dark", description="Textual theme name")
    auto_download: bool = Field(False, description="Download restores started here when done")
    store_path: Path | None = Field(None, description="Local SQLite store (default: data dir)")
    prices: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_PRICES.items()},
        description="Retrieval price table per tier",
    )
    egress_price_per_gb: float | None = Field(
        None, ge=0, description="USD per GB of internet egress (default: the price table)")
    storage_price_per_gb_month: float | None = Field(
        None, ge=0, description="USD per GB-month of vault storage (default: the price table)")
    machine_region: str | None = Field(
        None, description="AWS region this machine runs in (no egress cost from it)")
    keymap: dict[str, str] = Field(default_factory=dict,
                                   description="Binding id -> keys, e.g. restore = 'ctrl+r'")

    @field_validator("endpoint_url", "s3_endpoint_url")
    @classmethod
    def _remember_password(cls, value: str | None) -> str | None:
        remember_url(value)  # masked wherever a library echoes it (errors, logs)
        return value

    @field_validator("part_size_mib", "segment_size_mib")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if not _is_power_of_two(value):
            raise ValueError("must be a power of two (1, 2, 4, ... 4096)")
        return value

    @field_validator("prices")
    @classmethod
    def _known_tiers(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        unknown = set(value) - {t.value for t in Tier}
        if unknown:
            raise ValueError(f"unknown tier {sorted(unknown)[0]!r}")
        merged = {k: dict(v) for k, v in DEFAULT_PRICES.items()}
        for tier, table in value.items():
            merged[tier].update(table)
        return merged

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings reads the TOML file and the GLACIER_TUI_* variables itself
        # (to know where each value came from) and passes the merged layers as init
        # values, so the environment given to load_settings is the only one read.
        return (init_settings,)

    # -- derived values ----------------------------------------------------

    def effective_poll_interval(self, demo: bool = False) -> float:
        if self.poll_interval is not None:
            return self.poll_interval
        return 1.0 if demo else 60.0

    def client_options(self) -> Any:
        """ClientOptions for GlacierClient (imported lazily: it is cheap, botocore is not)."""
        return client_options_from(self)

    def paths(self) -> AppPaths:
        """The program's directories for these settings."""
        return AppPaths(downloads=self.download_dir, state=state_dir(), data=data_dir(),
                        store=self.resolved_store_path())

    def price_table(self) -> Any:
        """The price table with this user's overrides (a ``pricing.PriceTable``)."""
        return _pricing.DEFAULT_PRICES.with_overrides(
            self.prices, egress_per_gb=self.egress_price_per_gb,
            vault_storage_per_gb_month=self.storage_price_per_gb_month,
        )

    def resolved_store_path(self) -> Path:
        return self.store_path or data_dir() / "store.sqlite3"


FIELD_NAMES = tuple(Settings.model_fields)


def _allowed(field: str) -> str:
    info = Settings.model_fields[field]
    ann = info.annotation
    if get_origin(ann) is Literal:
        return "allowed: " + ", ".join(str(v) for v in get_args(ann))
    args = [a for a in get_args(ann) if a is not type(None)] or [ann]
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, Enum):
            return "allowed: " + ", ".join(str(m.value) for m in arg)
        if get_origin(arg) is Literal:
            return "allowed: " + ", ".join(str(v) for v in get_args(arg))
    return f"expected: {info.description}" if info.description else ""


def _read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path}: not found")
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: malformed TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc.strerror}") from exc
    for key in data:
        if key not in FIELD_NAMES:
            raise ConfigError(
                f"config file {path}: unknown key {key!r}; known keys: {', '.join(FIELD_NAMES)}"
            )
    return data


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in env.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in _ENV_NOT_SETTINGS:
            continue
        key = upper[len(ENV_PREFIX):].lower()
        if key not in FIELD_NAMES:
            raise ConfigError(
                f"environment {name}: unknown setting; known: "
                + ", ".join(ENV_PREFIX + f.upper() for f in FIELD_NAMES)
            )
        found[key] = _decode_env_json(name, key, value)
    return found


def _decode_env_json(name: str, key: str, value: str) -> Any:
    """Table-valued settings come from the environment as JSON objects."""
    if Settings.model_fields[key].annotation not in (dict[str, str], dict[str, dict[str, float]]):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"environment {name}: {key}: not a JSON object: {exc}") from exc


class LoadedSettings:
    """The settings plus where each value came from."""

    def __init__(self, settings: Settings, sources: dict[str, str], config_path: Path) -> None:
        self.settings = settings
        self.sources = sources
        self.config_path = config_path


def load_settings(
    cli: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Build the settings, or raise ConfigError with one line for the user."""
    env = os.environ if env is None else env
    cli_values = {k: v for k, v in (cli or {}).items() if v is not None}
    explicit = config_path is not None or bool(env.get("GLACIER_TUI_CONFIG"))
    path = config_path or Path(env.get("GLACIER_TUI_CONFIG") or default_config_path())
    toml_values = _read_toml(path, explicit)
    env_values = _env_values(env)

    sources: dict[str, str] = {}
    for name in FIELD_NAMES:
        if name in cli_values:
            sources[name] = "command line"
        elif name in env_values:
            sources[name] = f"environment {ENV_PREFIX}{name.upper()}"
        elif name in toml_values:
            sources[name] = f"config file {path}"
        else:
            sources[name] = "default"

    init = {**toml_values, **env_values, **cli_values}
    try:
        settings = Settings(**init)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources, cli_values, env_values, toml_values)) from None
    return LoadedSettings(settings, sources, path)


def _describe(
    exc: ValidationError,
    sources: dict[str, str],
    *layers: Mapping[str, Any],
) -> str:
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "?"
    source = sources.get(field, "settings")
    value: Any = None
    for layer in layers:
        if field in layer:
            value = layer[field]
            break
    allowed = _allowed(field) if field in FIELD_NAMES else ""
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    got = f"; got {value!r}" if value is not None else ""
    tail = f" ({allowed})" if allowed else ""
    return f"{source}: {field}: {msg}{got}{tail}"


def _show_value(name: str, value: Any) -> str:
    if name in ("endpoint_url", "s3_endpoint_url") and isinstance(value, str):
        value = mask_url(value)  # never echo a password embedded in the URL
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "unset" if value is None else str(value)


def describe_settings(loaded: LoadedSettings) -> list[tuple[str, str, str]]:
    """(key, value, source) rows for ``config show``."""
    data = loaded.settings.model_dump()
    return [(name, _show_value(name, data[name]), loaded.sources[name]) for name in FIELD_NAMES]
