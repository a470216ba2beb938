"""``glacier-tui download`` / ``glacier-tui upload``: verified, resumable transfers from a shell.

Usable over SSH and in scripts: a rich progress bar only when stderr is a
terminal, results on stdout (the file path; ``<archive id>\\t<name>`` per
upload), errors as one line on stderr. Folder uploads report every entry they
skip (symlinks, FIFOs, sockets, devices, names that are not UTF-8) and end with
an "N uploaded, N skipped, N failed" line. Exit codes: 0 ok, 1 a transfer
failed, a file was skipped, or the run was cancelled, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from glacier_tui.cli_args import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from glacier_tui.cli_args import positive_float as _positive_float
from glacier_tui.cli_args import positive_int as _positive_int
from glacier_tui.glacier import errors
from glacier_tui.glacier.client import ClientOptions, GlacierClient
from glacier_tui.glacier.masking import shown
from glacier_tui.glacier.operations import download_output, download_target
from glacier_tui.glacier.transfer_common import DEFAULT_STALL_TIMEOUT
from glacier_tui.glacier.transfers import (
    MAX_CONCURRENCY,
    TransferProgress,
    TransferState,
    upload_file,
)
from glacier_tui.glacier.treehash import MIB
from glacier_tui.glacier.upload_sources import (
    SkippedSource,
    UploadSource,
    display_name,
    iter_sources,
)

__all__ = ["add_download_arguments", "add_upload_arguments", "run_download", "run_upload"]

T = TypeVar("T")


def add_download_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vault", required=True, help="vault name")
    p.add_argument("--job", required=True, metavar="JOB_ID", help="a Succeeded job's id")
    p.add_argument("-o", "--output", default=None, metavar="DIR_OR_FILE",
                   help="target file, or a folder for the name from the archive description "
                   "(default: the download_dir setting)")
    p.add_argument("--concurrency", type=_positive_int, default=None, metavar="N",
                   help=f"parallel segment requests, 1-{MAX_CONCURRENCY} (default: settings)")
    p.add_argument("--segment-size", type=_positive_int, default=None, metavar="MiB",
                   help="segment size in MiB, a power of two (default: settings, 32)")
    p.add_argument("--stall-timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="retry a segment whose data stops flowing (less than 1 KiB in this "
                   f"many seconds; default: settings, {DEFAULT_STALL_TIMEOUT:g})")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing regular file (never a folder, FIFO, device "
                   "or symlink)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_upload_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vault", required=True, help="vault name")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="files or folders (folders recurse; paths relative to each folder "
                   "go into the archive description)")
    p.add_argument("--concurrency", type=_positive_int, default=None, metavar="N",
                   help=f"parallel part uploads, 1-{MAX_CONCURRENCY} (default: settings)")
    p.add_argument("--part-size", type=_positive_int, default=None, metavar="MiB",
                   help="minimum multipart part size in MiB, a power of two; raised "
                   "automatically to stay within 10,000 parts (default: settings)")
    p.add_argument("--threshold", type=_positive_int, default=None, metavar="MiB",
                   help="files at least this big use multipart (default: settings, 64)")
    p.add_argument("--abort-on-cancel", action="store_true",
                   help="on Ctrl-C abort the multipart upload instead of keeping it to resume")
    p.add_argument("--journal-dir", type=Path, default=None, metavar="DIR",
                   help="where unfinished multipart uploads are recorded "
                   "(default: the state dir)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# -- shared ------------------------------------------------------------------------------


def _setting(settings: Any, name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    return default if value is None else value


def _client_options(settings: Any) -> ClientOptions:
    from glacier_tui.config import client_options_from

    options: ClientOptions = client_options_from(settings)
    return options


def _pow2_mib(value: int, flag: str) -> int:
    if value & (value - 1):
        raise UsageError(f"{flag} must be a power of two (1, 2, 4, ... 4096), got {value}")
    if value > 4096:
        raise UsageError(f"{flag} must be at most 4096 MiB, got {value}")
    return value * MIB


def _concurrency(args: argparse.Namespace, settings: Any) -> int:
    value = int(args.concurrency or _setting(settings, "transfer_concurrency", 4))
    if not 1 <= value <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}, got {value}")
    return value


def _fail(command: str, message: str) -> None:
    # One line, no traceback, no password, no terminal escape (the text may echo a name
    # or an endpoint URL).
    print(f"glacier-tui {command}: error: {' '.join(shown(message).split())}", file=sys.stderr)


def _run(command: str, main: Callable[[], Awaitable[int]]) -> int:
    try:
        return asyncio.run(_call(main))
    except UsageError as exc:
        _fail(command, f"{exc} (see --help)")
        return EXIT_USAGE
    except errors.GlacierError as exc:
        _fail(command, exc.user_message())
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail(command, "cancelled; run the same command again to resume")
        return EXIT_FAILED
    except Exception as exc:  # never a traceback in a script's log
        _fail(command, f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED


async def _call(main: Callable[[], Awaitable[int]]) -> int:
    return await main()


class _Bars:
    """A rich progress display on stderr, only when it is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[state]}", markup=False),
            console=Console(stderr=True),
            transient=False,
        )

    def __enter__(self) -> _Bars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, p: TransferProgress) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(p.transfer_id)
        name = shown(p.name)
        label = name if len(name) <= 40 else "…" + name[-39:]
        if task is None:
            task = self._progress.add_task(label, total=p.total or None, state=p.state.value)
            self._tasks[p.transfer_id] = task
        state = p.state.value if p.state != TransferState.RUNNING else ""
        self._progress.update(task, total=p.total or None, completed=p.done, state=state)


def _show_bars(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


# -- download ----------------------------------------------------------------------------


def run_download(args: argparse.Namespace, settings: Any) -> int:
    try:
        concurrency = _concurrency(args, settings)
        segment = _pow2_mib(
            int(args.segment_size or _setting(settings, "segment_size_mib", 32)), "--segment-size"
        )
    except UsageError as exc:
        _fail("download", f"{exc} (see --help)")
        return EXIT_USAGE
    # "-o DIR", "-o DIR/" (even if missing) or no -o: name from the description, in DIR.
    raw: str | None = args.output
    file_target: Path | None = None
    directory = Path(_setting(settings, "download_dir", ".")).expanduser()
    if raw is not None:
        out = Path(raw).expanduser()
        if out.is_dir() or raw.endswith(("/", os.sep)):
            directory = out
        else:
            file_target = out.absolute()
    return _run("download", lambda: _download(args, settings, concurrency, segment,
                                               file_target, directory))


async def _download(args: argparse.Namespace, settings: Any, concurrency: int, segment: int,
                    file_target: Path | None, directory: Path) -> int:
    async with GlacierClient(_client_options(settings)) as glacier:
        job = await glacier.describe_job(args.vault, args.job)
        if file_target is not None:
            dest = file_target
        else:
            _, dest = await download_target(glacier, args.vault, job, directory)
        with _Bars(_show_bars(args)) as bars:
            result = await download_output(
                glacier, args.vault, job, dest, segment_size=segment, concurrency=concurrency,
                overwrite=bool(args.force), on_progress=bars.update,
                stall_timeout=float(args.stall_timeout
                                    or _setting(settings, "stall_timeout", DEFAULT_STALL_TIMEOUT)),
            )
    if not result.verified:  # the file is there, but say plainly that nothing vouched for it
        print(f"glacier-tui download: note: {shown(result.path)}: {result.verification}",
              file=sys.stderr)
    print(shown(result.path))
    return EXIT_OK


# -- upload ------------------------------------------------------------------------------


def run_upload(args: argparse.Namespace, settings: Any) -> int:
    return _run("upload", lambda: _upload(args, settings))


async def _upload(args: argparse.Namespace, settings: Any) -> int:
    if getattr(settings, "readonly", False):
        raise UsageError("uploads are refused in read-only mode (--readonly / readonly = true)")
    concurrency = _concurrency(args, settings)
    min_part = _pow2_mib(int(args.part_size or _setting(settings, "part_size_mib", 16)),
                         "--part-size")
    threshold = int(args.threshold or _setting(settings, "upload_threshold_mib", 64)) * MIB
    missing = await asyncio.to_thread(
        lambda: [display_name(p) for p in args.paths if not os.path.lexists(p)])
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    entries = await asyncio.to_thread(lambda: list(iter_sources(args.paths)))
    if not entries:
        raise UsageError("nothing to upload: the folders are empty")
    tally = _Tally()
    for entry in entries:  # reported first: a long upload must not hide them at the end
        if isinstance(entry, SkippedSource):
            tally.skipped += 1
            _say("upload", f"skipped: {entry.shown}: {entry.reason}")
    files = [e for e in entries if isinstance(e, UploadSource)]
    if files:
        async with GlacierClient(_client_options(settings)) as glacier:
            with _Bars(_show_bars(args)) as bars:
                for done, source in enumerate(files, 1):
                    label = display_name(source.name)
                    try:
                        result = await upload_file(
                            glacier, args.vault, source.path, relative_name=source.name,
                            min_part_size=min_part, threshold=threshold,
                            concurrency=concurrency, on_progress=bars.update,
                            journal_dir=args.journal_dir,
                            abort_on_cancel=bool(args.abort_on_cancel),
                        )
                    except errors.GlacierError as exc:
                        tally.failed += 1
                        text = exc.user_message()
                        _fail("upload", text if text.startswith(label) else f"{label}: {text}")
                        if isinstance(exc, _FAILS_EVERY_FILE):
                            if done < len(files):
                                _fail("upload", f"stopped: {len(files) - done} more file(s) "
                                      "not attempted (the same error would stop each of them)")
                            return EXIT_FAILED
                        continue
                    tally.uploaded += 1
                    print(f"{shown(result.archive_id)}\t{label}", flush=True)
    if len(entries) > 1:
        _say("upload", tally.summary())
    return EXIT_FAILED if tally.failed or tally.skipped else EXIT_OK


class _Tally:
    def __init__(self) -> None:
        self.uploaded = self.skipped = self.failed = 0

    def summary(self) -> str:
        return f"{self.uploaded} uploaded, {self.skipped} skipped, {self.failed} failed"


def _say(command: str, message: str) -> None:
    print(f"glacier-tui {command}: {shown(' '.join(message.split()))}", file=sys.stderr)


# Errors about the vault, the account or the connection, not the file: the next file
# would only repeat them, so the upload stops at the first.
_FAILS_EVERY_FILE = (
    errors.ResourceNotFound, errors.AccessDenied, errors.NoCredentials, errors.ExpiredToken,
    errors.EndpointUnreachable, errors.ConfigurationError, errors.NoLongerSupported,
    errors.NotGlacierResponse,
)
