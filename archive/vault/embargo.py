"""Changing an embargo: extending takes effect at once; shortening needs a second admin.

Every change is an audit entry (actor, story, from, to, reason), committed with it.
Instants are aware datetimes in UTC; a story is due exactly when now >= embargo_until.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit, pauses
from archive.accounts import users
from archive.accounts.users import User
from archive.audit import Action
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.messages import N_, STATUS_NAMES
from archive.notices import outbox
from archive.storage.units import Unit
from archive.times import format_instant
from archive.vault import reasons, stories
from archive.vault.keys import Keyring
from archive.vault.models import EmbargoRequest, Story

DEFAULT_REQUEST_TTL = timedelta(days=7)


def _status(story: Story) -> str:
    return STATUS_NAMES[story.status]


def _ends(moment: datetime | None) -> str:
    return N_("is indefinite") if moment is None else N_("ends %(when)s", when=format_instant(moment))


def _later(until: datetime | None, than: datetime | None) -> bool:
    """Whether `until` ends later than `than` (None is indefinite, later than any instant)."""
    if than is None:
        return False
    return until is None or until > than


def extend(unit: Unit, actor: User, story_id: str, until: datetime | None, reason: str) -> Story:
    """Move the embargo later (or make it indefinite), at once; the organizer's own story or any for an admin.

    A story waiting for review goes back to sealed with its new date.
    """
    session = unit.session
    reason = reasons.clean(reason)
    story = stories.get_for(session, actor, story_id)
    session.refresh(story, with_for_update=True)
    pauses.at("embargo.extend.locked")
    move_later(unit, story, until, actor.email, reason)
    return story


def move_later(unit: Unit, story: Story, until: datetime | None, actor: str, reason: str | None) -> None:
    """Move a story's embargo later, at once (the story locked and read again by the caller);
    a story waiting for review goes back to sealed. Its pending requests end."""
    session, keyring, now = unit.session, unit.keyring, unit.now()
    # Locked and read again by the caller: a release claims the story's row until its batch
    # commits (on SQLite the unit's transaction holds the write lock from its first read), and
    # an extension must then see it released, not write a new date onto a released story.
    if story.status == "released":
        raise Conflict(N_("story %(id)s is already released: an admin can take it down "
                          "('escrow stories takedown'), which seals it again", id=story.id))
    if story.status == "withdrawn":
        raise Conflict(N_("story %(id)s is withdrawn: its content no longer exists", id=story.id))
    if until is not None and until <= now:
        raise InvalidInput(N_("%(when)s is not in the future: an extension must end later than now",
                              when=format_instant(until)))
    if story.status == "sealed" and not _later(until, story.embargo_until):
        raise InvalidInput(N_("the embargo of %(id)s %(ends)s; %(when)s is not later: to shorten it, request it "
                              "('escrow embargo request')", id=story.id, ends=_ends(story.embargo_until),
                              when=format_instant(until)))
    before = story.embargo_until
    reason_sealed = reasons.seal(keyring, story, reason) if reason else None
    story.embargo_until, story.status, story.updated_at, story.embargo_changed_at = until, "sealed", now, now
    audit.record(session, keyring.audit_key, actor, Action.EMBARGO_EXTEND, story.id,
                 reason_sealed=reason_sealed, embargo_from=format_instant(before), embargo_to=format_instant(until))
    end_requests(unit, story, "the embargo was extended", actor, now=now)


def request(unit: Unit, actor: User, story_id: str, until: datetime | None, reason: str, *,
            ttl: timedelta = DEFAULT_REQUEST_TTL) -> EmbargoRequest:
    """Ask for an earlier release (`until` None: now); pending until another admin approves it."""
    session, keyring, now = unit.session, unit.keyring, unit.now()
    reason = reasons.clean(reason)
    story = stories.get_for(session, actor, story_id)
    session.refresh(story, with_for_update=True)  # a release in progress is waited for, then seen
    if story.status != "sealed":
        if story.status == "due_for_review":
            raise Conflict(N_("story %(id)s is %(status)s, not sealed: nothing to release early ('escrow stories "
                              "release')", id=story.id, status=_status(story)))
        raise Conflict(N_("story %(id)s is %(status)s, not sealed: nothing to release early", id=story.id,
                          status=_status(story)))
    if until is not None and until <= now:
        raise InvalidInput(N_("%(when)s is not in the future: use --until now to release at approval",
                              when=format_instant(until)))
    if until is not None and not _later(story.embargo_until, until):
        raise InvalidInput(N_("the embargo of %(id)s already %(ends)s; %(when)s is not earlier: to move it later, "
                              "extend it ('escrow embargo extend')", id=story.id, ends=_ends(story.embargo_until),
                              when=format_instant(until)))
    waiting = _pending_for(session, story.id, now)
    if waiting is not None:
        raise Conflict(N_("story %(id)s already has a pending request %(request)s: an admin approves or denies "
                          "it first", id=story.id, request=waiting.id))
    sealed = reasons.seal(keyring, story, reason)
    item = EmbargoRequest(id=stories.new_id(), story_id=story.id, requested_by_id=actor.id, until=until,
                          reason_sealed=sealed, state="pending", created_at=now, expires_at=now + ttl)
    session.add(item)
    audit.record(session, keyring.audit_key, actor.email, Action.EMBARGO_REQUEST, story.id, request=item.id,
                 reason_sealed=sealed, embargo_from=format_instant(story.embargo_until),
                 embargo_to="now (at approval)" if until is None else format_instant(until),
                 expires=format_instant(item.expires_at))
    return item


def approve(unit: Unit, actor: User, request_id: str) -> Story:
    """A second admin applies a pending request; the requester never approves their own."""
    session, keyring, now = unit.session, unit.keyring, unit.now()
    item = _decidable(session, actor, request_id, now)
    if item.requested_by_id == actor.id:
        raise Forbidden(N_("you made request %(request)s: another admin must approve it", request=item.id))
    users.may_approve(actor, item.created_at, item.requested_by_id)
    # Locked and read again: the decision rests on the story's status and embargo now.
    story = session.get(Story, item.story_id, with_for_update=True, populate_existing=True)
    assert story is not None  # a foreign key
    if story.status != "sealed":
        raise Conflict(N_("story %(id)s is %(status)s now, not sealed: deny request %(request)s", id=story.id,
                          status=_status(story), request=item.id))
    if story.embargo_changed_at is not None and story.embargo_changed_at > item.created_at:
        raise Conflict(N_("story %(id)s's embargo changed after request %(request)s was made (it now %(ends)s): "
                          "deny it; the organizer may ask again", id=story.id, request=item.id,
                          ends=_ends(story.embargo_until)))
    before, after = story.embargo_until, item.until or now
    if not _later(before, after):
        raise Conflict(N_("story %(id)s's embargo already ends %(when)s, no later than the request asks: deny "
                          "request %(request)s", id=story.id, when=format_instant(before), request=item.id))
    story.embargo_until, story.updated_at, story.embargo_changed_at = after, now, now
    item.state, item.decided_by_id, item.decided_at = "approved", actor.id, now
    audit.record(session, keyring.audit_key, actor.email, Action.EMBARGO_APPROVE, story.id, request=item.id,
                 requested_by=_email(session, item.requested_by_id),
                 embargo_from=format_instant(before), embargo_to=format_instant(after))
    outbox.arm(unit, story, "request_approved", item.created_at, also=[item.requested_by_id])
    return story


def deny(unit: Unit, actor: User, request_id: str, reason: str) -> EmbargoRequest:
    """An admin turns a request down (the requester may take back their own)."""
    session, keyring, now = unit.session, unit.keyring, unit.now()
    reason = reasons.clean(reason)
    item = _decidable(session, actor, request_id, now, expired_ok=True, own_ok=True)
    story = session.get(Story, item.story_id)
    assert story is not None  # a foreign key
    item.state, item.decided_by_id, item.decided_at = "denied", actor.id, now
    audit.record(session, keyring.audit_key, actor.email, Action.EMBARGO_DENY, item.story_id,
                 request=item.id, reason_sealed=reasons.seal(keyring, story, reason))
    outbox.arm(unit, story, "request_denied", item.created_at, also=[item.requested_by_id])
    return item


def cancel(unit: Unit, actor: User, request_id: str) -> EmbargoRequest:
    """The requester takes their own pending request back (no reason needed)."""
    session, keyring, now = unit.session, unit.keyring, unit.now()
    item = _locked(session, request_id)
    if item is None or item.state != "pending" or item.requested_by_id != actor.id:
        raise NotFound(f"no pending request {request_id[:40]} of yours")
    item.state, item.decided_by_id, item.decided_at = "cancelled", actor.id, now
    audit.record(session, keyring.audit_key, actor.email, Action.EMBARGO_CANCEL, item.story_id,
                 request=item.id, why="taken back by the requester")
    return item


def end_requests(unit: Unit, story: Story, why: str, actor: str, *, now: datetime) -> int:
    """Cancel every pending request of a story whose embargo or status just changed.

    A request is about the embargo it was made against; approved after a takedown, an
    extension or a release it would undo that change. Each cancellation is audited.
    """
    session = unit.session
    waiting = list(session.scalars(select(EmbargoRequest).where(
        EmbargoRequest.story_id == story.id, EmbargoRequest.state == "pending")))
    for item in waiting:
        item.state, item.decided_at = "cancelled", now
        audit.record(session, unit.keyring.audit_key, actor, Action.EMBARGO_CANCEL, story.id, request=item.id,
                     why=why)
    return len(waiting)

def _locked(session: Session, request_id: str) -> EmbargoRequest | None:
    """A request, locked and read again: two admins deciding it at once decide it once."""
    if not request_id or not stories.can_be_id(request_id):
        return None
    return session.get(EmbargoRequest, request_id, with_for_update=True, populate_existing=True)


def _decidable(session: Session, actor: User, request_id: str, now: datetime, *,
               expired_ok: bool = False, own_ok: bool = False) -> EmbargoRequest:
    item = _locked(session, request_id)
    mine = item is not None and item.requested_by_id == actor.id
    if not (own_ok and mine):
        users.require_admin(actor, N_("only an admin may decide an embargo request"))
    if item is None or item.state != "pending":
        raise NotFound(f"no pending request {request_id[:40]}")
    if not expired_ok and now >= item.expires_at:
        raise Conflict(N_("request %(request)s expired %(when)s: it cannot be approved; make a new request",
                          request=item.id, when=format_instant(item.expires_at)))
    return item


def _pending_for(session: Session, story_id: str, now: datetime) -> EmbargoRequest | None:
    return session.scalar(select(EmbargoRequest).where(
        EmbargoRequest.story_id == story_id, EmbargoRequest.state == "pending",
        EmbargoRequest.expires_at > now).limit(1))


def _email(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return user.email if user is not None else f"user {user_id}"


@dataclass(frozen=True)
class Pending:
    """A pending request as the admin's list shows it: the embargo asked for beside the
    story's current one (no story content; the reason unsealed for admins)."""

    id: str
    story_id: str
    requested_by: str
    until: datetime | None
    current: datetime | None
    reason: str
    created_at: datetime
    expires_at: datetime


def reason_of(keyring: Keyring, item: EmbargoRequest, story: Story | None) -> str:
    """A request's reason as text (sealed, or the plain text of an older request)."""
    if item.reason_sealed is not None:
        return reasons.read(keyring, story, item.reason_sealed)
    return item.reason or ""


def pending(session: Session, keyring: Keyring, *, now: datetime,
            story_id: str | None = None, unseal: bool = True) -> list[Pending]:
    """Requests that may still be approved, oldest first; only one story's if given.
    Reasons are unsealed only for a page that shows them (`unseal`); otherwise left empty."""
    query = (select(EmbargoRequest, User.email, Story)
             .join(User, User.id == EmbargoRequest.requested_by_id)
             .join(Story, Story.id == EmbargoRequest.story_id)
             .where(EmbargoRequest.state == "pending", EmbargoRequest.expires_at > now)
             .order_by(EmbargoRequest.created_at, EmbargoRequest.id))
    if story_id is not None:
        query = query.where(EmbargoRequest.story_id == story_id)
    return [Pending(r.id, r.story_id, email, r.until, story.embargo_until,
                    reason_of(keyring, r, story) if unseal else "", r.created_at, r.expires_at)
            for r, email, story in session.execute(query)]


def upcoming(session: Session, *, now: datetime, days: int) -> list[Story]:
    """Sealed stories due by now + days (overdue ones first), with no content."""
    if not 0 <= days <= 3660:
        raise InvalidInput("--days must be between 0 and 3660")
    horizon = now + timedelta(days=days)
    return list(session.scalars(select(Story).where(
        Story.status == "sealed", Story.embargo_until.is_not(None), Story.embargo_until <= horizon)
        .order_by(Story.embargo_until, Story.id)))


def overdue(session: Session, *, now: datetime, grace: timedelta) -> list[Story]:
    """Sealed stories due for longer than `grace`: the sign of a publisher that stopped running."""
    return list(session.scalars(select(Story).where(
        Story.status == "sealed", Story.embargo_until.is_not(None), Story.embargo_until <= now - grace,
        Story.hold.is_(None))  # a narrator's hold is reported on its own (narrators.held)
        .order_by(Story.embargo_until, Story.id)))
