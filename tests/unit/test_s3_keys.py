"""Archive -> S3 key, metadata and part-size rules (deterministic, documented)."""

from __future__ import annotations

import pytest

from glacier_tui.glacier import s3_keys as k

MIB = 1024 * 1024


def _item(path: str, aid: str = "A" * 138, date: str = "2014-07-30T15:34:15Z") -> k.ArchiveKeyInput:
    return k.ArchiveKeyInput(archive_id=aid, path=path, creation_date=date, tree_hash="ab" * 32)


@pytest.mark.parametrize(
    ("size", "preferred", "expected"),
    [
        (0, 64 * MIB, 64 * MIB),
        (1, 1 * MIB, 8 * MIB),
        (640_000 * MIB, 64 * MIB, 64 * MIB),
        (640_001 * MIB, 64 * MIB, 128 * MIB),
        (10_000 * 4096 * MIB, 64 * MIB, 4096 * MIB),  # the largest Glacier archive
        (100 * MIB, 48 * MIB, 64 * MIB),  # rounded up to a power of two
    ],
)
def test_part_size_is_a_power_of_two_mib_within_10000_parts(
    size: int, preferred: int, expected: int
) -> None:
    p = k.part_size(size, preferred)
    assert p == expected
    assert p & (p - 1) == 0 and p % MIB == 0
    assert -(-size // p) <= 10_000


def test_part_size_refuses_what_cannot_fit() -> None:
    with pytest.raises(ValueError, match="10,000 parts"):
        k.part_size(10_000 * 4096 * MIB + 1)


def test_keys_names_unnamed_long_and_trailing_dot() -> None:
    assert k.base_key("photos/", _item("2020/a.jpg")) == ("photos/2020/a.jpg", "path")
    assert k.base_key("p/", _item("", aid="XYZ")) == ("p/_unnamed/XYZ", "unnamed")
    key, rule = k.base_key("p/", _item("d/" + "x" * 1100 + ".tar.gz"))
    assert rule == "long" and key.startswith("p/_long/") and key.endswith(".gz")
    assert len(key.encode()) <= 1024
    assert k.base_key("", _item("notes."))[0] == "notes._"


def test_duplicates_newest_keeps_the_key_and_reruns_agree() -> None:
    old = _item("a/b.jpg", aid="Tli3fYxk4lQ9" + "x" * 126, date="2014-07-30T15:34:15Z")
    new = _item("a/b.jpg", aid="B" * 138, date="2015-01-01T00:00:00Z")
    first = {i.archive_id: key for i, key, _ in k.assign_keys("", [old, new])}
    again = {i.archive_id: key for i, key, _ in k.assign_keys("", [new, old])}
    assert first == again
    assert first[new.archive_id] == "a/b.jpg"
    assert first[old.archive_id] == "a/b~20140730T153415Z~Tli3fYxk4lQ9.jpg"


def test_key_template() -> None:
    fields = {"prefix": "p/", "archive_id": "ID", "path": "x/y"}
    assert k.render_template("{prefix}{archive_id}", fields) == "p/ID"
    with pytest.raises(k.KeyTemplateError, match="unknown field"):
        k.render_template("{prefix}{nope}", fields)
    with pytest.raises(k.KeyTemplateError, match="names no field"):
        k.render_template("constant", fields)


def test_metadata_is_ascii_and_within_budget() -> None:
    item = _item("fotos/été.jpg")
    meta = k.object_metadata(item, key="p/x", prefix="p/", description="mt2 ééé\x01",
                             mtime="2014-01-01T00:00:00Z")
    assert all(v.isascii() for v in meta.values())
    assert "glacier-description-b64" in meta and "orig-path-b64" in meta
    big = k.object_metadata(_item("a" * 1000), key="p/other", prefix="p/",
                            description="d" * 1024, mtime=None)
    assert k.metadata_bytes(big) <= k.METADATA_BUDGET
    assert "orig-path-b64" not in big


def test_parts_in_flight_fit_the_memory_budget() -> None:
    from glacier_tui.glacier.migrate import PART_MEMORY_BUDGET, auto_part_concurrency

    assert auto_part_concurrency(8 * MIB) == 12  # capped
    assert auto_part_concurrency(16 * MIB) == 8
    assert auto_part_concurrency(64 * MIB) == 2
    assert auto_part_concurrency(4096 * MIB) == 1  # never zero
    for p in (8, 16, 32, 64, 128):
        assert auto_part_concurrency(p * MIB) * p * MIB <= max(PART_MEMORY_BUDGET, p * MIB)
