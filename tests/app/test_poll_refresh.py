"""What a poll re-renders: job rows whose "expires in" text is due, vault labels that changed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App, ComposeResult
from textual.coordinate import Coordinate

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
        original = table._update_expiry

        def counting(job_id: str) -> None:
            rendered.append(job_id)
            original(job_id)

        table._update_expiry = counting  # type: ignore[method-assign]
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


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        from glacier_tui.ui.widgets.vault_tree import VaultTree

        yield VaultTree()


async def test_vault_labels_are_set_only_when_they_change() -> None:
    from glacier_tui.glacier.models import Vault
    from glacier_tui.ui.widgets.vault_tree import VaultTree

    vaults = [Vault(name=f"v{i}", arn=f"arn:aws:glacier:us-east-1:1:vaults/v{i}",
                    last_inventory_date=START - timedelta(minutes=5 + i), number_of_archives=i,
                    size_in_bytes=1024 * i) for i in range(20)]
    app = TreeApp()
    async with app.run_test() as pilot:
        tree = app.query_one(VaultTree)
        tree.now = START
        tree.set_vaults(vaults, {v.name: True for v in vaults})
        await pilot.pause()
        updates = {n: node._updates for n, node in tree._vault_nodes.items()}
        tree.refresh_labels(START + timedelta(seconds=20))  # still "5m ago" ... "24m ago"
        assert {n: node._updates for n, node in tree._vault_nodes.items()} == updates
        tree.refresh_labels(START + timedelta(minutes=1))  # every age moved on a minute
        for name, node in tree._vault_nodes.items():
            assert node._updates == updates[name] + 1
            assert node.label == tree.vault_label(tree.vaults[name])
            assert f"inv {int(name[1:]) + 6}m ago" in node.label.plain


async def test_expiries_turning_over_together_are_updated_across_loop_turns(
        monkeypatch: Any) -> None:
    from glacier_tui.ui.widgets import job_table

    monkeypatch.setattr(job_table, "EXPIRY_BATCH", 40)
    jobs = [job(i, 3600.0) for i in range(150)]  # all finished at the same moment
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(JobTable)
        table.now = START
        table.upsert(jobs, {})
        await pilot.pause()
        later = START + timedelta(minutes=1)

        def stale() -> int:
            want = expires_in(jobs[0].output_expires, later)
            return sum(1 for j in jobs
                       if str(getattr(c := table.get_cell(j.job_id, "expires"), "plain", c))
                       != want)

        table.refresh_times(later)
        assert stale() == 150 - 40  # one batch now, the rest in later turns
        for _ in range(50):
            if not stale():
                break
            await pilot.pause()
        assert stale() == 0


async def test_removals_and_live_vaults_follow_the_polled_vaults() -> None:
    def live(i: int, vault: str) -> Job:
        return Job.from_api({
            "JobId": f"live{i}", "VaultARN": f"arn:aws:glacier:us-east-1:1:vaults/{vault}",
            "Action": "ArchiveRetrieval", "StatusCode": "InProgress", "Completed": False,
            "CreationDate": START.isoformat(), "ArchiveId": f"b{i}", "Tier": "Bulk"})

    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(JobTable)
        table.now = START
        table.upsert([job(0, 60), job(1, 60), live(2, "w"), live(3, "x")], {})
        await pilot.pause()
        assert table.live_vaults() == {"w", "x"}
        # Vault v listed without job0001; vault x listed empty, but live3 is kept.
        table.remove_missing({"v": {"job0000"}, "x": set()}, keep={"live3"})
        assert set(table.jobs) == {"job0000", "live2", "live3"}
        assert table.row_count == 3
        done = live(2, "w").model_copy(update={"status_code": "Succeeded", "completed": True,
                                               "raw": {"StatusCode": "Succeeded"}})
        table.upsert([done], {})
        assert table.live_vaults() == {"x"}


async def test_rows_away_from_the_cursor_keep_their_render_as_it_moves() -> None:
    jobs = [job(i, 60.0 * i) for i in range(30)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(JobTable)
        table.now = START
        table.upsert(jobs, {})
        table.focus()
        await pilot.pause()
        key = table._row_locations.get_key(10)
        style = table.rich_style

        def render(cursor_row: int) -> Any:
            return table._render_line_in_row(key, 0, style, Coordinate(cursor_row, 0),
                                             Coordinate(-1, -1))

        first = render(0)
        assert render(3) is first  # from the cache: the cursor is elsewhere either way
        on_cursor = render(10)
        assert on_cursor is not first and on_cursor != first  # highlighted
