"""Operation handlers: one method per Glacier operation, input dict in, output dict out.

Handlers run in a worker thread inside one store transaction (``Service.call``). The
streaming operations are split into ``*_begin`` (validate) and ``*_end`` (verify + commit)
around the body, which the server streams to a temp file -- or, for multipart parts, straight
to the part's offset in the upload's own data file. Either way the bytes are written and
fsynced outside the store lock; ``*_end`` is the request's one (short) transaction.

The handlers are grouped by area in mixins (``vault_handlers``, ``archive_handlers``,
``multipart_handlers``, ``job_handlers``, ``retrieval_handlers``,
``vault_settings_handlers``), on top of ``service_base`` (shared state and checks) and
``time_driven`` (what the clock triggers). :class:`Service` puts them together; the
server finds a handler by name (``Service.call``) from the operation model.
"""

from __future__ import annotations

from typing import Any

from glacier_tui.emulator.archive_handlers import ArchiveHandlers
from glacier_tui.emulator.errors import GlacierError
from glacier_tui.emulator.service_base import BlobRef, Notification, RangeHash, StreamSink
from glacier_tui.emulator.time_driven import TimeDrivenWork
from glacier_tui.emulator.vault_handlers import VaultHandlers
from glacier_tui.emulator.vault_settings_handlers import VaultSettingsHandlers

__all__ = ["BlobRef", "Notification", "RangeHash", "Service", "StreamSink"]


class Service(TimeDrivenWork, VaultHandlers, ArchiveHandlers, VaultSettingsHandlers):
    """Every Glacier operation as a method named after it (snake_case), on one store."""

    # ------------------------------------------------------------------ plumbing
    def call(
        self, handler: str, params: dict[str, Any], *extra: Any, tick: bool = True
    ) -> Any:
        """Run one handler in one transaction, after letting time-driven work catch up.

        ``tick=False`` for validation-only handlers (``*_begin``): they write nothing, so
        their transaction commits without touching the disk.
        """
        fn = getattr(self, handler, None)
        if fn is None:
            raise GlacierError("UnknownOperationException", f"Not implemented: {handler}")
        with self.store.tx() as db:
            if tick:
                self._tick(db)
            return fn(db, params, *extra)

    def tick(self) -> None:
        with self.store.tx() as db:
            self._tick(db)
