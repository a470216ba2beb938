"""Unexpected worker failures, said on screen wherever the worker ran.

Textual's ``Worker.StateChanged`` does not bubble: it reaches only the node that started
the worker. The app, every main-screen part and each widget or screen with workers of its
own mix in :class:`ReportsWorkerErrors`, so a failure nobody caught becomes a toast (and a
log line) instead of vanishing with its worker.
"""

from __future__ import annotations

import logging
from typing import Any

from textual.worker import Worker, WorkerState

log = logging.getLogger("glacier_tui.ui")


def report_worker_failure(app: Any, event: Worker.StateChanged) -> None:
    """One toast for a worker that ended in error; other states are ignored."""
    if event.state != WorkerState.ERROR:
        return
    error = event.worker.error
    log.error("worker %s failed", event.worker.name, exc_info=error)
    from glacier_tui.glacier.errors import GlacierError
    from glacier_tui.ui.formatting import clean

    text = error.user_message() if isinstance(error, GlacierError) else \
        clean(f"{type(error).__name__}: {error}")
    app.notify(text, title="Error", severity="error", timeout=10, markup=False)


class ReportsWorkerErrors:
    """Mix into a widget or screen that runs workers (before the Textual base class)."""

    app: Any

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)
