"""Backups: a consistent copy of the database (never the master key), and restoring one."""

from __future__ import annotations

from pathlib import Path

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import backup, setup


@cli.group("backup")
def backup_group() -> None:
    """Copies of the database: never the master key, which you keep apart."""


@backup_group.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(path: Path) -> None:
    """Write a consistent copy of the database to PATH, a new file outside the instance folder,
    and the sealed recordings (still sealed) to the folder PATH.media beside it."""
    config = base.config()
    made = setup.create_backup(base.archive(), path)
    media = (f"; {base.counted(made.recordings, 'sealed recording', 'sealed recordings')} in "
             f"{backup.media_folder(made.path)}") if made.recordings else ""
    click.echo(f"backup written: {made.path} ({made.size:,} bytes{media}); it holds no master key: "
               f"keep {'ESCROW_MASTER_KEY' if config.master_key else config.key_file} apart from it")


@backup_group.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_restore(path: Path) -> None:
    """Restore PATH into a fresh instance (no database yet); the master key must be at hand."""
    base.close_on_exit()
    restored, count = setup.restore_backup(base.fresh_archive(), path)
    media = f", {base.counted(restored.recordings, 'sealed recording', 'sealed recordings')}" \
        if restored.recordings else ""
    rebuilt = base.counted(count, "released story", "released stories")
    click.echo(f"restored {restored.path.name}{media}: index rebuilt with {rebuilt}; "
               "run 'escrow audit verify' to check the restored log")
