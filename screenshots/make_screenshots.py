"""Write screenshots/*.svg from the demo, headless: `python screenshots/make_screenshots.py`.

The demo starts with its vaults' inventories imported, so the shots browse folders by
name at once: the main screen on a photo folder, marks in the archive list, a job's
details, the restore dialog (each tier's time and cost), a restore campaign running in
the Restores screen, a verified download, and the keys. It runs the demo in real time
(its clock is ×600), so it takes about a minute.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
SIZE = (130, 38)


async def _wait(pilot: Any, cond: Any, steps: int = 600, what: str = "") -> None:
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)
    print(f"warning: gave up waiting for {what or cond}", file=sys.stderr)


async def _open_folder(pilot: Any, tree: Any, vault: str, path: str) -> Any:
    """Expand the vault tree down to ``path`` and put the cursor on it."""
    node = tree.vault_node(vault)
    tree.focus()
    tree.select_vault(vault)
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        want = "/".join(parts[:depth])
        node.expand()

        def child(parent: Any = node, path: str = want) -> Any:
            return next((c for c in parent.children
                         if c.data is not None and c.data.path == path), None)

        await _wait(pilot, lambda: child() is not None, what=want)
        node = child()
    tree.move_cursor(node)
    tree.scroll_to_node(node)
    await pilot.pause(0.3)
    return node


def _collapse_all(tree: Any) -> None:
    for node in tree.root.children:
        node.collapse()


async def main() -> None:
    from glacier_tui.config import Settings
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.screens.restore import RestoreScreen
    from glacier_tui.ui.screens.restores import RestoresScreen
    from glacier_tui.ui.widgets.archive_list import ArchiveList
    from glacier_tui.ui.widgets.job_table import JobTable
    from glacier_tui.ui.widgets.transfers_panel import TransfersPanel
    from glacier_tui.ui.widgets.vault_tree import VaultTree

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    shot = lambda name: app.save_screenshot(name, str(HERE))  # noqa: E731
    app = GlacierApp(Settings(poll_interval=1), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        main_screen = app.screen_stack[0]
        await _wait(pilot, lambda: bool(main_screen.connection.vaults), what="vaults")
        tree = main_screen.query_one(VaultTree)
        table = main_screen.query_one(JobTable)
        archives = main_screen.query_one(ArchiveList)
        await _wait(pilot, lambda: bool(table.jobs) and tree.has_inventory.get("family-photos"),
                    what="jobs and inventories")
        await pilot.pause(0.5)

        # The main screen on a photo folder: names, sizes and dates from the inventory.
        await _open_folder(pilot, tree, "photo-library", "2012/01/birthday")
        await _wait(pilot, lambda: archives.row_count > 0, what="archives")
        await pilot.pause(0.5)
        shot("main.svg")

        # Marks in the archive list, sorted by size.
        archives.focus()
        await pilot.press("o", "o")
        await pilot.pause(0.3)
        await pilot.press("space", "down", "space", "down", "down", "space")
        await pilot.pause(0.5)
        shot("archive-list.svg")
        main_screen.browse.clear_marks()

        # A finished restore job: its details.
        done = next((j for j in table.jobs.values()
                     if not j.is_inventory_retrieval and j.succeeded), None)
        if done is not None:
            table.focus()
            table.select_job(done.job_id)
            await pilot.pause(0.5)
            shot("job-details.svg")
            # Downloaded and verified (tree hash) into the demo's download folder.
            await pilot.press("d")
            panel = main_screen.query_one(TransfersPanel)
            await _wait(pilot, lambda: any(i.state.state not in ("running", "queued")
                                           for i in panel.items.values()), what="download")
            await pilot.pause(0.5)
            shot("download.svg")

        # A vault of videos: the tree, its folder's archives.
        _collapse_all(tree)
        await _open_folder(pilot, tree, "media-archive", "video")
        await _wait(pilot, lambda: archives.row_count > 0, what="archives")
        await pilot.pause(0.5)
        shot("vault-tree.svg")

        # The restore dialog for a year of photos: each tier's time and cost.
        _collapse_all(tree)
        await _open_folder(pilot, tree, "photo-library", "2012")
        await pilot.press("r")
        await _wait(pilot, lambda: isinstance(app.screen, RestoreScreen), what="restore dialog")
        await pilot.pause(0.5)
        shot("restore-dialog.svg")

        # Restore it (Standard): the campaign runs; the Restores screen follows it.
        await pilot.press("enter")
        await _wait(pilot, lambda: bool(main_screen.campaigns.board.rows), what="campaign")
        # And a second one, Bulk (5-12 h: still waiting when the shot is taken).
        _collapse_all(tree)
        await _open_folder(pilot, tree, "media-archive", "video")
        await pilot.press("r")
        await _wait(pilot, lambda: isinstance(app.screen, RestoreScreen), what="restore dialog")
        await pilot.press("down", "enter")
        await _wait(pilot, lambda: len(main_screen.campaigns.board.rows) == 2, what="second campaign")
        await pilot.press("c")
        await _wait(pilot, lambda: isinstance(app.screen, RestoresScreen), what="restores")
        # Standard jobs take 3-5 service hours: 18-30 s at the demo's ×600.
        await pilot.pause(26)
        shot("restores.svg")
        await pilot.press("escape")
        await pilot.pause(0.3)

        await pilot.press("question_mark")
        await pilot.pause(0.5)
        shot("help.svg")
        await pilot.press("escape")
        demo_root = app.demo_backend.root
    shutil.rmtree(demo_root, ignore_errors=True)  # the demo keeps downloads: not these
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("*.svg"))))


if __name__ == "__main__":
    asyncio.run(main())
