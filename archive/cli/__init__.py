"""The `escrow` command: a Flask CLI group, so `escrow routes` and `escrow db upgrade` work too."""

from archive.cli import audit_log, backup, embargo, export, narrators, release, serve, setup, stories  # noqa: F401  (each registers its commands)
from archive.cli.base import cli, main

__all__ = ["cli", "main"]
