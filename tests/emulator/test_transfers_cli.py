"""``glacier-tui download`` / ``upload``: exit codes, one-line errors, names, recursion."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from glacier_tui import transfers_cli
from glacier_tui.glacier import downloads
from glacier_tui.glacier.descriptions import decode_description
from glacier_tui.glacier.transfers import archive_description_for
from glacier_tui.glacier.treehash import MIB


def settings(url: str, tmp_path: Path, **overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "profile": None, "region": "us-east-1", "endpoint_url": url, "readonly": False,
        "download_dir": tmp_path / "downloads", "transfer_concurrency": 4, "part_size_mib": 1,
        "segment_size_mib": 1, "upload_threshold_mib": 2, "retry_mode": "standard",
        "max_attempts": 2,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def parse(kind: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    if kind == "download":
        transfers_cli.add_download_arguments(parser)
    else:
        transfers_cli.add_upload_arguments(parser)
    return parser.parse_args(argv)


def download(url: str, tmp_path: Path, argv: list[str], **overrides: Any) -> int:
    return transfers_cli.run_download(parse("download", argv), settings(url, tmp_path, **overrides))


def upload(url: str, tmp_path: Path, argv: list[str], **overrides: Any) -> int:
    argv = [*argv, "--journal-dir", str(tmp_path / "journals")]
    return transfers_cli.run_upload(parse("upload", argv), settings(url, tmp_path, **overrides))


def make_job(c: Any, emulator: Any, data: bytes, description: str) -> str:
    c.create_vault(vaultName="v")
    archive = c.upload_archive(vaultName="v", body=data, archiveDescription=description)
    job = c.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive["archiveId"], "Tier": "Expedited"})
    emulator.advance(6 * 3600)
    return str(job["jobId"])


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_download_name_from_description(boto3_client: Any, emulator: Any, emulator_url: str,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = os.urandom(3 * MIB + 7)
    job_id = make_job(boto3_client, emulator, data,
                      archive_description_for("photos/2024/a.jpg", 1_700_000_000))
    out = tmp_path / "restore"
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                             f"{out}/", "--quiet"]) == 0
    target = out / "photos" / "2024" / "a.jpg"
    assert target.read_bytes() == data
    assert capsys.readouterr().out.strip() == str(target.resolve())
    # The same again: the file exists now -> exit 1 and one clear line; --force overwrites.
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                             str(out)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "already exists" in line and "--force" in line
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id, "-o", str(out),
                                             "--force"]) == 0


def test_download_traversal_description_stays_inside(
    boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
) -> None:
    data = b"evil payload"
    job_id = make_job(boto3_client, emulator, data,
                      archive_description_for("../../../../tmp/evil\x1b[2J.sh", 0))
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id]) == 0
    files = [p for p in (tmp_path / "downloads").rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path / "downloads").as_posix() for p in files] == ["tmp/evil.sh"]


def test_download_to_file_and_fallback_name(boto3_client: Any, emulator: Any,
                                            emulator_url: str, tmp_path: Path) -> None:
    data = os.urandom(MIB + 1)
    job_id = make_job(boto3_client, emulator, data, "")
    target = tmp_path / "exact.bin"
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                             str(target), "--concurrency", "2"]) == 0
    assert target.read_bytes() == data
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id]) == 0
    assert (tmp_path / "downloads" / f"{job_id}.bin").read_bytes() == data


@pytest.mark.parametrize("argv", [
    ["--segment-size", "3"], ["--concurrency", "64"], ["--segment-size", "8192"],
])
def test_download_bad_usage(emulator: Any, emulator_url: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", "x", *argv]) == 2
    assert "see --help" in one_error_line(capsys.readouterr().err)
    assert emulator.requests() == []


def test_download_failures_exit_1(boto3_client: Any, emulator: Any, emulator_url: str,
                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    boto3_client.create_vault(vaultName="v")
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", "nope"]) == 1
    assert "nope" in one_error_line(capsys.readouterr().err)
    job_id = make_job(boto3_client, emulator, b"data", "d")
    emulator.advance(25 * 3600)
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id]) == 1
    assert "24 hours" in one_error_line(capsys.readouterr().err)


def test_download_corruption_exit_1(boto3_client: Any, emulator: Any, emulator_url: str,
                                    tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = make_job(boto3_client, emulator, os.urandom(2 * MIB), "d")
    emulator.set_faults({"corrupt": 1.0})
    original = downloads._retrying

    async def quick(op: Any, *, max_retries: int, base_delay: float, on_retry: Any = None) -> Any:
        # The CLI uses the engine's real backoff; keep the test fast.
        return await original(op, max_retries=1, base_delay=0.001, on_retry=on_retry)

    monkeypatch.setattr(downloads, "_retrying", quick)
    target = tmp_path / "x.bin"
    assert download(emulator_url, tmp_path, ["--vault", "v", "--job", job_id, "-o",
                                             str(target)]) == 1
    assert "verification" in one_error_line(capsys.readouterr().err)
    assert not target.exists() and (tmp_path / "x.bin.part").exists()


def test_upload_tree(boto3_client: Any, emulator: Any, emulator_url: str, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    boto3_client.create_vault(vaultName="v")
    root = tmp_path / "photos"
    (root / "sub" / "deeper").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(3 * MIB + 3),
             "sub/deeper/ç.txt": b"unicode"}
    for rel, content in files.items():
        (root / rel).write_bytes(content)
    single = tmp_path / "single.txt"
    single.write_bytes(b"one")
    assert upload(emulator_url, tmp_path, ["--vault", "v", str(root), str(single),
                                           "--concurrency", "2"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [name for _, name in rows] == ["a.txt", "sub/b.bin", "sub/deeper/ç.txt", "single.txt"]
    ops = [r["operation"] for r in emulator.requests()]
    assert ops.count("UploadArchive") == 3 and ops.count("CompleteMultipartUpload") == 1
    for archive_id, name in rows:
        job = boto3_client.initiate_job(vaultName="v", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Expedited"})
        emulator.advance(6 * 3600)
        out = boto3_client.get_job_output(vaultName="v", jobId=job["jobId"])
        assert decode_description(out["archiveDescription"], archive_id).path == name
        expected = single.read_bytes() if name == "single.txt" else files[name]
        assert out["body"].read() == expected


def test_upload_bad_usage_and_failures(emulator: Any, emulator_url: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert upload(emulator_url, tmp_path, ["--vault", "v", str(tmp_path / "missing")]) == 2
    assert "no such file" in one_error_line(capsys.readouterr().err)
    f = tmp_path / "f.txt"
    f.write_bytes(b"x" * (3 * MIB))
    assert upload(emulator_url, tmp_path, ["--vault", "v", str(f), "--part-size", "3"]) == 2
    assert "power of two" in one_error_line(capsys.readouterr().err)
    assert upload(emulator_url, tmp_path, ["--vault", "v", str(f)], readonly=True) == 2
    capsys.readouterr()
    assert emulator.requests() == []
    # The vault does not exist: the transfer fails, exit 1, one line per file.
    assert upload(emulator_url, tmp_path, ["--vault", "nosuchvault", str(f)]) == 1
    assert "f.txt" in one_error_line(capsys.readouterr().err)
    # With several files the first such error stops the upload instead of repeating.
    g = tmp_path / "g.txt"
    g.write_bytes(b"y")
    emulator.clear_requests()
    assert upload(emulator_url, tmp_path, ["--vault", "nosuchvault", str(f), str(g)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "f.txt" in lines[0]
    assert "stopped: 1 more file(s) not attempted" in lines[1]
    assert len([r for r in emulator.requests() if r.get("operation")]) == 1


def test_cli_main_wiring(emulator_url: str, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from glacier_tui import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(["download", "--job", "x"])  # --vault missing
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["upload", "--vault", "v"])  # no paths
    assert exc.value.code == 2
    capsys.readouterr()
