"""The reading room's search, behind one interface with two backends (ESCROW_SEARCH):

- `whoosh`, the embedded default: each node's Whoosh index in its instance folder, a cache of
  the reading-room table brought in step before a search (room.py);
- `postgres`, for an archive on PostgreSQL: a search vector kept with each released copy,
  shared by every node (postgres.py).

`auto` (the default) is PostgreSQL's when the database is PostgreSQL. Both analyse words with
the same rules (languages.py), read queries with the same parser (search.py) and cut snippets
the same way, so a query finds the same stories, with the same marks, on either.

An operation tells the backend what it does in its unit of work: `added` (copies released),
`replaced` (copies rewritten), `removed` (copies about to be deleted), `purge_after` (their
text out of the backend's files once the unit has committed). Whoosh writes its index after
the commit (a removal at once, before it, so no search finds the story from there on);
PostgreSQL writes in the transaction itself.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from archive.config import Config
from archive.errors import EscrowError
from archive.reading_room import room
from archive.reading_room import search as room_search
from archive.reading_room.index import Index
from archive.reading_room.postgres import PostgresSearch
from archive.reading_room.room import SyncReport
from archive.reading_room.search import Facets, Filters, Results

CHOICES = ("auto", "whoosh", "postgres")


class Search(Protocol):
    """What every door's search and every release and takedown ask of the backend."""

    name: str

    def added(self, unit: Any, docs: list[dict[str, Any]]) -> None: ...
    def replaced(self, unit: Any, docs: list[dict[str, Any]]) -> None: ...
    def removed(self, unit: Any, story_ids: list[str]) -> None: ...
    def purge_after(self, unit: Any) -> None: ...
    def ready(self, session: Session, config: Config, guard: Any) -> bool: ...
    def exists(self) -> bool: ...
    def sync(self, unit: Any) -> SyncReport: ...
    def rebuild(self, unit: Any) -> int: ...
    def differences(self, session: Session) -> list[str]: ...
    def search(self, session: Session, query_text: str, *, page: int = 1, per_page: int = 10,
               filters: Filters | None = None, clamp_page: bool = True, filters_alone: bool = False) -> Results: ...
    def facets(self, session: Session) -> Facets: ...
    def close(self) -> None: ...


class WhooshSearch:
    """The embedded backend: this node's Whoosh index, a cache of the table."""

    name = "whoosh"

    def __init__(self, index: Index) -> None:
        self.index = index

    def added(self, unit: Any, docs: list[dict[str, Any]]) -> None:
        if docs:
            unit.after_commit(lambda: self.index.write(add=docs, delete=()))

    def replaced(self, unit: Any, docs: list[dict[str, Any]]) -> None:
        def write() -> None:
            self.index.ensure()
            self.index.write(add=docs, delete=[doc["id"] for doc in docs])

        if docs:
            unit.after_commit(write)

    def removed(self, unit: Any, story_ids: list[str]) -> None:
        self.index.ensure()
        self.index.write(add=(), delete=story_ids)

    def purge_after(self, unit: Any) -> None:
        unit.after_commit(self.index.purge_apart)

    def ready(self, session: Session, config: Config, guard: Any) -> bool:
        room.sync_if_stale(session, self.index, config.index_sync_seconds, guard)
        return self.index.exists()

    def exists(self) -> bool:
        return self.index.exists()

    def sync(self, unit: Any) -> SyncReport:
        return room.sync(unit.session, self.index)

    def rebuild(self, unit: Any) -> int:
        return room.rebuild(unit.session, self.index)

    def differences(self, session: Session) -> list[str]:
        return room.differences(session, self.index)

    def search(self, session: Session, query_text: str, **options: Any) -> Results:
        return room_search.search(self.index, query_text, **options)

    def facets(self, session: Session) -> Facets:
        return room_search.facets(self.index)

    def close(self) -> None:
        self.index.close()


def choose(config: Config, index: Index) -> Search:
    """The backend the configuration names (`auto`: PostgreSQL's on PostgreSQL)."""
    postgres = make_url(config.database_url).get_backend_name() == "postgresql"
    wanted = config.search if config.search != "auto" else ("postgres" if postgres else "whoosh")
    if wanted == "postgres":
        if not postgres:
            raise EscrowError("ESCROW_SEARCH=postgres needs the archive's database on PostgreSQL (DATABASE_URL)")
        return PostgresSearch()
    return WhooshSearch(index)
