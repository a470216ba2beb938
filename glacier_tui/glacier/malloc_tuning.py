"""Fewer page faults during bulk work on glibc: freed buffers stay in the heap.

An import allocates and frees ~1 MiB buffers (file units, frames, parsed lists)
hundreds of times a second. By default glibc serves such a buffer from a fresh
``mmap`` (threshold 128 KiB) or trims the heap's top after the free, so each one
is page-faulted in again: ~250,000 faults and ~1 s of system time per million
archives. Raising both thresholds for the duration keeps those pages for reuse.
Elsewhere (musl, macOS, Windows) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import threading
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["bulk_allocations", "tune_for_bulk"]

_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_BULK_TRIM: Final = 64 * 1024 * 1024
_BULK_MMAP: Final = 4 * 1024 * 1024
_DEFAULT: Final = 128 * 1024  # glibc's initial value of both

_lock = threading.Lock()
_users = 0


def _glibc() -> Any | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def _set(trim: int, mmap: int) -> Any | None:
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_TRIM_THRESHOLD, trim)
        libc.mallopt(_M_MMAP_THRESHOLD, mmap)
    return libc


def tune_for_bulk() -> None:
    """For a process that does nothing else (the import's helper): tune for good."""
    _set(_BULK_TRIM, _BULK_MMAP)


@contextlib.contextmanager
def bulk_allocations() -> Iterator[None]:
    """Tune while the block runs (nested and concurrent uses count), then give the
    kept memory back to the system."""
    global _users
    with _lock:
        _users += 1
        if _users == 1:
            tune_for_bulk()
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and (libc := _set(_DEFAULT, _DEFAULT)) is not None:
                libc.malloc_trim(0)
