"""The emulator as a subprocess, so a benchmark measures the client, not a shared GIL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def emulator_process(data_dir: Path, *args: str) -> Iterator[str]:
    """``python -m glacier_tui emulator`` on ``data_dir`` (plus ``args``); yields its URL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "glacier_tui", "emulator", "--host", "127.0.0.1",
           "--port", "0", "--data-dir", str(data_dir), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:  # "Glacier emulator listening on http://127.0.0.1:PORT"
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
                break
        if not url:
            raise RuntimeError(f"the emulator did not start (exit {proc.wait()})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
