"""Bulk embargo changes from a CSV file, and the CSV of what is coming (the same format)."""

from __future__ import annotations

from pathlib import Path

import click

from archive.cli import base
from archive.cli.embargo import embargo_group
from archive.errors import EscrowError
from archive.services import embargoes
from archive.times import format_instant


@embargo_group.command("bulk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_email", required=True, help="An organizer (their own stories) or an admin.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def bulk(file: Path, as_email: str, dry_run: bool) -> None:
    """Apply a CSV of story_id,embargo_until,reason rows, all or none.

    A later date or 'indefinite' extends at once; an earlier date becomes a pending request for a
    second admin; the same date changes nothing. Each change is audited with its reason, sealed.
    """
    archive = base.archive()
    try:
        changes = embargoes.bulk(archive, base.actor(archive, as_email), file.read_bytes(), dry_run=dry_run)
    except EscrowError as error:
        raise base.Failure(f"{error}; nothing was changed (a file is applied whole or not at all)") from None
    for change in changes:
        if change.what != "unchanged":
            click.echo(f"{change.story_id}  {format_instant(change.before)} -> {format_instant(change.after)}  "
                       f"{change.what}")
    counts = {what: sum(c.what == what for c in changes) for what in ("extended", "requested", "unchanged")}
    verb = "would be " if dry_run else ""
    click.echo(f"{verb}extended {counts['extended']}, {verb}requested {counts['requested']}, "
               f"unchanged {counts['unchanged']}" + (" (dry run, nothing changed)" if dry_run else ""))
