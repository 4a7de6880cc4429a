"""Releasing due stories, and taking released ones back: the only path out of the vault.

Order of writes, so that a crash at any moment is safe and the promise holds:
releasing commits the vault status and the reading-room row in one transaction, then
writes the index (which a later run repairs from the table); taking back deletes the
index document first (a commit of its own: gone from search at once), then the row and
the status in one transaction (gone from the story page), then purges the segment that
held it so its text leaves the index files (bounded by one segment's size; a crash before
it leaves the purge to `index sync`, and `index verify` reports it meanwhile).
Unreleased text is therefore never in the index, not even for an instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session, selectinload

from archive import audit, db
from archive.errors import Conflict, EscrowError, Forbidden, InvalidInput
from archive.reading_room import room
from archive.reading_room.index import Index, document
from archive.reading_room.models import ReleasedStory
from archive.release.redaction import ReleasedText, redact
from archive.times import utcnow
from archive.users import User
from archive.vault import stories
from archive.vault.keys import Keyring
from archive.vault.models import Story

BATCH = 500
Progress = Callable[[int], None]


@dataclass
class Summary:
    """What a publish-due run did."""

    released: int = 0
    already: int = 0
    failed: int = 0
    review: int = 0
    repaired: int = 0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one summary line for logs."""
        text = f"released {self.released}, already released {self.already}, failed {self.failed}"
        if self.review:
            text += f", due for review {self.review}"
        if self.repaired:
            text += f", index repaired {self.repaired}"
        return text


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(Story.status == "sealed", Story.embargo_until.is_not(None), Story.embargo_until <= now)


def due(session: Session, now: datetime) -> list[Story]:
    """Sealed stories whose embargo instant has come (now >= embargo_until); never indefinite ones."""
    return list(session.scalars(select(Story).where(_due(now)).order_by(Story.embargo_until, Story.id)))


def due_count(session: Session, now: datetime) -> int:
    """How many stories are due (for a progress bar)."""
    return session.scalar(select(func.count(Story.id)).where(_due(now))) or 0


def _already(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count(Story.id)).where(
        Story.status == "released", Story.embargo_until <= now)) or 0


def publish_due(session: Session, keyring: Keyring, index: Index, *, now: datetime,
                progress: Progress | None = None) -> Summary:
    """Release every due story once (the caller holds the publisher lock)."""
    summary = Summary()
    report = room.sync(session, index)
    summary.repaired = report.added + report.removed
    candidates = list(session.scalars(select(Story.id).where(_due(now))
                                      .order_by(Story.embargo_until, Story.id)))
    summary.already = _already(session, now)
    # Index documents are built before each commit expires the rows they come from.
    released_rows: list[dict[str, Any]] = []
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        released_rows += _release_batch(session, keyring, batch, summary)
        session.commit()
        if progress:
            progress(len(batch))
    if released_rows:
        index.write(add=released_rows, delete=())
    return summary


def _release_batch(session: Session, keyring: Keyring, ids: Sequence[str],
                   summary: Summary) -> list[dict[str, Any]]:
    rows = []
    for story in session.scalars(_claim(ids)):
        try:
            draft = stories.decrypt(keyring, story)
        except EscrowError:
            summary.failed += 1
            summary.failures.append(story.id)
            continue
        if story.release_review:
            story.status = "due_for_review"
            audit.record(session, keyring.audit_key, audit.SYSTEM, "story.due_for_review", story.id)
            summary.review += 1
            continue
        rows.append(_release(session, keyring, story, redact(draft), audit.SYSTEM))
        summary.released += 1
    return rows


def _claim(ids: Sequence[str]) -> Select[Story]:
    """The batch's stories that are still sealed, row-locked until this batch commits.

    The publisher lock keeps publishers apart; the row locks (FOR UPDATE, which SQLite
    leaves out: its writer lock serialises anyway) make a story claimed twice impossible
    even for a path that skipped it: a second claimant waits, then sees the story released
    and leaves it out. They wait rather than skip (SKIP LOCKED), so a row still locked by a
    publisher that just died is released by this run, not left for the next one.
    """
    return (select(Story).where(Story.id.in_(ids), Story.status == "sealed").order_by(Story.id)
            .options(selectinload(Story.versions)).with_for_update(of=Story)
            .execution_options(populate_existing=True))


def _release(session: Session, keyring: Keyring, story: Story, text: ReleasedText,
             actor: str) -> dict[str, Any]:
    """Write the released copy and flip the status (uncommitted); return its index document."""
    row = ReleasedStory(
        id=story.id, title=text.title, narrator=text.narrator, transcript=text.transcript,
        summary=text.summary, interviewer=text.interviewer, interview_date=text.interview_date,
        place=text.place, language=text.language, tags=json.dumps(list(text.tags), ensure_ascii=False),
        redaction_level=text.redaction_level, released_at=utcnow(), content_hash="",
    )
    row.content_hash = row.compute_hash()
    session.add(row)
    story.status = "released"
    story.updated_at = utcnow()
    audit.record(session, keyring.audit_key, actor, "story.release", story.id,
                 level=story.redaction_level)
    return document(row)


def release_reviewed(session: Session, keyring: Keyring, index: Index, actor: User,
                     story_id: str) -> Story:
    """An admin releases a story that waits for review."""
    _require_admin(actor)
    story = stories.get_for(session, actor, story_id)
    if story.status != "due_for_review":
        raise Conflict(f"story {story.id} is {story.status.replace('_', ' ')}, not due for review")
    doc = _release(session, keyring, story, redact(stories.decrypt(keyring, story)), actor.email)
    session.commit()
    index.write(add=[doc], delete=())
    return story


def _take_back(session: Session, keyring: Keyring, index: Index, actor: User, story_id: str,
               reason: str) -> Story:
    _require_admin(actor)
    if not reason.strip():
        raise InvalidInput("give a reason (--reason): it goes into the audit log")
    story = stories.get_for(session, actor, story_id)
    if story.status == "withdrawn":
        raise Conflict(f"story {story.id} is already withdrawn")
    # The index first, so no search can find it from here on.
    index.ensure()
    index.write(add=(), delete=[story.id])
    row = session.get(ReleasedStory, story.id)
    if row is not None:
        session.delete(row)
    return story


def takedown(session: Session, keyring: Keyring, index: Index, actor: User, story_id: str,
             reason: str) -> Story:
    """Take a released story back into the vault, sealed with an indefinite embargo."""
    story = _take_back(session, keyring, index, actor, story_id, reason)
    if story.status != "released":
        raise Conflict(f"story {story.id} is {story.status.replace('_', ' ')}, not released")
    story.status, story.embargo_until, story.updated_at = "sealed", None, utcnow()
    audit.record(session, keyring.audit_key, actor.email, "story.takedown", story.id,
                 reason=reason.strip(), embargo_until=None)
    session.commit()
    try:
        db.scrub_journal(session)
    finally:
        index.purge()  # the index forgets the story even when the journal keeps an old page
    return story


def withdraw(session: Session, keyring: Keyring, index: Index, actor: User, story_id: str,
             reason: str) -> Story:
    """Consent withdrawn: remove any released copy and destroy the data key (crypto-shredding)."""
    story = _take_back(session, keyring, index, actor, story_id, reason)
    story.status, story.updated_at = "withdrawn", utcnow()
    stories.shred(story)
    audit.record(session, keyring.audit_key, actor.email, "story.withdraw", story.id,
                 reason=reason.strip())
    session.commit()
    try:
        db.scrub_journal(session)
    finally:
        index.purge()  # the index forgets the story even when the journal keeps an old page
    return story


def _require_admin(actor: User) -> None:
    if actor.role != "admin":
        raise Forbidden("only an admin may do this")


def verify(session: Session, index: Index) -> list[str]:
    """Index equals reading room, and the reading room holds only released stories."""
    problems = room.differences(session, index)
    released = set(session.scalars(select(Story.id).where(Story.status == "released")))
    in_room = set(session.scalars(select(ReleasedStory.id)))
    problems += [f"reading room holds {i}, which is not released" for i in sorted(in_room - released)]
    problems += [f"released story {i} is missing from the reading room" for i in sorted(released - in_room)]
    return problems
