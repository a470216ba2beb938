"""What a poll re-renders: job rows whose "expires in" text is due, vault labels that changed."""

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
