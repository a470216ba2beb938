"""EmulatorThread: the emulator on its own event loop in a daemon thread (sync callers)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from glacier_tui.emulator.config import EmulatorConfig
from glacier_tui.emulator.server import Emulator


class EmulatorThread:
    """``with EmulatorThread(cfg) as emu: emu.url`` — for sync tests, the app and --demo."""

    def __init__(self, cfg: EmulatorConfig) -> None:
        self.cfg = cfg
        self.emulator = Emulator(cfg)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started: Future[None] = Future()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return self.emulator.url

    def start(self, timeout: float = 30.0) -> EmulatorThread:
        self._thread = threading.Thread(target=self._run, name="glacier-emulator", daemon=True)
        self._thread.start()
        self._started.result(timeout)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.emulator.start()
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await self.emulator.stop()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Thread-safe helpers (they take the store lock; none touch the event loop).
    def advance(self, seconds: float) -> str:
        """Advance the virtual clock by service-seconds and run what became due."""
        return self.emulator.advance(seconds)

    def requests(self) -> list[dict[str, Any]]:
        return self.emulator.requests()

    def clear_requests(self) -> None:
        self.emulator.clear_requests()

    def set_faults(self, spec: str | dict[str, Any] | None) -> None:
        self.emulator.set_faults(spec)

    def rebuild_inventory(self, vault: str | None = None) -> list[str]:
        return self.emulator.rebuild_inventory(vault)

    def notifications(self) -> list[dict[str, Any]]:
        return self.emulator.notifications()

    def set_config(self, **values: Any) -> dict[str, Any]:
        return self.emulator.set_config(**values)
