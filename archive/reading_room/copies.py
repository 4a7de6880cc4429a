"""The reading room's table as the doors read it: released copies and the room records
harvesters follow. Every query of the reading room that a service makes is here.

Released copies are plain rows (public by consent); a story never released has no copy and
no record, so the same None answers an unknown id and a sealed one. Record lists page by
keyset on (datestamp, story id), the order of `ix_room_records_datestamp_story`, never by
offset: a record that changes between two pages moves past the harvest's bound instead of
shifting every later page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, load_only

from archive.reading_room.models import ReleasedStory, RoomRecord

# What a list of hits shows of each copy (its texts load only if read).
_LISTED = load_only(ReleasedStory.id, ReleasedStory.title, ReleasedStory.narrator, ReleasedStory.interview_date,
                    ReleasedStory.language, ReleasedStory.tags, ReleasedStory.redaction_level)


def copy(session: Session, story_id: str) -> ReleasedStory | None:
    """A released story's copy, or None (never released, taken back, unknown)."""
    return session.get(ReleasedStory, story_id)


def listed(session: Session, ids: Sequence[str]) -> dict[str, ReleasedStory]:
    """The copies of these stories that are in the room, with their listing columns, by id."""
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(
        select(ReleasedStory).options(_LISTED).where(ReleasedStory.id.in_(list(ids))))}


class Titled(NamedTuple):
    """A released story's title and the language it is written in."""

    title: str
    language: str


def titles(session: Session, ids: Sequence[str]) -> dict[str, Titled]:
    """The released title (with its language) of each of these stories that is in the room."""
    if not ids:
        return {}
    query = select(ReleasedStory.id, ReleasedStory.title, ReleasedStory.language).where(ReleasedStory.id.in_(list(ids)))
    return {story_id: Titled(title, language) for story_id, title, language in session.execute(query)}


def recent(session: Session, limit: int) -> list[ReleasedStory]:
    """The newest releases."""
    query = select(ReleasedStory).order_by(ReleasedStory.released_at.desc(), ReleasedStory.id).limit(limit)
    return list(session.scalars(query))


def count(session: Session) -> int:
    """How many released copies the room holds."""
    return session.scalar(select(func.count()).select_from(ReleasedStory)) or 0


def since(session: Session, moment: datetime | None) -> Iterator[ReleasedStory]:
    """Every copy in the room, in record order: with `moment`, those released, or replaced
    (redact-again), at or after it, as an OAI-PMH harvest from then would list them."""
    query = (select(ReleasedStory).join(RoomRecord, RoomRecord.story_id == ReleasedStory.id)
             .order_by(RoomRecord.datestamp, ReleasedStory.id))
    if moment is not None:
        query = query.where(RoomRecord.datestamp >= moment)
    return iter(session.scalars(query.execution_options(yield_per=500)))


# -- room records (what harvesters follow) ---------------------------------------------------

def earliest(session: Session) -> datetime | None:
    """The oldest datestamp of any record, present or deleted; None before the first release."""
    return session.scalar(select(func.min(RoomRecord.datestamp)))


def _window(start: datetime | None, before: datetime) -> ColumnElement[bool]:
    lower = RoomRecord.datestamp >= start if start is not None else RoomRecord.datestamp.is_not(None)
    return and_(lower, RoomRecord.datestamp < before)


def records_count(session: Session, *, start: datetime | None, before: datetime,
                  after: tuple[datetime, str] | None = None) -> int:
    """How many records have a datestamp in [start, before), past the keyset position `after`
    if given (what a list has left to send: a record taken down meanwhile has left it)."""
    return session.scalar(select(func.count()).select_from(RoomRecord)
                          .where(_window(start, before), _past(after))) or 0


def _past(after: tuple[datetime, str] | None) -> ColumnElement[bool]:
    """Records after the keyset position `after` (all of them for None)."""
    if after is None:
        return RoomRecord.datestamp.is_not(None)
    stamp, story_id = after
    return or_(RoomRecord.datestamp > stamp, and_(RoomRecord.datestamp == stamp, RoomRecord.story_id > story_id))


def records(session: Session, *, start: datetime | None, before: datetime, after: tuple[datetime, str] | None,
            limit: int) -> list[tuple[RoomRecord, ReleasedStory | None]]:
    """Up to `limit` records with a datestamp in [start, before), in (datestamp, story id)
    order, past the keyset position `after`, each with its copy if it has one."""
    query = (select(RoomRecord, ReleasedStory)
             .outerjoin(ReleasedStory, ReleasedStory.id == RoomRecord.story_id)
             .where(_window(start, before), _past(after)))
    query = query.order_by(RoomRecord.datestamp, RoomRecord.story_id).limit(limit)
    return [(room, copy) for room, copy in session.execute(query)]


def record(session: Session, story_id: str) -> tuple[RoomRecord, ReleasedStory | None] | None:
    """One story's record and its copy while it is in the room; None if it was never released."""
    found = session.get(RoomRecord, story_id)
    if found is None:
        return None
    return found, session.get(ReleasedStory, story_id) if found.present else None
