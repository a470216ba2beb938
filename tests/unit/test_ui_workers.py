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


def test_tree_and_browser_load_through_their_own_messages() -> None:
    # The tree reads its folders and the browser its folder totals in thread workers
    # that post messages to the widget itself; the screen is not involved.
    from glacier_tui.ui.widgets.archive_browser import ArchiveBrowser
    from glacier_tui.ui.widgets.vault_tree import VaultTree

    assert hasattr(VaultTree, "on_vault_tree__folders_loaded")
    assert VaultTree._FoldersLoaded.handler_name == "on_vault_tree__folders_loaded"
    assert hasattr(ArchiveBrowser, "on_archive_browser__totals")
    assert ArchiveBrowser._Totals.handler_name == "on_archive_browser__totals"
