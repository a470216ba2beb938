"""Reading manifest rows back, shared by the restore and the migration manifests: the
opening (one-line errors), lines of bounded length and the CSV header check. Each caller
names its own kind of manifest in the errors through ``bad``."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

from glacier_tui.glacier import errors

MAX_LINE: Final = 1 << 20  # a manifest row is far smaller; longer lines are refused

# why -> the error that names the file and the kind of manifest it is not.
Bad = Callable[[str], errors.LocalError]


def read_rows(path: Path, bad: Bad,
              rows: Callable[[IO[str]], Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """The rows ``rows`` reads from the opened file, streamed; the file is closed after."""
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise errors.LocalError(f"no such manifest: {path}") from None
    except OSError as exc:
        raise errors.LocalError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        yield from rows(fh)
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except csv.Error as exc:
        raise bad(f"CSV: {exc}") from None
    finally:
        fh.close()


def bounded_lines(fh: IO[str], bad: Bad) -> Iterator[str]:
    while True:
        line = fh.readline(MAX_LINE)
        if not line:
            return
        if len(line) >= MAX_LINE and not line.endswith("\n"):
            raise bad("a line is too long")
        yield line


def csv_rows(lines: Iterator[str], required: Sequence[str], bad: Bad) -> Iterator[dict[str, str]]:
    """The CSV rows, after checking the header has the ``required`` columns."""
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or not set(required) <= set(reader.fieldnames):
        raise bad("the header lacks " + ", ".join(required))
    yield from reader
