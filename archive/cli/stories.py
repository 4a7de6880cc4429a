"""Sealed stories: import, list, and the admin's release, takedown and withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from archive import db, reading_room
from archive.cli import base
from archive.cli.base import cli
from archive.release import gate, locks
from archive.times import format_instant
from archive.vault import imports, stories


@cli.group("stories")
def stories_group() -> None:
    """Sealed stories: import and list (never their content)."""


@stories_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "as_email", required=True, help="The acting organizer or admin.")
def stories_import(file: Path, as_email: str) -> None:
    """Seal every story of a JSON Lines file, or none if any line is bad."""
    session = base.open_session()
    ring = base.unlocked(session)
    actor = base.actor(session, as_email)
    try:
        with file.open(encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise base.Failure(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise base.Failure(f"{file}: not UTF-8 text") from None
    sealed = base.commit(session, lambda: imports.import_lines(session, ring, actor, lines, str(file)))
    click.echo(f"sealed {len(sealed)} stories")


@stories_group.command("list")
@click.option("--status", help="sealed | due-for-review | released | withdrawn")
def stories_list(status: str | None) -> None:
    """List ids, status, embargo and redaction level, never content."""
    session = base.open_session()
    rows = stories.listing(session, status.replace("-", "_") if status else None)
    click.echo(f"{'id':<16}  {'status':<14}  {'embargo until (UTC)':<20}  {'level':<13}  review")
    for story in rows:
        click.echo(f"{story.id:<16}  {story.status.replace('_', '-'):<14}  "
                   f"{format_instant(story.embargo_until):<20}  {story.redaction_level:<13}  "
                   f"{'yes' if story.release_review else 'no'}")
    click.echo(f"{len(rows)} stories")


@stories_group.command("release")
@click.argument("story_id")
@click.option("--as", "as_email", required=True, help="The acting admin.")
def stories_release(story_id: str, as_email: str) -> None:
    """Release a story that waits for review."""
    session = base.open_session()
    ring = base.unlocked(session)
    actor = base.actor(session, as_email)
    with locks.publisher(base.config().home, db.db.engine):
        gate.release_reviewed(session, ring, reading_room.index(), actor, story_id)
    click.echo(f"released {story_id}")


def _take_back_command(name: str, action: Callable[..., Any], done: str) -> None:
    @stories_group.command(name)
    @click.argument("story_id")
    @click.option("--reason", required=True, help="Why; it goes into the audit log.")
    @click.option("--as", "as_email", required=True, help="The acting admin.")
    def command(story_id: str, reason: str, as_email: str) -> None:
        session = base.open_session()
        ring = base.unlocked(session)
        actor = base.actor(session, as_email)
        with locks.publisher(base.config().home, db.db.engine):
            action(session, ring, reading_room.index(), actor, story_id, reason)
        click.echo(f"{done} {story_id}")

    command.__doc__ = action.__doc__


_take_back_command("takedown", gate.takedown, "taken down (sealed, embargo indefinite):")
_take_back_command("withdraw", gate.withdraw, "withdrawn (data key destroyed):")
