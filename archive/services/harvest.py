"""What harvesters (OAI-PMH) read: every story that has ever been in the reading room, in
datestamp order, with its released copy while it is there.

Reads only the room records and the released copies: a story never released has no room
record, so it is the same NotFound as an unknown id and is in no list. Lists page by keyset
on (datestamp, story id), the order of `ix_room_records_datestamp_story`, never by offset:
a record that changes between two pages moves past the harvest's bound instead of shifting
every later page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select

from archive.errors import NotFound
from archive.reading_room.models import ReleasedStory, RoomRecord
from archive.services.context import Archive
from archive.vault import stories

__all__ = ["SETTLE", "Entry", "ReleasedStory", "count", "earliest", "page", "record"]
# A record stamped before (a read's instant - SETTLE) is committed by the time of the read: the
# gate stamps a batch just before its commit, and SETTLE covers that moment and a little clock
# difference between machines. OAI-PMH lists and the bag's Escrow-Taken-At both rest on it.
SETTLE = timedelta(seconds=2)


@dataclass(frozen=True)
class Entry:
    """One harvestable record: its story id, the instant it last changed, and its released
    copy, or None once it has left the reading room (a deleted record, for ever)."""

    story_id: str
    datestamp: datetime
    story: ReleasedStory | None

    @property
    def deleted(self) -> bool:
        """Whether the record is a deletion (taken down, withdrawn)."""
        return self.story is None


def earliest(archive: Archive) -> datetime | None:
    """The oldest datestamp of any record, present or deleted; None before the first release."""
    return archive.session.scalar(select(func.min(RoomRecord.datestamp)))


def _window(since: datetime | None, before: datetime) -> ColumnElement[bool]:
    lower = RoomRecord.datestamp >= since if since is not None else RoomRecord.datestamp.is_not(None)
    return and_(lower, RoomRecord.datestamp < before)


def _past(after: tuple[datetime, str] | None) -> ColumnElement[bool]:
    """Records after the keyset position `after` (all of them for None)."""
    if after is None:
        return RoomRecord.datestamp.is_not(None)
    stamp, story_id = after
    return or_(RoomRecord.datestamp > stamp, and_(RoomRecord.datestamp == stamp, RoomRecord.story_id > story_id))


def count(archive: Archive, *, since: datetime | None, before: datetime,
          after: tuple[datetime, str] | None = None) -> int:
    """How many records have a datestamp in [since, before), past the keyset position `after`
    if given (what a list has left to send: a record taken down meanwhile has left it)."""
    return archive.session.scalar(select(func.count()).select_from(RoomRecord)
                                  .where(_window(since, before), _past(after))) or 0


def page(archive: Archive, *, since: datetime | None, before: datetime,
         after: tuple[datetime, str] | None, limit: int) -> list[Entry]:
    """Up to `limit` records with a datestamp in [since, before), in (datestamp, story id)
    order, starting past the keyset position `after` (the last one a previous page held)."""
    query = (select(RoomRecord, ReleasedStory)
             .outerjoin(ReleasedStory, ReleasedStory.id == RoomRecord.story_id)
             .where(_window(since, before), _past(after)))
    query = query.order_by(RoomRecord.datestamp, RoomRecord.story_id).limit(limit)
    return [_entry(room, copy) for room, copy in archive.session.execute(query)]


def record(archive: Archive, story_id: str) -> Entry:
    """One record by story id; the same NotFound for a story never released and an unknown id."""
    found = archive.session.get(RoomRecord, story_id) if story_id and stories.can_be_id(story_id) else None
    if found is None:
        raise NotFound("no such record")
    copy = archive.session.get(ReleasedStory, story_id) if found.present else None
    return _entry(found, copy)


def _entry(room: RoomRecord, copy: ReleasedStory | None) -> Entry:
    # A record marked present without its copy (which the gate never commits) is shown as a
    # deletion: a harvester then holds less, never more, than the reading room.
    return Entry(room.story_id, room.datestamp, copy if room.present else None)
