"""The log file: private (0600 in a 0700 directory), never through a symlink, and inert.

Log records carry untrusted text (vault names, server messages, exception texts
that may echo an endpoint URL with its password). :class:`SafeFormatter` masks
passwords and removes terminal escapes, controls and bidi overrides from the
message, its arguments and any traceback, so ``less`` or ``cat`` on the log can
neither be hijacked nor show a secret, and a name cannot forge a log line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

from glacier_tui.glacier import safe_files
from glacier_tui.glacier.masking import shown

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class SafeFormatter(logging.Formatter):
    """A formatter whose output is masked and inert (the message on one line)."""

    def format(self, record: logging.LogRecord) -> str:
        # A copy: other handlers still get the record as it was logged.
        safe = logging.makeLogRecord(record.__dict__)
        safe.msg = shown(record.getMessage())
        safe.args = None
        if record.exc_info and not record.exc_text:
            safe.exc_text = self.formatException(record.exc_info)
        safe.exc_info = None
        if safe.exc_text:
            safe.exc_text = shown(safe.exc_text, multiline=True)
        if safe.stack_info:
            safe.stack_info = shown(safe.stack_info, multiline=True)
        return super().format(safe)


class PrivateFileHandler(logging.FileHandler):
    """Appends to a regular file opened without following a symlink, kept at 0600."""

    def _open(self) -> io.TextIOWrapper:
        fd = safe_files.open_regular(
            Path(self.baseFilename), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
            safe_files.PRIVATE_FILE,
        )
        try:
            os.fchmod(fd, safe_files.PRIVATE_FILE)  # an older, looser file is tightened
        except OSError:
            os.close(fd)
            raise
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def open_log(directory: Path, name: str = "glacier-tui.log") -> PrivateFileHandler:
    """A handler on ``directory/name``: the directory 0700 (created or tightened)."""
    safe_files.ensure_dir(directory)
    with contextlib.suppress(OSError):  # our own state dir: tighten one made before
        if not directory.is_symlink():
            os.chmod(directory, safe_files.PRIVATE_DIR)
    handler = PrivateFileHandler(directory / name, encoding="utf-8")
    handler.setFormatter(SafeFormatter(FORMAT))
    return handler
