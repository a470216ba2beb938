"""Settings precedence, provenance and one-line errors, through the real CLI too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from glacier_tui.config import ConfigError, describe_settings, load_settings
from glacier_tui.glacier.models import Tier


def test_defaults() -> None:
    loaded = load_settings(env={}, config_path=None)
    s = loaded.settings
    assert s.default_tier is Tier.STANDARD
    assert s.transfer_concurrency == 4
    assert s.effective_poll_interval() == 60.0
    assert s.effective_poll_interval(demo=True) == 1.0
    assert all(src == "default" for src in loaded.sources.values())


def test_precedence_cli_env_toml_default(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('poll_interval = 2\nregion = "eu-west-1"\ndefault_tier = "Bulk"\n'
                   "transfer_concurrency = 8\n")
    env = {"GLACIER_TUI_POLL_INTERVAL": "7", "GLACIER_TUI_REGION": "us-west-2"}
    loaded = load_settings({"region": "ap-south-1"}, cfg, env)
    s = loaded.settings
    assert s.region == "ap-south-1" and loaded.sources["region"] == "command line"
    assert s.poll_interval == 7 and loaded.sources["poll_interval"].startswith("environment")
    assert s.default_tier is Tier.BULK and loaded.sources["default_tier"].startswith("config file")
    assert s.transfer_concurrency == 8
    assert loaded.sources["max_attempts"] == "default"


def test_tables_from_toml_and_env(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[prices.Bulk]\nper_gb = 0.5\n[keymap]\nrestore = "ctrl+r"\n')
    s = load_settings(None, cfg, {}).settings
    assert s.prices["Bulk"]["per_gb"] == 0.5
    assert s.prices["Bulk"]["per_1000_requests"] == 0.025  # merged with the defaults
    assert s.keymap == {"restore": "ctrl+r"}
    s = load_settings(None, None, {"GLACIER_TUI_KEYMAP": '{"quit": "ctrl+q"}'}).settings
    assert s.keymap == {"quit": "ctrl+q"}


@pytest.mark.parametrize(
    ("env", "toml", "expected"),
    [
        ({"GLACIER_TUI_DEFAULT_TIER": "Fast"}, None,
         "environment GLACIER_TUI_DEFAULT_TIER: default_tier: Input should be 'Expedited', "
         "'Standard' or 'Bulk'; got 'Fast' (allowed: Expedited, Standard, Bulk)"),
        ({"GLACIER_TUI_POLL_INTERVAL": "-1"}, None,
         "environment GLACIER_TUI_POLL_INTERVAL: poll_interval: Input should be greater than 0"),
        ({"GLACIER_TUI_RETRY_MODE": "fast"}, None, "(allowed: standard, adaptive, legacy)"),
        ({"GLACIER_TUI_PART_SIZE_MIB": "3"}, None, "part_size_mib: must be a power of two"),
        ({"GLACIER_TUI_NOPE": "1"}, None, "environment GLACIER_TUI_NOPE: unknown setting"),
        ({}, "poll_interval = [", "malformed TOML"),
        ({}, "colour = 'red'", "unknown key 'colour'"),
        ({}, "transfer_concurrency = 99",
         "transfer_concurrency: Input should be less than or equal to 32"),
        ({}, 'default_tier = "Slow"', "config file"),
        ({}, "[prices.Glacial]\nper_gb = 1", "unknown tier 'Glacial'"),
    ],
)
def test_bad_values_name_source_key_and_allowed(
    env: dict[str, str], toml: str | None, expected: str, tmp_path: Path
) -> None:
    cfg = None
    if toml is not None:
        cfg = tmp_path / "config.toml"
        cfg.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(None, cfg, env)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_explicit_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(None, tmp_path / "missing.toml", {})


def test_show_masks_credentials_in_endpoint() -> None:
    loaded = load_settings({"endpoint_url": "http://key:secret@127.0.0.1:9"}, None, {})
    rows = {k: v for k, v, _ in describe_settings(loaded)}
    assert "secret" not in rows["endpoint_url"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "glacier_tui", *args],
        capture_output=True, text=True, env=full_env, timeout=60,
    )


def test_cli_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "empty.toml"
    cfg.write_text("")
    result = _cli("config", "show", env={"GLACIER_TUI_DEFAULT_TIER": "Fast",
                                         "GLACIER_TUI_CONFIG": str(cfg)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "GLACIER_TUI_DEFAULT_TIER" in lines[0] and "Expedited" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_config_show_sources(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("transfer_concurrency = 6\n")
    result = _cli("config", "show", "--config", str(cfg), "--region", "eu-west-1",
                  env={"GLACIER_TUI_POLL_INTERVAL": "5", "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "command line" in out and "GLACIER_TUI_POLL_INTERVAL" in out
    assert "config file" in out and "default" in out


def test_cli_version_help_and_bad_flag() -> None:
    assert _cli("--version").stdout.startswith("glacier-tui ")
    assert "--demo" in _cli("--help").stdout
    bad = _cli("--no-such-flag")
    assert bad.returncode == 2 and "unrecognized arguments" in bad.stderr


def test_cli_start_up_does_not_import_botocore() -> None:
    code = (
        "import sys; from glacier_tui import cli; cli.build_parser([]); "
        "from glacier_tui.config import load_settings; load_settings(env={}); "
        "print(any(m.startswith(('botocore', 'aioboto3', 'aiobotocore')) for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "False", result.stderr
