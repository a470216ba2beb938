"""Pilot tests of the Migrate action (M): the screen, then a migration into moto's S3
that runs as a campaign; read-only hides and refuses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app_harness import main_screen, make_app, wait_for
from screen_host import SnapshotHost

from glacier_tui.glacier.migrate_cost import TransferKind, summarize
from glacier_tui.glacier.pricing import DEFAULT_PRICES
from glacier_tui.glacier.s3_keys import DEFAULT_PART, MIN_PART
from glacier_tui.ui.screens.migrate import MigrateScreen
from glacier_tui.ui.screens.restores import RestoresScreen
from glacier_tui.ui.widgets.restores_panel import RestoresPanel
from tests.app.test_ui_campaigns import open_folder, ready, vault  # noqa: F401  (fixture)


async def test_m_on_a_folder_migrates_it_into_the_bucket(
        emulator: Any, vault: dict[str, str], tmp_path: Path,  # noqa: F811
        s3_boto3: Any, moto_s3_url: str) -> None:
    s3_boto3.create_bucket(Bucket="dest")
    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        screen = main_screen(app)
        screen.migrate.s3_url = moto_s3_url
        await open_folder(pilot, app, "photos/2020")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        plan = str(app.screen.query_one("#migrate-plan").render())
        assert "DEEP_ARCHIVE" in plan and "UNVERIFIED" in plan and "2 archive(s)" in plan
        app.screen.query_one("#migrate-destination").value = "s3://dest/backup"
        app.screen.query_one("#migrate-tier").value = "Expedited"
        await pilot.pause()
        assert "*$" in str(app.screen.query_one("#migrate-plan").render()).splitlines()[1]
        await pilot.click("#migrate-start")
        await wait_for(pilot, lambda: not isinstance(app.screen, MigrateScreen))
        await wait_for(pilot, lambda: len(screen.campaigns.board.rows) == 1)
        await wait_for(pilot, lambda: len([e for e in emulator.requests()
                                           if e.get("operation") == "InitiateJob"]) == 2)
        emulator.advance(3600)
        try:
            await wait_for(pilot, lambda: next(iter(screen.campaigns.board.rows.values())).settled,
                           steps=400)
        except AssertionError:
            print(screen.campaigns.board.rows, [(n.title, n.message) for n in app._notifications])
            print(s3_boto3.list_objects_v2(Bucket="dest"))
            raise
        (row,) = screen.campaigns.board.rows.values()
        assert row.status == "done" and row.counts.get("verified") == 2
        assert row.what == "migrate folders photos/2020 -> s3://dest/backup/ (DEEP_ARCHIVE)"
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        block = app.screen.query_one(RestoresPanel).blocks[row.id]
        assert "migrate folders photos/2020 -> s3://dest/backup/" in str(
            block.query_one(".title").render())
    keys = sorted(o["Key"] for o in s3_boto3.list_objects_v2(Bucket="dest")["Contents"])
    assert keys == ["backup/photos/2020/a.jpg", "backup/photos/2020/b.jpg"]
    head = s3_boto3.head_object(Bucket="dest", Key=keys[0], ChecksumMode="ENABLED")
    assert head["ContentLength"] == 1500 and head["StorageClass"] == "DEEP_ARCHIVE"
    assert head["Metadata"]["glacier-archive-id"] == vault["photos/2020/a.jpg"]


async def test_readonly_hides_and_refuses_migrate(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    app = make_app(emulator.url, tmp_path, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        screen = main_screen(app)
        assert screen.check_action("migrate", ()) is False
        await open_folder(pilot, app, "photos/2020")
        await pilot.press("M")
        await pilot.pause()
        assert not isinstance(app.screen, MigrateScreen)
        screen.action_migrate()  # even called directly
        await pilot.pause()
        assert not isinstance(app.screen, MigrateScreen)


async def _start_migration(pilot: Any, app: Any, folder: str, to: str) -> None:
    await open_folder(pilot, app, folder)
    await pilot.press("M")
    await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
    app.screen.query_one("#migrate-destination").value = to
    app.screen.query_one("#migrate-tier").value = "Expedited"
    await pilot.pause()
    await pilot.click("#migrate-start")
    await wait_for(pilot, lambda: not isinstance(app.screen, MigrateScreen))


def _initiated(emulator: Any) -> int:
    return len([e for e in emulator.requests() if e.get("operation") == "InitiateJob"])


async def test_p_and_x_in_the_restores_screen_pause_resume_and_cancel_a_migration(
        emulator: Any, vault: dict[str, str], tmp_path: Path,  # noqa: F811
        s3_boto3: Any, moto_s3_url: str) -> None:
    from glacier_tui.ui.screens.confirm import ConfirmScreen

    s3_boto3.create_bucket(Bucket="dest")
    app = make_app(emulator.url, tmp_path, s3_endpoint_url=moto_s3_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        screen = main_screen(app)
        await _start_migration(pilot, app, "photos/2020", "s3://dest/backup")
        await wait_for(pilot, lambda: _initiated(emulator) == 2)
        (cid,) = screen.campaigns.board.rows
        await wait_for(pilot, lambda: cid in screen.campaigns.board.runners)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        await pilot.press("p")
        board = screen.campaigns.board
        # Shown paused by the runner's last progress, then its worker ends.
        await wait_for(pilot, lambda: board.rows[cid].status == "paused"
                       and cid not in board.runners and cid not in board.active)
        await pilot.press("p")  # resumed with its S3 sink: the jobs are followed, not redone
        await wait_for(pilot, lambda: cid in screen.campaigns.board.runners)
        await wait_for(pilot, lambda: screen.campaigns.board.rows[cid].status == "running")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert str(app.screen.query_one("#title").render()) == f"Cancel migration #{cid}?"
        await pilot.press("y")
        await wait_for(pilot, lambda: board.rows[cid].status == "cancelled"
                       and cid not in board.runners, steps=600)
        emulator.advance(3600)
        await pilot.pause(0.3)
        row = screen.campaigns.board.rows[cid]
        assert row.kind == "migrate" and row.what.startswith("migrate folders photos/2020")
        titles = [n.title for n in app._notifications]
    assert _initiated(emulator) == 2
    assert "Contents" not in s3_boto3.list_objects_v2(Bucket="dest")
    assert f"Migration #{cid} started" in titles
    assert not [t for t in titles if t.startswith("Restore #")]


async def test_a_migration_left_running_is_resumed_at_the_next_start(
        emulator: Any, vault: dict[str, str], tmp_path: Path,  # noqa: F811
        s3_boto3: Any, moto_s3_url: str) -> None:
    s3_boto3.create_bucket(Bucket="dest")
    app = make_app(emulator.url, tmp_path, s3_endpoint_url=moto_s3_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await _start_migration(pilot, app, "photos/2020", "s3://dest/backup")
        await wait_for(pilot, lambda: _initiated(emulator) == 2)
    # Quit with the jobs running; they finish while the app is closed.
    emulator.advance(3600)
    app = make_app(emulator.url, tmp_path, s3_endpoint_url=moto_s3_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: len(screen.campaigns.board.rows) == 1)
        (row,) = screen.campaigns.board.rows.values()
        # What it is comes from the store: the label survives the restart.
        assert row.kind == "migrate"
        assert row.what == "migrate folders photos/2020 -> s3://dest/backup/ (DEEP_ARCHIVE)"
        await wait_for(pilot, lambda: screen.campaigns.board.rows[row.id].status == "done",
                       steps=600)
        titles = [n.title for n in app._notifications]
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoresScreen))
        block = app.screen.query_one(RestoresPanel).blocks[row.id]
        assert "-> s3://dest/backup/" in str(block.query_one(".title").render())
    assert _initiated(emulator) == 2  # adopted, never requested again
    keys = sorted(o["Key"] for o in s3_boto3.list_objects_v2(Bucket="dest")["Contents"])
    assert keys == ["backup/photos/2020/a.jpg", "backup/photos/2020/b.jpg"]
    assert f"Migration #{row.id} done" in titles
    assert not [t for t in titles if t.startswith("Restore #") or t.endswith("started")]
    assert not (tmp_path / "downloads" / "photos/2020/a.jpg").exists()  # not to disk


def test_migrate_screen_snapshot(snap_compare: Any) -> None:
    sizes = summarize([1500, 2500, 300 << 20], DEFAULT_PART, MIN_PART)
    screen = MigrateScreen("family-photos: folders photos/2020", sizes,
                           DEFAULT_PRICES, TransferKind.IN_REGION,
                           destination="s3://demo-bucket/family-photos/", tier="Expedited")
    assert snap_compare(SnapshotHost(screen), terminal_size=(80, 24))


async def test_demo_defaults_to_the_local_s3_bucket(
        emulator: Any, vault: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    import boto3

    app = make_app(emulator.url, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.demo = True  # as --demo: the local S3 is started on first use
        screen = main_screen(app)
        await open_folder(pilot, app, "photos/2021")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        assert app.screen.query_one("#migrate-destination").value == "s3://demo-bucket/v/"
        assert app.screen.query_one("#migrate-tier").value == "Expedited"
        await pilot.click("#migrate-start")
        await wait_for(pilot, lambda: len(screen.campaigns.board.rows) == 1)
        await wait_for(pilot, lambda: len([e for e in emulator.requests()
                                           if e.get("operation") == "InitiateJob"]) == 1)
        emulator.advance(3600)
        await wait_for(pilot, lambda: next(iter(screen.campaigns.board.rows.values())).settled,
                       steps=400)
        local = screen.migrate.local_s3
        assert local is not None and local.url.startswith("http://127.0.0.1:")
    s3 = boto3.client("s3", endpoint_url=local.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="demo-bucket")["Contents"]]
    assert keys == ["v/photos/2021/c.jpg"]
    local.stop()
