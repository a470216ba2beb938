"""A local S3 (moto's server in a thread, loopback only) for ``migrate --demo`` and tests.

moto models S3's API but not all of its integrity checks (it accepts wrong part and
whole-object checksums), so it is a target for trying things out, not a proof.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LocalS3:
    url: str
    _server: Any = field(default=None, repr=False)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_s3(min_part_size: int | None = None) -> LocalS3:
    """Start moto's S3 on 127.0.0.1 and a free port; ``min_part_size`` lowers S3's 5 MiB
    smallest part (moto's ``S3_UPLOAD_PART_MIN_SIZE``) so small archives can be multipart."""
    if min_part_size is not None:
        os.environ["S3_UPLOAD_PART_MIN_SIZE"] = str(int(min_part_size))
    from moto.server import ThreadedMotoServer

    if min_part_size is not None:
        import moto.s3.models

        moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = int(min_part_size)  # type: ignore[attr-defined]
    # One log line per request on stderr would drown the progress display.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return LocalS3(f"http://{host}:{port}", server)
