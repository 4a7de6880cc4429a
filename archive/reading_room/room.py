"""Keeping the index equal to the reading-room table: sync, rebuild, verify."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.reading_room.index import Index, document
from archive.reading_room.models import ReleasedStory

_INDEXED = ("id", "title", "body", "summary", "tags", "language", "level", "year")


def indexed_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the text an index document holds, recomputable from the row or the document."""
    return hashlib.sha256(json.dumps([fields.get(k) for k in _INDEXED], ensure_ascii=False)
                          .encode()).hexdigest()


@dataclass(frozen=True)
class SyncReport:
    """What a sync changed in the index."""

    added: int
    removed: int


def _rows(session: Session, ids: Iterable[str]) -> list[ReleasedStory]:
    wanted = list(ids)
    rows: list[ReleasedStory] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows += session.scalars(select(ReleasedStory).where(ReleasedStory.id.in_(chunk)))
    return rows


def sync(session: Session, index: Index) -> SyncReport:
    """Bring the index up to the table: add what is missing or stale, purge what is gone."""
    index.ensure()
    table = dict(session.execute(select(ReleasedStory.id, ReleasedStory.content_hash)).all())
    docs = index.documents()
    stale = [i for i, h in table.items() if docs.get(i) != h]
    extra = [i for i in docs if i not in table]
    if stale or extra:
        index.write(add=[document(r) for r in _rows(session, stale)], delete=extra + [i for i in stale if i in docs],
                    purge=bool(extra))
    return SyncReport(added=len(stale), removed=len(extra))


def rebuild(session: Session, index: Index) -> int:
    """Recreate the index from the table; return how many documents it holds."""
    rows = session.scalars(select(ReleasedStory).execution_options(yield_per=500))
    return index.recreate(document(row) for row in rows)


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
    return problems
