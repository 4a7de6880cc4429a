"""Sealed stories: import, list, attach a recording, and the admin's release, takedown and withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import recordings, stories
from archive.times import format_instant


@cli.group("stories")
def stories_group() -> None:
    """Sealed stories: import and list (never their content)."""


@stories_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "as_email", required=True, help="The acting organizer or admin.")
def stories_import(file: Path, as_email: str) -> None:
    """Seal every story of a JSON Lines file, or none if any line is bad."""
    archive = base.archive()
    sealed = stories.import_file(archive, base.actor(archive, as_email), file)
    click.echo(f"sealed {base.counted(len(sealed), 'story', 'stories')}")


@stories_group.command("list")
@click.option("--status", help="sealed | due-for-review | released | withdrawn")
def stories_list(status: str | None) -> None:
    """List ids, status, embargo and redaction level, never content."""
    rows = stories.listing(base.archive(), status.replace("-", "_") if status else None)
    click.echo(f"{'id':<16}  {'status':<14}  {'embargo until (UTC)':<20}  {'level':<13}  review")
    for story in rows:
        click.echo(f"{story.id:<16}  {story.status.replace('_', '-'):<14}  "
                   f"{format_instant(story.embargo_until):<20}  {story.redaction_level:<13}  "
                   f"{'yes' if story.release_review else 'no'}")
    click.echo(base.counted(len(rows), "story", "stories"))


@stories_group.command("attach")
@click.argument("story_id")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def stories_attach(story_id: str, file: Path, as_email: str) -> None:
    """Seal a recording (WAV, FLAC, Ogg or MP3) to a story, read and encrypted chunk by chunk.

    The file given is not changed or removed: delete it yourself once the archive has it.
    """
    archive = base.archive()
    recording = recordings.attach(archive, base.actor(archive, as_email), story_id, recordings.read_file(file),
                                  expected=file.stat().st_size)
    click.echo(f"sealed recording {recording.id} ({recording.media_type}, {recording.size:,} bytes) "
               f"to story {story_id}")


@stories_group.command("release")
@click.argument("story_id")
@click.option("--as", "as_email", required=True, help="The acting admin.")
def stories_release(story_id: str, as_email: str) -> None:
    """Release a story that waits for review."""
    archive = base.archive()
    stories.release_reviewed(archive, base.actor(archive, as_email), story_id)
    click.echo(f"released {story_id}")


def _take_back_command(name: str, action: Callable[..., Any], done: str) -> None:
    @stories_group.command(name)
    @click.argument("story_id")
    @click.option("--reason", required=True, help=base.REASON_HELP)
    @click.option("--as", "as_email", required=True, help="The acting admin.")
    def command(story_id: str, reason: str, as_email: str) -> None:
        archive = base.archive()
        action(archive, base.actor(archive, as_email), story_id, reason)
        click.echo(f"{done} {story_id}")

    command.__doc__ = action.__doc__


_take_back_command("takedown", stories.takedown, "taken down (sealed, embargo indefinite):")
_take_back_command("withdraw", stories.withdraw, "withdrawn (data key destroyed):")


@cli.group("recordings")
def recordings_group() -> None:
    """Sealed recordings' files in the media folder."""


@recordings_group.command("sweep")
def recordings_sweep() -> None:
    """Remove files no recording needs: day-old orphans and interrupted uploads, destroyed recordings'.

    Each is unreadable already (its key is gone or was never kept); `escrow index verify`
    reports them. Waits for any sealing (an import, publish-due, a rotation) to end.
    """
    removed = recordings.sweep(base.archive())
    for stray in removed:
        click.echo(f"removed {stray.path.name}: {stray.why}")
    click.echo(f"swept {len(removed)} files")
