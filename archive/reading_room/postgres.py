"""The reading room searched in PostgreSQL, shared by every web node.

Each released copy carries its search vector in its own row (`released_stories.search_vector`,
written in SQL here, never by the ORM: the column exists on PostgreSQL only), computed in
Python by the Whoosh index's own analyzers (vectors.py), so both backends find the same
stories and cut the same snippets; the places of its words (positions and characters) are kept
beside it (`search_places`), so a hit's snippet is cut without analysing its text again. A release writes it in the release's transaction; a
takedown's `DELETE` of the row removes it in the takedown's, so every node stops finding the
story at the commit: there is no per-node copy to bring in step.

The table is hash-partitioned (PARTITIONS, migration 0015): a deleted row's text stays in its
partition's files (heap, TOAST, index) until `VACUUM FULL` rewrites them, and rewriting one
partition of about 2,000 stories takes a second or two where the whole table at 50,000 took
over a minute. A takedown records its partition in `search_purges` in its own transaction;
after the commit the partition is rewritten, waiting at most SHRED_WAIT_SECONDS for open
transactions (IncompleteShred says so otherwise), and `escrow index verify` reports a purge
still pending, which `escrow index sync` finishes.

Ranking: with the RUM extension the index returns matches best first (`<=>`); with GIN only,
the newest GIN_RANKED matches are ranked by `ts_rank` (ranking every match of a common word
reads every matching row), and the page says the ranking is of the newest matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from archive.errors import IncompleteShred
from archive.reading_room import search as room_search
from archive.reading_room import vectors
from archive.reading_room.index import document
from archive.reading_room.models import PendingPurge, ReleasedStory
from archive.reading_room.room import SyncReport, fingerprint
from archive.reading_room.search import TIME_LIMIT, TOO_SLOW, Analysed, Facets, Filters, Hit, QueryTooBroad, Results
from archive.storage import dialect

PARTITIONS = 32  # hash partitions of released_stories: about 1,600 stories each at 50,000
GIN_RANKED = 1_000  # without RUM, the newest matches ranked
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement_timeout that ran out
_BATCH = 500


def has_rum(session: Session) -> bool:
    """Whether the search vector's index is a RUM index (ranked in the index)."""
    return bool(session.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE tablename = 'released_stories' "
        "AND indexname = 'ix_released_stories_search_vector' AND indexdef ILIKE '% USING rum %')")))


@dataclass
class PostgresSearch:
    """The search backend of an archive on PostgreSQL: nothing per node."""

    name: str = "postgres"
    _facets: tuple[Any, Facets] | None = None
    _rum: bool | None = None

    # -- writing, in the operation's own transaction -----------------------------------

    def added(self, unit: Any, docs: list[dict[str, Any]]) -> None:
        """The vectors of copies just written in the unit's transaction."""
        if docs:
            unit.session.flush()
            write_vectors(unit.session, docs)

    def replaced(self, unit: Any, docs: list[dict[str, Any]]) -> None:
        """Copies rewritten in place (redact-again): their new vectors, their old text purged."""
        self.added(unit, docs)
        self.removed(unit, [doc["id"] for doc in docs])

    def removed(self, unit: Any, story_ids: list[str]) -> None:
        """Copies about to be deleted in the unit's transaction: their partitions to purge once
        it has committed (recorded in it, so a crash leaves the purge pending, not forgotten)."""
        session = unit.session
        for story_id in story_ids:
            partition = session.scalar(text("SELECT tableoid::regclass::text FROM released_stories WHERE id = :id"),
                                       {"id": story_id})
            if partition is not None:
                session.execute(dialect.insert_new(session, PendingPurge).values(
                    partition=partition, story_id=story_id, since=unit.now()))

    def purge_after(self, unit: Any) -> None:
        """Rewrite the partitions holding deleted copies once the unit has committed."""
        engine = unit.session.get_bind()
        unit.after_commit(lambda: purge(engine))

    # -- keeping it right -----------------------------------------------------------------

    def ready(self, session: Session, config: Any, guard: Any) -> bool:
        """Always searchable: every node reads the same rows."""
        return True

    def exists(self) -> bool:
        return True

    def sync(self, unit: Any) -> SyncReport:
        """Nothing to bring in step (every node reads the one table): the vectors a copy lacks
        (none, unless the archive searched with Whoosh before) are written, and pending purges
        done once that is committed."""
        added = fill(unit.session)
        self.purge_after(unit)
        return SyncReport(added=added, removed=0, shared=True)

    def rebuild(self, unit: Any) -> int:
        """Every vector computed again from the released text (in the unit's transaction)."""
        session = unit.session
        ids = list(session.scalars(text("SELECT id FROM released_stories ORDER BY id")))
        for start in range(0, len(ids), _BATCH):
            write_vectors(session, [document(row) for row in session.scalars(select_rows(ids[start:start + _BATCH]))])
        self.purge_after(unit)
        return len(ids)

    def differences(self, session: Session) -> list[str]:
        """Every way the vectors differ from the released text, and purges still pending."""
        problems = []
        ids = list(session.scalars(text("SELECT id FROM released_stories ORDER BY id")))
        for start in range(0, len(ids), _BATCH):
            rows = list(session.scalars(select_rows(ids[start:start + _BATCH])))
            for row in rows:
                if row.content_hash != row.compute_hash():
                    problems.append(f"reading-room row {row.id} does not match its content hash")
            wanted = [_written(document(row)) for row in rows]
            differing = session.scalars(text(
                "SELECT r.id FROM released_stories r JOIN unnest(CAST(:ids AS text[]), CAST(:vs AS text[]), "
                "CAST(:ps AS text[])) AS u(id, v, p) ON r.id = u.id WHERE r.search_vector IS DISTINCT FROM "
                "CAST(u.v AS tsvector) OR r.search_places IS DISTINCT FROM u.p ORDER BY r.id"),
                {"ids": [w["id"] for w in wanted], "vs": [w["v"] for w in wanted], "ps": [w["p"] for w in wanted]})
            problems += [f"search vector of {i} differs from the released copy" for i in differing]
        pending = list(session.execute(text("SELECT partition, count(*) FROM search_purges GROUP BY partition "
                                            "ORDER BY partition")))
        problems += [f"search partition {partition} still holds the text of {count} deleted cop(ies) until "
                     "purged: run 'escrow index sync'" for partition, count in pending]
        return problems

    def pending(self, session: Session) -> int:
        """How many deleted copies' text still waits for its partition's rewrite."""
        return int(session.scalar(text("SELECT count(*) FROM search_purges")) or 0)

    def close(self) -> None:
        self._facets = None

    # -- reading ------------------------------------------------------------------------

    def search(self, session: Session, query_text: str, *, page: int = 1, per_page: int = 10,
               filters: Filters | None = None, clamp_page: bool = True, filters_alone: bool = False) -> Results:
        """As search.search, on PostgreSQL: the same hits and snippets."""
        wanted = filters or Filters()
        alone = filters_alone and not query_text.strip() and wanted != Filters()
        query = None if alone else room_search.parse(query_text)
        compiled = vectors.EVERYTHING if query is None else vectors.compile_query(query, lambda: _years(session))
        extra = _filter_lexemes(wanted)
        if compiled is None:
            return Results(total=0, page=max(1, page) if not clamp_page else 1)
        tsquery = _joined([c for c in [compiled, extra] if c and c != vectors.EVERYTHING])
        where, params = ["TRUE"], {"limit": max(1, page) * per_page}
        if tsquery:
            where.append("search_vector @@ CAST(:q AS tsquery)")
            params["q"] = tsquery
        if wanted.language:
            where.append("language = :language")
            params["language"] = wanted.language.strip()
        if wanted.level:
            where.append("redaction_level = :level")
            params["level"] = wanted.level
        total, ranked = self._ranked(session, " AND ".join(where), params, ranked=bool(tsquery) and not alone)
        page = max(1, page)
        shown = min(max(1, -(-total // per_page)), page)
        if not clamp_page and shown != page:
            return Results(total=total, page=page)
        ids = ranked[(shown - 1) * per_page:shown * per_page]
        rows = {row.id: row for row in session.scalars(select_rows(ids))}
        stored = {i: {"id": i, "title": r.title, "body": r.transcript or "", "summary": r.summary,
                      "language": r.language, "tags": ",".join(r.tag_list), "year": r.interview_year}
                  for i, r in rows.items()}
        places = _Kept(stored, {story_id: json.loads(kept) for story_id, kept in session.execute(text(
            "SELECT id, search_places FROM released_stories WHERE id = ANY(:ids) AND search_places IS NOT NULL"),
            {"ids": ids})})
        asked = room_search.asked_of(query) if query is not None else {}
        hits = []
        for story_id in ids:
            if story_id not in stored:
                continue
            matched = room_search.Matched(places, story_id, stored[story_id], places.expand).terms(query)
            hits.append(Hit(story_id, stored[story_id]["title"],
                            room_search.snippet(places, story_id, stored[story_id], matched, asked),
                            language=stored[story_id]["language"]))
        ranked_of = GIN_RANKED if tsquery and not alone and not self._rum and total > GIN_RANKED else None
        return Results(total=total, page=shown, hits=hits, ranked_of=ranked_of)

    def _ranked(self, session: Session, where: str, params: dict[str, Any], *, ranked: bool) -> tuple[int, list[str]]:
        if self._rum is None:
            self._rum = has_rum(session)
        if not ranked:
            order = f"SELECT id FROM released_stories WHERE {where} ORDER BY released_at DESC, id LIMIT :limit"
        elif self._rum:  # (no tie-breaker: with one, the planner sorts every match instead of reading RUM's order)
            order = (f"SELECT id FROM released_stories WHERE {where} "
                     "ORDER BY search_vector <=> CAST(:q AS tsquery) LIMIT :limit")
        else:
            order = (f"WITH newest AS MATERIALIZED (SELECT id, search_vector FROM released_stories WHERE {where} "
                     f"ORDER BY released_at DESC, id LIMIT {GIN_RANKED}) SELECT id FROM newest "
                     "ORDER BY ts_rank(search_vector, CAST(:q AS tsquery)) DESC, id LIMIT :limit")
        count = f"WITH found AS MATERIALIZED (SELECT id FROM released_stories WHERE {where}) SELECT count(*) FROM found"
        # The search's own time limit, for its statements only; the operator's setting after them.
        # And no sequential scan: the vectors are stored apart from the rows (TOAST), so the
        # planner, seeing small partitions, would read and unpack every vector of the table.
        previous = session.execute(text("SELECT current_setting('statement_timeout'), "
                                        "current_setting('enable_seqscan')")).one()
        session.execute(text("SELECT set_config('statement_timeout', :ms, true), "
                             "set_config('enable_seqscan', 'off', true)"), {"ms": str(int(TIME_LIMIT * 1000))})
        try:
            total = int(session.scalar(text(count), params) or 0)
            ids = list(session.scalars(text(order), params))
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != QUERY_CANCELED:
                raise
            session.rollback()
            raise QueryTooBroad(TOO_SLOW) from None
        session.execute(text("SELECT set_config('statement_timeout', :timeout, true), "
                             "set_config('enable_seqscan', :seqscan, true)"),
                        {"timeout": previous[0], "seqscan": previous[1]})
        return total, ids

    def facets(self, session: Session) -> Facets:
        """Every tag, language, interview year and level in the reading room, computed once per
        change of the room (the same fingerprint the Whoosh nodes compare)."""
        seen = fingerprint(session)
        if self._facets is not None and self._facets[0] == seen:
            return self._facets[1]
        tags: set[str] = set()
        languages, years, levels = set(), set(), set()
        for tag_list, language, date, level in session.execute(text(
                "SELECT tags, language, interview_date, redaction_level FROM released_stories")):
            tags.update(t.strip().lower() for t in json.loads(tag_list) if t.strip())
            languages.add(language)
            levels.add(level)
            if date[:4].isdigit():
                years.add(int(date[:4]))
        found = Facets(sorted(tags), sorted(languages), sorted(years), sorted(levels))
        self._facets = (seen, found)
        return found


def select_rows(ids: list[str]) -> Any:
    """The released copies of these stories."""
    return select(ReleasedStory).where(ReleasedStory.id.in_(ids))


def fill(session: Session) -> int:
    """Write the vector of every released copy that has none; how many (in the session's
    transaction, which the caller commits)."""
    missing = list(session.scalars(text("SELECT id FROM released_stories WHERE search_vector IS NULL "
                                        "OR search_places IS NULL")))
    for start in range(0, len(missing), _BATCH):
        write_vectors(session, [document(row) for row in session.scalars(select_rows(missing[start:start + _BATCH]))])
    return len(missing)


def write_vectors(session: Session, docs: list[dict[str, Any]]) -> None:
    """Set the search vectors of these copies, and the places of their words (rows in the
    session's transaction)."""
    session.execute(text("UPDATE released_stories SET search_vector = CAST(:v AS tsvector), search_places = :p "
                         "WHERE id = :id"), [_written(doc) for doc in docs])


def _written(doc: dict[str, Any]) -> dict[str, Any]:
    fields = vectors.analysed(doc)
    return {"id": doc["id"], "v": vectors.vector(doc, fields), "p": vectors.places(fields)}


class _Kept(Analysed):
    """Where a page's hits' words stand, read from the places kept with each copy at its
    release (search_places), not by analysing its text again; a copy without them (written
    before they were kept) is analysed as Analysed does."""

    def __init__(self, stored: dict[str, dict[str, Any]], kept: dict[str, dict[str, dict[str, list[int]]]]) -> None:
        super().__init__(stored)
        self.kept = kept

    def in_field(self, story_id: str, field: str) -> dict[bytes, dict[int, tuple[int, int]]]:
        kept = self.kept.get(story_id)
        if kept is None:
            return super().in_field(story_id, field)
        key = (story_id, field)
        if key not in self.words:
            self.words[key] = {word.encode("utf-8"): {flat[n]: (flat[n + 1], flat[n + 2])
                                                      for n in range(0, len(flat), 3)}
                               for word, flat in kept.get(field, {}).items()}
        return self.words[key]


def purge(engine: Any) -> int:
    """Rewrite each partition holding deleted copies (VACUUM FULL, waiting at most
    SHRED_WAIT_SECONDS for open transactions); the copies purged. Only the purges recorded
    before the rewrite began are marked done: a takedown committed meanwhile stays pending.
    On connections of its own, outside any transaction (the caller's has ended: it would hold
    the partition open)."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        waiting = list(conn.execute(text("SELECT partition, story_id FROM search_purges ORDER BY partition")))
        done = 0
        first: IncompleteShred | None = None
        for partition in sorted({p for p, _ in waiting}):
            try:
                dialect.vacuum_full(conn, [partition])
            except IncompleteShred as error:
                first = first or error
                continue
            finished = [s for p, s in waiting if p == partition]
            conn.execute(text("DELETE FROM search_purges WHERE partition = :p AND story_id = ANY(:ids)"),
                         {"p": partition, "ids": finished})
            done += len(finished)
    if first is not None:
        raise first
    return done


def _years(session: Session) -> list[int]:
    return [int(y) for y in session.scalars(text(
        "SELECT DISTINCT substr(interview_date, 1, 4) FROM released_stories")) if y and y.isdigit()]


def _filter_lexemes(filters: Filters) -> str | None:
    parts = []
    if filters.tag:
        parts.append(vectors.quoted("g:" + filters.tag.strip().lower()))
    if filters.year is not None:
        parts.append(vectors.quoted(f"y:{filters.year}"))
    return _joined(parts)


def _joined(parts: list[str]) -> str | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"
