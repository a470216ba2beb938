"""Names from a Synology Glacier Backup index (the ``<vault>_mapping`` vault's SQLite file)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.emulator.synology import (
    DATA_VAULT,
    MAPPING_VAULT,
    IndexRow,
    mapping_db,
)
from glacier_tui.glacier.appliance_index import (
    IndexFormatError,
    UnknownIndexVersion,
    data_vault_for,
    find_pairs,
    import_index,
    mapping_vault_for,
)
from glacier_tui.glacier.inventory import import_inventory
from glacier_tui.glacier.store import Store

VAULT = "NAS_1234_1"
T0 = 1_600_000_000  # 2020-09-13T12:26:40Z


def aid(n: int) -> str:
    return f"{n:04d}" + "x" * 134  # 138 characters, like real archive ids


def inventory(ids: list[str], descriptions: list[str] | None = None) -> bytes:
    descs = descriptions or [f"{n:032x}" for n in range(len(ids))]  # opaque
    doc = {
        "VaultARN": f"arn:aws:glacier:us-east-1:123456789012:vaults/{VAULT}",
        "InventoryDate": "2026-01-01T00:00:00Z",
        "ArchiveList": [
            {"ArchiveId": a, "ArchiveDescription": d, "CreationDate": "2025-12-01T00:00:00Z",
             "Size": 100 + i, "SHA256TreeHash": f"{i:064x}"}
            for i, (a, d) in enumerate(zip(ids, descs, strict=True))
        ],
    }
    return json.dumps(doc).encode()


ROWS = [
    IndexRow("photo", "2021/iceland/IMG_1001.jpg", aid(0), T0, 1000),
    IndexRow("photo", "2021/iceland/IMG_1002.jpg", aid(1), T0 + 60, 2000),
    IndexRow("homes", "alice/Documents/Lebenslauf Müller.pdf", aid(2), T0, 3000),
    IndexRow("music", "Jazz/01 So What.flac", aid(3), T0, 4000),
]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "store.sqlite3")
    import_inventory(s, VAULT, io.BytesIO(inventory([aid(n) for n in range(6)])))
    yield s
    s.close()


def write(tmp_path: Path, data: bytes, name: str = "index.db") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def paths(store: Store, vault: str = VAULT) -> dict[str, str]:
    return {r.archive_id: r.path for r in store.iter_archives(vault)}


# -- pairs -----------------------------------------------------------------------------------


def test_pair_detection() -> None:
    names = ["NAS_1234_1", "NAS_1234_1_mapping", "photos", "lonely_mapping", "x_mapping_mapping"]
    assert find_pairs(names) == {"NAS_1234_1": "NAS_1234_1_mapping"}
    assert mapping_vault_for("NAS_1234_1", names) == "NAS_1234_1_mapping"
    assert mapping_vault_for("photos", names) is None
    assert mapping_vault_for("NAS_1234_1_mapping", names) is None
    assert data_vault_for("NAS_1234_1_mapping", names) == "NAS_1234_1"
    assert data_vault_for("lonely_mapping", names) is None


# -- a good index ----------------------------------------------------------------------------


def test_good_index_names_the_tree(store: Store, tmp_path: Path) -> None:
    # The same archive also listed under an old, non-current path: the current row wins.
    rows = [IndexRow("photo", "old/IMG_1001.jpg", aid(0), T0 - 86400, 1000, 0, 0), *ROWS]
    res = import_index(store, VAULT, write(tmp_path, mapping_db(rows, {"taskName": "t1"})),
                       origin=f"{VAULT}_mapping")
    assert (res.version, res.entries, res.renamed, res.skipped, res.duplicates) == (
        "1", 4, 4, 0, 1)
    assert res.info["taskName"] == "t1"
    p = paths(store)
    assert p[aid(0)] == "photo/2021/iceland/IMG_1001.jpg"
    assert p[aid(2)] == "homes/alice/Documents/Lebenslauf Müller.pdf"
    assert p[aid(4)] == f"{4:032x}"  # not in the index: left as decoded (by id/description)
    row = store.get_archive(VAULT, aid(1))
    assert row is not None
    assert row.source == "synology"
    assert row.mtime == datetime.fromtimestamp(T0 + 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row.size == 101  # the inventory's archive size is kept
    # The folder tree follows.
    assert [f.name for f in store.subfolders(VAULT, "")] == ["homes", "music", "photo"]
    iceland = store.folder(VAULT, "photo/2021/iceland")
    assert iceland is not None and iceland.count == 2
    root = store.folder(VAULT, "")
    assert root is not None and root.count == 6
    assert [r.name for r in store.search(VAULT, "IMG_")] == ["IMG_1001.jpg", "IMG_1002.jpg"]
    info = store.name_overlay_info(VAULT)
    assert info is not None and info.origin == f"{VAULT}_mapping" and info.entries == 4


def test_names_survive_a_new_inventory(store: Store, tmp_path: Path) -> None:
    import_index(store, VAULT, write(tmp_path, mapping_db(ROWS)))
    store.ensure_search_index(VAULT)
    import_inventory(store, VAULT, io.BytesIO(inventory([aid(n) for n in range(3, 8)])))
    p = paths(store)
    assert p[aid(3)] == "music/Jazz/01 So What.flac"
    assert aid(0) not in p
    store.ensure_search_index(VAULT)
    assert [r.archive_id for r in store.search(VAULT, "So What")] == [aid(3)]


def test_index_before_inventory_applies_on_import(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as s:
        res = import_index(s, VAULT, write(tmp_path, mapping_db(ROWS)))
        assert (res.entries, res.renamed) == (4, 0)
        import_inventory(s, VAULT, io.BytesIO(inventory([aid(0), aid(9)])))
        assert paths(s)[aid(0)] == "photo/2021/iceland/IMG_1001.jpg"


def test_hostile_names_are_sanitised(store: Store, tmp_path: Path) -> None:
    rows = [
        IndexRow("homes", "../../etc/shadow", aid(0), T0, 1),
        IndexRow("homes", "eve/\x1b[31mred\x1b[0m\u202e.txt", aid(1), T0, 1),
        IndexRow("..", "..\\..\\win\\evil.ini", aid(2), T0, 1),
        IndexRow("/", "/abs/olute", aid(3), -5, -1),
        IndexRow("..", "../..", aid(4), T0, 1),  # nothing usable left: skipped
        IndexRow("x", "ok.txt", "../" + aid(5)[3:], T0, 1),  # not an archive id: skipped
    ]
    res = import_index(store, VAULT, write(tmp_path, mapping_db(rows)))
    assert res.skipped == 2
    p = paths(store)
    assert p[aid(0)] == "homes/etc/shadow"
    assert p[aid(1)] == "homes/eve/red.txt"
    assert p[aid(2)] == "win/evil.ini"
    assert p[aid(3)] == "abs/olute"
    assert p[aid(4)] == f"{4:032x}"
    row = store.get_archive(VAULT, aid(3))
    assert row is not None and row.mtime is None


def test_odd_column_types_do_not_crash(store: Store, tmp_path: Path) -> None:
    db = tmp_path / "odd.db"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE file_info_tb(shareName, basePath, archiveID, fileSize, lastBkpTime)")
    c.executemany("INSERT INTO file_info_tb VALUES (?,?,?,?,?)", [
        (b"s\xff", "a.txt", aid(0), "12", "1600000000"),
        (7, "b.txt", aid(1), 1.5e300, "soon"),
        ("s", None, aid(2), None, None),
        ("s", "c.txt", 12345, None, None),
        ("s", "d.txt", aid(3), "1e400", "nan"),
    ])
    c.execute("INSERT INTO file_info_tb VALUES ('s', CAST(x'41ff42' AS TEXT), ?, 1, 1)",
              (aid(4),))
    c.commit()
    c.close()
    res = import_index(store, VAULT, db)
    assert (res.entries, res.skipped) == (4, 2)
    p = paths(store)
    assert p[aid(0)] == "s\ufffd/a.txt"
    assert p[aid(1)] == "b.txt"
    assert p[aid(3)] == "s/d.txt"
    assert p[aid(4)] == "s/A\ufffdB"


# -- bad files: a clear error, nothing imported -----------------------------------------------


def bad(store: Store, tmp_path: Path, data: bytes) -> str:
    before = paths(store)
    info_before = store.name_overlay_info(VAULT)
    with pytest.raises(IndexFormatError) as exc:
        import_index(store, VAULT, write(tmp_path, data, "bad.db"))
    assert paths(store) == before
    assert store.name_overlay_info(VAULT) == info_before
    return exc.value.user_message()


def test_truncated_index(store: Store, tmp_path: Path) -> None:
    good = mapping_db(ROWS * 200)
    assert len(good) > 8192
    msg = bad(store, tmp_path, good[: len(good) // 2 + 100])
    assert "truncated" in msg and "Nothing was imported" in msg
    # Cut at a page boundary: the header's page count still tells.
    msg = bad(store, tmp_path, good[:4096])
    assert "truncated" in msg
    assert "shorter than a header" in bad(store, tmp_path, good[:50])


def test_damaged_index(store: Store, tmp_path: Path) -> None:
    good = bytearray(mapping_db(ROWS * 200))
    good[4096 + 8:4096 * 3] = b"\xa5" * (4096 * 2 - 8)  # pages 2-3 overwritten
    msg = bad(store, tmp_path, bytes(good))
    assert "Synology index" in msg


def test_foreign_sqlite(store: Store, tmp_path: Path) -> None:
    db = tmp_path / "photos.db"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE photos(id, path)")
    c.commit()
    c.close()
    msg = bad(store, tmp_path, db.read_bytes())
    assert "without the file_info_tb table (tables: photos)" in msg


def test_a_view_named_like_the_table_is_refused(store: Store, tmp_path: Path) -> None:
    db = tmp_path / "view.db"
    c = sqlite3.connect(db)
    c.execute("CREATE VIEW file_info_tb AS SELECT 1 AS shareName, 2 AS basePath, 3 AS archiveID")
    c.commit()
    c.close()
    assert "without the file_info_tb table" in bad(store, tmp_path, db.read_bytes())


@pytest.mark.parametrize(("data", "expect"), [
    (b"", "empty"),
    (b'{"ArchiveList": []}', "JSON document"),
    (b"\x00" * 5000, "not a SQLite database"),
    (b"PK\x03\x04 zip", "not a SQLite database"),
])
def test_not_sqlite(store: Store, tmp_path: Path, data: bytes, expect: str) -> None:
    assert expect in bad(store, tmp_path, data)


def test_bad_file_keeps_previous_names(store: Store, tmp_path: Path) -> None:
    import_index(store, VAULT, write(tmp_path, mapping_db(ROWS)))
    bad(store, tmp_path, b"not an index at all")
    assert paths(store)[aid(0)] == "photo/2021/iceland/IMG_1001.jpg"
    info = store.name_overlay_info(VAULT)
    assert info is not None and info.entries == 4


def test_missing_file(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match="does not exist"):
        import_index(store, VAULT, tmp_path / "nope.db")


# -- unknown versions ---------------------------------------------------------------------


def test_unknown_layout_reports_columns(store: Store, tmp_path: Path) -> None:
    db = tmp_path / "v9.db"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE file_info_tb(id INTEGER, fullPath TEXT, glacierId TEXT)")
    c.commit()
    c.close()
    before = paths(store)
    with pytest.raises(UnknownIndexVersion) as exc:
        import_index(store, VAULT, db)
    assert exc.value.user_message() == (
        "Synology index version with file_info_tb(id, fullPath, glacierId) is not known;"
        " archives are shown by id.")
    assert paths(store) == before


def test_unknown_layout_reports_stated_version(store: Store, tmp_path: Path) -> None:
    db = tmp_path / "v7.db"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE file_info_tb(id INTEGER, path TEXT)")
    c.execute("CREATE TABLE backup_info_tb(key TEXT, value TEXT)")
    c.execute("INSERT INTO backup_info_tb VALUES ('dbVersion', '7')")
    c.commit()
    c.close()
    with pytest.raises(UnknownIndexVersion) as exc:
        import_index(store, VAULT, db)
    assert exc.value.version == "7"
    assert "Synology index version 7 is not known; archives are shown by id" in str(exc.value)


# -- the CLI ----------------------------------------------------------------------------------


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glacier_tui", "inventory", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_names_then_ls_and_export(store: Store, tmp_path: Path) -> None:
    db = str(store.path)
    store.close()
    index = write(tmp_path, mapping_db(ROWS, {"taskName": "nightly"}))
    r = cli("names", "--vault", VAULT, "--db", db, "--index", index)
    assert r.returncode == 0, r.stderr
    assert "Synology index version 1 (task 'nightly'): 4 archives named, 4 in the current" \
        in r.stdout
    r = cli("ls", "--vault", VAULT, "--db", db, "photo/2021/iceland")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("IMG_1001.jpg\t")
    r = cli("export", "--vault", VAULT, "--db", db)
    found = {row["ArchiveId"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert found[aid(3)]["Path"] == "music/Jazz/01 So What.flac"
    assert found[aid(3)]["DecodedFrom"] == "synology"
    r = cli("names", "--vault", VAULT, "--db", db, "--index", write(tmp_path, b"{}", "x.db"))
    assert r.returncode == 1
    assert r.stderr.strip() == ("Not a usable Synology index: the file is a JSON document"
                                " (no SQLite header). Nothing was imported; archives are shown"
                                " by id.")


# -- the demo world and the retrieval, end to end -------------------------------------------


def test_demo_pair_retrieve_and_import(tmp_path: Path) -> None:
    import asyncio

    from glacier_tui.emulator import EmulatorConfig, EmulatorThread
    from glacier_tui.glacier.appliance_fetch import (
        download_and_import_index,
        find_index_job,
        index_archive,
        start_index_retrieval,
    )
    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.downloads import download_job_output

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=datetime(2026, 1, 15, 12, tzinfo=UTC), frozen=True)
    opts = ClientOptions(endpoint_url="", region="us-east-1", access_key="testing",
                         secret_key="testing", max_attempts=1, read_timeout=20)
    store = Store(tmp_path / "store.sqlite3")

    async def fetch_inventories(emu: Any) -> None:
        async with GlacierClient(replace(opts, endpoint_url=emu.url)) as g:
            names = [v.name for v in await g.list_vaults()]
            assert find_pairs(names) == {DATA_VAULT: MAPPING_VAULT}
            ids = {v: await g.initiate_inventory_retrieval(v) for v in (DATA_VAULT, MAPPING_VAULT)}
            emu.advance(6 * 3600)
            for vault, job_id in ids.items():
                job = await g.describe_job(vault, job_id)
                out = await download_job_output(g, vault, job, tmp_path / f"{vault}.json")
                import_inventory(store, vault, out.path)

    async def retrieve(emu: Any) -> Any:
        async with GlacierClient(replace(opts, endpoint_url=emu.url)) as g:
            index = index_archive(store, MAPPING_VAULT)
            assert index is not None
            assert await find_index_job(g, MAPPING_VAULT, index.archive_id) is None
            job = await start_index_retrieval(g, MAPPING_VAULT, index.archive_id)
            assert not job.completed
            emu.advance(6 * 3600)
            done = await find_index_job(g, MAPPING_VAULT, index.archive_id)
            assert done is not None and done.job_id == job.job_id and done.succeeded
            return await download_and_import_index(g, store, done, DATA_VAULT, tmp_path / "idx")

    with EmulatorThread(config) as emu:
        asyncio.run(fetch_inventories(emu))
        before = store.folder(DATA_VAULT, "")
        assert before is not None and not store.subfolders(DATA_VAULT, "")  # ids only
        res = asyncio.run(retrieve(emu))
    assert res.version == "1" and res.renamed == 13 and res.duplicates == 1
    assert res.info["hostName"] == "DiskStation"
    assert [f.name for f in store.subfolders(DATA_VAULT, "")] == [
        "homes", "music", "photo", "video"]
    assert [a.name for a in store.archives(DATA_VAULT, "photo/2021/iceland")] == [
        "IMG_1001.jpg", "IMG_1002.jpg", "IMG_1003.jpg"]
    assert [a.name for a in store.archives(DATA_VAULT, "homes/etc")] == ["shadow"]
    assert [a.name for a in store.archives(DATA_VAULT, "homes/eve")] == ["red.txt"]
    store.close()


# -- the TUI: the detail pane's offer, X, the job, the import --------------------------------


async def test_tui_offers_and_imports_the_index(tmp_path: Path) -> None:
    from app_harness import START, main_screen, make_app, tree, wait_for

    from glacier_tui.emulator import EmulatorConfig, EmulatorThread
    from glacier_tui.ui.widgets.job_table import JobTable
    from glacier_tui.ui.widgets.vault_tree import vault_key

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=START, frozen=True)
    with EmulatorThread(config) as emu:
        app = make_app(emu.url, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = main_screen(app)
            table = screen.query_one(JobTable)
            await wait_for(pilot, lambda: bool(screen.connection.vaults) and bool(table.jobs))
            offer = ("Synology index", f"found in {MAPPING_VAULT}: press X to retrieve it")
            assert screen.appliance.rows(DATA_VAULT) == [offer]
            assert screen.appliance.rows(MAPPING_VAULT) == [offer]
            assert screen.appliance.rows("family-photos") == []

            def initiated() -> list[dict[str, Any]]:
                return [r for r in emu.requests() if r.get("operation") == "InitiateJob"]

            # X before the mapping vault's inventory is cached: a hint, no job.
            t = tree(app)
            t.focus()
            assert t.select_vault(DATA_VAULT)
            await pilot.pause()
            await pilot.press("X")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert not initiated()

            # Inventories of both vaults (i), then X: a retrieval of the index archive.
            pending = screen.jobs.followup.inventory_jobs
            for name in (MAPPING_VAULT, DATA_VAULT):
                assert t.select_vault(name)
                await pilot.pause()
                await pilot.press("i")
                await wait_for(pilot, lambda n=name: n in pending.values())
            emu.advance(6 * 3600)
            await wait_for(pilot, lambda: all(t.has_inventory.get(n, False)
                                              for n in (MAPPING_VAULT, DATA_VAULT)))
            assert t.select_vault(DATA_VAULT)
            await pilot.pause()
            await pilot.press("X")
            await wait_for(pilot, lambda: bool(screen.jobs.followup.index_jobs))
            assert len(initiated()) == 3
            job_id = next(iter(screen.jobs.followup.index_jobs))
            assert table.jobs[job_id].vault_name == MAPPING_VAULT

            emu.advance(6 * 3600)
            store = app.store
            key = vault_key(screen.connection.vaults[DATA_VAULT])
            await wait_for(pilot, lambda: store.name_overlay_info(key) is not None)
            await app.workers.wait_for_complete()
            assert [f.name for f in store.subfolders(key, "")] == [
                "homes", "music", "photo", "video"]
            assert screen.appliance.rows(DATA_VAULT) == [
                ("Synology index", f"version 1, 13 names from {MAPPING_VAULT}")]

            # X again: the succeeded job's output is imported again, no new job.
            first = store.name_overlay_info(key)
            await pilot.press("X")
            await wait_for(pilot, lambda: store.name_overlay_info(key) != first)
            await app.workers.wait_for_complete()
            assert len(initiated()) == 3


def test_reading_has_a_deadline(store: Store, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    import glacier_tui.glacier.appliance_index as ai

    monkeypatch.setattr(ai, "DEADLINE_S", 0.0)
    msg = bad(store, tmp_path, mapping_db(ROWS * 500))
    assert "took longer than 0 s" in msg


def test_cli_retrieve_then_import(tmp_path: Path) -> None:
    import asyncio

    from glacier_tui.emulator import EmulatorConfig, EmulatorThread
    from glacier_tui.glacier.client import ClientOptions, GlacierClient
    from glacier_tui.glacier.downloads import download_job_output

    config = EmulatorConfig(data_dir=tmp_path / "emu", port=0, seed=0, seed_demo=True,
                            start_time=datetime(2026, 1, 15, 12, tzinfo=UTC), frozen=True)
    db = tmp_path / "store.sqlite3"

    async def inventories(url: str, emu: Any) -> None:
        opts = ClientOptions(endpoint_url=url, region="us-east-1", max_attempts=1)
        async with GlacierClient(opts) as g:
            ids = {v: await g.initiate_inventory_retrieval(v) for v in (DATA_VAULT, MAPPING_VAULT)}
            emu.advance(6 * 3600)
            with Store(db) as s:
                for vault, job_id in ids.items():
                    job = await g.describe_job(vault, job_id)
                    out = await download_job_output(g, vault, job, tmp_path / f"{vault}.json")
                    import_inventory(s, vault, out.path)

    with EmulatorThread(config) as emu:
        conn = ("--endpoint-url", emu.url, "--region", "us-east-1")
        r = cli(*conn, "names", "--vault", DATA_VAULT, "--db", db, "--retrieve")
        assert r.returncode == 1
        assert "no cached inventory of 'NAS_demo_1_mapping'" in r.stderr
        asyncio.run(inventories(emu.url, emu))
        r = cli(*conn, "--readonly", "names", "--vault", DATA_VAULT, "--db", db, "--retrieve")
        assert (r.returncode, r.stderr.strip()) == (1, "read-only mode: not requesting the index")
        r = cli(*conn, "names", "--vault", DATA_VAULT, "--db", db, "--retrieve")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("requested the index of NAS_demo_1_mapping (job ")
        r = cli(*conn, "names", "--vault", DATA_VAULT, "--db", db, "--retrieve")
        assert "is InProgress; run this again" in r.stdout
        emu.advance(6 * 3600)
        r = cli(*conn, "names", "--vault", DATA_VAULT, "--db", db, "--retrieve")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Synology index version 1 (task 'demo backup'): 13 archives"
                                   " named, 13 in the current inventory")
    with Store(db) as s:
        assert [a.name for a in s.archives(DATA_VAULT, "video/holidays")] == ["2019-crete.mp4"]
