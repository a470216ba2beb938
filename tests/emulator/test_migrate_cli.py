"""``glacier-tui migrate``: the demo vault into a local S3 bucket, verified by HEAD, re-run
as a no-op; plan output; status; merge; bad usage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from tests.conftest import emulator_config


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Any]:
    """The demo world; its clock runs 2,000x: Expedited jobs end in well under a second and
    outputs live 43 s (at 20,000x they would expire before 323 archives are moved)."""
    from glacier_tui.emulator import EmulatorThread

    cfg = emulator_config(tmp_path / "emu", seed_demo=True, frozen=False, time_scale=2000.0)
    with EmulatorThread(cfg) as emu:
        yield emu


def migrate(emu: Any, s3_url: str, action: str, *argv: str) -> int:
    return cli.main(["migrate", "--endpoint-url", emu.url, action, "--s3-endpoint-url", s3_url,
                     *argv])


def base(tmp_path: Path, *extra: str) -> list[str]:
    return ["--vault", "family-photos", "--to", "s3://demo-bucket/photos", "--all",
            "--tier", "Expedited", "--poll-interval", "0.2", "--manifest-dir",
            str(tmp_path / "m"), "--db", str(tmp_path / "store.sqlite3"), *extra]


def test_done_when_demo_vault_lands_in_s3_verify_by_head_rerun_does_nothing(
    demo: Any, moto_s3_url: str, s3_boto3: Any, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3_boto3.create_bucket(Bucket="demo-bucket")
    assert migrate(demo, moto_s3_url, "plan", *base(tmp_path)) == 0
    text = capsys.readouterr().out
    assert "one-off cost" in text and "DEEP_ARCHIVE" in text and "UNVERIFIED" in text
    assert "plan only: nothing requested" in text
    assert not list((tmp_path / "m").glob("*.csv")) if (tmp_path / "m").exists() else True

    assert migrate(demo, moto_s3_url, "run", *base(tmp_path, "--yes", "--quiet")) == 0
    text = capsys.readouterr().out
    assert "every archive verified in S3" in text, text
    keys = [o["Key"] for page in s3_boto3.get_paginator("list_objects_v2").paginate(
        Bucket="demo-bucket") for o in page.get("Contents", [])]
    assert keys and all(k.startswith("photos/") for k in keys)
    assert any(k.startswith("photos/photos/2020/") for k in keys)  # decoded mt2 paths
    manifest = next((tmp_path / "m").glob("migrate-manifest-*.csv"))
    rows = manifest.read_text(encoding="utf-8").splitlines()
    assert len(rows) - 1 == len(keys)

    assert cli.main(["migrate", "verify", "--s3-endpoint-url", moto_s3_url, str(manifest)]) == 0
    assert f"{len(keys)} of {len(keys)} object(s) verified by HEAD" in capsys.readouterr().out

    initiated = sum(1 for r in demo.requests() if r.get("operation") == "InitiateJob")
    assert migrate(demo, moto_s3_url, "run", *base(tmp_path, "--yes", "--quiet")) == 0
    text = capsys.readouterr().out
    assert "already in S3: all" in text and "nothing retrieved or uploaded" in text
    assert sum(1 for r in demo.requests() if r.get("operation") == "InitiateJob") == initiated

    assert cli.main(["migrate", "status", "--db", str(tmp_path / "store.sqlite3")]) == 0
    assert "s3://demo-bucket/photos/" in capsys.readouterr().out

    assert cli.main(["migrate", "status", "--db", str(tmp_path / "store.sqlite3"), "2"]) == 0
    assert "manifest:" in capsys.readouterr().out
    merged = tmp_path / "merged.csv"
    assert cli.main(["migrate", "merge", str(manifest), "-o", str(merged)]) == 0
    assert f"{len(keys)} verified" in capsys.readouterr().out and merged.exists()

    # An object changed behind our back: verify (HEAD only) says so.
    first = keys[0]
    s3_boto3.put_object(Bucket="demo-bucket", Key=first, Body=b"changed",
                        ChecksumAlgorithm="CRC64NVME")
    assert cli.main(["migrate", "verify", "--s3-endpoint-url", moto_s3_url, str(manifest)]) == 1
    assert "length is 7 bytes" in capsys.readouterr().out


def test_bad_usage_is_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    assert cli.main(["migrate", "plan", "--vault", "v", "--to", "bucket", "--all"]) == 2
    assert "is not an s3:// URL" in capsys.readouterr().err
    assert cli.main(["migrate", "plan", "--vault", "v", "--to", "s3://b-1/p", "--all",
                     "--shard", "3/3"]) == 2
    assert "the index must be 0 to 2" in capsys.readouterr().err
    assert cli.main(["migrate", "plan", "--vault", "v", "--to", "s3://b-1/p"]) == 2
    assert "choose what to migrate" in capsys.readouterr().err
    assert cli.main(["migrate"]) == 2
    capsys.readouterr()
    assert cli.main(["migrate", "--readonly", "run", "--vault", "v", "--to", "s3://b-1/p",
                     "--all"]) == 2
    assert "read-only mode refuses" in capsys.readouterr().err
