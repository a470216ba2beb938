"""Streaming inventory import: JSON and CSV, bad input, atomic replacement, CLI."""

from __future__ import annotations

import argparse
import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui.glacier import inventory_pipeline as pipeline
from glacier_tui.glacier.inventory import (
    InventoryFormatError,
    WrongVaultError,
    import_inventory,
    parse_csv_line,
)
from glacier_tui.glacier.store import Store
from glacier_tui.inventory_cli import add_arguments, run

ARN = "arn:aws:glacier:us-east-1:123456789012:vaults/photos"
H = "ac7de61d6dcf6a17e53981fc934b2ff0637a05326a4107471c6d86757f5ee55a"


def aid(i: int) -> str:
    return f"{i:04d}" + "A" * 134


def mt2(path: str) -> str:
    doc = json.dumps({"filename": path, "mtime": "20140730T153415Z"}).encode()
    return "mt2 " + base64.urlsafe_b64encode(doc).rstrip(b"=").decode()


def archive(i: int, desc: str, size: Any = 217, h: str = H) -> dict[str, Any]:
    return {"ArchiveId": aid(i), "ArchiveDescription": desc,
            "CreationDate": f"2014-07-{10 + i % 20}T15:34:15Z", "Size": size, "SHA256TreeHash": h}


def doc(archives: list[dict[str, Any]], arn: str = ARN) -> bytes:
    return json.dumps({"VaultARN": arn, "InventoryDate": "2014-08-01T14:30:07Z",
                       "ArchiveList": archives}).encode()


class Unseekable(io.RawIOBase):
    """A pipe-like stream: the import cannot seek back, so it takes the careful path."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        return self._data.readinto(b)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "s.sqlite3")
    yield s
    s.close()


def test_json_import_basic(store: Store) -> None:
    data = doc([archive(0, mt2("a/b/one.txt"), 10), archive(1, "a/two.txt", 20),
                archive(2, "", 30), archive(3, "top.txt", 40)])
    seen: list[int] = []
    r = import_inventory(store, ARN, io.BytesIO(data), progress=lambda n, t: seen.append(n))
    assert (r.archives, r.format, r.vault_arn, r.inventory_date) == (
        4, "json", ARN, "2014-08-01T14:30:07Z")
    assert r.warnings == [] and seen[-1] == len(data) == r.bytes_read
    assert r.sources == {"mt2": 1, "plain": 2, "empty": 1}
    root = store.folder(ARN, "")
    assert root is not None and (root.count, root.bytes, root.direct_count) == (4, 100, 1)
    a = store.folder(ARN, "a")
    assert a is not None and (a.count, a.bytes, a.direct_count) == (2, 30, 1)
    assert [f.path for f in store.subfolders(ARN, "")] == ["00undefined", "a"]
    assert [x.name for x in store.archives(ARN, "a/b")] == ["one.txt"]
    assert store.archives(ARN, "a/b")[0].mtime == "2014-07-30T15:34:15Z"


def test_header_after_list_and_arn_warning(store: Store) -> None:
    body = json.dumps({"ArchiveList": [archive(0, "x")], "VaultARN": "arn:other",
                       "InventoryDate": "2020-01-01T00:00:00Z"}).encode()
    with pytest.raises(WrongVaultError, match="pass --force"):  # another vault's inventory
        import_inventory(store, ARN, io.BytesIO(body))
    assert store.current_snapshot_id(ARN) is None
    r = import_inventory(store, ARN, io.BytesIO(body), force=True)
    assert r.vault_arn == "arn:other" and r.inventory_date == "2020-01-01T00:00:00Z"
    assert any("arn:other" in w for w in r.warnings)


def test_duplicates_sizes_and_skips(store: Store) -> None:
    items = [archive(0, "first"), archive(0, "second"), archive(1, "neg", -5),
             archive(2, "huge", 50 * 1024**4), archive(3, "float", 1.5), archive(4, "str", "x"),
             {"ArchiveDescription": "no id", "Size": 1}, archive(5, "ok", 7)]
    r = import_inventory(store, "v", io.BytesIO(doc(items)))
    assert r.archives == 6 and r.duplicates == 1 and r.skipped == 1 and r.invalid_sizes == 4
    assert len(r.warnings) == 3  # skipped, sizes, duplicates (no ARN check: key is no ARN)
    got = store.get_archive("v", aid(0))
    assert got is not None and got.name == "first"
    assert store.get_archive("v", aid(1)) is not None
    assert store.get_archive("v", aid(1)).size is None  # type: ignore[union-attr]
    info = store.snapshot_info("v")
    assert info is not None and info.warnings == r.warnings


def test_hostile_descriptions_stored_raw(store: Store) -> None:
    evil = "../../[bold]x\x00\x1b[31m.txt"
    import_inventory(store, "v", io.BytesIO(doc([archive(0, evil)])))
    row = store.archives("v", "")[0]
    assert row.description == evil and row.name == "[bold]x.txt"


@pytest.mark.parametrize(
    "body",
    [
        doc([archive(0, "a"), archive(1, "b")])[:-30],  # truncated
        b'{"VaultARN":"x","ArchiveList":[{"ArchiveId":"a",]}',  # malformed
        b'{"VaultARN":"x"}',  # no list
        b'{"ArchiveList":{"a":1}}',  # not an array
        b"[1,2]",  # not an object
        b'{"ArchiveList":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}",  # nested too deeply
    ],
)
def test_bad_json_keeps_previous(store: Store, body: bytes) -> None:
    import_inventory(store, "v", io.BytesIO(doc([archive(9, "keep/me")])))
    before = store.current_snapshot_id("v")
    with pytest.raises(InventoryFormatError) as ei:
        import_inventory(store, "v", io.BytesIO(body))
    assert "byte" in str(ei.value) and 0 <= ei.value.offset <= len(body)
    assert store.current_snapshot_id("v") == before
    assert [a.name for a in store.archives("v", "keep")] == ["me"]
    # The failed snapshot's rows are gone.
    n = store.conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    assert n == 1


def test_malformed_offset_points_at_error(store: Store) -> None:
    body = b'{"ArchiveList":[{"ArchiveId":"a","Size":1},{"ArchiveId":"b",]}'
    with pytest.raises(InventoryFormatError) as ei:
        import_inventory(store, "v", io.BytesIO(body))
    assert 40 <= ei.value.offset <= len(body)


def test_reimport_replaces_and_drops_old(store: Store) -> None:
    import_inventory(store, "v", io.BytesIO(doc([archive(0, "old.txt")])))
    first = store.current_snapshot_id("v")
    import_inventory(store, "v", io.BytesIO(doc([archive(1, "new.txt")])))
    assert store.current_snapshot_id("v") != first
    assert [a.name for a in store.archives("v")] == ["new.txt"]
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert f"archives_{first}" not in tables


def test_parse_csv_line_rules() -> None:
    assert parse_csv_line("a,b,,c") == ["a", "b", "", "c"]
    assert parse_csv_line('x,"my archive,1\\"2",y') == ["x", 'my archive,1"2', "y"]
    assert parse_csv_line('x,"a\\\\"b",y') == ["x", 'a\\"b', "y"]  # backslash kept
    assert parse_csv_line('x,"ends\\",y') == ["x", "ends\\", "y"]
    assert parse_csv_line("x,") == ["x", ""]
    with pytest.raises(ValueError):
        parse_csv_line('x,"open')


def test_csv_import(store: Store, tmp_path: Path) -> None:
    lines = [
        "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash",
        f'{aid(0)},"backup,2024",2014-07-30T15:34:15Z,217,{H}',
        f'{aid(1)},"say \\"hi\\"/file",2014-07-30T15:34:15Z,1,{H}',
        f'"{aid(2)}","dir\\sub\\f.txt",2014-07-30T15:34:15Z,"5",{H}',
        f'{aid(3)},"trailing\\",2014-07-30T15:34:15Z,5,{H}',
        f"{aid(4)},{mt2('m/t.txt')},2014-07-30T15:34:15Z,2,{H}",
        f"{aid(5)},,2014-07-30T15:34:15Z,3,{H}",
    ]
    for nl in ("\n", "\r\n"):
        p = tmp_path / f"inv{len(nl)}.csv"
        p.write_bytes((nl.join(lines) + nl).encode())
        r = import_inventory(store, "c", p)
        assert r.format == "csv" and r.archives == 6 and r.warnings == []
        paths = sorted(a.path for a in store.iter_archives("c"))
        assert paths == sorted(["backup,2024", 'say "hi"/file', "dir/sub/f.txt", "trailing",
                                "m/t.txt", f"00undefined/{aid(5)}"])


def test_csv_bad(store: Store) -> None:
    header = b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
    with pytest.raises(InventoryFormatError):
        import_inventory(store, "c", io.BytesIO(b"nope,nope\n1,2\n"), fmt="csv")
    with pytest.raises(InventoryFormatError) as ei:  # truncated last line
        import_inventory(store, "c", io.BytesIO(header + f"{aid(0)},x,2014".encode()), fmt="csv")
    assert ei.value.offset == len(header)
    with pytest.raises(InventoryFormatError):
        import_inventory(store, "c", io.BytesIO(header + b"a,b\n"), fmt="csv")
    # A complete last line without a newline is fine.
    r = import_inventory(store, "c", io.BytesIO(header + f"{aid(0)},x,2014,1,{H}".encode()))
    assert r.archives == 1


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return run(p.parse_args(list(argv)))


def test_cli_import_ls_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.db")
    f = tmp_path / "inv.json"
    f.write_bytes(doc([archive(0, "a/one.txt", 10), archive(1, "two.txt", 2048)]))
    assert cli("import", str(f), "--vault", "v", "--db", db, "--quiet",
               "--force") == 0  # the file is of vault "photos"
    assert "imported 2 archives" in capsys.readouterr().out
    assert cli("ls", "--vault", "v", "--db", db) == 0
    out = capsys.readouterr().out
    assert "a/\t1" in out and "two.txt\t2.0 KiB" in out
    assert cli("ls", "--vault", "v", "--db", db, "a") == 0
    assert "one.txt" in capsys.readouterr().out
    assert cli("export", "--vault", "v", "--db", db, "--format", "json") == 0
    exported = json.loads(capsys.readouterr().out)
    assert sorted(a["Path"] for a in exported["ArchiveList"]) == ["a/one.txt", "two.txt"]
    out_csv = tmp_path / "out.csv"
    assert cli("export", "--vault", "v", "--db", db, "--format", "csv", "-o", str(out_csv)) == 0
    assert out_csv.read_text().count("\n") == 3
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"ArchiveList":[{"ArchiveId":"x"')
    assert cli("import", str(bad), "--vault", "v", "--db", db, "--quiet") == 1
    assert cli("ls", "--vault", "nope", "--db", db) == 1
    assert cli("import", str(tmp_path / "missing.json"), "--vault", "v", "--db", db) == 2
    with pytest.raises(SystemExit) as ei:
        cli("import")
    assert ei.value.code == 2


def test_helper_process_matches_serial(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large files go through the two-process pipeline in units; same rows, order and
    totals as the careful path in one process (an unseekable stream)."""
    import glacier_tui.glacier.inventory as inv

    arch = [archive(i, mt2(f"d{i % 7}/f{i}.txt") if i % 3 else f"p/{i}", i) for i in range(50)]
    arch.append(archive(3, "dup/first-kept"))  # duplicate id: the first occurrence wins
    arch[20]["Size"] = -1  # examples of warnings come back in file order from both processes
    arch[40]["Size"] = "x"
    data = doc(arch)
    serial = Store(tmp_path / "serial.sqlite3")
    a = import_inventory(serial, "v", Unseekable(data))
    monkeypatch.setattr(inv, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(inv, "_UNIT_BYTES", 700)  # ~3 entries a unit
    sent: list[int] = []
    kept: list[int] = []
    send, add_unit = pipeline.Helper.send, pipeline.Sink.add_unit
    monkeypatch.setattr(pipeline.Helper, "send",
                        lambda h, seq, *a: (sent.append(seq), send(h, seq, *a))[1])
    monkeypatch.setattr(pipeline.Sink, "add_unit",
                        lambda sk, seq, *a: (kept.append(seq), add_unit(sk, seq, *a))[1])
    b = import_inventory(store, "v", io.BytesIO(data), batch_size=7)
    assert sent and kept and not set(sent) & set(kept)  # both processes took units
    assert (b.archives, b.duplicates, b.folders, b.sources, b.warnings) == (
        a.archives, a.duplicates, a.folders, a.sources, a.warnings)
    assert b.duplicates == 1 and len(b.warnings) == 2 and "-1; " in b.warnings[0]

    def rows(s: Store, n: int) -> list[Any]:
        return s.conn.execute(f"SELECT * FROM archives_{n} ORDER BY rowid").fetchall()

    def folders(s: Store, n: int) -> list[Any]:
        return s.conn.execute(f"SELECT * FROM folders_{n} ORDER BY path").fetchall()

    assert rows(store, b.snapshot_id) == rows(serial, a.snapshot_id)
    assert folders(store, b.snapshot_id) == folders(serial, a.snapshot_id)
    serial.close()


def test_helper_process_bad_input_keeps_previous(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import glacier_tui.glacier.inventory as inv

    import_inventory(store, "v", io.BytesIO(doc([archive(9, "keep/me")])))
    before = store.current_snapshot_id("v")
    monkeypatch.setattr(inv, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(inv, "_UNIT_BYTES", 500)
    body = doc([archive(i, f"x/{i}") for i in range(40)])[:-300]
    with pytest.raises(InventoryFormatError) as ei:
        import_inventory(store, "v", io.BytesIO(body), batch_size=5)
    assert 0 <= ei.value.offset <= len(body)
    assert store.current_snapshot_id("v") == before
    assert [a.name for a in store.archives("v", "keep")] == ["me"]
    assert store.conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 1


def test_pretty_printed_large_json_matches_compact(store: Store, tmp_path: Path) -> None:
    # Larger than the reader's window and chunk, with whitespace everywhere the format
    # allows it and non-ASCII names, so entries straddle chunk boundaries.
    archives = [archive(i, mt2(f"dir{i % 7}/été-{i}.txt") if i % 2 else f"plain/ü{i}.bin")
                for i in range(3000)]
    body = {"VaultARN": ARN, "InventoryDate": "2014-08-01T14:30:07Z", "ArchiveList": archives}
    compact = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    pretty = json.dumps(body, indent=3, ensure_ascii=False).replace("\n", "\r\n").encode()
    assert len(pretty) > 3 * 256 * 1024
    a = import_inventory(store, "a", io.BytesIO(compact))
    b = import_inventory(store, "b", io.BytesIO(pretty))
    assert (a.archives, b.archives, a.warnings, b.warnings) == (3000, 3000, [], [])
    assert b.vault_arn == ARN and b.bytes_read == len(pretty)
    names = [(r.folder, r.name, r.size) for r in store.iter_archives("a")]
    assert names == [(r.folder, r.name, r.size) for r in store.iter_archives("b")]


def test_error_offset_is_in_bytes_after_multibyte_text(store: Store) -> None:
    good = json.dumps(archive(0, "ééé/ü.txt"), ensure_ascii=False)
    body = ('{"ArchiveList":[' + good + ',{"ArchiveId":"b",]}').encode()
    with pytest.raises(InventoryFormatError) as ei:
        import_inventory(store, "v", io.BytesIO(body))
    assert body[ei.value.offset:ei.value.offset + 1] == b"]"


def test_archive_id_lookup_without_duplicates_builds_its_index_on_first_use(
    store: Store,
) -> None:
    r = import_inventory(store, "v", io.BytesIO(doc([archive(i, f"f{i}") for i in range(5)])))
    n = r.snapshot_id

    def id_index() -> list[Any]:
        return store.conn.execute(
            "SELECT name FROM sqlite_master WHERE name = ?", (f"archives_{n}_id",)).fetchall()

    assert id_index() == []  # no repeated id: the import skipped the duplicate check
    row = store.get_archive("v", aid(3))
    assert row is not None and row.name == "f3" and len(id_index()) == 1
    assert store.remove_archives("v", [aid(1)]) == 1


def test_id_watch_gives_up_past_its_limit_and_the_exact_check_runs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import glacier_tui.glacier.inventory as inv

    monkeypatch.setattr(inv, "_MAX_WATCHED_IDS", 3)
    r = import_inventory(store, "v", io.BytesIO(doc([archive(i, f"f{i}") for i in range(6)])))
    unique = store.conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = ?", (f"archives_{r.snapshot_id}_id",)
    ).fetchone()
    assert r.archives == 6 and r.duplicates == 0 and "UNIQUE" in unique[0]
