"""Snapshot tests (80x24 and 120x40) of the restore and confirm dialogs with fixed data."""

from __future__ import annotations

from typing import Any

import pytest
from screen_host import SnapshotHost

from glacier_tui.config import DEFAULT_PRICES
from glacier_tui.ui.restore_model import MIB, ArchiveRef
from glacier_tui.ui.screens.confirm import ConfirmScreen
from glacier_tui.ui.screens.restore import RestoreScreen

SIZES = [(80, 24), (100, 30), (120, 40)]



BACKGROUND = "vault: photos"  # the line behind the dialog in the snapshots


def _restore_many() -> RestoreScreen:
    archives = [
        ArchiveRef(f"id{i}", f"photos/2024/IMG_{1000 + i}.jpg", (i + 1) * 2_100_000)
        for i in range(7)
    ]
    return RestoreScreen(archives, DEFAULT_PRICES, "Standard")


def _restore_one() -> RestoreScreen:
    return RestoreScreen(
        [ArchiveRef("A" * 138, "backups/[bold]db[/bold].tar.gz", 6 * MIB + MIB // 2)],
        DEFAULT_PRICES,
        "Bulk",
    )


def _confirm() -> ConfirmScreen:
    return ConfirmScreen(
        "Delete 3 archives?",
        [
            "Delete 3 archives from vault photos: a.jpg (2.1 MB), b.jpg (3.0 KB), "
            "[red]c[/red].jpg (1.0 GB)",
            "This cannot be undone.",
        ],
        confirm_label="Delete",
    )


@pytest.mark.parametrize("size", SIZES)
def test_restore_many(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(SnapshotHost(_restore_many(), BACKGROUND), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_restore_one_invalid_range(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        SnapshotHost(_restore_one(), BACKGROUND), press=["tab", *"1-5", "enter"],
        terminal_size=size,
    )


@pytest.mark.parametrize("size", SIZES)
def test_confirm(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(SnapshotHost(_confirm(), BACKGROUND), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_confirm_type_name(snap_compare: Any, size: tuple[int, int]) -> None:
    screen = ConfirmScreen(
        "Delete vault photos?",
        ["The vault photos and its access policy will be deleted."],
        confirm_label="Delete vault",
        type_to_confirm="photos",
    )
    assert snap_compare(SnapshotHost(screen, BACKGROUND), press=[*"pho"], terminal_size=size)
