"""The Whoosh index of released copies: one reused searcher, bounded segments, a purge that
costs only the segments it cleans.

Segments hold at most about SEGMENT_DOCS documents: additions are committed in batches of
that size, and small segments are merged only while the result stays under it. Deleting a
document is a commit of its own that merges nothing, so a takedown leaves search at once,
whatever the size of the index; its text then stays in its segment's files until `purge`
rewrites just the segments that have deletions (a bounded cost), which `pending` reports
until it is done (`escrow index verify`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.index import LockError
from whoosh.searching import Searcher

from archive.errors import Conflict, EscrowError
from archive.messages import N_
from archive.reading_room import languages
from archive.reading_room.segments import rewrite

if TYPE_CHECKING:  # the model, not the database layer: the purge's child process imports this module
    from archive.reading_room.models import ReleasedStory

WRITER_TIMEOUT = 30.0
INDEX_NAME = "released"
_TOC = re.compile(rf"_{INDEX_NAME}_\d+\.toc")  # whoosh's table of contents, one per generation
SEGMENT_DOCS = 2_000  # bounds a purge (~13 s for 2,000 stories of 9 KB) while keeping search fast
_SMALL = SEGMENT_DOCS // 8  # segments below this are merged together, four or more at a time


_PURGE_REFUSED = 3  # the purge child's exit status for an EscrowError, whose message is its last line
_PURGE_CHILD = f"""
import sys
from pathlib import Path
from archive.errors import EscrowError
from archive.reading_room.index import Index
try:
    print(Index(Path(sys.argv[1])).purge())
except EscrowError as error:
    print(error, file=sys.stderr)
    sys.exit({_PURGE_REFUSED})
"""


class IndexMissing(EscrowError):
    """The index folder is gone or was never built."""


TEXT_FIELDS = ("title", "body", "summary")
SPANISH = "_es"  # the suffix of the fields a Spanish story's words are indexed in


def spanish(field: str) -> str:
    """The field that holds a Spanish story's words of this text field (title -> title_es)."""
    return field + SPANISH


def stored_as(field: str) -> str:
    """The field whose stored text an indexed text field's character offsets point into."""
    return field.removesuffix(SPANISH)


def schema() -> Schema:
    """Fields of an index document; only released, redacted text goes in.

    Each text field is stored once, under its own name, and indexed with its story's
    language's rules (languages.py): English (and every language but Spanish) in the field
    itself, Spanish in its twin (`body_es`), which stores nothing (its offsets point into
    `body`'s stored text). A query reads its words with both rules, one for each field.
    """
    english, spanish_words = languages.english(), languages.spanish()
    # chars=True: each posting keeps its character offsets, so a snippet is cut around the
    # matches without analysing the stored text again on every search.
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(stored=True, analyzer=english, field_boost=2.0, chars=True),
        body=TEXT(stored=True, analyzer=english, chars=True),
        summary=TEXT(stored=True, analyzer=english, chars=True),
        title_es=TEXT(analyzer=spanish_words, field_boost=2.0, chars=True),
        body_es=TEXT(analyzer=spanish_words, chars=True),
        summary_es=TEXT(analyzer=spanish_words, chars=True),
        tags=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True),
        language=ID(stored=True),
        year=NUMERIC(stored=True),
        level=ID(stored=True),
        content_hash=ID(stored=True),
    )


def document(story: ReleasedStory) -> dict[str, Any]:
    """The index document of a released copy."""
    doc: dict[str, Any] = {
        "id": story.id, "title": story.title, "body": story.transcript or "",
        "summary": story.summary, "tags": ",".join(story.tag_list), "language": story.language,
        "level": story.redaction_level, "content_hash": story.content_hash,
    }
    if story.interview_year is not None:
        doc["year"] = story.interview_year
    return doc


def _indexed(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as whoosh takes it: a Spanish story's text stored in its field and indexed in
    the field's Spanish twin (the English field indexes nothing of it)."""
    if languages.analysis_of(doc.get("language")) != languages.SPANISH:
        return doc
    fields = dict(doc)
    for name in TEXT_FIELDS:
        text = fields.get(name)
        if text is not None:
            fields[name], fields[f"_stored_{name}"], fields[spanish(name)] = "", text, text
    return fields


class Index:
    """One process's handle on the index folder: a shared searcher and writers with a timeout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ix: whoosh_index.Index | None = None
        self._searcher: Searcher | None = None
        self._derived: dict[str, Any] = {}  # computed from the current searcher's documents

    def exists(self) -> bool:
        """Whether an index has been built in the folder: it holds a table of contents (what
        whoosh's exists_in decides, by listing the folder, without reading the table itself;
        asked several times per search)."""
        try:
            return any(_TOC.fullmatch(name) for name in os.listdir(self.path))
        except (FileNotFoundError, NotADirectoryError):
            return False

    def _open(self) -> whoosh_index.Index:
        if self._ix is None:
            if not self.exists():
                raise IndexMissing(f"the search index at {self.path} is missing: run 'escrow index rebuild'")
            self._ix = whoosh_index.open_dir(str(self.path), indexname=INDEX_NAME)
        return self._ix

    def ensure(self) -> None:
        """Create an empty index if none exists yet."""
        if not self.exists():
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            whoosh_index.create_in(str(self.path), schema(), indexname=INDEX_NAME)
            self.close()

    def recreate(self, documents: Iterable[dict[str, Any]]) -> int:
        """Replace the whole index with these documents, in one commit."""
        self.close()
        if self.path.exists():
            shutil.rmtree(self.path)
        self.ensure()
        return self.write(add=documents, delete=())

    def outdated(self) -> bool:
        """Whether the index was built with an older schema (no character offsets, or every
        story read as English): rebuild it."""
        if not self.exists():
            return False
        built = self._open().schema
        return not built["body"].supports("characters") or spanish("body") not in built

    def write(self, *, add: Iterable[dict[str, Any]], delete: Iterable[str]) -> int:
        """Delete, then add, documents: the deletions and the first batch of additions in one
        commit, further additions in commits of SEGMENT_DOCS. Returns documents added. The
        deleted documents' text stays in the files until `purge`."""
        added = 0
        batch: list[dict[str, Any]] = []
        deleting = list(delete)
        for doc in add:
            batch.append(doc)
            if len(batch) == SEGMENT_DOCS:
                added += self._commit(deleting, batch)
                deleting, batch = [], []
        if batch or deleting:
            added += self._commit(deleting, batch)
        return added

    def _commit(self, delete: list[str], add: list[dict[str, Any]]) -> int:
        writer = self._writer()
        try:
            self._delete(writer, delete)
            for doc in add:
                writer.add_document(**_indexed(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=_merge_small)
        return len(add)

    def _delete(self, writer: Any, story_ids: list[str]) -> None:
        """Mark the stories' documents deleted in the writer's commit. They are found through
        the process's shared searcher, refreshed to the commit the writer started from (the
        writer holds the lock, so none can come between): whoosh's delete_by_term opens a
        reader on every segment for it, 0.7 s at 50,000 stories and several seconds on a busy
        server, while the story stayed searchable."""
        if not story_ids:
            return
        with self.searcher() as searcher:
            if searcher.reader().generation() == writer.generation - 1:
                for story_id in story_ids:
                    for docnum in searcher.document_numbers(id=story_id):
                        writer.delete_document(docnum)
                return
        for story_id in story_ids:  # a searcher of another commit: whoosh's own lookup
            writer.delete_by_term("id", story_id)

    def purge(self) -> int:
        """Rewrite every segment that holds deleted documents, one commit each, so their text
        is gone from the files; the cost is those segments' size, not the index's. Returns
        documents purged."""
        purged = 0
        while True:
            if not self.exists():
                return purged
            holding = [s.segment_id() for s in self._open()._segments() if s.has_deletions()]
            if not holding:
                return purged
            purged += rewrite(self._writer(), holding[0])  # the TOC as committed now

    def purge_apart(self) -> int:
        """purge() in a process of its own, waited for; nothing to do costs no process. The
        caller's other threads keep running meanwhile: in a web worker, a purge in the same
        process would hold its interpreter lock for the ~13 s a segment takes, and every
        request the worker took (searches polling for the story to be gone among them)
        would wait on it. The child's outcome is the same as purge()'s: done, or an
        EscrowError (the text stays pending in the files, as `escrow index verify` says)."""
        if not self.pending():
            return 0
        done = subprocess.run([sys.executable, "-c", _PURGE_CHILD, str(self.path)], capture_output=True, text=True,
                              check=False)
        if done.returncode == 0:
            return int(done.stdout.strip() or 0)
        said = done.stderr.strip().splitlines()[-1:] if done.returncode == _PURGE_REFUSED else []
        raise EscrowError(said[0] if said else "the index purge failed: the deleted text stays in the index "
                          "files until 'escrow index sync' finishes it")

    def pending(self) -> int:
        """How many deleted documents' text is still in the index files (0 once purged)."""
        if not self.exists():
            return 0
        return sum(segment.deleted_count() for segment in self._open()._segments())

    def _writer(self) -> Any:
        try:
            return self._open().writer(timeout=WRITER_TIMEOUT, limitmb=128)
        except LockError:
            raise Conflict(N_("the search index is locked by another writer; try again shortly")) from None

    def documents(self) -> dict[str, str]:
        """Every document's id and content hash, as the index holds them now."""
        with self.searcher() as searcher:
            return {fields["id"]: fields["content_hash"] for fields in searcher.all_stored_fields()}

    def searcher(self) -> _Borrowed:
        """The process's searcher, refreshed if the index changed; use as a context manager."""
        return _Borrowed(self)

    def _current_searcher(self) -> Searcher:
        if self._searcher is not None and not self.path.is_dir():
            self.close()  # the folder was deleted under us (a cheap check on every query)
        if self._searcher is None:
            self._searcher = self._open().searcher()
            self._derived = {}
        elif not self._searcher.up_to_date():
            # A new searcher, not Searcher.refresh(): refreshing reuses segment readers, and
            # after a purge (a merge) whoosh-reloaded 2.7.5 then returns documents twice, the
            # deleted one included; from an empty index it raises TypeError.
            self._searcher.close()
            self._searcher = self._open().searcher()
            self._derived = {}
        return self._searcher

    def derived(self, name: str, compute: Callable[[Searcher], Any]) -> Any:
        """A value computed from the index's current documents (released text only), kept
        until the index changes: `compute(searcher)` runs once per version of the index."""
        with self.searcher() as searcher:
            if name not in self._derived:
                self._derived[name] = compute(searcher)
            return self._derived[name]

    def close(self) -> None:
        """Drop the searcher and handle (after a rebuild, or at shutdown)."""
        if self._searcher is not None:
            self._searcher.close()
        self._searcher, self._ix = None, None


def _merge_small(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge policy of ordinary commits: four or more small segments are merged together, as
    long as the result stays under SEGMENT_DOCS; large segments are never rewritten."""
    small = sorted((s for s in segments if s.doc_count_all() < _SMALL), key=lambda s: s.doc_count_all())
    if len(small) < 4:
        return segments
    chosen, total = [], 0
    for segment in small:
        if total + segment.doc_count_all() > SEGMENT_DOCS:
            break
        chosen.append(segment)
        total += segment.doc_count_all()
    return _merged_into(writer, segments, chosen)


def _merged_into(writer: Any, segments: list[Any], chosen: list[Any]) -> list[Any]:
    """Copy the live documents of the chosen segments into the writer's new segment."""
    from whoosh.reading import SegmentReader

    for segment in chosen:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return [s for s in segments if s not in chosen]


class _Borrowed:
    """Holds the index's lock while one caller uses the shared searcher."""

    def __init__(self, index: Index) -> None:
        self._index = index

    def __enter__(self) -> Searcher:
        self._index._lock.acquire()
        try:
            return self._index._current_searcher()
        except BaseException:
            self._index._lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        self._index._lock.release()
