"""Shared pytest fixtures. Keep sections tidy: one block per area."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# --------------------------------------------------------------------------- AWS isolation
# Tests must never reach real AWS or read ~/.aws.


@pytest.fixture(autouse=True)
def _aws_isolation(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    missing = tmp_path_factory.getbasetemp() / "no-such-aws-dir"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _platform_dirs_isolation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Journals, logs, the store and settings of a test never touch the user's own dirs."""
    for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                 "XDG_DOWNLOAD_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "xdg" / name.lower()))
    for name in [v for v in os.environ if v.startswith("GLACIER_TUI_")]:
        monkeypatch.delenv(name)


# --------------------------------------------------------------------------- emulator
EMULATOR_START = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
# The emulator checks SigV4 signatures against the keys _aws_isolation puts in the environment:
# a temporary key (AWS_SESSION_TOKEN is set too), and the same key without a token for the
# tests' explicit boto3 clients. Pass credentials=None to accept any key unchecked.
TEST_CREDENTIALS = "testing:testing:testing,testing:testing"


def emulator_config(data_dir: Path, **overrides: Any) -> Any:
    """EmulatorConfig for tests: frozen clock at EMULATOR_START, seed 0, time_scale 1,
    signatures checked against TEST_CREDENTIALS."""
    from glacier_tui.emulator import EmulatorConfig

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "port": 0,
        "time_scale": 1.0,
        "seed": 0,
        "start_time": EMULATOR_START,
        "frozen": True,
        "credentials": TEST_CREDENTIALS,
    }
    values.update(overrides)
    return EmulatorConfig(**values)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Any]:
    """A running EmulatorThread on a fresh data dir (frozen clock; advance with .advance())."""
    from glacier_tui.emulator import EmulatorThread

    with EmulatorThread(emulator_config(tmp_path / "emulator-data")) as emu:
        yield emu


@pytest.fixture
def emulator_url(emulator: Any) -> str:
    return str(emulator.url)


@pytest.fixture
def boto3_client(emulator_url: str) -> Any:
    """A sync boto3 glacier client pointed at the emulator (the test credentials)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "glacier",
        endpoint_url=emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


# --------------------------------------------------------------------------- S3 (moto), migration
@pytest.fixture
def moto_s3_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (1 MiB smallest part, so tests can use small parts)."""
    import urllib.request

    from glacier_tui.local_s3 import start_local_s3

    monkeypatch.setenv("S3_UPLOAD_PART_MIN_SIZE", str(1 << 20))
    with start_local_s3(min_part_size=1 << 20) as s3:
        # moto's state lives in the process, not in the server: start every test empty.
        urllib.request.urlopen(urllib.request.Request(f"{s3.url}/moto-api/reset",
                                                      method="POST"), timeout=10).close()
        yield s3.url


@pytest.fixture
def s3_boto3(moto_s3_url: str) -> Any:
    """A sync boto3 S3 client on the moto server (for setting up and inspecting buckets)."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_s3_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
