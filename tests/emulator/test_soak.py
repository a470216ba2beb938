"""A short fault soak (seeded) with the app polling the same emulator: nothing uploaded,
restored or downloaded is lost or corrupted, and the app shows every restore job, stays up,
shows no error screen and logs no error."""

from __future__ import annotations

import pytest

from bench.soak import soak, summary

pytestmark = pytest.mark.slow


def test_quick_soak() -> None:
    stats = soak(quick=True, seed=7)
    assert stats["faults"] > 0, summary(stats)
    assert stats["failures"] == 0, summary(stats)
    assert stats["jobs_lost"] == 0 and stats["uploads_missing"] == 0, summary(stats)
    assert stats["downloads"] == stats["uploads"] == 6, summary(stats)
    assert stats["restores"] == 20, summary(stats)
    # The app, polling under the same faults:
    assert stats["app_jobs_lost"] == 0 and stats["app_jobs_unfinished"] == 0, summary(stats)
    assert stats["app_cycles"] > 0, summary(stats)
    assert stats["app_running"] and stats["app_error_screens"] == 0, summary(stats)
    assert stats["app_log"] and stats["app_log_errors"] == [], stats["app_log_errors"]
