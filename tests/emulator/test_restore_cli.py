"""``glacier-tui restore``: the demo vault restored, verified, re-run idempotently; status,
resume, cancel and verify MANIFEST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from tests.conftest import emulator_config


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Any]:
    """The demo world; its clock runs 20,000x so Standard jobs end in about a second."""
    from glacier_tui.emulator import EmulatorThread

    cfg = emulator_config(tmp_path / "emu", seed_demo=True, frozen=False, time_scale=20000.0)
    with EmulatorThread(cfg) as emu:
        yield emu


def restore(emu: Any, *argv: str) -> int:
    return cli.main(["restore", "--endpoint-url", emu.url, *argv])


def base(emu: Any, out: Path) -> list[str]:
    return ["--vault", "family-photos", "--path", "photos/2020", "--tier", "Expedited",
            "-o", str(out), "--poll-interval", "0.2"]


def test_done_when_restore_verifies_everything_and_rerun_says_already_verified(
    demo: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert restore(demo, *base(demo, out)) == 0
    text = capsys.readouterr().out
    assert "no inventory of family-photos is stored: requesting one" in text
    assert "estimate" in text and "Expedited" in text and "Bulk" in text
    assert "every archive verified: 36 file(s)" in text
    files = [p for p in (out / "photos/2020").rglob("*") if p.is_file()]
    assert len(files) == 36
    manifest = out / "restore-manifest-1.csv"
    assert manifest.exists() and (out / "restore-manifest-1.json").exists()
    initiated = sum(1 for r in demo.requests() if r.get("operation") == "InitiateJob")

    assert restore(demo, *base(demo, out)) == 0
    text = capsys.readouterr().out
    assert "already verified: all 36 archive(s)" in text
    assert "file exists" not in text
    assert sum(1 for r in demo.requests() if r.get("operation") == "InitiateJob") == initiated

    assert cli.main(["restore", "verify", str(manifest)]) == 0
    assert "36 of 36 file(s) verified" in capsys.readouterr().out
    files[0].write_bytes(b"changed")
    assert cli.main(["restore", "verify", str(manifest)]) == 1
    assert "the manifest says" in capsys.readouterr().out
    assert cli.main(["restore", "verify", str(out / "restore-manifest-1.json")]) == 1

    assert restore(demo, "status") == 0
    listing = capsys.readouterr().out
    assert "done" in listing and "36/36 verified" in listing
    assert restore(demo, "status", "1") == 0


def test_dry_run_plans_nothing_and_cancel_resume(
    demo: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert restore(demo, *base(demo, out), "--dry-run") == 0
    text = capsys.readouterr().out
    assert "dry run: nothing requested" in text
    # only the inventory job was started, no retrieval
    assert sum(1 for r in demo.requests() if r.get("operation") == "InitiateJob") == 1
    assert restore(demo, "status") == 0
    assert "no restore campaigns" in capsys.readouterr().out
    # a budget for one Expedited request: it pauses, is cancelled, and stays cancelled
    assert restore(demo, *base(demo, out), "--budget-usd", "0.015") == 1
    text = capsys.readouterr()
    assert "budget" in text.out and "restore resume" in text.err
    assert restore(demo, "cancel", "2") == 0
    assert restore(demo, "resume", "2") == 1  # cancelled stays cancelled: not all verified
    assert restore(demo, "cancel", "99") == 1


def test_bad_usage_is_one_line_exit_2(demo: Any, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert restore(demo, "--vault", "family-photos", "-o", str(tmp_path)) == 2
    assert "choose what to restore" in capsys.readouterr().err
    assert restore(demo, "--vault", "family-photos", "--all") == 2
    assert restore(demo, "--vault", "family-photos", "--all", "-o", str(tmp_path),
                   "--inventory", str(tmp_path / "nope.json")) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err
    assert restore(demo, "--readonly", *base(demo, tmp_path / "o")) == 2
    assert "read-only" in capsys.readouterr().err
    assert restore(demo, "--vault", "family-photos", "--all", "-o", str(tmp_path),
                   "--byte-range", "0-99") == 2
    assert "exactly one --archive" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("hello\n")
    assert cli.main(["restore", "verify", str(bad)]) == 1
    assert "not a glacier-tui restore manifest" in capsys.readouterr().err
