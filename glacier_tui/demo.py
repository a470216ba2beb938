"""The ``--demo`` backend: the seeded emulator in a thread, with its own store.

Everything lives in a fresh temporary directory, so every demo starts from the
same world and leaves nothing behind. ``start_demo`` blocks (it starts a server
and seeds data): the app calls it from a thread worker after its first frame.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glacier_tui.config import Settings
    from glacier_tui.glacier.client import ClientOptions

DEMO_REGION = "us-east-1"
DEMO_ACCESS_KEY = "DEMO-ACCESS-KEY"
DEMO_SECRET_KEY = "demo-secret-key"  # the emulator accepts any key
# One service-hour passes in about six seconds: Standard jobs finish in
# 18-30 s, Expedited at once, and outputs stay downloadable for ~2.4 minutes.
DEMO_TIME_SCALE = 600.0


@dataclass
class DemoBackend:
    url: str
    root: Path
    region: str = DEMO_REGION
    access_key: str = DEMO_ACCESS_KEY
    secret_key: str = DEMO_SECRET_KEY
    _thread: Any = field(default=None, repr=False)

    @property
    def store_path(self) -> Path:
        return self.root / "store.sqlite3"

    @property
    def download_dir(self) -> Path:
        return self.root / "downloads"

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

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        shutil.rmtree(self.root, ignore_errors=True)


def start_demo(data_dir: Path | None = None, time_scale: float = DEMO_TIME_SCALE) -> DemoBackend:
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
    )
    thread = EmulatorThread(config).start()
    return DemoBackend(url=thread.url, root=root, _thread=thread)
