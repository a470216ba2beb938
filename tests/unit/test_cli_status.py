"""The status detail lines shared by the restore, migrate and purge commands."""

from __future__ import annotations

from pathlib import Path

from glacier_tui.cli_status import counts_line, manifest_lines, message_lines, problem_lines
from glacier_tui.glacier.campaigns import ItemState


def test_the_lines_keep_the_commands_format(tmp_path: Path) -> None:
    counts = {ItemState.VERIFIED: 1234, ItemState.FAILED: 1}
    line = counts_line(counts)
    assert line.startswith("      planned 0, ") and "verified 1,234" in line
    assert message_lines("") == []
    assert message_lines("paused") == ["      paused"]
    assert problem_lines([("failed", "a/b.jpg", "the job failed")]) == [
        "      failed: a/b.jpg: the job failed"]
    missing = tmp_path / "restore-manifest-1.csv"
    assert manifest_lines(missing) == []
    missing.write_text("x")
    assert manifest_lines(missing) == [f"      manifest: {missing}"]


def test_untrusted_text_is_inert() -> None:
    (line,) = problem_lines([("failed", "evil\x1b[31m.jpg", "bad\x07")])
    assert "\x1b" not in line and "\x07" not in line
    assert "\x1b" not in message_lines("\x1b]52;c;x\x07")[0]
