"""What follows a finished job, decided alone (no Textual)."""

from __future__ import annotations

from glacier_tui.glacier.models import Job
from glacier_tui.ui.job_followup import CAMPAIGN_JOB_PREFIX, Due, JobFollowUp

ARN = "arn:aws:glacier:us-east-1:1:vaults/"


def job(job_id: str, status: str = "InProgress", *, vault: str = "v",
        action: str = "ArchiveRetrieval", description: str = "") -> Job:
    done = status != "InProgress"
    return Job.from_api({
        "JobId": job_id, "VaultARN": ARN + vault, "Action": action, "StatusCode": status,
        "Completed": done, "JobDescription": description or None,
        "CreationDate": "2026-01-15T10:00:00Z",
        "CompletionDate": "2026-01-15T11:00:00Z" if done else None,
    })


def test_inventory_index_and_restore_follow_ups_are_due_once() -> None:
    f = JobFollowUp()
    f.started(job("inv", action="InventoryRetrieval", vault="photos"))
    f.index_jobs["idx"] = "photos"
    f.started(job("res"))
    jobs = {"inv": job("inv", "Succeeded", action="InventoryRetrieval", vault="photos"),
            "idx": job("idx", "Succeeded"), "res": job("res", "Succeeded"),
            "other": job("other", "Succeeded")}
    due = f.due(jobs, auto_download=True)
    assert [(d.step, d.job.job_id, d.vault) for d in due] == [
        ("import_inventory", "inv", "photos"), ("fetch_index", "idx", "photos"),
        ("download", "res", "")]
    assert f.due(jobs, auto_download=True) == []  # each once
    assert isinstance(due[0], Due)


def test_a_failed_inventory_is_forgotten_and_restores_wait_for_auto_download() -> None:
    f = JobFollowUp()
    f.started(job("inv", action="InventoryRetrieval"))
    f.started(job("res"))
    jobs = {"inv": job("inv", "Failed", action="InventoryRetrieval"),
            "res": job("res", "Succeeded")}
    assert [d.step for d in f.due(jobs, auto_download=False)] == ["inventory_failed"]
    assert "res" not in f.handled  # not downloaded without auto_download


def test_which_finished_jobs_are_announced() -> None:
    f = JobFollowUp()
    f.started(job("mine"))
    changes = [
        (job("seen"), job("seen", "Succeeded")),  # seen running, now done: told
        (None, job("mine", "Failed")),  # started here, first seen done: told
        (None, job("old", "Succeeded")),  # finished before we looked: not told
        (job("camp"), job("camp", "Succeeded")),  # a campaign's job (known id)
        (job("c2"), job("c2", "Succeeded", description=CAMPAIGN_JOB_PREFIX + "3 item 1")),
        (None, job("running")),
    ]
    told = f.to_announce(changes, campaign_jobs={"camp"})
    assert [j.job_id for j in told] == ["seen", "mine"]


def test_campaign_board_counts_an_items_moves() -> None:
    from dataclasses import dataclass, field

    from glacier_tui.ui.campaign_board import CampaignBoard

    @dataclass
    class R:  # the fields item_moved reads of a CampaignRow
        id: int = 7
        counts: dict[str, int] = field(default_factory=dict)
        settled: bool = False
        verified_bytes: int = 0

    board = CampaignBoard()
    board.rows[7] = R(counts={"requested": 2})  # type: ignore[assignment]
    row = board.item_moved(7, 1, "ready", 100)
    assert row is not None and row.counts == {"requested": 1, "ready": 1}
    assert board.item_moved(7, 1, "ready", 100) is None  # no move
    row = board.item_moved(7, 1, "verified", 100)  # via downloading: guessed from "ready"
    assert row is not None and row.counts["verified"] == 1 and row.verified_bytes == 100
    assert 1 not in board.item_states[7]  # terminal: forgotten
