"""Releasing and searching: publish-due, search, the index, the key ring."""

from __future__ import annotations

import html
import json
import re
import sys
from datetime import datetime, timedelta

import click
from sqlalchemy.orm import Session

from archive import audit, db, reading_room
from archive.cli import base
from archive.cli.base import cli
from archive.reading_room import room, search
from archive.release import gate, locks
from archive.times import format_instant, parse_duration
from archive.vault import embargo, rotation, stories


@cli.command("publish-due")
@click.option("--now", "now_text", help="Release as if it were this instant (ISO 8601).")
@click.option("--dry-run", is_flag=True, help="List what would be released; change nothing.")
@click.option("--check", is_flag=True,
              help="Release nothing; exit 1 if a story has been due for longer than --grace (monitoring).")
@click.option("--grace", "grace_text", default="2h", show_default=True, help="For --check: e.g. 30m, 2h, 1d.")
def publish_due_command(now_text: str | None, dry_run: bool, check: bool, grace_text: str) -> None:
    """Release every story whose embargo has come; exactly once, crash-safe."""
    now = base.instant(now_text)
    if check and dry_run:
        raise click.UsageError("--check and --dry-run are two different questions: give one")
    session = base.open_session()
    if check:
        _check(session, now, parse_duration(grace_text), grace_text)
        return
    ring = base.unlocked(session)
    if dry_run:
        due = gate.due(session, now)
        for story in due:
            what = "review" if story.release_review else "release"
            click.echo(f"{story.id}  {format_instant(story.embargo_until)}  {story.redaction_level:<13}  {what}")
        click.echo(f"would release {sum(not s.release_review for s in due)}, "
                   f"hold for review {sum(s.release_review for s in due)} (dry run, nothing changed)")
        return
    with locks.publisher(base.config().home, db.db.engine):  # on PostgreSQL: every machine's
        total = gate.due_count(session, now) if sys.stdout.isatty() else 0
        if total:
            with click.progressbar(length=total, label="releasing", file=sys.stderr) as bar:
                summary = gate.publish_due(session, ring, reading_room.index(), now=now,
                                           progress=bar.update)
        else:
            summary = gate.publish_due(session, ring, reading_room.index(), now=now)
    click.echo(summary.line())
    if summary.failed:
        raise base.Failure(f"{summary.failed} stories could not be opened: {', '.join(summary.failures[:10])}")


def _check(session: Session, now: datetime, grace: timedelta, grace_text: str) -> None:
    late = embargo.overdue(session, now=now, grace=grace)
    if late:
        oldest = late[0]
        raise base.Failure(
            f"{len(late)} stories overdue by more than {grace_text}; the oldest, {oldest.id}, was due "
            f"{format_instant(oldest.embargo_until)}: is the publish-due timer running?")
    waiting = len(stories.listing(session, "due_for_review"))
    click.echo(f"ok: no story overdue by more than {grace_text}"
               + (f"; {waiting} due for review by an admin" if waiting else ""))


@cli.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {id, title, snippet}.")
@click.option("--page", default=1, type=click.IntRange(1, 10_000))
def search_command(query: str, as_json: bool, page: int) -> None:
    """Search the reading room as a researcher would (after bringing this node's index in step)."""
    session = base.open_session()
    config = base.config()
    room.sync_if_stale(session, reading_room.index(), config.index_sync_seconds, locks.node(config.home))
    results = search.search(reading_room.index(), query, page=page)
    if as_json:
        click.echo(json.dumps([{"id": h.id, "title": h.title, "snippet": h.snippet}
                               for h in results.hits], ensure_ascii=False))
        return
    for hit in results.hits:
        click.echo(f"{hit.id}  {hit.title}\n    {_plain(hit.snippet)}")
    click.echo(f"{results.total} results")


def _plain(snippet: str) -> str:
    """A highlighted HTML snippet as terminal text, matches in *stars*."""
    text = re.sub(r"<mark[^>]*>(.*?)</mark>", r"*\1*", snippet)
    return html.unescape(re.sub(r"\s+", " ", text))


@cli.group("index")
def index_group() -> None:
    """The search index: a cache of the reading-room table."""


@index_group.command("rebuild")
def index_rebuild() -> None:
    """Recreate the index from the reading-room table."""
    session = base.open_session()
    with locks.publisher(base.config().home):
        count = room.rebuild(session, reading_room.index())
    click.echo(f"index rebuilt: {count} released stories")


@index_group.command("sync")
def index_sync() -> None:
    """Bring this node's index in step with the reading-room table, without a full rebuild."""
    session = base.open_session()
    with locks.publisher(base.config().home):
        report = room.sync(session, reading_room.index())
    click.echo(f"index synced: added {report.added}, removed {report.removed}")


@index_group.command("verify")
def index_verify() -> None:
    """Check the index holds exactly the released stories' released text, and nothing else."""
    session = base.open_session()
    problems = gate.verify(session, reading_room.index())
    if problems:
        raise base.Failure(f"index differs from the reading room ({len(problems)}): {'; '.join(problems[:5])}")
    click.echo("index verified: it holds exactly the released stories")


@cli.group("keys")
def keys_group() -> None:
    """The master key ring."""


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under a new master key (payloads are not re-encrypted)."""
    session = base.open_session()
    ring = base.unlocked(session)
    with locks.publisher(base.config().home, db.db.engine):
        result = rotation.rotate(session, base.config(), ring, audit.SYSTEM)
    verb = "finished rotating" if result.resumed else "rotated"
    click.echo(f"{verb} to master key version {result.version}: {result.rewrapped} data keys re-wrapped")
