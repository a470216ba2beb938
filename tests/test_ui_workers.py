"""Workers never touch widgets: they post messages, and handlers on the UI thread render."""

from __future__ import annotations

from pathlib import Path

import glacier_tui.ui

UI = Path(glacier_tui.ui.__file__).parent


def test_no_worker_calls_widgets_from_its_thread() -> None:
    # call_from_thread runs a widget method from a worker thread's request: the worker
    # then drives the UI. Posting a message (thread-safe) keeps rendering in handlers.
    offenders = [str(p.relative_to(UI)) for p in UI.rglob("*.py")
                 if "call_from_thread" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_browse_posts_folder_messages() -> None:
    from glacier_tui.ui.messages import FoldersLoaded, FolderTotals
    from glacier_tui.ui.screens.main.browse import BrowseMixin

    assert hasattr(BrowseMixin, "on_folders_loaded") and hasattr(BrowseMixin, "on_folder_totals")
    assert FoldersLoaded.handler_name == "on_folders_loaded"
    assert FolderTotals.handler_name == "on_folder_totals"
