"""Hostile and broken inventory files, concurrent writers, and the store's files.

Every case gets one clear line (an exception with a message, or a CLI exit code and a
message on stderr), bounded memory, and leaves the previous inventory current.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacier_tui import cli
from glacier_tui.glacier.inventory import (
    InventoryFormatError,
    InventorySourceError,
    WrongVaultError,
    import_inventory,
)
from glacier_tui.glacier.safe_files import LockedError, UnsafeFileError
from glacier_tui.glacier.store import Store, StoreMissingError

ARN = "arn:aws:glacier:us-east-1:123456789012:vaults/photos"
CSV_HEADER = b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def entry(i: int, desc: str = "f.txt", size: Any = 5) -> dict[str, Any]:
    return {"ArchiveId": f"{i:0138d}", "ArchiveDescription": desc,
            "CreationDate": "2020-01-01T00:00:00Z", "Size": size, "SHA256TreeHash": "0" * 64}


def jdoc(entries: list[dict[str, Any]], arn: str = ARN) -> bytes:
    return json.dumps({"VaultARN": arn, "InventoryDate": "2020-01-02T00:00:00Z",
                       "ArchiveList": entries}).encode()


def csv_row(i: int, desc: str = "f.txt", size: str = "5") -> bytes:
    return f"{i:0138d},{desc},2020-01-01T00:00:00Z,{size},{'0' * 64}\n".encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store" / "store.db")
    yield s
    s.close()


class Lazy(io.RawIOBase):
    """A non-seekable stream of ``head``, ``size`` bytes of ``fill``, then ``tail``,
    made as it is read (the careful path, as for a pipe; nothing is held in memory)."""

    def __init__(self, head: bytes, fill: bytes, size: int, tail: bytes = b"") -> None:
        self.parts = iter([head, *([fill * (MIB // len(fill))] * (size // MIB)), tail])
        self.left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self.left:
            nxt = next(self.parts, None)
            if nxt is None:
                return 0
            self.left = nxt
        n = min(len(b), len(self.left))
        b[:n] = self.left[:n]
        self.left = self.left[n:]
        return n


def _write_big(path: Path, head: bytes, fill: bytes, size: int, tail: bytes = b"") -> Path:
    with path.open("wb") as f:
        f.write(head)
        block = fill * (MIB // len(fill))
        for _ in range(size // MIB):
            f.write(block)
        f.write(tail)
    return path


def _peak_while(fn: Any) -> tuple[BaseException | None, int]:
    """Run ``fn``; return what it raised and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    raised: BaseException | None = None
    try:
        fn()
    except BaseException as e:  # the caller asserts on it
        raised = e
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return raised, peak


# -- bounded memory -----------------------------------------------------------------------------

JSON_HEAD = jdoc([entry(0)])[:-2] + b',{"ArchiveId":"' + b"1" * 138 + b'","ArchiveDescription":"'


@pytest.mark.parametrize("kind", ["csv-file", "csv-stream", "json-file", "json-stream"])
def test_huge_line_or_entry_is_refused_at_a_fixed_memory_cap(
    kind: str, store: Store, tmp_path: Path
) -> None:
    """64 MiB without a newline (CSV) or in one entry (JSON): an error naming the cap
    once about 1 MiB of it was read, with memory far below the file's size."""
    size = 64 * MIB
    if kind.startswith("csv"):
        head, fill, want = CSV_HEADER + csv_row(0), b"x", "line 3 is longer than 1 MiB"
    else:
        head, fill, want = JSON_HEAD, b"x", "an ArchiveList entry is longer than 1 MiB"
    source: Any
    if kind.endswith("file"):
        source = _write_big(tmp_path / "big", head, fill, size)
    else:
        source = io.BufferedReader(Lazy(head, fill, size))
    raised, peak = _peak_while(lambda: import_inventory(store, "v", source))
    assert isinstance(raised, InventoryFormatError), raised
    assert want in str(raised) and "not a Glacier inventory" in str(raised)
    assert peak < 12 * MIB, f"peak {peak / MIB:.1f} MiB for a {size // MIB} MiB input"
    assert store.current_snapshot_id("v") is None


def test_huge_header_value_is_refused(store: Store) -> None:
    body = io.BufferedReader(Lazy(b'{"Other":"', b"y", 16 * MIB, b'","ArchiveList":[]}'))
    with pytest.raises(InventoryFormatError, match="the value of 'Other' is longer than 1 MiB"):
        import_inventory(store, "v", body)


# -- odd but harmless input ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_utf8_bom_is_accepted(fmt: str, store: Store, tmp_path: Path) -> None:
    body = jdoc([entry(0), entry(1)]) if fmt == "json" else CSV_HEADER + csv_row(0) + csv_row(1)
    path = tmp_path / "bom"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    r = import_inventory(store, ARN, path)
    assert (r.format, r.archives, r.warnings) == (fmt, 2, [])
    stream = import_inventory(store, ARN, io.BufferedReader(Lazy(b"\xef\xbb\xbf" + body, b"x", 0)))
    assert stream.archives == 2


def test_fifo_is_read_as_a_stream(store: Store, tmp_path: Path) -> None:
    fifo = tmp_path / "inv.fifo"
    os.mkfifo(fifo)
    body = jdoc([entry(i) for i in range(5000)])  # more than a pipe holds: the writer waits
    assert len(body) > 256 * 1024
    # Opened read-write, the FIFO has a writer before the import opens it (no race).
    wfd = os.open(fifo, os.O_RDWR)

    def write() -> None:
        with os.fdopen(wfd, "wb") as w:
            w.write(body)

    t = threading.Thread(target=write)
    t.start()
    r = import_inventory(store, ARN, fifo)
    t.join()
    assert r.archives == 5000 and r.bytes_read == len(body)


def test_fifo_without_a_writer_does_not_hang(store: Store, tmp_path: Path) -> None:
    fifo = tmp_path / "nobody.fifo"
    os.mkfifo(fifo)
    # In a child with a deadline, so a regression fails instead of hanging the suite.
    code = (
        "import sys\nfrom glacier_tui.glacier.store import Store\n"
        "from glacier_tui.glacier.inventory import import_inventory\n"
        "import_inventory(Store(sys.argv[1]), 'v', sys.argv[2])\n"
    )
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "f.db"), str(fifo)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1].endswith("the inventory file is empty (at byte 0)")


def test_cli_reads_standard_input(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    p = subprocess.run(
        [sys.executable, "-m", "glacier_tui", "inventory", "import", "-", "--vault", "photos",
         "--db", str(db), "--quiet"],
        input=jdoc([entry(0), entry(1)]), capture_output=True, timeout=120, cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    assert b"imported 2 archives" in p.stdout


def test_directory_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InventorySourceError, match="is a directory, not an inventory file"):
        import_inventory(store, "v", tmp_path)


# -- malformed input: one line each, previous inventory kept -----------------------------------

NESTED = b'{"VaultARN":"x","ArchiveList":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
CASES: list[tuple[str, bytes, str]] = [
    ("csv-unterminated-quote",
     CSV_HEADER + b'a1,"desc,2020-01-01T00:00:00Z,5,' + b"0" * 64 + b"\n",
     "unterminated quoted field"),
    ("csv-unterminated-quote-other-order",
     b"Size,ArchiveId,ArchiveDescription,CreationDate,SHA256TreeHash\n"
     b'5,a1,"desc,2020-01-01T00:00:00Z,' + b"0" * 64 + b"\n", "unterminated quoted field"),
    ("csv-5000-digits", CSV_HEADER + csv_row(0, size="9" * 5000),
     "Size is a number of 5,000 digits: not a Glacier inventory"),
    ("json-5000-digits", jdoc([entry(0)]).replace(b'"Size": 5', b'"Size": ' + b"9" * 5000),
     "Size is a number of 5,000 digits: not a Glacier inventory"),
    ("json-5000-digits-negative",
     jdoc([entry(0)]).replace(b'"Size": 5', b'"Size": -' + b"9" * 5000),
     "Size is a number of 5,000 digits"),
    ("json-deeply-nested", NESTED, "values nested too deeply"),
    ("json-truncated", jdoc([entry(0), entry(1)])[:-30], "truncated"),
    ("csv-truncated", CSV_HEADER + csv_row(0) + csv_row(1)[:40], "truncated"),
    ("empty", b"", "the inventory file is empty"),
    ("only-a-bom", b"\xef\xbb\xbf", "the inventory file is empty"),
]


@pytest.mark.parametrize("body,message", [(b, m) for _, b, m in CASES],
                         ids=[c[0] for c in CASES])
@pytest.mark.parametrize("how", ["file", "stream"])
def test_malformed_input_is_one_clear_error(
    body: bytes, message: str, how: str, store: Store, tmp_path: Path
) -> None:
    good = import_inventory(store, "v", io.BytesIO(jdoc([entry(7)])))
    source: Any = io.BufferedReader(Lazy(body, b"x", 0))
    if how == "file":
        source = tmp_path / "inv"
        source.write_bytes(body)
    with pytest.raises(InventoryFormatError) as ei:
        import_inventory(store, "v", source)
    assert message in str(ei.value) and "\n" not in str(ei.value)
    assert store.current_snapshot_id("v") == good.snapshot_id  # the previous one stays


def test_cli_gives_one_line_not_a_traceback(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(CSV_HEADER + csv_row(0, size="9" * 5000))
    rc = cli.main(["inventory", "import", str(bad), "--vault", "v", "--db",
                   str(tmp_path / "s.db"), "--quiet"])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 1 and "Traceback" not in err
    assert "bad inventory: Size is a number of 5,000 digits" in err


# -- one writer at a time ----------------------------------------------------------------------

def test_two_import_processes_one_is_refused(tmp_path: Path) -> None:
    """Process A imports from a FIFO we feed (so it is mid-import, holding the store);
    process B's import of the same store is refused, naming A's pid; A then finishes."""
    db = tmp_path / "s.db"
    fifo = tmp_path / "a.fifo"
    os.mkfifo(fifo)
    body = jdoc([entry(i) for i in range(200)])
    wfd = os.open(fifo, os.O_RDWR)  # a writer from the start: A never sees an early EOF
    os.write(wfd, body[:100])
    args = ["inventory", "import", "--vault", "photos", "--db", str(db), "--quiet"]
    a = subprocess.Popen([sys.executable, "-m", "glacier_tui", *args[:2], str(fifo), *args[2:]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        lock = Path(f"{db}.lock")
        # Wait for A to hold the writer lock (its pid in the lock file); A cannot finish
        # meanwhile (its input is not complete), so this is no race.
        while not (lock.exists() and lock.read_text().strip() == str(a.pid)):
            assert a.poll() is None, a.communicate()
            threading.Event().wait(0.02)
        other = tmp_path / "b.json"
        other.write_bytes(jdoc([entry(1)]))
        b = subprocess.run([sys.executable, "-m", "glacier_tui", *args[:2], str(other),
                            *args[2:]], capture_output=True, text=True, timeout=120, cwd=ROOT)
        err = " ".join(b.stderr.split())
        assert b.returncode == 1 and "Traceback" not in err
        assert f"the store is being written by another glacier-tui (pid {a.pid})" in err
    finally:
        os.write(wfd, body[100:])
        os.close(wfd)
        out, err_a = a.communicate(timeout=120)
    assert a.returncode == 0, err_a
    assert b"imported 200 archives" in out


def test_imports_in_two_threads_take_turns(store: Store) -> None:
    """Two inventories finishing at once in the TUI: both imported, one after the other."""
    import threading

    results: list[int] = []
    errors_seen: list[BaseException] = []

    def run(n: int) -> None:
        try:
            doc = jdoc([entry(i) for i in range(n)])
            results.append(import_inventory(store, ARN, io.BytesIO(doc)).archives)
        except BaseException as exc:
            errors_seen.append(exc)

    with store.writer_lock():  # the first writer holds it while the two threads start
        threads = [threading.Thread(target=run, args=(n,)) for n in (3, 5)]
        for t in threads:
            t.start()
    for t in threads:
        t.join(60)
    assert not errors_seen and sorted(results) == [3, 5]


def test_nested_import_in_the_same_thread_is_refused(store: Store) -> None:
    held = rf"being written by another glacier-tui \(pid {os.getpid()}\)"
    with store.writer_lock(), pytest.raises(LockedError, match=held):
        import_inventory(store, ARN, io.BytesIO(jdoc([entry(0)])))
    assert import_inventory(store, ARN, io.BytesIO(jdoc([entry(0)]))).archives == 1


def test_database_locked_is_a_clear_error(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(Store, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "s.db"
    store = Store(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    try:
        with pytest.raises(LockedError, match="the store is being written by another glacier-tui"):
            store.journal_put("k", 1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.journal_put("k", 1)  # and it works again afterwards
    assert store.journal_get("k") == 1
    store.close()


# -- read-only commands never create a store ----------------------------------------------------

@pytest.mark.parametrize("command", [["ls"], ["export", "--format", "json"]])
def test_read_only_command_creates_nothing(command: list[str], tmp_path: Path, capsys: Any) -> None:
    db = tmp_path / "nothing" / "here" / "store.db"
    rc = cli.main(["inventory", *command, "--vault", "photos", "--db", str(db)])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 1
    assert ("no inventory stored for photos; run `glacier-tui inventory import FILE --vault"
            " photos` first") in err
    assert list(tmp_path.iterdir()) == []  # no directory, no file
    # An existing directory without a store: still nothing created.
    db.parent.mkdir(parents=True)
    assert cli.main(["inventory", *command, "--vault", "photos", "--db", str(db)]) == 1
    assert list(db.parent.iterdir()) == []
    with pytest.raises(StoreMissingError):
        Store(db, create=False)
    assert list(db.parent.iterdir()) == []


def test_ls_of_a_vault_without_inventory(tmp_path: Path, capsys: Any) -> None:
    db = tmp_path / "s.db"
    inv = tmp_path / "inv.json"
    inv.write_bytes(jdoc([entry(0)]))
    assert cli.main(["inventory", "import", str(inv), "--vault", "photos", "--db", str(db),
                     "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["inventory", "ls", "--vault", "other", "--db", str(db)]) == 1
    assert "no inventory stored for other; run" in capsys.readouterr().err


# -- another vault's inventory --------------------------------------------------------------------

def test_inventory_of_another_vault_is_refused_unless_forced(tmp_path: Path, capsys: Any) -> None:
    db = tmp_path / "s.db"
    inv = tmp_path / "inv.json"
    inv.write_bytes(jdoc([entry(0)]))
    base = ["inventory", "import", str(inv), "--db", str(db), "--quiet"]
    assert cli.main([*base, "--vault", "music"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"this inventory is of vault photos ({ARN}), not music; pass --force to import it" \
        " anyway" in err
    assert Store(db).current_snapshot_id("music") is None
    assert cli.main([*base, "--vault", "music", "--force"]) == 0
    assert "imported with --force" in " ".join(capsys.readouterr().err.split())
    assert cli.main([*base, "--vault", "photos"]) == 0  # its own vault, by name
    assert cli.main([*base, "--vault", ARN]) == 0  # or by ARN


@pytest.mark.parametrize("how", ["file", "stream"])
def test_wrong_vault_is_refused_before_the_list_is_read(how: str, store: Store,
                                                        tmp_path: Path) -> None:
    other = "arn:aws:glacier:us-east-1:123456789012:vaults/music"
    body = jdoc([entry(i) for i in range(20_000)])  # ~5 MB: the fast path's units
    seen: list[int] = []
    source: Any = io.BufferedReader(Lazy(body, b"x", 0))
    if how == "file":
        source = tmp_path / "inv.json"
        source.write_bytes(body)
    with pytest.raises(WrongVaultError, match="not " + other):
        import_inventory(store, other, source, progress=lambda done, _t: seen.append(done))
    assert max(seen) < len(body) // 2  # refused at the header, not after the whole file
    assert store.current_snapshot_id(other) is None


# -- the store's files ---------------------------------------------------------------------------

def test_store_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        directory = tmp_path / "new" / "dir"
        s = Store(directory / "store.db")
        import_inventory(s, ARN, io.BytesIO(jdoc([entry(0)])))
        names = {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}
        s.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert "store.db" in names and "store.db-wal" in names and "store.db.lock" in names
    assert all(mode == 0o600 for mode in names.values()), names


def test_existing_wide_store_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()
    os.chmod(db, 0o644)
    Store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


@pytest.mark.parametrize("where", ["db", "wal", "dir"])
def test_symlinks_are_refused(where: str, tmp_path: Path, capsys: Any) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "victim"
    target.write_bytes(b"precious")
    db = tmp_path / "s.db"
    if where == "db":
        db.symlink_to(target)
    elif where == "wal":
        Path(f"{db}-wal").symlink_to(target)
    else:
        (tmp_path / "link").symlink_to(real, target_is_directory=True)
        db = tmp_path / "link" / "s.db"
    with pytest.raises(UnsafeFileError, match="symlink"):
        Store(db)
    assert cli.main(["inventory", "ls", "--vault", "v", "--db", str(db)]) == 1
    assert "cannot open store" in capsys.readouterr().err
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in real.iterdir()) == ["victim"]  # nothing created through it


def test_malformed_entry_before_much_more_data_names_the_error(store: Store) -> None:
    """A syntax error followed by megabytes of data is reported as what it is, not as an
    entry too long (the parser reads on to the cap in case the entry was only cut off)."""
    head = jdoc([entry(0)])[:-2] + b',{"ArchiveId":"a",]'
    body = io.BufferedReader(Lazy(head, b" ", 4 * MIB, b"]}"))
    with pytest.raises(InventoryFormatError, match="malformed inventory JSON: Expecting"):
        import_inventory(store, "v", body)
