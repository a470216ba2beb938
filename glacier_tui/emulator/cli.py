"""`glacier-tui emulator` subcommand: add_arguments() and run(), called by glacier_tui/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from glacier_tui.emulator.config import EmulatorConfig
from glacier_tui.emulator.faults import parse_spec


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 1.0 <= value <= 1e6:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000000, got {text}")
    return value


def _faults(text: str) -> str:
    try:
        parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


CREDENTIALS_ENV = "GLACIER_EMULATOR_CREDENTIALS"


def _credentials(text: str) -> str:
    from glacier_tui.emulator.sigv4 import parse_credentials

    try:
        parse_credentials(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from exc
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=0, help="port (0 = pick a free one)")
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="where archives and state live"
    )
    parser.add_argument(
        "--time-scale",
        type=_time_scale,
        default=1.0,
        help="service seconds per wall second (1 to 1e6)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for IDs, durations and faults")
    parser.add_argument("--seed-demo", action="store_true", help="build the demo world")
    parser.add_argument(
        "--faults",
        type=_faults,
        default="",
        help='e.g. "throttle=0.1,error5xx=0.05,reset=0.02,latency=20ms,seed=7"; '
        '"bandwidth=64MiB" caps each request/response body stream at 64 MiB per second '
        "(per connection, so parallel streams add up, as over a real network); "
        '"stall_after=N" lets N requests through and hangs later ones until faults change',
    )
    parser.add_argument("--notify-url", default=None, help="also POST SNS messages here")
    parser.add_argument(
        "--credentials",
        type=_credentials,
        default=os.environ.get(CREDENTIALS_ENV) or None,
        metavar="KEY:SECRET[:TOKEN[:EXPIRY]],...",
        help="accept only these keys and check every request's SigV4 signature against "
        "them (a TOKEN makes the key temporary: requests must carry it as their session "
        f"token; EXPIRY is ISO 8601 UTC). Default: ${CREDENTIALS_ENV}, else any key "
        "is accepted unchecked",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        seed=args.seed,
        seed_demo=args.seed_demo,
        faults=args.faults,
        notify_url=getattr(args, "notify_url", None),
        credentials=getattr(args, "credentials", None),
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C / SIGTERM; print the URL once listening."""
    from glacier_tui.emulator.data_dir import EmulatorStartError
    from glacier_tui.emulator.server import Emulator

    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        print(f"glacier-tui emulator: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        emu = Emulator(cfg)
        try:
            await emu.start()
        except EmulatorStartError as exc:
            print(f"glacier-tui emulator: {exc}", file=sys.stderr)
            await emu.stop()
            return 1
        except OSError as exc:
            print(
                f"glacier-tui emulator: cannot listen on {cfg.host}:{cfg.port}: {exc}",
                file=sys.stderr,
            )
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        print(f"Glacier emulator listening on {emu.url}", flush=True)
        try:
            await stop.wait()
        finally:
            await emu.stop()
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Standalone entry: python -m glacier_tui.emulator.cli ..."""
    parser = _OneLineParser(prog="glacier-tui emulator")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
