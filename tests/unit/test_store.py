"""Local store: schema, browsing queries, search, duplicates, jobs, journal, threads."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier.inventory import import_inventory
from glacier_tui.glacier.store import SCHEMA_VERSION, Store

H1, H2 = "1" * 64, "2" * 64


def inv(items: list[tuple[str, str, int, str, str]]) -> io.BytesIO:
    lst = [{"ArchiveId": f"id-{i:03d}", "ArchiveDescription": d, "Size": s, "CreationDate": c,
            "SHA256TreeHash": h} for i, (_, d, s, c, h) in enumerate(items)]
    return io.BytesIO(json.dumps({"VaultARN": "arn:x", "ArchiveList": lst}).encode())


ITEMS = [
    ("", "docs/b.txt", 30, "2020-01-03T00:00:00Z", H1),
    ("", "docs/a.txt", 10, "2020-01-02T00:00:00Z", H2),
    ("", "docs/c.txt", 20, "2020-01-01T00:00:00Z", H1),
    ("", "docs/deep/er/x.bin", 5, "2020-01-01T00:00:00Z", "3" * 64),
    ("", "photos/summer.jpg", 100, "2021-06-01T00:00:00Z", "4" * 64),
    ("", "Readme_100%.md", 1, "2019-01-01T00:00:00Z", "5" * 64),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.sqlite3")
    import_inventory(s, "v", inv(ITEMS))
    yield s  # type: ignore[misc]
    s.close()


def test_schema_and_wal(store: Store, tmp_path: Path) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = Store(tmp_path / "db.sqlite3")  # reopening runs no migration twice
    assert again.schema_version() == SCHEMA_VERSION and again.vault_keys() == ["v"]
    again.close()


def test_index_builds_restore_the_connection_settings(store: Store) -> None:
    # finish_snapshot and lazy indexes sort with a small cache on two threads, then
    # give the connection back its browsing cache.
    c = store.conn
    assert c.execute("PRAGMA cache_size").fetchone()[0] == -32768
    assert c.execute("PRAGMA threads").fetchone()[0] == 0
    store.archives("v", "docs", sort="size")  # builds the (folder, size) index
    assert c.execute("PRAGMA cache_size").fetchone()[0] == -32768
    assert c.execute("PRAGMA threads").fetchone()[0] == 0


def test_folders_and_totals(store: Store) -> None:
    root = store.folder("v")
    assert root is not None and (root.count, root.bytes, root.direct_count) == (6, 166, 1)
    subs = store.subfolders("v")
    assert [(f.name, f.count, f.bytes) for f in subs] == [("docs", 4, 65), ("photos", 1, 100)]
    assert [f.path for f in store.subfolders("v", "docs")] == ["docs/deep"]
    deep = store.folder("v", "docs/deep")
    assert deep is not None and (deep.count, deep.direct_count) == (1, 0)
    assert store.count_archives("v", "docs") == 3 and store.subfolder_count("v") == 2
    assert store.folder("v", "nope") is None


def test_sorting_and_paging(store: Store) -> None:
    names = lambda rows: [r.name for r in rows]  # noqa: E731
    assert names(store.archives("v", "docs")) == ["a.txt", "b.txt", "c.txt"]
    assert names(store.archives("v", "docs", sort="size")) == ["a.txt", "c.txt", "b.txt"]
    assert names(store.archives("v", "docs", sort="created", descending=True)) == [
        "b.txt", "a.txt", "c.txt"]
    assert names(store.archives("v", "docs", offset=1, limit=1)) == ["b.txt"]
    page = store.archives_after("v", "docs", None, limit=2)
    rowid, last = page[-1]
    assert names(r for _, r in store.archives_after("v", "docs", last.name, rowid)) == ["c.txt"]
    with pytest.raises(ValueError):
        store.archives("v", "docs", sort="evil; DROP TABLE x")  # type: ignore[arg-type]


def test_search_like_and_fts(store: Store) -> None:
    assert [r.name for r in store.search("v", "TXT")] == ["b.txt", "a.txt", "c.txt"]
    assert [r.name for r in store.search("v", "_100%")] == ["Readme_100%.md"]  # literal
    assert store.search("v", "a%") == []
    assert store.search_count("v", "txt") == 3 and store.search_count("v", "txt", cap=2) == 2
    assert store.ensure_search_index("v") in (True, False)
    if store.has_search_index("v"):
        assert [r.name for r in store.search("v", "summ")] == ["summer.jpg"]
        assert [r.name for r in store.search("v", '00%"')] == []
        assert len(store.search("v", ".txt", limit=2)) == 2
        assert store.search_count("v", ".txt") == 3


def test_duplicates(store: Store) -> None:
    import_inventory(store, "d", inv([
        ("", "a", 7, "2020-01-01T00:00:00Z", H1), ("", "b", 7, "2020-01-02T00:00:00Z", H1),
        ("", "c", 7, "2020-01-03T00:00:00Z", H1), ("", "d", 8, "2020-01-01T00:00:00Z", H1),
        ("", "e", 9, "2020-01-01T00:00:00Z", H2)]))
    groups = store.duplicates("d")
    assert len(groups) == 1
    assert (groups[0].tree_hash, groups[0].size) == (H1, 7)
    assert [a.name for a in groups[0].archives] == ["a", "b", "c"]


def test_vaults_are_separate(store: Store) -> None:
    import_inventory(store, "w", inv([("", "only.txt", 1, "x", H1)]))
    assert [r.name for r in store.archives("w")] == ["only.txt"]
    assert store.folder("v") is not None and store.folder("v").count == 6  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        store.archives("unknown")


def test_crash_mid_import_leaves_previous(store: Store) -> None:
    before = store.current_snapshot_id("v")

    class Exploding(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            raise OSError("disk on fire")

    with pytest.raises(OSError):
        import_inventory(store, "v", io.BufferedReader(Exploding()))
    assert store.current_snapshot_id("v") == before
    # Simulate a hard crash: a half-written snapshot nobody cleaned up.
    n = store.begin_snapshot("v", "json")
    store.insert_archives(n, [("id", "", "x", "x", 1, None, None, None, "plain")])
    assert store.current_snapshot_id("v") == before
    assert store.cleanup_orphans() == 1
    assert [r.name for r in store.archives("v", "photos")] == ["summer.jpg"]


def test_jobs_and_journal(store: Store) -> None:
    store.upsert_job("v", {"JobId": "j1", "CreationDate": "2020-01-01T00:00:00Z",
                           "StatusCode": "InProgress"})
    store.upsert_job("v", {"JobId": "j2", "CreationDate": "2021-01-01T00:00:00Z"})
    store.upsert_job("v", {"JobId": "j1", "CreationDate": "2020-01-01T00:00:00Z",
                           "StatusCode": "Succeeded"})
    assert [j["JobId"] for j in store.list_jobs("v")] == ["j2", "j1"]
    assert store.get_job("j1") == {"JobId": "j1", "CreationDate": "2020-01-01T00:00:00Z",
                                   "StatusCode": "Succeeded"}
    store.delete_job("j2")
    assert store.list_jobs("other") == [] and len(store.list_jobs("v")) == 1
    with pytest.raises(ValueError):
        store.upsert_job("v", {"nope": 1})
    store.journal_put("upload/a", {"parts": [1, 2]})
    store.journal_put("upload/b", [3])
    store.journal_put("download/c", None)
    store.journal_put("upload/a", {"parts": [1, 2, 3]})
    assert store.journal_get("upload/a") == {"parts": [1, 2, 3]}
    assert [k for k, _ in store.journal_items("upload/")] == ["upload/a", "upload/b"]
    store.journal_delete("upload/b")
    assert store.journal_get("upload/b") is None


def test_threads_get_their_own_connection(store: Store) -> None:
    errors: list[BaseException] = []
    conns: list[sqlite3.Connection] = []

    def work(i: int) -> None:
        try:
            conns.append(store.conn)
            for _ in range(20):
                store.journal_put(f"t{i}", i)
                assert store.folder("v") is not None
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len({id(c) for c in conns}) == 4
    assert sorted(k for k, _ in store.journal_items("t")) == ["t0", "t1", "t2", "t3"]
