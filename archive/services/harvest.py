"""What harvesters (OAI-PMH) read: every story that has ever been in the reading room, in
datestamp order, with its released copy while it is there.

Reads only the room records and the released copies (reading_room/copies.py): a story never
released has no room record, so it is the same NotFound as an unknown id and is in no list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.errors import NotFound
from archive.reading_room import copies
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
    return copies.earliest(archive.session)


def count(archive: Archive, *, since: datetime | None, before: datetime,
          after: tuple[datetime, str] | None = None) -> int:
    """How many records have a datestamp in [since, before), past the keyset position `after`
    if given (what a list has left to send: a record taken down meanwhile has left it)."""
    return copies.records_count(archive.session, start=since, before=before, after=after)


def page(archive: Archive, *, since: datetime | None, before: datetime,
         after: tuple[datetime, str] | None, limit: int) -> list[Entry]:
    """Up to `limit` records with a datestamp in [since, before), in (datestamp, story id)
    order, starting past the keyset position `after` (the last one a previous page held)."""
    found = copies.records(archive.session, start=since, before=before, after=after, limit=limit)
    return [_entry(room, copy) for room, copy in found]


def record(archive: Archive, story_id: str) -> Entry:
    """One record by story id; the same NotFound for a story never released and an unknown id."""
    found = copies.record(archive.session, story_id) if story_id and stories.can_be_id(story_id) else None
    if found is None:
        raise NotFound("no such record")
    return _entry(*found)


def _entry(room: RoomRecord, copy: ReleasedStory | None) -> Entry:
    # A record marked present without its copy (which the gate never commits) is shown as a
    # deletion: a harvester then holds less, never more, than the reading room.
    return Entry(room.story_id, room.datestamp, copy if room.present else None)
