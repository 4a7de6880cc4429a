"""The outbox: notices armed once, addressed to their people, claimed and settled by senders.

Exactly once, by construction rather than by matching dates: a notice is a row unique per
(story, kind, instant), so arming is an INSERT that leaves out what exists. The scheduler
(`schedule`) arms every window that has opened for a sealed story whose instant is still
ahead, however late it runs: a run after an outage arms everything the outage missed, a
second run arms nothing, and an embargo moved to another instant has windows of its own.
What happens to a story (a release, a takedown, a decision) arms its notice in the same
transaction as the change (`arm`): rolled back with it, committed with it.

Sending is never inside a transaction. `claim` takes due deliveries in a short transaction,
moving each a lease ahead (FOR UPDATE SKIP LOCKED on PostgreSQL, so another sender passes
over rows being claimed instead of waiting for them; on SQLite the unit's write lock keeps
claims apart), and returns the letters to send after its commit; `settle` records what was
sent, and puts each failure back with a backoff. A sender that dies between the two leaves
its claims to the next sender once the lease ends: a notice is then sent at least once, and
twice only if the death falls between the SMTP server's acceptance and `settle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.orm import Session

from archive.accounts.users import User
from archive.notices.kinds import DIGEST, KINDS, WINDOWS
from archive.notices.models import Delivery, Notice
from archive.storage import dialect
from archive.storage.units import Unit
from archive.vault.models import Story

LEASE = timedelta(minutes=10)  # a claimed delivery waits this long for its sender to settle it
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
DIGEST_DAYS = 30


@dataclass(frozen=True)
class Armed:
    """What a scheduler run armed."""

    notices: int
    deliveries: int


@dataclass(frozen=True)
class Letter:
    """A claimed delivery, as much as its message needs: never anything of a story but its id."""

    delivery_id: int
    attempt: int
    to: str
    language: str | None
    kind: str
    story_id: str
    instant: datetime
    upcoming: tuple[tuple[str, datetime], ...] = ()  # the digest's stories and their instants


def arm(unit: Unit, story: Story, kind: str, instant: datetime, *, also: Iterable[int] = ()) -> bool:
    """Arm one notice about `story` in the unit's transaction, addressed at once to its organizer,
    the users in `also` and, for a kind that says so, every admin; False if it was armed already."""
    session, now = unit.session, unit.now()
    found = session.execute(dialect.insert_new(session, Notice).values(
        story_id=story.id, kind=KINDS[kind].name, instant=instant, created_at=now, addressed=True)
        .returning(Notice.id)).scalar()
    if found is None:
        return False
    people = {story.owner_id, *also}
    if KINDS[kind].admins:
        people |= set(session.scalars(select(User.id).where(User.role == "admin", User.active)))
    session.execute(dialect.insert_new(session, Delivery), [
        {"notice_id": found, "user_id": person, "mail": "pending", "attempts": 0, "next_attempt_at": now}
        for person in sorted(people)])
    return True


def schedule(unit: Unit, now: datetime) -> Armed:
    """Arm every window that has opened (instant - before <= now < instant) for a sealed story,
    and today's digest; address what was armed. Idempotent: a second run at the same `now`
    arms nothing."""
    session = unit.session
    armed = 0
    for kind in WINDOWS:
        assert kind.before is not None
        opened = (select(Story.id, literal(kind.name), Story.embargo_until, literal(now, Notice.created_at.type),
                         literal(False))
                  .where(Story.status == "sealed", Story.embargo_until > now,
                         Story.embargo_until <= now + kind.before))
        armed += _inserted(session, dialect.insert_new(session, Notice).from_select(
            ["story_id", "kind", "instant", "created_at", "addressed"], opened))
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    armed += _inserted(session, dialect.insert_new(session, Notice).values(
        story_id="", kind=DIGEST, instant=day, created_at=now, addressed=False))
    return Armed(armed, _address(session, now) if armed else 0)


def _inserted(session: Session, statement: Any) -> int:
    """How many rows an INSERT that leaves out duplicates added (counted by RETURNING: a
    driver's rowcount is not always told)."""
    table = statement.table
    return len(session.execute(statement.returning(table.c.id)).all())


def _address(session: Session, now: datetime) -> int:
    """Deliveries for every notice not addressed yet: its story's organizer, and every active
    admin for a kind that tells admins."""
    columns = ["notice_id", "user_id", "mail", "attempts", "next_attempt_at"]
    pending = (literal("pending"), literal(0), literal(now, Delivery.next_attempt_at.type))
    owners = (select(Notice.id, Story.owner_id, *pending).join(Story, Story.id == Notice.story_id)
              .where(Notice.addressed.is_(False)))
    admin_kinds = [kind.name for kind in KINDS.values() if kind.admins]
    admins = (select(Notice.id, User.id, *pending).join(User, and_(User.role == "admin", User.active))
              .where(Notice.addressed.is_(False), Notice.kind.in_(admin_kinds)))
    total = 0
    for chosen in (owners, admins):
        total += _inserted(session, dialect.insert_new(session, Delivery).from_select(columns, chosen))
    session.execute(update(Notice).where(Notice.addressed.is_(False)).values(addressed=True))
    return total


def without_mail(unit: Unit) -> int:
    """Where the archive sends no e-mail, deliveries waiting for one wait no longer (so that
    configuring e-mail later does not send a backlog of old news)."""
    return unit.session.execute(update(Delivery).where(Delivery.mail == "pending")
                                .values(mail="none")).rowcount or 0


def claim(unit: Unit, now: datetime, limit: int) -> list[Letter]:
    """Take up to `limit` deliveries due for sending, each moved a lease ahead (committed by the
    caller's unit before anything is sent)."""
    session = unit.session
    rows = session.execute(
        select(Delivery, Notice, User).join(Notice, Notice.id == Delivery.notice_id)
        .join(User, User.id == Delivery.user_id)
        .where(Delivery.mail == "pending", Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)).all()
    letters = []
    upcoming: tuple[tuple[str, datetime], ...] | None = None
    for delivery, notice, user in rows:
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        if notice.kind == DIGEST and upcoming is None:
            upcoming = _upcoming(session, now)
        letters.append(Letter(delivery.id, delivery.attempts, user.email, user.language, notice.kind,
                              notice.story_id, notice.instant, upcoming if notice.kind == DIGEST else ()))
    return letters


def _upcoming(session: Session, now: datetime) -> tuple[tuple[str, datetime], ...]:
    found = session.execute(select(Story.id, Story.embargo_until).where(
        Story.status == "sealed", Story.embargo_until.is_not(None),
        Story.embargo_until <= now + timedelta(days=DIGEST_DAYS)).order_by(Story.embargo_until, Story.id)).all()
    return tuple((story_id, until) for story_id, until in found)


def settle(unit: Unit, outcomes: Mapping[int, tuple[int, str | None]], now: datetime) -> None:
    """Record each claimed delivery's outcome, by id: (its attempt, None once sent or the class of
    the error). A failure is claimed again after a backoff that doubles up to six hours; an
    outcome of an attempt that a later claim has overtaken is left alone."""
    session = unit.session
    for delivery_id, (attempt, error) in sorted(outcomes.items()):
        delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
        if delivery is None or delivery.mail != "pending" or delivery.attempts != attempt:
            continue
        if error is None:
            delivery.mail, delivery.sent_at, delivery.last_error = "sent", now, None
        else:
            delivery.next_attempt_at = now + backoff(attempt)
            delivery.last_error = error[:64]


def backoff(attempt: int) -> timedelta:
    """How long a delivery waits after its `attempt`-th failure: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** min(max(attempt - 1, 0), 20), LONGEST_RETRY)


@dataclass(frozen=True)
class Shown:
    """A delivery as its recipient's list shows it."""

    id: int
    kind: str
    story_id: str
    instant: datetime
    created_at: datetime
    seen: bool


def listing(session: Session, user: User, *, limit: int = 200) -> list[Shown]:
    """The user's notices, newest first."""
    rows = session.execute(select(Delivery.id, Notice.kind, Notice.story_id, Notice.instant, Notice.created_at,
                                  Delivery.seen_at)
                           .join(Notice, Notice.id == Delivery.notice_id).where(Delivery.user_id == user.id)
                           .order_by(Notice.created_at.desc(), Delivery.id.desc()).limit(limit)).all()
    return [Shown(i, kind, story_id, instant, created, seen is not None)
            for i, kind, story_id, instant, created, seen in rows]


def unseen(session: Session, user: User) -> int:
    """How many of the user's notices they have not marked seen."""
    return session.scalar(select(func.count(Delivery.id)).where(
        Delivery.user_id == user.id, Delivery.seen_at.is_(None))) or 0


def mark_seen(unit: Unit, user: User) -> int:
    """Mark every notice of the user's seen."""
    return unit.session.execute(update(Delivery).where(Delivery.user_id == user.id, Delivery.seen_at.is_(None))
                                .values(seen_at=unit.now())).rowcount or 0


@dataclass(frozen=True)
class Unsent:
    """Deliveries that failed to send and wait to be tried again."""

    count: int
    oldest: datetime | None
    error: str | None


def unsent(session: Session, *, armed_before: datetime) -> Unsent:
    """Deliveries of notices armed before an instant whose sending has failed and that are not sent yet."""
    failing = and_(Delivery.mail == "pending", Delivery.last_error.is_not(None),
                   Delivery.notice_id.in_(select(Notice.id).where(Notice.created_at < armed_before)))
    count = session.scalar(select(func.count(Delivery.id)).where(failing)) or 0
    first = session.execute(select(Notice.created_at, Delivery.last_error).join(Notice, Notice.id == Delivery.notice_id)
                            .where(failing).order_by(Notice.created_at).limit(1)).first()
    return Unsent(count, first[0] if first else None, first[1] if first else None)
