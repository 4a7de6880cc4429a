"""Backups: a consistent copy of the database (never the master key), and restoring one."""

from __future__ import annotations

from pathlib import Path

import click

from archive import audit, backup, db, reading_room
from archive.cli import base
from archive.cli.base import cli
from archive.reading_room import room
from archive.release import locks


@cli.group("backup")
def backup_group() -> None:
    """Copies of the database: never the master key, which you keep apart."""


@backup_group.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(path: Path) -> None:
    """Write a consistent copy of the database to PATH, a new file outside the instance folder."""
    base.open_session()
    config = base.config()
    made = backup.create(config, db.db.engine, path)
    click.echo(f"backup written: {made.path} ({made.size:,} bytes); it holds no master key: "
               f"keep {'ESCROW_MASTER_KEY' if config.master_key else config.key_file} apart from it")


@backup_group.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_restore(path: Path) -> None:
    """Restore PATH into a fresh instance (no database yet); the master key must be at hand."""
    config = base.config()
    base.close_on_exit()
    restored = backup.restore(config, db.db.engine, path)
    db.upgrade()  # a backup from an older version is brought up to this one's schema
    db.make_private(config.database_url)
    session = db.db.session()
    ring = base.unlocked(session)
    with locks.publisher(config.home):
        count = room.rebuild(session, reading_room.index())
    base.commit(session, lambda: audit.record(session, ring.audit_key, audit.SYSTEM, "archive.restore",
                                              backup=restored.path.name))
    click.echo(f"restored {restored.path.name}: index rebuilt with {count} released stories; "
               "run 'escrow audit verify' to check the restored log")
