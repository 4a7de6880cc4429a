"""Matching and scoring plain queries (words, AND, OR, exact phrases) a block of postings at a time.

Whoosh matches a query posting by posting, through a tree of matcher objects with several
method calls per posting and field; a word that nearly every story holds costs about 150 ms
of that at 10,000 stories, and a page that slow holds up every request queued behind it.
Most queries are plain: words, AND, OR, exact phrases, read in each language (the better
reading's score, languages.EitherLanguage). For those, each word's postings are
read a block at a time (postings.py), scored with whoosh's BM25F formula and statistics (the
index-wide idf and average field length, each document's field length) with array
operations, a segment at a time: AND keeps the documents every part holds, OR all of them,
each summing its parts' scores as whoosh's matchers do; an exact phrase meets its words'
positions (postings.positions) in the stories that hold all its words. The documents and
scores are whoosh's, up to the rounding of sums (tests/test_scoring.py compares them with whoosh's own matchers on
generated stories and queries). Any other query (wildcards, fuzzy words, ranges, NOT,
ANDMAYBE, proximity) is left to whoosh's matchers: `matches` answers None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh.fields import Schema
from whoosh.query import And, Or, Query, Term
from whoosh.reading import SegmentReader
from whoosh.scoring import BM25F
from whoosh.util import make_binary_tree

from archive.reading_room.languages import EitherLanguage
from archive.reading_room.phrases import Adjacent
from archive.reading_room.postings import POSITION_BITS, deleted, lengths, positions, weights, with_positions

Mask = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Found:
    """The documents a query matched (numbered as in the searcher, in order) and their scores."""

    docnums: npt.NDArray[np.int64]
    scores: Floats

    def __len__(self) -> int:
        return len(self.docnums)

    def best(self, limit: int) -> list[int]:
        """The best `limit` documents, best first; equal scores in document order (whoosh's ranking)."""
        scores, docnums = self.scores, self.docnums
        if limit < len(scores):
            cut = np.partition(scores, len(scores) - limit)[len(scores) - limit]  # the limit-th best score
            kept = np.flatnonzero(scores >= cut)  # ties with it included: document order decides
            scores, docnums = scores[kept], docnums[kept]
        return [int(d) for d in docnums[np.lexsort((docnums, -scores))][:limit]]

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.docnums.tolist(), self.scores.tolist(), strict=True))


def plain(query: Query, schema: Schema) -> bool:
    """Whether the query is made only of words, exact phrases (in fields with positions), AND
    and OR."""
    if isinstance(query, Adjacent):
        return query.fieldname not in schema or schema[query.fieldname].format.supports("positions")
    if type(query) is Term:
        return True
    if type(query) is And or (type(query) is Or and not query.scale) or type(query) is EitherLanguage:
        return all(plain(sub, schema) for sub in query.subqueries)
    return False


def matches(searcher: Any, query: Query, check: Callable[[], None], allow: Query | None = None) -> Found | None:
    """Every document the query matches with its score, or None when the query (or the filter
    `allow`, which a document must also match) is not plain or the searcher does not weigh
    with BM25F. `check` is called after each word of each segment (the search's deadline)."""
    if (not plain(query, searcher.schema) or (allow is not None and not plain(allow, searcher.schema))
            or type(searcher.weighting) is not BM25F):
        return None
    docnums: list[npt.NDArray[np.int64]] = []
    scores: list[Floats] = []
    statistics = _Statistics(searcher)
    for sub, offset in searcher.leaf_searchers():
        segment = _Segment(statistics, sub.reader(), check)
        within = segment.run(allow)[0] if allow is not None else None
        if within is None or within.any():
            mask, score = segment.run(query, within)
            kept = np.flatnonzero(mask)
            docnums.append(kept + offset)
            scores.append(score[kept])
    if not docnums:
        return Found(np.zeros(0, dtype=np.int64), np.zeros(0))
    return Found(np.concatenate(docnums).astype(np.int64), np.concatenate(scores))


def terms(query: Query, schema: Schema) -> set[tuple[str, bytes]]:
    """The (field, word) pairs of a plain query, as the index holds them: what a matching
    document may show as matched."""
    if isinstance(query, Adjacent | Term):
        words = query.words if isinstance(query, Adjacent) else [query.text]
        return {(query.fieldname, word) for word in _bytes(schema, query.fieldname, words)}
    return {term for sub in query.children() for term in terms(sub, schema)}


def _bytes(schema: Schema, field: str, words: list[Any]) -> list[bytes]:
    """The words as the field's index holds them; none when the field is unknown or a word
    cannot be in it (a number field and a word), as whoosh's Term then matches nothing."""
    if field not in schema:
        return []
    try:
        return [schema[field].to_bytes(word) for word in words]
    except ValueError:
        return []


class _Statistics:
    """The index-wide figures of BM25F, from the whole searcher as whoosh's scorers take them,
    worked out once per search (each is a sum over every segment)."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.known: dict[tuple[str, bytes], tuple[float, float, float, float]] = {}

    def of(self, field: str, word: bytes) -> tuple[float, float, float, float]:
        """The word's idf, the field's average length, and B and K1 for the field."""
        found = self.known.get((field, word))
        if found is None:
            weighting = self.searcher.weighting
            found = self.known[(field, word)] = (
                self.searcher.idf(field, word), self.searcher.avg_field_length(field) or 1,
                weighting._field_B.get(field, weighting.B), weighting.K1)
        return found


class _Segment:
    """One segment's part of a search: document numbers are the segment's own, and a part of a
    query gives a mask of the documents it matches and their scores (0 elsewhere). `within`,
    when given, is where the caller still looks (what the other parts of an AND, or the
    filter, left): only those documents are scored, and only the blocks that may hold them
    are read."""

    def __init__(self, statistics: _Statistics, reader: SegmentReader, check: Callable[[], None]) -> None:
        self.statistics = statistics
        self.reader = reader
        self.check = check
        self.size = reader.doc_count_all()
        self.live = np.ones(self.size, dtype=np.bool_)
        self.live[list(deleted(reader))] = False

    def run(self, query: Query, within: Mask | None = None) -> tuple[Mask, Floats]:
        if isinstance(query, Adjacent):
            mask, score = self._phrase(query, within)
        elif isinstance(query, Term):
            words = _bytes(self.reader.schema, query.fieldname, [query.text])
            mask, score = self._postings(query.fieldname, words[0], within) if words else self._none()
        elif isinstance(query, And):
            mask, score = self._all(query.subqueries, within)
        elif isinstance(query, EitherLanguage):  # the best reading's score (scores are positive)
            mask, score = self._none()
            for part_mask, part_score in (self.run(sub, within) for sub in query.subqueries):
                mask |= part_mask
                score = np.maximum(score, part_score)
        else:
            parts = [self.run(sub, within) for sub in query.subqueries]
            mask, score = self._none()
            for part_mask, part_score in parts:  # summed in query order, as in whoosh's union
                mask |= part_mask
                score += part_score
        if query.boost != 1.0:
            score = score * query.boost
        return mask, score

    def _none(self) -> tuple[Mask, Floats]:
        return np.zeros(self.size, dtype=np.bool_), np.zeros(self.size)

    def _all(self, subqueries: list[Query], within: Mask | None) -> tuple[Mask, Floats]:
        """The documents every part holds, the parts matched from the narrowest (by whoosh's
        estimate), each within what the ones before it left; scores summed in query order."""
        parts: list[Floats] = [np.zeros(0) for _ in subqueries]
        for n in sorted(range(len(subqueries)), key=lambda n: subqueries[n].estimate_size(self.reader)):
            within, parts[n] = self.run(subqueries[n], within)
            if not within.any():
                return self._none()
        assert within is not None
        score = np.zeros(self.size)
        for part in parts:
            score += part
        score[~within] = 0.0
        return within, score

    def _phrase(self, query: Adjacent, within: Mask | None) -> tuple[Mask, Floats]:
        """The stories where the words stand next to each other in order, scored as whoosh's
        intersection of the words (its binary tree of sums). The words are matched from the
        rarest, each within the stories the ones before it left; then their positions meet."""
        field = query.fieldname
        words = _bytes(self.reader.schema, field, list(query.words))
        if not words:
            return self._none()
        scores: list[Floats] = [np.zeros(0) for _ in words]
        for n in sorted(range(len(words)), key=lambda n: self.reader.doc_frequency(field, words[n])):
            with_positions(self.reader, field, words[n])  # a common word's postings read once for both
            within, scores[n] = self._postings(field, words[n], within)
            if not within.any():
                return self._none()
        assert within is not None
        starts = positions(self.reader, field, words[0], within)
        for offset, word in enumerate(words[1:], start=1):
            starts = _meet(starts, positions(self.reader, field, word, within) - offset)
        self.check()
        docs = np.unique(starts >> POSITION_BITS)
        mask, score = self._none()
        mask[docs] = True
        score[docs] = make_binary_tree(_add, [part[docs] for part in scores])
        return mask, score

    def _postings(self, field: str, word: bytes, within: Mask | None) -> tuple[Mask, Floats]:
        """The word's live postings in the segment (within `within`): the documents and their scores."""
        reader = self.reader
        mask, score = self._none()
        if (field, word) in reader:
            allowed = self.live if within is None else self.live & within
            ordered = None if within is None else np.flatnonzero(within).tolist()
            scorable = reader.schema[field].scorable  # if not, whoosh's WeightScorer: the weight is the score
            if scorable:
                idf, avgfl, b, k1 = self.statistics.of(field, word)
                fl = lengths(reader, field)
            for ids, tfs, _ in weights(reader, field, word, ordered):
                docs = np.asarray(ids, dtype=np.intp)
                keep = allowed[docs]
                docs = docs[keep]
                tf = np.asarray(tfs, dtype=np.float64)[keep]
                # whoosh.scoring.bm25, with the same operations in the same order (so the same
                # floating-point results), on a block of documents at once.
                score[docs] = idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl[docs] / avgfl))) if scorable else tf
                mask[docs] = True
        self.check()
        return mask, score


def _meet(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The keys in both, in order: as np.intersect1d(a, b, assume_unique=True), without its
    sort of both together when each is in strictly increasing order already (as positions
    reads them: a document's places in order, documents in order)."""
    if len(a) and len(b) and bool((a[1:] > a[:-1]).all()) and bool((b[1:] > b[:-1]).all()):
        at = np.searchsorted(b, a)
        np.minimum(at, len(b) - 1, out=at)
        return a[b[at] == a]
    return np.intersect1d(a, b, assume_unique=True)


def _add(a: float, b: float) -> float:
    return a + b
