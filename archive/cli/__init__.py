"""The `escrow` command: escrow's own commands (archive/cli/base.py's `COMMANDS`, each module
imported when its command runs) and Flask-Migrate's `escrow db` (`escrow db upgrade`)."""

from archive.cli.base import cli, main

__all__ = ["cli", "main"]
