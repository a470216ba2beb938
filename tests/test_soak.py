"""A short fault soak (seeded): nothing uploaded, restored or downloaded is lost or corrupted."""

from __future__ import annotations

from bench.soak import soak, summary


def test_quick_soak() -> None:
    stats = soak(quick=True, seed=7)
    assert stats["faults"] > 0, summary(stats)
    assert stats["failures"] == 0, summary(stats)
    assert stats["jobs_lost"] == 0 and stats["uploads_missing"] == 0, summary(stats)
    assert stats["downloads"] == stats["uploads"] == 6, summary(stats)
    assert stats["restores"] == 20, summary(stats)
