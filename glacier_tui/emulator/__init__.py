"""A local Amazon S3 Glacier (vault API) server on aiohttp. No Textual imports.

from glacier_tui.emulator import EmulatorConfig, Emulator, EmulatorThread
"""

from glacier_tui.emulator.config import EmulatorConfig
from glacier_tui.emulator.errors import GlacierError
from glacier_tui.emulator.runner import EmulatorThread
from glacier_tui.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "EmulatorThread", "GlacierError"]
