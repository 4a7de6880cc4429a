"""Embargo changes: extend at once; request and approve an earlier release; what is coming."""

from __future__ import annotations

import json
from datetime import datetime

import click

from archive.cli import base
from archive.cli.base import cli
from archive.times import format_instant, parse_instant, utcnow
from archive.vault import embargo


@cli.group("embargo")
def embargo_group() -> None:
    """Extend an embargo, request or approve an earlier release, list what is coming."""


def _until(value: str, word: str) -> datetime | None:
    """WHEN, or None for the word `word` (indefinite / now)."""
    return None if value.strip().lower() == word else parse_instant(value)


@embargo_group.command("extend")
@click.argument("story_id")
@click.option("--until", "until_text", required=True, help="A later ISO 8601 date or instant, or 'indefinite'.")
@click.option("--reason", required=True, help="Why; it goes into the audit log.")
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def extend(story_id: str, until_text: str, reason: str, as_email: str) -> None:
    """Move a story's embargo later, at once (up to the last second before release)."""
    session = base.open_session()
    ring = base.unlocked(session)
    actor = base.actor(session, as_email)
    until = _until(until_text, "indefinite")
    story = base.commit(session, lambda: embargo.extend(session, ring, actor, story_id, until, reason,
                                                         now=utcnow()))
    click.echo(f"extended {story.id}: sealed until {format_instant(story.embargo_until)}")


@embargo_group.command("request")
@click.argument("story_id")
@click.option("--until", "until_text", required=True, help="An earlier ISO 8601 date or instant, or 'now'.")
@click.option("--reason", required=True, help="Why; it goes into the audit log.")
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def request(story_id: str, until_text: str, reason: str, as_email: str) -> None:
    """Ask for an earlier release; another admin approves it."""
    session = base.open_session()
    ring = base.unlocked(session)
    actor = base.actor(session, as_email)
    until = _until(until_text, "now")
    item = base.commit(session, lambda: embargo.request(session, ring, actor, story_id, until, reason,
                                                         now=utcnow(), ttl=base.config().request_ttl))
    click.echo(f"request {item.id} pending: another admin approves it with "
               f"'escrow embargo approve {item.id} --as EMAIL' before {format_instant(item.expires_at)}")


@embargo_group.command("approve")
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="An admin other than the requester.")
def approve(request_id: str, as_email: str) -> None:
    """Apply a pending request (never one's own)."""
    session = base.open_session()
    ring = base.unlocked(session)
    actor = base.actor(session, as_email)
    now = utcnow()
    story = base.commit(session, lambda: embargo.approve(session, ring, actor, request_id, now=now))
    when = format_instant(story.embargo_until)
    due = story.embargo_until is not None and story.embargo_until <= now
    click.echo(f"approved {request_id}: {story.id} sealed until {when}"
               + (" (due now: the next publish-due releases it)" if due else ""))


@embargo_group.command("deny")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why; it goes into the audit log.")
@click.option("--as", "as_email", required=True, help="An admin, or the requester taking it back.")
def deny(request_id: str, reason: str, as_email: str) -> None:
    """Turn a pending request down."""
    session = base.open_session()
    ring = base.unlocked(session)
    actor = base.actor(session, as_email)
    base.commit(session, lambda: embargo.deny(session, ring, actor, request_id, reason, now=utcnow()))
    click.echo(f"denied {request_id}")


@embargo_group.command("requests")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def requests(as_json: bool) -> None:
    """List pending early-release requests, oldest first."""
    session = base.open_session()
    items = embargo.pending(session, now=utcnow())
    rows = [{"id": r.id, "story": r.story_id, "requested_by": r.requested_by,
             "until": "now" if r.until is None else format_instant(r.until), "reason": r.reason,
             "requested": format_instant(r.created_at), "expires": format_instant(r.expires_at)}
            for r in items]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['story']}  until {row['until']:<20}  by {row['requested_by']}  "
                   f"expires {row['expires']}  reason: {row['reason']}")
    click.echo(f"{len(rows)} pending requests")


@embargo_group.command("upcoming")
@click.option("--days", default=30, show_default=True, type=int, help="How far ahead to look.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def upcoming(days: int, as_json: bool) -> None:
    """What will be released, or reach review, in the next N days (overdue first); never content."""
    session = base.open_session()
    now = utcnow()
    rows = [{"id": s.id, "embargo_until": format_instant(s.embargo_until), "level": s.redaction_level,
             "then": "review" if s.release_review else "release",
             "overdue": s.embargo_until is not None and s.embargo_until <= now}
            for s in embargo.upcoming(session, now=now, days=days)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['embargo_until']}  {row['level']:<13}  {row['then']}"
                   + ("  OVERDUE" if row["overdue"] else ""))
    click.echo(f"{len(rows)} stories due within {days} days")
