"""Write screenshots/*.svg from the demo, headless: `python screenshots/make_screenshots.py`."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


async def _wait(pilot: Any, cond: Any, steps: int = 400) -> None:
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)


async def main() -> None:
    from glacier_tui.config import Settings
    from glacier_tui.ui.app import GlacierApp
    from glacier_tui.ui.widgets.archive_list import ArchiveList
    from glacier_tui.ui.widgets.job_table import JobTable
    from glacier_tui.ui.widgets.vault_tree import VaultTree

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    app = GlacierApp(Settings(poll_interval=3600), demo=True,
                     clock=lambda: datetime.now(UTC))
    async with app.run_test(size=(120, 40)) as pilot:
        main_screen = app.screen_stack[0]
        await _wait(pilot, lambda: bool(getattr(main_screen, "vaults", None)))
        await _wait(pilot, lambda: bool(main_screen.query_one(JobTable).jobs))
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        app.save_screenshot("main.svg", str(HERE))
        # Load a seeded inventory and open the vault.
        table = main_screen.query_one(JobTable)
        inv = next((j for j in table.jobs.values()
                    if j.is_inventory_retrieval and j.succeeded), None)
        if inv is not None:
            table.focus()
            table.select_job(inv.job_id)
            await pilot.pause()
            app.save_screenshot("job-details.svg", str(HERE))
            await pilot.press("d")
            tree = main_screen.query_one(VaultTree)
            await _wait(pilot, lambda: tree.has_inventory.get(inv.vault_name, False))
            tree.focus()
            tree.select_vault(inv.vault_name)
            await pilot.pause(0.5)
            node = tree.vault_node(inv.vault_name)
            if node is not None:
                await _wait(pilot, lambda: any(c.data is not None and c.data.kind == "folder"
                                               for c in node.children))
                await pilot.press("down")  # the first folder: its archives in the list
                await app.workers.wait_for_complete()
                await pilot.pause(0.5)
            app.save_screenshot("vault-tree.svg", str(HERE))
            archives = main_screen.query_one(ArchiveList)
            archives.focus()
            await pilot.press("o")  # sort by size
            await app.workers.wait_for_complete()
            await pilot.pause(0.5)
            app.save_screenshot("archive-list.svg", str(HERE))
        await pilot.press("question_mark")
        await pilot.pause()
        app.save_screenshot("help.svg", str(HERE))
        await pilot.press("escape")
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("*.svg"))))


if __name__ == "__main__":
    asyncio.run(main())
