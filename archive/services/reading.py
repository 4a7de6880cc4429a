"""The reading room: search (with this node's index brought in step first), one released
story, the newest releases and the filter vocabularies. Released, redacted copies only."""

from __future__ import annotations

from sqlalchemy import select

from archive.errors import NotFound
from archive.reading_room import room
from archive.reading_room import search as room_search
from archive.reading_room.index import IndexMissing
from archive.reading_room.models import ReleasedStory
from archive.reading_room.search import Facets, Filters, Results
from archive.release import gate, locks
from archive.services.context import Archive

__all__ = ["Facets", "Filters", "IndexMissing", "ReleasedStory", "Results", "facets", "recent", "released",
           "released_any", "search"]
MAX_ID = 32


def _in_step(archive: Archive) -> bool:
    """Sync this node's index if the reading room changed; whether there is an index to search.

    An archive that has released nothing yet has no index and nothing to find: that is an
    empty reading room, not a fault. A missing index beside released stories is one.
    """
    config = archive.config
    room.sync_if_stale(archive.session, archive.index, config.index_sync_seconds, locks.node(config.home))
    if archive.index.exists():
        return True
    if gate.released_any(archive.session):
        raise IndexMissing("the search index is missing: run 'escrow index rebuild'")
    return False


def search(archive: Archive, query: str, *, page: int = 1, per_page: int = 10,
           filters: Filters | None = None) -> Results:
    """One page of released stories matching the query (InvalidQuery / QueryTooBroad if not)."""
    if not _in_step(archive):
        room_search.parse(query)  # a bad query is refused the same way before the first release
        return Results(total=0, page=1)
    return room_search.search(archive.index, query, page=page, per_page=per_page, filters=filters)


def facets(archive: Archive) -> Facets:
    """The values researchers can filter by (none before the first release)."""
    if not archive.index.exists():
        return Facets([], [], [], [])
    return room_search.facets(archive.index)


def released_any(archive: Archive) -> bool:
    """Whether the reading room holds anything yet."""
    return gate.released_any(archive.session)


def released(archive: Archive, story_id: str) -> ReleasedStory:
    """A released story's copy; the same NotFound for sealed, withdrawn and unknown ids."""
    found = archive.session.get(ReleasedStory, story_id) if len(story_id) <= MAX_ID else None
    if found is None:
        raise NotFound("no such story in the reading room")
    return found


def recent(archive: Archive, limit: int = 10) -> list[ReleasedStory]:
    """The newest releases."""
    query = select(ReleasedStory).order_by(ReleasedStory.released_at.desc(), ReleasedStory.id).limit(limit)
    return list(archive.session.scalars(query))
