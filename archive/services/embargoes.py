"""Embargo changes: extend at once, request an earlier release, a second admin's decision,
the requester taking a request back; and what is coming."""

from __future__ import annotations

from datetime import datetime

from archive.accounts.users import User
from archive.errors import InvalidInput
from archive.messages import N_
from archive.services.context import Archive
from archive.times import utcnow
from archive.vault import bulk as bulk_changes
from archive.vault import embargo, stories
from archive.vault.embargo import Pending
from archive.vault.models import EmbargoRequest, Story


def extend(archive: Archive, actor: User, story_id: str, until: datetime | None, reason: str) -> Story:
    """Move a story's embargo later (None: indefinitely), at once; its pending requests end."""
    with archive.unit() as unit:
        return embargo.extend(unit, actor, story_id, until, reason)


def request(archive: Archive, actor: User, story_id: str, until: datetime | None, reason: str) -> EmbargoRequest:
    """Ask for an earlier release (None: at approval); another admin decides."""
    with archive.unit() as unit:
        return embargo.request(unit, actor, story_id, until, reason, ttl=archive.config.request_ttl)


def approve(archive: Archive, actor: User, request_id: str) -> Story:
    """A second admin applies a pending request made against the story's current embargo."""
    with archive.unit() as unit:
        return embargo.approve(unit, actor, request_id)


def deny(archive: Archive, actor: User, request_id: str, reason: str) -> EmbargoRequest:
    """An admin turns a request down."""
    with archive.unit() as unit:
        return embargo.deny(unit, actor, request_id, reason)


def cancel(archive: Archive, actor: User, request_id: str) -> EmbargoRequest:
    """The requester takes their own pending request back."""
    with archive.unit() as unit:
        return embargo.cancel(unit, actor, request_id)


def pending(archive: Archive) -> list[Pending]:
    """Requests that may still be approved, with their reasons unsealed (for admins)."""
    return embargo.pending(archive.session, archive.keyring, now=utcnow())


def waiting(archive: Archive, story_id: str) -> Pending | None:
    """A story's pending request, if any, without its reason (the organizer's story page)."""
    found = embargo.pending(archive.session, archive.keyring, now=utcnow(), story_id=story_id, unseal=False)
    return found[0] if found else None


def upcoming(archive: Archive, days: int) -> list[Story]:
    """Sealed stories due within `days` (overdue first)."""
    return embargo.upcoming(archive.session, now=utcnow(), days=days)


def future_only(until: datetime | None) -> None:
    """Refuse a new story's embargo end that has already passed (a web form's date typed in
    the past would otherwise be released by the next run without a word)."""
    if until is not None and until <= utcnow():
        raise InvalidInput(N_("that date has passed: a new story's embargo must end in the future; "
                              "to release it sooner, seal it and request an early release"), field="embargo_until")


def bulk(archive: Archive, actor: User, data: bytes, *, dry_run: bool) -> list[bulk_changes.Change]:
    """Apply a CSV of embargo changes all or nothing (InvalidInput naming the first bad line);
    with `dry_run`, work every row out exactly as it would go, then change nothing."""
    rows = bulk_changes.parse(data)
    with archive.unit() as unit:
        changes = bulk_changes.apply(unit, actor, rows, ttl=archive.config.request_ttl)
        if dry_run:
            unit.undo()
        return changes


def upcoming_csv(archive: Archive, days: int | None) -> str:
    """Sealed stories due within `days` (None: every sealed story, indefinite ones too), as the CSV
    `bulk` reads (empty reasons: loaded back, it changes nothing)."""
    found = upcoming(archive, days) if days is not None else stories.listing(archive.session, "sealed")
    return bulk_changes.write((story.id, story.embargo_until) for story in found)
