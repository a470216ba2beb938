"""The fast JSON path (units of whole entries, one or two processes) against the careful
path (entry by entry): every document gives the same rows, folders, counters, warnings
and errors, whether it stays on the fast path or has to start over."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import glacier_tui.glacier.inventory as inv
from glacier_tui.glacier import inventory_pipeline as pipeline
from glacier_tui.glacier.inventory import ImportResult, InventoryFormatError, import_inventory
from glacier_tui.glacier.store import Store
from tests.unit.test_inventory import ARN, H, Unseekable, aid, archive, mt2

HEAD = {"VaultARN": ARN, "InventoryDate": "2014-08-01T14:30:07Z"}


def body(entries: list[Any], **dumps: Any) -> bytes:
    return json.dumps({**HEAD, "ArchiveList": entries}, **dumps).encode()


def mixed(n: int) -> list[dict[str, Any]]:
    return [archive(i, mt2(f"d{i % 5}/é{i}.bin") if i % 2 else f"p{i % 3}/f{i}", 100 + i)
            for i in range(n)]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    a, b = Store(tmp_path / "fast.sqlite3"), Store(tmp_path / "careful.sqlite3")
    yield a, b
    a.close()
    b.close()


@pytest.fixture(params=["one process", "two processes"])
def small_units(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(inv, "_UNIT_BYTES", 600)  # a few entries a unit
    two = request.param == "two processes"
    if two:
        monkeypatch.setattr(inv, "_PARALLEL_MIN_BYTES", 0)
    return two


def two_processes(monkeypatch: pytest.MonkeyPatch, unit_bytes: int) -> list[int]:
    """Small units, the helper process for any size; returns the seqs sent to the helper."""
    monkeypatch.setattr(inv, "_UNIT_BYTES", unit_bytes)
    monkeypatch.setattr(inv, "_PARALLEL_MIN_BYTES", 0)
    sent: list[int] = []
    send = pipeline.Helper.send
    monkeypatch.setattr(pipeline.Helper, "send",
                        lambda h, seq, *a: (sent.append(seq), send(h, seq, *a))[1])
    return sent


def outcome(store: Store, data: bytes, stream: io.RawIOBase | io.BytesIO) -> Any:
    try:
        r = import_inventory(store, "v", stream)
    except InventoryFormatError as e:
        return ("error", str(e))
    rows = store.conn.execute(
        f"SELECT * FROM archives_{r.snapshot_id} ORDER BY rowid").fetchall()
    folders = store.conn.execute(
        f"SELECT * FROM folders_{r.snapshot_id} ORDER BY path").fetchall()
    return _summary(r), rows, folders


def _summary(r: ImportResult) -> tuple[Any, ...]:
    return (r.archives, r.folders, r.duplicates, r.skipped, r.invalid_sizes, r.vault_arn,
            r.inventory_date, r.bytes_read, r.warnings, r.sources)


def same_as_careful(stores: tuple[Store, Store], data: bytes) -> Any:
    fast, careful = stores
    got = outcome(fast, data, io.BytesIO(data))
    assert got == outcome(careful, data, Unseekable(data))
    return got


ODD_ENTRIES: list[Any] = [
    archive(0, "a/b"),
    archive(1, "size as text", "12"),
    archive(2, "negative", -4),
    archive(3, "float", 2.0),
    archive(0, "duplicate id"),
    {"ArchiveDescription": "no id", "Size": 1},
    {"ArchiveId": "", "Size": 1},
    archive(4, None),  # type: ignore[arg-type]
    archive(5, {"nested": ["x", {"ArchiveId": "inner"}]}),  # type: ignore[arg-type]
    archive(6, 'quote " backslash \\ and }, {"ArchiveId": inside'),
    archive(7, "tab\tnul\x00 esc\x1b[31m bidi\u202e"),
    7,
    [archive(8, "inside a list")],
    archive(9, "after all that"),
]


@pytest.mark.parametrize(
    "data",
    [
        body(mixed(40), separators=(",", ":")),
        body(mixed(40)),  # json.dumps' default ", " and ": "
        body(mixed(40), indent=2).replace(b"\n", b"\r\n"),
        body(mixed(40), ensure_ascii=False),
        body(ODD_ENTRIES),
        body(ODD_ENTRIES[:5] * 3 + mixed(20)),
        body([]),
        json.dumps({"ArchiveList": mixed(30), **HEAD}).encode(),  # header after the list
        json.dumps({"X": 1, **HEAD, "ArchiveList": mixed(30)}).encode(),  # a number first
        b'{"ArchiveList":[' + b",".join(json.dumps(a).encode() for a in mixed(20)) + b"]}",
        body(mixed(20)).replace(b"\xc3\xa9", b"\xed\xa0\x80"),  # a lone surrogate's bytes
        body(mixed(20)).replace(b'"d1/', b'"\\u00e9/'),  # escapes in the entries
        body([*mixed(10), archive(50, "x/lone\ud800.txt"), archive(51, "\udc00")]),
    ],
    ids=["compact", "spaces", "pretty-crlf", "utf8", "odd", "odd-repeated", "empty",
         "header-after", "number-first", "no-header", "surrogate-bytes", "escapes",
         "surrogate-escape"],
)
def test_documents_import_as_the_careful_path_does(
    stores: tuple[Store, Store], small_units: bool, data: bytes
) -> None:
    same_as_careful(stores, data)


@pytest.mark.parametrize(
    "data",
    [
        body(mixed(40))[:-700],  # truncated inside the list
        body(mixed(40))[:-1],  # truncated at the very end
        body(mixed(40)).replace(b'"Size": 120', b'"Size": 12x', 1),  # bad number mid-list
        body(mixed(40)).replace(b'}, {"ArchiveId"', b'} {"ArchiveId"', 1),  # missing comma
        body(mixed(40)).replace(b'"Size": 110', b'"Size": 11x', 1)[:-700],  # and truncated
        body(mixed(40)) + b" x",  # text after the document
        body(mixed(40)).replace(b'"ArchiveList": [', b'"ArchiveList": "x", "L": [', 1),
        b'{"ArchiveList":"x"}',
        b'{"ArchiveList":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
    ],
    ids=["truncated", "truncated-end", "bad-number", "no-comma", "bad-and-truncated",
         "trailing", "list-string",
         "list-string-only", "deep"],
)
def test_bad_documents_fail_at_the_same_byte(
    stores: tuple[Store, Store], small_units: bool, data: bytes
) -> None:
    got = same_as_careful(stores, data)
    assert got[0] == "error" and "at byte" in got[1]
    fast, _ = stores
    assert fast.conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 0


def test_a_lone_surrogate_escape_is_stored_as_a_replacement_character(
    stores: tuple[Store, Store],
) -> None:
    summary, rows, _ = same_as_careful(stores, body([archive(0, "x/lone\ud800.txt")]))
    assert summary[0] == 1 and rows[0][1:4] == ("x", "lone\ufffd.txt", "x/lone\ufffd.txt")


def test_a_fake_boundary_inside_an_entry_starts_over_on_the_careful_path(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A nested object whose first key is ArchiveId: "}, {"ArchiveId"" inside an entry.
    entries = mixed(10)
    entries[5]["Tags"] = [{"k": 1}, {"ArchiveId": "not an archive"}]
    data = body(entries)
    list_at = data.index(b"[") + 1
    # The first unit ends between the nested "ArchiveId" and the next entry's.
    monkeypatch.setattr(inv, "_UNIT_BYTES", data.index(b'"not an archive"') - list_at)
    restarts: list[str] = []
    run = inv._Import.run

    def spy(self: Any, reader: Any, **kw: Any) -> Any:
        restarts.append("fast" if kw["fast"] else "careful")
        return run(self, reader, **kw)

    monkeypatch.setattr(inv._Import, "run", spy)
    summary, rows, _ = same_as_careful(stores, data)
    assert restarts == ["fast", "careful", "careful"] and summary[0] == 10
    assert [r[0] for r in rows] == [aid(i) for i in range(10)]


def test_two_processes_take_turns_and_keep_file_order(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = two_processes(monkeypatch, 600)
    entries = [*mixed(300), archive(7, "dup/later")]  # the first occurrence is kept
    summary, rows, _ = same_as_careful(stores, body(entries))
    assert summary[2] == 1
    assert [r[0] for r in rows] == [aid(i) for i in range(300)]
    stored_by = {rowid >> pipeline.ROWID_SHIFT for (rowid,) in stores[0].conn.execute(
        f"SELECT rowid FROM archives_{stores[0].current_snapshot_id('v')}")}
    assert sent and set(sent) <= stored_by and stored_by - set(sent)  # both stored units
    assert not Path(f"{stores[0].path}.import-lock").exists()


# -- CSV: units of whole lines --------------------------------------------------------------

CSV_HEADER = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"


def csv_lines(n: int) -> list[str]:
    return [f'{aid(i)},"{mt2(f"d{i % 4}/f{i}") if i % 2 else f"p/x,{i}"}",'
            f"2014-07-30T15:34:15Z,{i},{H}" for i in range(n)]


def csv(lines: list[str], header: str = CSV_HEADER, nl: str = "\n", end: str = "\n") -> bytes:
    return (nl.join([header, *lines]) + end).encode()


def csv_outcome(store: Store, data: bytes) -> Any:
    return outcome(store, data, io.BytesIO(data))


@pytest.mark.parametrize(
    "data",
    [
        csv(csv_lines(40)),
        csv(csv_lines(40), nl="\r\n"),
        csv(csv_lines(40), end=""),  # a complete last line without newline
        csv([f"{H},2014-07-30T15:34:15Z,x/{i},{i},{aid(i)}" for i in range(30)],
            header="SHA256TreeHash,CreationDate,ArchiveDescription,Size,ArchiveId"),
        csv([*csv_lines(10), "", f"{aid(90)},,2014,-3,{H}", f",no id,2014,1,{H}"]),
        csv([]),  # a header alone
        csv(csv_lines(40))[:-30],  # a partial last line
        csv([*csv_lines(20), "a,b", *csv_lines(20)]),  # a short line in the middle
        csv([*csv_lines(3), f'{aid(77)},"open,2014,1,{H}', *csv_lines(30)]),
        csv(["a,b", *csv_lines(40), "c,d"]),  # in the first unit and again later
        csv([*csv_lines(40), "c,d"]),  # only in the last unit
        b"",
        b"ArchiveId,Nope\n",
    ],
    ids=["plain", "crlf", "no-final-newline", "columns-reordered", "odd-rows", "header-only",
         "partial-last", "short-middle", "open-quote", "first-and-last", "last", "empty",
         "bad-header"],
)
def test_csv_units_give_what_one_unit_gives(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    whole = csv_outcome(stores[1], data)  # a 1 MiB unit: the file is one unit
    monkeypatch.setattr(inv, "_UNIT_BYTES", 700)
    assert csv_outcome(stores[0], data) == whole
    monkeypatch.setattr(inv, "_PARALLEL_MIN_BYTES", 0)
    with Store(stores[0].path.with_name("two.sqlite3")) as two:
        assert csv_outcome(two, data) == whole


def test_a_csv_error_in_a_helper_unit_wins_over_a_later_one_of_the_parent(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = csv([*csv_lines(2), "early,bad", *csv_lines(60), "late,bad", *csv_lines(5)])
    sent = two_processes(monkeypatch, 700)
    with pytest.raises(InventoryFormatError) as ei:
        import_inventory(stores[0], "v", io.BytesIO(data))
    assert 1 in sent  # the helper took the first unit, with the early error
    assert ei.value.offset == data.index(b"early,bad")


def test_the_helper_takes_a_unit_whatever_its_seq(tmp_path: Path) -> None:
    # Unit frames are tagged: a seq whose low byte reads as another frame's tag
    # (b"P" is 80) must still be taken as a unit.
    from glacier_tui.glacier.inventory_json import JsonUnitParser

    with Store(tmp_path / "h.sqlite3") as store:
        snap = store.begin_snapshot("v", "json")
        helper = pipeline.Helper.start(store, snap, 100)
        assert helper is not None
        seqs = [ord("P"), ord("U"), 256 + ord("P"), 1 << 38]
        try:
            for seq in seqs:
                helper.send(seq, 0, json.dumps(archive(seq % 997, f"x/{seq}")).encode(),
                            JsonUnitParser())
            result = helper.finish()
        finally:
            helper.close()
        rows = store.conn.execute(f"SELECT rowid, name FROM archives_{snap} ORDER BY rowid")
        assert [(r >> pipeline.ROWID_SHIFT, n) for r, n in rows] == [(s, str(s)) for s in seqs]
        assert result.totals == {"x": [4, 4 * 217]}
