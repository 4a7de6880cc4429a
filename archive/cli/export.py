"""Hand-offs of released stories to other archives: never a sealed byte."""

from __future__ import annotations

from pathlib import Path

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import exports
from archive.times import parse_instant


@cli.group("export")
def export_group() -> None:
    """Released stories for other archives (never a sealed story)."""


@export_group.command("bag")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--since", "since", metavar="WHEN",
              help="Only stories released, or whose released copy was replaced, at or after WHEN "
                   "(ISO 8601 date or instant with offset).")
def export_bag(path: Path, since: str | None) -> None:
    """Write a BagIt bag of released stories to PATH, a new or empty folder (Archivematica reads it)."""
    after = parse_instant(since) if since is not None else None
    made = exports.bag(base.archive(), path, since=after, root_url=base.config().base_url)
    click.echo(f"bag written: {made.path} ({base.counted(made.count, 'released story', 'released stories')})")
