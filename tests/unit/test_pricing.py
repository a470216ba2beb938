"""The one price table: costs, egress, ETA, overrides from the settings."""

from __future__ import annotations

import pytest

from glacier_tui.config import DEFAULT_PRICES as SETTINGS_PRICES
from glacier_tui.config import load_settings
from glacier_tui.glacier.pricing import DEFAULT_PRICES, GB, estimate, tier_eta_seconds


def test_table_has_every_price_with_date_and_sources() -> None:
    p = DEFAULT_PRICES
    assert set(p.retrieval) == {"Expedited", "Standard", "Bulk"}
    assert p.egress_per_gb > 0 and p.vault_storage_per_gb_month > 0
    assert p.as_of and all(s.startswith("https://aws.amazon.com/") for s in p.sources)
    assert p.tier_dicts() == SETTINGS_PRICES  # the settings' defaults come from it


def test_estimate_retrieval_requests_and_egress() -> None:
    e = estimate(DEFAULT_PRICES, "Standard", 1000, 10 * GB, endpoint_region="us-east-1",
                 machine_region=None)
    assert e.retrieval_usd == pytest.approx(0.10)
    assert e.requests_usd == pytest.approx(0.05)
    assert e.egress_applies and e.egress_usd == pytest.approx(0.90)
    assert e.total_usd == pytest.approx(1.05)
    same = estimate(DEFAULT_PRICES, "Standard", 1000, 10 * GB, endpoint_region="us-east-1",
                    machine_region="us-east-1")
    assert not same.egress_applies and same.egress_usd == 0


def test_eta_grows_with_waves_and_bytes_per_hour() -> None:
    assert tier_eta_seconds("Expedited", 10, GB, max_jobs_in_flight=100) == (60.0, 300.0)
    lo, hi = tier_eta_seconds("Bulk", 300, GB, max_jobs_in_flight=100)
    assert (lo, hi) == (3 * 5 * 3600.0, 3 * 12 * 3600.0)
    lo, _ = tier_eta_seconds("Standard", 1, 10 * GB, max_jobs_in_flight=100,
                             bytes_per_hour=GB)
    assert lo == pytest.approx(10 * 3600 + 3 * 3600)


def test_settings_override_the_table(tmp_path: pytest.TempPathFactory) -> None:
    cfg = tmp_path / "c.toml"  # type: ignore[operator]
    cfg.write_text("egress_price_per_gb = 0.05\nmachine_region = 'eu-west-1'\n"
                   "[prices.Bulk]\nper_gb = 0.5\n")
    s = load_settings({}, cfg).settings
    table = s.price_table()
    assert table.egress_per_gb == 0.05
    assert table.tier("Bulk").per_gb == 0.5
    assert table.tier("Bulk").per_1000_requests == DEFAULT_PRICES.tier("Bulk").per_1000_requests
    assert s.machine_region == "eu-west-1"
