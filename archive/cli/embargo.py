"""Embargo changes: extend at once; request and approve an earlier release; what is coming."""

from __future__ import annotations

import json
from datetime import datetime

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import embargoes
from archive.times import format_instant, parse_instant, utcnow


@cli.group("embargo")
def embargo_group() -> None:
    """Extend an embargo, request or approve an earlier release, list what is coming."""


def _until(value: str, word: str) -> datetime | None:
    """WHEN, or None for the word `word` (indefinite / now)."""
    return None if value.strip().lower() == word else parse_instant(value)


@embargo_group.command("extend")
@click.argument("story_id")
@click.option("--until", "until_text", required=True, help="A later ISO 8601 date or instant, or 'indefinite'.")
@click.option("--reason", required=True, help=base.REASON_HELP)
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def extend(story_id: str, until_text: str, reason: str, as_email: str) -> None:
    """Move a story's embargo later, at once (up to the last second before release)."""
    archive = base.archive()
    until = _until(until_text, "indefinite")
    story = embargoes.extend(archive, base.actor(archive, as_email), story_id, until, reason)
    click.echo(f"extended {story.id}: sealed until {format_instant(story.embargo_until)}")


@embargo_group.command("request")
@click.argument("story_id")
@click.option("--until", "until_text", required=True, help="An earlier ISO 8601 date or instant, or 'now'.")
@click.option("--reason", required=True, help=base.REASON_HELP)
@click.option("--as", "as_email", required=True, help="The story's organizer, or an admin.")
def request(story_id: str, until_text: str, reason: str, as_email: str) -> None:
    """Ask for an earlier release; another admin approves it."""
    archive = base.archive()
    until = _until(until_text, "now")
    item = embargoes.request(archive, base.actor(archive, as_email), story_id, until, reason)
    click.echo(f"request {item.id} pending: another admin approves it with "
               f"'escrow embargo approve {item.id} --as EMAIL' before {format_instant(item.expires_at)}")


@embargo_group.command("approve")
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="An admin other than the requester.")
def approve(request_id: str, as_email: str) -> None:
    """Apply a pending request (never one's own)."""
    archive = base.archive()
    story = embargoes.approve(archive, base.actor(archive, as_email), request_id)
    when = format_instant(story.embargo_until)
    due = story.embargo_until is not None and story.embargo_until <= utcnow()
    click.echo(f"approved {request_id}: {story.id} sealed until {when}"
               + (" (due now: the next publish-due releases it)" if due else ""))


@embargo_group.command("deny")
@click.argument("request_id")
@click.option("--reason", required=True, help=base.REASON_HELP)
@click.option("--as", "as_email", required=True, help="An admin, or the requester taking it back.")
def deny(request_id: str, reason: str, as_email: str) -> None:
    """Turn a pending request down."""
    archive = base.archive()
    embargoes.deny(archive, base.actor(archive, as_email), request_id, reason)
    click.echo(f"denied {request_id}")


@embargo_group.command("cancel")
@click.argument("request_id")
@click.option("--as", "as_email", required=True, help="The requester, taking their own request back.")
def cancel(request_id: str, as_email: str) -> None:
    """Take one's own pending request back."""
    archive = base.archive()
    embargoes.cancel(archive, base.actor(archive, as_email), request_id)
    click.echo(f"cancelled {request_id}")


@embargo_group.command("requests")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def requests(as_json: bool) -> None:
    """List pending early-release requests, oldest first."""
    items = embargoes.pending(base.archive())
    rows = [{"id": r.id, "story": r.story_id, "requested_by": r.requested_by,
             "until": "now" if r.until is None else format_instant(r.until),
             "current": format_instant(r.current), "reason": r.reason,
             "requested": format_instant(r.created_at), "expires": format_instant(r.expires_at)}
            for r in items]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['story']}  until {row['until']:<20}  (now {row['current']})  "
                   f"by {row['requested_by']}  "
                   f"expires {row['expires']}  reason: {row['reason']}")
    click.echo(f"{base.counted(len(rows), 'pending request', 'pending requests')}")


@embargo_group.command("upcoming")
@click.option("--days", default=30, show_default=True, type=int, help="How far ahead to look.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the CSV 'escrow embargo bulk' reads (edit, load back).")
def upcoming(days: int, as_json: bool, as_csv: bool) -> None:
    """What will be released, or reach review, in the next N days (overdue first); never content."""
    archive = base.archive()
    if as_csv:
        click.echo(embargoes.upcoming_csv(archive, days), nl=False)
        return
    now = utcnow()
    rows = [{"id": s.id, "embargo_until": format_instant(s.embargo_until), "level": s.redaction_level,
             "then": "review" if s.release_review else "release",
             "overdue": s.embargo_until is not None and s.embargo_until <= now}
            for s in embargoes.upcoming(archive, days)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['embargo_until']}  {row['level']:<13}  {row['then']}"
                   + ("  OVERDUE" if row["overdue"] else ""))
    click.echo(f"{base.counted(len(rows), 'story', 'stories')} due within {base.counted(days, 'day', 'days')}")


# `escrow embargo bulk` lives in its own module; it registers on this group when the group loads.
from archive.cli import bulk  # noqa: E402, F401
