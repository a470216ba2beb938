"""A background thread with its own asyncio loop and Glacier client.

The poller lists jobs of every vault each cycle; with hundreds of live jobs,
aiobotocore parses many ListJobs pages per second. Run on the UI event loop,
that parsing delays key presses. Here it runs on a dedicated loop in another
thread: ``await backend.call(lambda client: client.list_jobs(vault))`` from the
UI loop returns the result without ever blocking it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from glacier_tui.glacier.client import GlacierClient

log = logging.getLogger("glacier_tui.ui")
T = TypeVar("T")


class BackendThread:
    """Owns a loop (in a daemon thread) and a client opened lazily on that loop."""

    def __init__(self, options: Any) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._client: GlacierClient | None = None
        self._thread = threading.Thread(target=self._run, name="glacier-backend", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _with_client(self, fn: Callable[[GlacierClient], Awaitable[T]]) -> T:
        if self._client is None:
            from glacier_tui.glacier.client import GlacierClient

            client = GlacierClient(self._options)
            await client.__aenter__()
            self._client = client
        return await fn(self._client)

    async def call(self, fn: Callable[[GlacierClient], Awaitable[T]]) -> T:
        """Run ``fn(client)`` on the backend loop; cancelling the caller cancels it there."""
        future = asyncio.run_coroutine_threadsafe(self._with_client(fn), self._loop)
        return await asyncio.wrap_future(future)

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except Exception:  # closing must never fail the app
                log.debug("closing the backend client failed", exc_info=True)

    async def aclose(self) -> None:
        """Close the client, stop the loop and join the thread (without blocking the caller)."""
        if not self._thread.is_alive():
            return
        try:
            await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self._close_client(), self._loop))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 5)
