"""The ``glacier-tui`` command: the app by default, plus non-interactive subcommands.

Start-up stays fast: only argparse here; the app, aioboto3 and the emulator are
imported when a command needs them. The app itself loads the settings after its first
frame (``build_app``); the other commands load them first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from glacier_tui import __version__

if TYPE_CHECKING:
    from glacier_tui.config import Settings
    from glacier_tui.ui.app import GlacierApp

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        from glacier_tui.glacier.masking import shown  # the message echoes what was typed

        self.exit(EXIT_USAGE, f"{self.prog}: error: {shown(message)} (see --help)\n")


def _add_connection_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    # Subcommands repeat the connection flags; SUPPRESS keeps a flag given before
    # the subcommand from being reset to None by the subparser's default.
    default: Any = None if top_level else argparse.SUPPRESS
    group = parser.add_argument_group("connection")
    group.add_argument("--profile", default=default, help="AWS profile name")
    group.add_argument("--region", default=default, help="AWS region, e.g. us-east-1")
    group.add_argument("--endpoint-url", default=default, metavar="URL",
                       help="Glacier endpoint (also AWS_ENDPOINT_URL_GLACIER)")
    group.add_argument("--readonly", action="store_true", default=default,
                       help="never send a mutating request")
    group.add_argument("--config", type=Path, default=default, metavar="FILE",
                       help="settings file (default: the platform config dir)")


COMMANDS = ("config", "emulator", "download", "upload", "inventory", "restore", "migrate",
            "purge")


def _chosen_command(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if a in COMMANDS), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the chosen subcommand's module is imported to add its flags."""
    chosen = _chosen_command(argv)
    parser = _Parser(
        prog="glacier-tui",
        description="A keyboard-driven terminal UI for Amazon S3 Glacier vaults.",
        epilog="Try `glacier-tui --demo` to explore a local emulated Glacier.",
    )
    parser.add_argument("--version", action="version", version=f"glacier-tui {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="run on the embedded Glacier emulator with demo vaults")
    _add_connection_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    config = sub.add_parser("config", help="show the effective settings")
    _add_connection_options(config, top_level=False)
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION",
                                       parser_class=_Parser)
    for action, text in (("show", "print each setting, its value and where it came from"),
                         ("path", "print the settings file path")):
        _add_connection_options(config_sub.add_parser(action, help=text), top_level=False)

    emulator = sub.add_parser("emulator", help="run the local Glacier emulator server")
    if chosen == "emulator":
        _register(emulator, "glacier_tui.emulator.cli", "add_arguments")

    download = sub.add_parser("download", help="download a finished job's output, verified")
    _add_connection_options(download, top_level=False)
    if chosen == "download":
        _register(download, "glacier_tui.transfers_cli", "add_download_arguments")

    upload = sub.add_parser("upload", help="upload files or folders to a vault")
    _add_connection_options(upload, top_level=False)
    if chosen == "upload":
        _register(upload, "glacier_tui.transfers_cli", "add_upload_arguments")

    inventory = sub.add_parser("inventory", help="import, list and export vault inventories")
    _add_connection_options(inventory, top_level=False)
    if chosen == "inventory":
        _register(inventory, "glacier_tui.inventory_cli", "add_arguments")

    restore = sub.add_parser("restore", help="restore folders or a whole vault, verified, "
                             "resumable (status, resume, cancel, verify)")
    _add_connection_options(restore, top_level=False)
    if chosen == "restore":
        _register(restore, "glacier_tui.restore_cli", "add_arguments")

    migrate = sub.add_parser("migrate", help="move archives into S3 storage classes, "
                             "streamed, verified, resumable (plan, run, status, verify, merge)")
    _add_connection_options(migrate, top_level=False)
    if chosen == "migrate":
        _register(migrate, "glacier_tui.migrate_cli", "add_arguments")

    purge = sub.add_parser("purge", help="close out a vault: delete only archives proven safe "
                           "elsewhere, then the vault (plan, run, status, cancel)")
    _add_connection_options(purge, top_level=False)
    if chosen == "purge":
        _register(purge, "glacier_tui.purge_cli", "add_arguments")
    return parser


def _register(parser: argparse.ArgumentParser, module: str, function: str) -> None:
    """Let the subcommand's own module declare its flags (imported only when present)."""
    import importlib

    try:
        adder: Callable[[argparse.ArgumentParser], None] = getattr(
            importlib.import_module(module), function
        )
    except (ImportError, AttributeError):
        parser.set_defaults(_unavailable=True)
        return
    adder(parser)


def _settings_from(args: argparse.Namespace) -> Any:
    from glacier_tui.config import load_settings

    cli = {
        "profile": getattr(args, "profile", None),
        "region": getattr(args, "region", None),
        "endpoint_url": getattr(args, "endpoint_url", None),
        "readonly": True if getattr(args, "readonly", None) else None,
    }
    return load_settings(cli, getattr(args, "config", None))


def _err(message: object) -> None:
    """One line on stderr: passwords masked, terminal escapes and controls removed."""
    from glacier_tui.glacier.masking import shown

    print(f"glacier-tui: {shown(message)}", file=sys.stderr)


def _print_config(loaded: Any, action: str | None) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from glacier_tui.glacier.masking import shown

    if action == "path":
        print(shown(loaded.config_path))
        return EXIT_OK
    from glacier_tui.config import describe_settings

    # Text cells, never markup strings: a value such as "[/]" prints as itself.
    table = Table(title=Text(f"glacier-tui settings (file: {shown(loaded.config_path)})"))
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for key, value, source in describe_settings(loaded):
        table.add_row(Text(shown(key)), Text(shown(value)), Text(shown(source)))
    Console(highlight=False, emoji=False).print(table)
    return EXIT_OK


def build_app(args: argparse.Namespace) -> GlacierApp:
    """The app for ``glacier-tui [--demo]``: it shows its first frame, then loads the settings."""
    from glacier_tui.ui.app import GlacierApp

    return GlacierApp(load_settings=lambda: _tui_settings(args), demo=bool(args.demo),
                      first_run_hint=True)


def _tui_settings(args: argparse.Namespace) -> Settings:
    """The settings, with the keymap checked against the app's bindings (in the boot thread)."""
    from glacier_tui.config import ConfigError
    from glacier_tui.ui.keymap import KeymapError, check_keymap

    settings: Settings = _settings_from(args).settings
    try:
        check_keymap(settings.keymap)
    except KeymapError as exc:
        raise ConfigError(str(exc)) from None
    return settings


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if getattr(args, "_unavailable", False):
        _err(f"the {command} command is not available in this build")
        return EXIT_FAILED
    if command == "emulator":
        from glacier_tui.emulator import cli as emulator_cli

        return int(emulator_cli.run(args))
    if command is None:
        from glacier_tui.ui.app import run_app

        return int(run_app(build_app(args)))
    from glacier_tui.config import ConfigError

    try:
        loaded = _settings_from(args)
    except ConfigError as exc:
        _err(exc)
        return EXIT_USAGE
    settings = loaded.settings
    if command == "config":
        return _print_config(loaded, args.config_command or "show")
    if command == "download":
        from glacier_tui import transfers_cli

        return int(transfers_cli.run_download(args, settings))
    if command == "upload":
        from glacier_tui import transfers_cli

        return int(transfers_cli.run_upload(args, settings))
    if command == "inventory":
        from glacier_tui import inventory_cli

        if not hasattr(args, "db") or args.db is None:
            args.db = settings.resolved_store_path()
        args.settings = settings  # "inventory names --retrieve" connects
        return int(inventory_cli.run(args))
    if command == "restore":
        from glacier_tui import restore_cli

        return int(restore_cli.run(args, settings))
    if command == "migrate":
        from glacier_tui import migrate_cli

        return int(migrate_cli.run(args, settings))
    if command == "purge":
        from glacier_tui import purge_cli

        return int(purge_cli.run(args, settings))
    raise AssertionError(f"unknown command {command!r}")  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("glacier-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
