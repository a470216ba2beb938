"""JobTable's "expires in" column: only due rows are re-rendered, and the text is always right."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App, ComposeResult

from glacier_tui.glacier.models import Job
from glacier_tui.ui.formatting import countdown_text_lasts, expires_in, human_duration
from glacier_tui.ui.widgets.job_table import JobTable

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def job(i: int, completed_ago: float) -> Job:
    done = START - timedelta(seconds=completed_ago)
    return Job.from_api({
        "JobId": f"job{i:04d}", "VaultARN": "arn:aws:glacier:us-east-1:1:vaults/v",
        "Action": "ArchiveRetrieval", "StatusCode": "Succeeded", "Completed": True,
        "CreationDate": (done - timedelta(hours=4)).isoformat(),
        "CompletionDate": done.isoformat(), "ArchiveId": f"a{i}", "Tier": "Standard",
    })


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield JobTable()


def test_countdown_text_lasts_until_the_text_changes() -> None:
    for seconds in (0.5, 59.9, 60.0, 61.5, 3599.0, 3661.2, 47 * 3600 + 59.5, 48 * 3600.0,
                    5 * 86400 + 7.25, 86399.999):
        lasts = countdown_text_lasts(seconds)
        assert human_duration(seconds - lasts + 1e-4) == human_duration(seconds)
        assert human_duration(seconds - lasts - 1e-4) != human_duration(seconds) \
            or seconds - lasts - 1e-4 <= 0
    assert countdown_text_lasts(0) == countdown_text_lasts(-5) == float("inf")


async def test_expiry_column_matches_a_full_recompute_at_every_poll() -> None:
    rng = random.Random(5)
    jobs = [job(i, rng.uniform(0, 26 * 3600)) for i in range(300)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(JobTable)
        table.now = START
        table.upsert(jobs, {})
        await pilot.pause()
        rendered: list[str] = []
        original = table._render_row

        def counting(job_id: str) -> bool:
            rendered.append(job_id)
            return original(job_id)

        table._render_row = counting  # type: ignore[method-assign]
        now = START
        for _ in range(400):  # uneven poll gaps, from under a second to over an hour
            before = now
            now += timedelta(seconds=rng.choice((0.7, 1, 13, 59, 61, 600, 3700)))
            rendered.clear()
            table.refresh_times(now)
            for j in jobs:
                expected = expires_in(j.output_expires, now)
                shown: Any = table.get_cell(j.job_id, "expires")
                assert str(getattr(shown, "plain", shown)) == expected, (j.job_id, now)
            # Exactly the rows whose text changed since the last poll were re-rendered.
            changed = {j.job_id for j in jobs if expires_in(j.output_expires, now)
                       != expires_in(j.output_expires, before)}
            assert set(rendered) == changed and len(rendered) == len(changed)
