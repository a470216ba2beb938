"""The one safe write path and the one sanitizer: the rules every writer relies on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glacier_tui.glacier import safe_files as sf
from glacier_tui.glacier.sanitize import inert, markup


def test_atomic_write_is_private_and_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.csv"
    sf.atomic_write(target, b"one")
    sf.atomic_write(target, lambda fh: fh.write(b"two"))
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "sub").stat().st_mode & 0o777 == 0o700
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.csv"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    sf.atomic_write(target, b"old")

    def boom(fh: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        sf.atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


@pytest.mark.parametrize("kind", ["symlink", "dangling", "fifo", "dir"])
def test_never_writes_through_or_replaces_non_regular(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep")
    target = tmp_path / "t"
    if kind == "symlink":
        target.symlink_to(outside)
    elif kind == "dangling":
        target.symlink_to(tmp_path / "nowhere")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    with pytest.raises(sf.UnsafeFileError):
        sf.atomic_write(target, b"x")
    with pytest.raises(sf.UnsafeFileError):
        sf.open_regular(target, os.O_WRONLY | os.O_CREAT)
    assert outside.read_bytes() == b"keep"
    assert not (tmp_path / "nowhere").exists()


def test_lock_names_the_holder(tmp_path: Path) -> None:
    first = sf.ExclusiveLock(tmp_path / "j.lock", what="already being downloaded").acquire()
    with pytest.raises(sf.LockedError) as err:
        sf.ExclusiveLock(tmp_path / "j.lock", what="already being downloaded").acquire()
    assert str(err.value) == f"already being downloaded by another glacier-tui (pid {os.getpid()})"
    first.release()
    sf.ExclusiveLock(tmp_path / "j.lock").acquire().release()


def test_sanitizer_neutralises_every_class() -> None:
    hostile = "a\x1b[31mred\x1b[0m\r\nb\u202egnp.exe\x1b]8;;http://x\x07link\x1b]8;;\x07\x9b2J\x7f"
    assert inert(hostile) == "ared bgnp.exelink"
    assert markup("[bold]x[/]") == "\\[bold]x\\[/]"
    assert inert("plain name.txt") == "plain name.txt"
    assert inert("two\nlines", multiline=True) == "two\nlines"
