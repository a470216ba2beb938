"""The ``--demo`` backend: the seeded emulator in a thread, with its own store.

Everything lives in a fresh temporary directory, so every demo starts from the same
world. ``start_demo`` blocks (it starts a server, seeds data and imports the vaults'
inventories): the app calls it from a thread worker after its first frame.

Time: the emulator's clock runs ``DEMO_TIME_SCALE`` times faster than the wall clock,
so restores finish in seconds. The app shows that virtual time everywhere in the demo
(``DemoBackend.now`` becomes its clock): ages, "expires in" countdowns and job dates
agree with what the emulator does. The virtual clock starts ``DEMO_START_BEHIND`` in the
past, so no date it shows is later than the real date for the first hour of a demo.

Downloads are kept: stopping removes the emulator's data and the store but not
``downloads/`` once something was downloaded there (``stop`` returns its path, and the
app says where it is on exit).
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glacier_tui.config import Settings
    from glacier_tui.glacier.client import ClientOptions

log = logging.getLogger("glacier_tui.demo")

DEMO_REGION = "us-east-1"
DEMO_ACCESS_KEY = "DEMO-ACCESS-KEY"
DEMO_SECRET_KEY = "demo-secret-key"  # the emulator accepts any key
# One service-hour passes in about six seconds: Standard jobs finish in
# 18-30 s, Expedited at once, and outputs stay downloadable for ~2.4 minutes.
DEMO_TIME_SCALE = 600.0
# 30 virtual days pass in 72 wall-clock minutes: dates stay in the past that long.
DEMO_START_BEHIND = timedelta(days=30)


@dataclass
class DemoBackend:
    url: str
    root: Path
    region: str = DEMO_REGION
    access_key: str = DEMO_ACCESS_KEY
    secret_key: str = DEMO_SECRET_KEY
    time_scale: float = DEMO_TIME_SCALE
    inventories: int = 0  # vault inventories imported into the store at start
    _thread: Any = field(default=None, repr=False)

    @property
    def store_path(self) -> Path:
        return self.root / "store.sqlite3"

    @property
    def download_dir(self) -> Path:
        return self.root / "downloads"

    def now(self) -> datetime:
        """The emulator's (virtual) time: what the app shows in the demo."""
        thread = self._thread
        service = getattr(getattr(thread, "emulator", None), "service", None)
        if service is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(service.clock.now(), UTC)

    def client_options(self, settings: Settings) -> ClientOptions:
        """The user's client settings, pointed at the emulator with demo credentials."""
        options: ClientOptions = settings.client_options()
        return replace(
            options,
            profile=None,
            region=self.region,
            endpoint_url=self.url,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )

    def stop(self) -> Path | None:
        """Stop the emulator and remove the demo's files but downloads: their dir, or None."""
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        downloads = self.download_dir
        kept = downloads.is_dir() and any(downloads.iterdir())
        if not kept:
            shutil.rmtree(self.root, ignore_errors=True)
            return None
        for child in self.root.iterdir():
            if child != downloads:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        return downloads


def start_demo(data_dir: Path | None = None, time_scale: float = DEMO_TIME_SCALE,
               *, import_inventories: bool = True) -> DemoBackend:
    """Start the seeded emulator on a loopback port; the caller must ``stop()`` it."""
    from glacier_tui.emulator import EmulatorConfig, EmulatorThread

    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="glacier-tui-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    config = EmulatorConfig(
        data_dir=root / "emulator",
        host="127.0.0.1",
        port=0,
        time_scale=time_scale,
        seed=0,
        seed_demo=True,
        region=DEMO_REGION,
        start_time=datetime.now(UTC) - DEMO_START_BEHIND,
    )
    thread = EmulatorThread(config).start()
    backend = DemoBackend(url=thread.url, root=root, time_scale=time_scale, _thread=thread)
    if import_inventories:
        try:
            backend.inventories = import_demo_inventories(backend)
        except Exception:  # the demo still runs; its vaults show "no inventory" then
            log.warning("importing the demo inventories failed", exc_info=True)
    return backend


def import_demo_inventories(backend: DemoBackend) -> int:
    """Import every demo vault's current inventory into the demo store, as downloaded.

    The emulator's own inventory documents (what an inventory-retrieval job would return)
    go through the ordinary import, under the key the app uses for the vault (its ARN).
    """
    from glacier_tui.emulator.demo import inventory_documents
    from glacier_tui.glacier.inventory import import_inventory
    from glacier_tui.glacier.store import Store
    from glacier_tui.glacier.vault_keys import arn_in_document, vault_store_key

    service = backend._thread.emulator.service
    documents = inventory_documents(service)
    store = Store(backend.store_path)
    try:
        for name, document in documents:
            source = io.BytesIO(document)
            key = vault_store_key(name, arn_in_document(source))
            import_inventory(store, key, source, fmt="json", expected_vault_name=name)
    finally:
        store.close()
    return len(documents)
