"""The narrator's door from the command line: issue and revoke a story's codename, clear a hold."""

from __future__ import annotations

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import narrators


@cli.group("narrator")
def narrator_group() -> None:
    """Issue or revoke a narrator's codename; clear a narrator's hold."""


@narrator_group.command("issue")
@click.argument("story_id")
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def issue(story_id: str, as_email: str) -> None:
    """Print a new codename for the story's narrator, once (any earlier one stops working).

    Hand it to the narrator in person or on paper; it is kept nowhere, not even here."""
    archive = base.archive()
    issued = narrators.issue(archive, base.actor(archive, as_email), story_id)
    click.echo(issued.codename)
    click.echo(f"(a new codename for story {issued.story_id}'s narrator, {issued.bits} bits, in "
               f"{'Spanish' if issued.language == 'es' else 'English'}; it is shown only this once: "
               "the narrator signs in with it at /n)", err=True)


@narrator_group.command("revoke")
@click.argument("story_id")
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def revoke(story_id: str, as_email: str) -> None:
    """Make the story's codename stop working (its narrator's sessions end)."""
    archive = base.archive()
    story = narrators.revoke(archive, base.actor(archive, as_email), story_id)
    click.echo(f"revoked the narrator codename of {story.id}")


@narrator_group.command("clear")
@click.argument("story_id")
@click.option("--as", "as_email", required=True,
              help="An admin (an objection), or the story's organizer (words to hide, once marked).")
def clear(story_id: str, as_email: str) -> None:
    """Lift a narrator's hold on a story's release."""
    archive = base.archive()
    story = narrators.clear(archive, base.actor(archive, as_email), story_id)
    click.echo(f"cleared the narrator's hold on {story.id}: it is released when due")
