"""glibc malloc tuning around an import: tuned once, restored once, nothing elsewhere."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from glacier_tui.glacier import malloc_tuning
from glacier_tui.glacier.malloc_tuning import bulk_allocations


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(malloc_tuning, "_glibc", lambda: fake)
    return fake


TUNED = [("mallopt", -1, 64 << 20), ("mallopt", -3, 4 << 20)]
RESTORED = [("mallopt", -1, 128 << 10), ("mallopt", -3, 128 << 10), ("trim", 0)]


def test_nested_uses_tune_once_and_restore_once(libc: FakeLibc) -> None:
    with bulk_allocations():
        with bulk_allocations():
            assert libc.calls == TUNED
        assert libc.calls == TUNED  # the outer import still runs
    assert libc.calls == TUNED + RESTORED


def test_restored_after_an_error(libc: FakeLibc) -> None:
    with pytest.raises(RuntimeError), bulk_allocations():
        raise RuntimeError("bad inventory")
    assert libc.calls == TUNED + RESTORED


def test_concurrent_imports_share_one_tuning(libc: FakeLibc) -> None:
    inside, release = threading.Barrier(3), threading.Event()

    def job() -> None:
        with bulk_allocations():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert libc.calls == TUNED
    release.set()
    for t in threads:
        t.join()
    assert libc.calls == TUNED + RESTORED


def test_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(malloc_tuning.platform, "system", lambda: "Darwin")
    assert malloc_tuning._glibc() is None
    with bulk_allocations():  # nothing to call, nothing raised
        pass
