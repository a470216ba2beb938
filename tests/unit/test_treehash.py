"""Tree hash against botocore and a worked example (1 MiB chunks folded pairwise)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from botocore.utils import calculate_tree_hash

from glacier_tui.glacier.treehash import (
    MIB,
    TreeHasher,
    combine_hex,
    file_leaf_digests,
    fold,
    is_mib_aligned,
    is_tree_hash_aligned,
    tree_hash,
    tree_hash_file,
)

SIZES = [0, 1, MIB, MIB + 1, 3 * MIB, 5 * MIB, 3 * MIB + 512 * 1024]


def _payload(size: int) -> bytes:
    block = hashlib.sha256(str(size).encode()).digest() * 4096  # 128 KiB, varied per size
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.parametrize("size", SIZES)
def test_matches_botocore(size: int, tmp_path: Path) -> None:
    data = _payload(size)
    expected = calculate_tree_hash(io.BytesIO(data))
    assert tree_hash(data) == expected
    path = tmp_path / "f"
    path.write_bytes(data)
    assert tree_hash_file(path) == expected
    assert tree_hash_file(path, threads=1) == expected


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", [1, 4093, MIB, MIB + 7])
def test_incremental_any_piece_size(size: int, piece: int) -> None:
    if piece == 1 and size > 4096:
        pytest.skip("byte-at-a-time only on tiny inputs")
    data = _payload(size)
    hasher = TreeHasher()
    for i in range(0, len(data), piece):
        hasher.update(data[i : i + piece])
    assert hasher.hexdigest() == tree_hash(data)
    assert hasher.total == size


def test_worked_example() -> None:
    data = b"a" * MIB + b"b" * MIB + b"c" * MIB + b"d" * (MIB // 2)
    assert tree_hash(data) == "8fdc1256cce0270a97b274439875f0a42471f07ecf7249a502f480a17f40eaf1"
    assert tree_hash(data[: 3 * MIB]) == (
        "6d17ac2e0c74a2668690c31ac0025def46db2be54ac08a67663b3f83d3829d41"
    )


def test_small_payload_is_plain_sha256() -> None:
    assert tree_hash(b"hello world") == (
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    )
    assert tree_hash(b"") == hashlib.sha256(b"").hexdigest()


def test_combining_aligned_parts_gives_archive_hash() -> None:
    data = _payload(11 * MIB + 12345)
    for part in (MIB, 2 * MIB, 4 * MIB, 8 * MIB):
        parts = [tree_hash(data[i : i + part]) for i in range(0, len(data), part)]
        assert combine_hex(parts) == tree_hash(data)


def test_file_range_hash(tmp_path: Path) -> None:
    data = _payload(7 * MIB + 3)
    path = tmp_path / "f"
    path.write_bytes(data)
    middle = tree_hash(data[2 * MIB : 4 * MIB])
    assert tree_hash_file(path, offset=2 * MIB, length=2 * MIB) == middle
    assert fold(file_leaf_digests(path, 4 * MIB)).hex() == tree_hash(data[4 * MIB :])


N = 6815744  # 6.5 MiB: ranges inside it that are and are not tree-hash aligned


@pytest.mark.parametrize(
    ("start", "end", "aligned"),
    [
        (0, 2097151, True),
        (2097152, 4194303, True),
        (4194304, 6815743, True),
        (6291456, 6815743, True),
        (0, N - 1, True),
        (1048576, 3145727, False),
        (2097152, 6815743, False),
        (1048576, 2097151, True),
        (0, 100, False),
    ],
)
def test_tree_hash_alignment(start: int, end: int, aligned: bool) -> None:
    assert is_tree_hash_aligned(start, end, N) is aligned
    if aligned:
        assert is_mib_aligned(start, end, N)


def test_mib_alignment() -> None:
    assert is_mib_aligned(1048576, 3145727, N)
    assert is_mib_aligned(0, N - 1, N)
    assert not is_mib_aligned(1, MIB - 1, N)
    assert not is_mib_aligned(0, MIB, N)
    assert not is_mib_aligned(0, N, N)  # past the end
    assert not is_mib_aligned(MIB, 0, N)  # inverted
