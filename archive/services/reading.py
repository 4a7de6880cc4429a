"""The reading room: search (with this node's index brought in step first), one released
story, the newest releases and the filter vocabularies. Released, redacted copies only.

Search parameters arrive as text from every door (the page's form, the API's URL); they are
checked here, once, so each door accepts and refuses the same values with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.errors import InvalidInput, NotFound
from archive.messages import N_
from archive.reading_room import copies
from archive.reading_room import search as room_search
from archive.reading_room.copies import Titled
from archive.reading_room.index import IndexMissing
from archive.reading_room.models import ReleasedStory
from archive.reading_room.search import Facets, Filters, Snippet
from archive.release import gate
from archive.services.context import Archive
from archive.storage import locks
from archive.vault import stories
from archive.vault.models import LEVELS

__all__ = ["Facets", "Filters", "Found", "IndexMissing", "Listing", "ReleasedStory", "Snippet", "Titled",
           "facets", "filters", "paging", "recent", "released", "released_any", "search", "titles"]
MAX_TAG, MAX_LANGUAGE = 60, 35
MAX_PAGE = 1000  # deeper than anyone reads; bounds the top-N a search collects (page x per page)
MAX_PER_PAGE = 100
PER_PAGE = 10


def filters(*, tag: str | None = None, language: str | None = None, year: str | None = None,
            level: str | None = None) -> Filters:
    """Filters as a person gave them (a form's or a URL's text), checked: InvalidInput naming the
    field if not. Empty means any; a tag or language longer than any is cut (it matches nothing)."""
    year_text = (year or "").strip()
    # isascii: str.isdigit() also accepts '²' and other digits int() refuses or reads otherwise.
    if year_text and not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
        raise InvalidInput(N_("the interview year must be four digits, like 2019"), field="year")
    level_text = (level or "").strip() or None
    if level_text and level_text not in LEVELS:
        raise InvalidInput(N_("choose a redaction level from the list"), field="level")
    return Filters(tag=(tag or "").strip()[:MAX_TAG] or None, language=(language or "").strip()[:MAX_LANGUAGE] or None,
                   year=int(year_text) if year_text else None, level=level_text)


def paging(page: str | None, per_page: str | None) -> tuple[int, int]:
    """A page number (1 to MAX_PAGE, default 1) and page size (1 to MAX_PER_PAGE, default
    PER_PAGE) as given in a URL; InvalidInput naming the field if not."""
    return (_whole(page, "page", 1, MAX_PAGE, 1), _whole(per_page, "per_page", 1, MAX_PER_PAGE, PER_PAGE))


def _whole(text: str | None, name: str, low: int, high: int, default: int) -> int:
    value = (text or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 6 and low <= int(value) <= high):
        raise InvalidInput(N_("%(name)s must be a whole number from %(low)s to %(high)s", name=name, low=low,
                              high=high),
                           field=name)
    return int(value)


@dataclass(frozen=True)
class Found:
    """One search hit: the released copy (its listing columns loaded; the texts load if read), and
    a snippet as plain text with match offsets, which each door renders its own way."""

    story: ReleasedStory
    snippet: Snippet


@dataclass(frozen=True)
class Listing:
    """One page of search hits with their released copies."""

    total: int
    page: int
    per_page: int
    found: list[Found] = field(default_factory=list)
    ranked_of: int | None = None  # only the newest this many matches were ranked (see search backends)


def search(archive: Archive, query: str, *, page: int = 1, per_page: int = PER_PAGE,
           filters: Filters | None = None, past_the_end: str = "last") -> Listing:
    """One page of released stories matching the query (InvalidQuery / QueryTooBroad if not),
    each with its released copy (one query for the page) and a snippet: the one search of every
    door. With no query, every story the filters allow, if any filter is given. A page past the
    last is the last page (`past_the_end="last"`, a person's way), or that page, empty
    (`"empty"`: a script paging on until no hits come back stops). A hit whose copy left the
    table since this node's index last synced is left out: the table is the truth."""
    if not (1 <= per_page <= MAX_PER_PAGE) or page < 1 or (past_the_end == "empty" and page > MAX_PAGE):
        raise InvalidInput(N_("page must be 1 to %(pages)s and per_page 1 to %(size)s", pages=MAX_PAGE,
                              size=MAX_PER_PAGE))
    alone = not query.strip() and filters is not None and filters != Filters()
    if not _in_step(archive):
        if not alone:
            room_search.parse(query)  # a bad query is refused the same way before the first release
        return Listing(total=0, page=page if past_the_end == "empty" else 1, per_page=per_page)
    results = archive.search.search(archive.session, query, page=min(page, MAX_PAGE), per_page=per_page,
                                    filters=filters, clamp_page=past_the_end != "empty", filters_alone=alone)
    rows = copies.listed(archive.session, [hit.id for hit in results.hits])
    found = [Found(rows[hit.id], hit.snippet) for hit in results.hits if hit.id in rows]
    return Listing(total=results.total, page=results.page, per_page=per_page, found=found,
                   ranked_of=results.ranked_of)


def _in_step(archive: Archive) -> bool:
    """Sync this node's index if the reading room changed; whether there is an index to search.
    Once per request or command: a page that searches and lists the filters looks once.

    An archive that has released nothing yet has no index and nothing to find: that is an
    empty reading room, not a fault. A missing index beside released stories is one.
    """
    if archive.index_in_step is None:
        config = archive.config
        archive.index_in_step = archive.search.ready(archive.session, config, locks.node(config.home))
    if archive.index_in_step:
        return True
    if gate.released_any(archive.session):
        raise IndexMissing("the search index is missing: run 'escrow index rebuild'")
    return False


def facets(archive: Archive) -> Facets:
    """The values researchers can filter by, from this node's index brought in step first (a
    story taken down on another machine takes its tags with it); none before the first
    release, or while the index is missing (the search says so)."""
    try:
        in_step = _in_step(archive)
    except IndexMissing:
        in_step = False
    return archive.search.facets(archive.session) if in_step else Facets([], [], [], [])


def released_any(archive: Archive) -> bool:
    """Whether the reading room holds anything yet."""
    return gate.released_any(archive.session)


def released(archive: Archive, story_id: str) -> ReleasedStory:
    """A released story's copy; the same NotFound for sealed, withdrawn and unknown ids."""
    found = copies.copy(archive.session, story_id) if stories.can_be_id(story_id) else None
    if found is None:
        raise NotFound("no such story in the reading room")
    return found


def recent(archive: Archive, limit: int = 10) -> list[ReleasedStory]:
    """The newest releases."""
    return copies.recent(archive.session, limit)


def titles(archive: Archive, story_ids: list[str]) -> dict[str, Titled]:
    """The released title (with its language) of each of these stories in the reading room."""
    return copies.titles(archive.session, story_ids)
