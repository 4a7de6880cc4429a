"""Keeping the index equal to the reading-room table: sync, rebuild, verify, and the cheap
check a node makes before a search so that several machines each keep their own index in step.

The table is the source of truth and every machine's index a cache of it. A node remembers,
in a small file in its index folder (`synced.json`: a row count, two instants, a time; never
text), what the table looked like when it last synced; `sync_if_stale` compares that with
the table's row count, its latest release instant and the latest change of a room record
(a release, or the takedown or withdrawal that removed a story), one aggregate query, and
syncs only when they differ. Counting rows alone misses a release and a takedown in the same
interval, and the latest release alone misses a release taken down again before this node
looked (the latest release is then the one it remembers): the departure's instant, later
than any before it (clocks kept by NTP), moves in both cases.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.reading_room.index import Index, document
from archive.reading_room.models import ReleasedStory, RoomRecord

_INDEXED = ("id", "title", "body", "summary", "tags", "language", "level", "year")
STATE_FILE = "synced.json"
Fingerprint = list[Any]  # [row count, latest released_at, latest room record change (ISO 8601 or None)]


def indexed_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the text an index document holds, recomputable from the row or the document."""
    return hashlib.sha256(json.dumps([fields.get(k) for k in _INDEXED], ensure_ascii=False)
                          .encode()).hexdigest()


@dataclass(frozen=True)
class SyncReport:
    """What a sync changed in the index."""

    added: int
    removed: int
    shared: bool = False  # the search is the database's own (PostgreSQL): there was nothing to bring in step


def _rows(session: Session, ids: Iterable[str]) -> list[ReleasedStory]:
    wanted = list(ids)
    rows: list[ReleasedStory] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows += session.scalars(select(ReleasedStory).where(ReleasedStory.id.in_(chunk)))
    return rows


def sync(session: Session, index: Index) -> SyncReport:
    """Bring the index up to the table: add what is missing or stale, delete what is gone,
    and rewrite the segments that still hold deleted text."""
    if index.outdated():  # built by an older version: the schema changed
        count = rebuild(session, index)
        return SyncReport(added=count, removed=0)
    seen = fingerprint(session)  # before the table is read: a change after it is caught next time
    index.ensure()
    table = dict(session.execute(select(ReleasedStory.id, ReleasedStory.content_hash)).all())
    docs = index.documents()
    stale = [i for i, h in table.items() if docs.get(i) != h]
    extra = [i for i in docs if i not in table]
    if stale or extra:
        # Every added id is deleted first, even one this reader did not see: a document
        # written meanwhile by another process on this node is then replaced, not doubled.
        index.write(add=[document(r) for r in _rows(session, stale)], delete=extra + stale)
    index.purge_apart()  # also finishes a purge that a crash interrupted
    _remember(index, seen)
    return SyncReport(added=len(stale), removed=len(extra))


def rebuild(session: Session, index: Index) -> int:
    """Recreate the index from the table; return how many documents it holds."""
    seen = fingerprint(session)
    rows = session.scalars(select(ReleasedStory).execution_options(yield_per=500))
    count = index.recreate(document(row) for row in rows)
    _remember(index, seen)
    return count


def sync_if_stale(session: Session, index: Index, interval: float,
                  guard: AbstractContextManager[bool]) -> SyncReport | None:
    """Before a search: sync this node's index if the reading-room table changed since it last did.

    Costs nothing if the node looked less than `interval` seconds ago (Config's
    index_sync_seconds, ESCROW_INDEX_SYNC_SECONDS), and one cheap query if nothing changed
    since; only a change costs a sync. `guard` is the node lock tried without waiting,
    `locks.node(config.home)`: while a publisher or a takedown on this machine holds it,
    the check is left to the next search, so a sync never re-adds a story that a takedown
    has just taken out of the index but not yet out of the table. A missing index is left
    missing (IndexMissing says to rebuild it); a new node runs `escrow index sync` once.
    Returns what the sync changed, or None when it did not run.

    In a view: `room.sync_if_stale(session, reading_room.index(), config.index_sync_seconds,
    locks.node(config.home))`, then search.
    """
    if not index.exists():
        return None
    state = None if index.outdated() else _state(index)
    now = time.time()
    if state is not None and 0 <= now - state[0] < interval:
        return None
    with guard as held:
        if not held:
            return None
        seen = fingerprint(session)
        if state is not None and state[1] == seen:
            if interval > 0:
                _remember(index, seen, now)
            return None
        # A takedown elsewhere is purged from this node's files here too, before the search
        # (one segment's rewrite, once): consent withdrawn leaves no node holding the text.
        return sync(session, index)


def fingerprint(session: Session) -> Fingerprint:
    """What the reading-room table looks like now, cheaply: its row count, latest release and
    latest departure (see the module's note)."""
    # Two subqueries in one statement, so each gets its fast path: SQLite counts the rows of
    # its smallest index and PostgreSQL of a visible-only scan; the latest instant is one
    # index lookup. Together in one aggregate they would read every (8 KB) row.
    count = select(func.count()).select_from(ReleasedStory).scalar_subquery()
    latest = select(func.max(ReleasedStory.released_at)).scalar_subquery()
    changed = select(func.max(RoomRecord.datestamp)).scalar_subquery()
    rows, last, moved = session.execute(select(count, latest, changed)).one()
    return [rows, *(None if at is None else at.isoformat() for at in (last, moved))]


def _state(index: Index) -> tuple[float, Fingerprint] | None:
    try:
        data = json.loads((index.path / STATE_FILE).read_text(encoding="ascii"))
        return float(data["checked"]), list(data["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # never synced here, or a damaged note: sync


def _remember(index: Index, seen: Fingerprint, checked: float | None = None) -> None:
    path = index.path / STATE_FILE
    partial = path.with_name(f".{STATE_FILE}.{os.getpid()}")
    partial.write_text(json.dumps({"checked": time.time() if checked is None else checked,
                                   "fingerprint": seen}), encoding="ascii")
    os.replace(partial, path)


def differences(session: Session, index: Index) -> list[str]:
    """Every way the index differs from the table (empty when they agree), one line each."""
    problems = []
    rows = {r.id: r for r in session.scalars(select(ReleasedStory))}
    for row in rows.values():
        if row.content_hash != row.compute_hash():
            problems.append(f"reading-room row {row.id} does not match its content hash")
    with index.searcher() as searcher:
        seen = set()
        for fields in searcher.all_stored_fields():
            story_id = fields["id"]
            seen.add(story_id)
            if story_id not in rows:
                problems.append(f"index holds {story_id}, which is not in the reading room")
            elif indexed_hash(fields) != indexed_hash(document(rows[story_id])):
                problems.append(f"index text of {story_id} differs from the released copy")
    problems += [f"index lacks released story {i}" for i in sorted(set(rows) - seen)]
    waiting = index.pending()
    if waiting:
        problems.append(f"index files still hold the text of {waiting} deleted document(s) until purged: "
                        "run 'escrow index sync'")
    return problems
