"""glacier-tui: a keyboard-driven terminal UI for Amazon S3 Glacier vaults."""

__version__ = "0.1.0"
