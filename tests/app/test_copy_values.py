"""``y`` copies what the focused widget's ``copy_value()`` names, one pilot test per widget.

Each widget is shown alone on a screen of the real app (whose ``y`` binding copies), fed
the way the main screen feeds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Tabs

import glacier_tui.ui.app as app_module
from glacier_tui.config import Settings
from glacier_tui.glacier.models import Job, Vault
from glacier_tui.ui.app import GlacierApp
from glacier_tui.ui.messages import TransferRow
from glacier_tui.ui.widgets.archive_browser import ArchiveBrowser
from glacier_tui.ui.widgets.archive_list import ArchiveList
from glacier_tui.ui.widgets.detail_pane import DetailPane
from glacier_tui.ui.widgets.job_table import JobTable
from glacier_tui.ui.widgets.restores_panel import CampaignBlock, CampaignRow, RestoresPanel
from glacier_tui.ui.widgets.transfers_panel import TransferItem, TransfersPanel
from glacier_tui.ui.widgets.vault_tree import NodeData, VaultTree

ARN = "arn:aws:glacier:us-east-1:123456789012:vaults/photos"


class _Only(Screen[None]):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self._widget = widget

    def compose(self) -> Any:
        yield self._widget


class _WidgetApp(GlacierApp):
    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

    def __init__(self, widget: Widget) -> None:
        super().__init__(Settings())
        self._widget = widget

    def get_default_screen(self) -> Any:
        return _Only(self._widget)


async def _until(pilot: Any, condition: Callable[[], bool], limit: int = 100) -> None:
    for _ in range(limit):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not met in time")


async def _press_y(pilot: Any, app: GlacierApp) -> None:
    before = len(app._notifications)
    await pilot.press("y")
    await _until(pilot, lambda: len(app._notifications) > before)


def _titles(app: GlacierApp) -> list[str]:
    return [n.title or "" for n in app._notifications]


def _job(job_id: str) -> Job:
    return Job.from_api({
        "JobId": job_id, "VaultARN": ARN, "Action": "ArchiveRetrieval",
        "StatusCode": "Succeeded", "Completed": True, "ArchiveId": "archive-1",
        "CreationDate": "2026-01-15T08:00:00Z", "CompletionDate": "2026-01-15T12:00:00Z",
    })


async def test_job_table_copies_the_job_id() -> None:
    table = JobTable()
    app = _WidgetApp(table)
    async with app.run_test(size=(120, 20)) as pilot:
        table.upsert([_job("job-a"), _job("job-b")], {})
        table.focus()
        await _until(pilot, lambda: table.current_job_id() is not None)
        copied: list[str] = []
        for key, row in (("g", 0), ("G", 1)):  # each row copies its own job's id
            await pilot.press(key)
            await _until(pilot, lambda r=row: table.cursor_coordinate.row == r)
            await _press_y(pilot, app)
            copied.append(app.clipboard)
        assert sorted(copied) == ["job-a", "job-b"]
        assert "Copied the job id" in _titles(app)


@dataclass(frozen=True)
class _Row:
    archive_id: str
    name: str
    size: int | None
    created: str | None


class _Source:
    def count(self) -> int:
        return 3

    def rows(self, offset: int, limit: int) -> Sequence[_Row]:
        return [_Row(f"archive-{i}", f"f{i}.jpg", 10, None)
                for i in range(offset, min(3, offset + limit))]


async def test_archive_list_and_browser_copy_the_archive_id() -> None:
    for widget in (ArchiveList(_Source()), ArchiveBrowser()):
        assert isinstance(widget, ArchiveList)
        app = _WidgetApp(widget)
        async with app.run_test(size=(100, 20)) as pilot:
            if isinstance(widget, ArchiveBrowser):
                widget.set_source(_Source())
            widget.focus()
            await _until(pilot, lambda w=widget: w.current_row() is not None)
            await pilot.press("j")
            await _until(pilot, lambda w=widget: w.cursor == 1)
            await _press_y(pilot, app)
            assert app.clipboard == "archive-1", type(widget).__name__
            assert "Copied the archive id" in _titles(app)


async def test_vault_tree_copies_an_archive_id_or_the_vault_arn_or_name() -> None:
    tree = VaultTree()
    app = _WidgetApp(tree)
    async with app.run_test(size=(80, 20)) as pilot:
        tree.set_vaults([Vault(name="photos", arn=ARN), Vault(name="bare", arn="")], {})
        node = tree.vault_node("photos")
        assert node is not None and node.data is not None
        node.data.loaded = True  # no store behind this tree: keep the leaf added here
        node.add_leaf("a.jpg", NodeData("archive", "photos", path="a.jpg",
                                        archive_id="archive-9"))
        node.expand()
        tree.focus()
        assert tree.select_vault("photos")
        await pilot.pause()
        await _press_y(pilot, app)
        assert app.clipboard == ARN
        assert "Copied the vault ARN" in _titles(app)
        await pilot.press("j")  # the archive under it
        await _until(pilot, lambda: tree.cursor_node is not None and
                     tree.cursor_node.data is not None and
                     tree.cursor_node.data.kind == "archive")
        await _press_y(pilot, app)
        assert app.clipboard == "archive-9"
        assert tree.select_vault("bare")
        await pilot.pause()
        await _press_y(pilot, app)
        assert app.clipboard == "bare"
        assert "Copied the vault name" in _titles(app)


def _campaign(cid: int, status: str) -> CampaignRow:
    return CampaignRow(id=cid, vault="photos", what="2 archives", tier="Bulk", status=status,
                       counts={"requested": 2}, total_items=2, total_bytes=20,
                       verified_bytes=0, manifest=f"/restores/restore-manifest-{cid}.csv")


async def test_restores_panel_copies_the_campaign_id_then_its_manifest() -> None:
    panel = RestoresPanel([_campaign(3, "running"), _campaign(4, "done")])
    app = _WidgetApp(panel)
    async with app.run_test(size=(100, 20)) as pilot:
        await _until(pilot, lambda: len(panel.query(CampaignBlock)) == 2)
        panel.query_one("#campaign-3", CampaignBlock).focus()
        await pilot.pause()
        await _press_y(pilot, app)
        assert app.clipboard == "3"  # running: no manifest written yet
        assert "Copied the campaign id" in _titles(app)
        await pilot.press("k")  # the newer, finished one (newest first)
        await _until(pilot, lambda: panel.current_campaign() == 4)
        await _press_y(pilot, app)
        assert app.clipboard == "/restores/restore-manifest-4.csv"
        assert "Copied the manifest path" in _titles(app)


async def test_transfers_panel_copies_the_local_path() -> None:
    panel = TransfersPanel()
    app = _WidgetApp(panel)
    async with app.run_test(size=(100, 20)) as pilot:
        panel.update_transfer(TransferRow("t1", "download", "a.jpg", total=10,
                                          target="/downloads/a.jpg"))
        # A progress report carries no path: the first one is kept.
        panel.update_transfer(TransferRow("t1", "download", "a.jpg", total=10, done=5))
        await _until(pilot, lambda: bool(panel.query(TransferItem)))
        panel.query_one(TransferItem).focus()
        await pilot.pause()
        await _press_y(pilot, app)
        assert app.clipboard == "/downloads/a.jpg"
        assert "Copied the path" in _titles(app)


async def test_detail_pane_copies_the_id_of_what_it_shows() -> None:
    pane = DetailPane()
    app = _WidgetApp(pane)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        pane.query_one(Tabs).focus()
        await pilot.pause()
        await pilot.press("y")  # nothing shown yet: nothing to copy
        await _until(pilot, lambda: any(n.severity == "warning" for n in app._notifications))
        assert app.clipboard == ""
        pane.show_job(_job("job-z"), "a.jpg")
        await _press_y(pilot, app)
        assert app.clipboard == "job-z"
        pane.show_vault(Vault(name="photos", arn=ARN), [])
        await _press_y(pilot, app)
        assert app.clipboard == ARN
        pane.show_archive([("Vault", "photos"), ("Archive id", "archive-7")])
        await _press_y(pilot, app)
        assert app.clipboard == "archive-7"
