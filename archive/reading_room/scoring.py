"""Matching and scoring plain queries (words, AND, OR, exact phrases) a block of postings at a time.

Whoosh matches a query posting by posting, through a tree of matcher objects with several
method calls per posting and field; a word that nearly every story holds costs about 150 ms
of that at 10,000 stories, and a page that slow holds up every request queued behind it.
Most queries are plain: words, AND, OR, exact phrases. For those, each word's postings are
read a block at a time (postings.py), scored with whoosh's BM25F formula and statistics (the
index-wide idf and average field length, each document's field length), and combined with
dictionary operations: AND keeps the documents every part holds, OR all of them, each
summing its parts' scores as whoosh's matchers do; an exact phrase decodes positions only in
the stories that hold all its words. The documents and scores are whoosh's, up to the
rounding of sums (tests/test_scoring.py compares them with whoosh's own matchers on
generated stories and queries). Any other query (wildcards, fuzzy words, ranges, NOT,
ANDMAYBE, proximity) is left to whoosh's matchers: `matches` answers None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from whoosh.fields import Schema
from whoosh.query import And, Or, Query, Term
from whoosh.reading import SegmentReader
from whoosh.scoring import BM25F
from whoosh.util import make_binary_tree

from archive.reading_room.phrases import Adjacent
from archive.reading_room.postings import blocks, deleted, lengths, weights

Scores = dict[int, float]  # document number -> score


def plain(query: Query, schema: Schema) -> bool:
    """Whether the query is made only of words, exact phrases (in fields with positions), AND
    and OR."""
    if isinstance(query, Adjacent):
        return query.fieldname not in schema or schema[query.fieldname].format.supports("positions")
    if type(query) is Term:
        return True
    if type(query) is And or (type(query) is Or and not query.scale):
        return all(plain(sub, schema) for sub in query.subqueries)
    return False


def matches(searcher: Any, query: Query, check: Callable[[], None], allow: Query | None = None) -> Scores | None:
    """Every document the query matches (numbered as in the searcher) with its score, or None
    when the query (or the filter `allow`, which a document must also match) is not plain or
    the searcher does not weigh with BM25F. `check` is called after each word of each segment
    (the search's deadline)."""
    if (not plain(query, searcher.schema) or (allow is not None and not plain(allow, searcher.schema))
            or type(searcher.weighting) is not BM25F):
        return None
    found: Scores = {}
    for sub, offset in searcher.leaf_searchers():
        segment = _Segment(searcher, sub.reader(), check)
        within = set(segment.run(allow)) if allow is not None else None
        if within is None or within:
            found.update((offset + docnum, score) for docnum, score in segment.run(query, within).items())
    return found


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


class _Segment:
    """One segment's part of a search: document numbers are the segment's own. `within`, when
    given, is where the caller still looks (what the other parts of an AND, or the filter,
    left): only those documents are scored, and only the blocks that may hold them are read."""

    def __init__(self, top: Any, reader: SegmentReader, check: Callable[[], None]) -> None:
        self.top = top  # index-wide statistics come from the whole searcher, as whoosh's scorers take them
        self.reader = reader
        self.check = check
        self.deleted = deleted(reader)

    def run(self, query: Query, within: set[int] | None = None) -> Scores:
        if isinstance(query, Adjacent):
            found = self._phrase(query, within)
        elif isinstance(query, Term):
            words = _bytes(self.reader.schema, query.fieldname, [query.text])
            found = self._postings(query.fieldname, words[0], within)[0] if words else {}
        elif isinstance(query, And):
            found = self._all(query.subqueries, within)
        else:
            found = _any([self.run(sub, within) for sub in query.subqueries])
        if query.boost != 1.0:
            boost = query.boost
            return {docnum: score * boost for docnum, score in found.items()}
        return found

    def _all(self, subqueries: list[Query], within: set[int] | None) -> Scores:
        """The documents every part holds, the parts matched from the narrowest (by whoosh's
        estimate), each within what the ones before it left; scores summed in query order."""
        parts: list[Scores] = [{} for _ in subqueries]
        for n in sorted(range(len(subqueries)), key=lambda n: subqueries[n].estimate_size(self.reader)):
            parts[n] = self.run(subqueries[n], within)
            within = set(parts[n]) if within is None else within.intersection(parts[n])
            if not within:
                return {}
        return {docnum: sum(part[docnum] for part in parts) for docnum in sorted(within or ())}

    def _phrase(self, query: Adjacent, within: set[int] | None) -> Scores:
        """The stories where the words stand next to each other in order, scored as whoosh's
        intersection of the words (its binary tree of sums). The words are read from the
        rarest, each within the stories the ones before it left, with their positions."""
        field = query.fieldname
        words = _bytes(self.reader.schema, field, list(query.words))
        if not words:
            return {}
        scores: list[Scores] = [{} for _ in words]
        places: list[dict[int, Any]] = [{} for _ in words]
        for n in sorted(range(len(words)), key=lambda n: self.reader.doc_frequency(field, words[n])):
            scores[n], places[n] = self._postings(field, words[n], within, values=True)
            within = set(scores[n]) if within is None else within.intersection(scores[n])
            if not within:
                return {}
        decode = self.reader.schema[field].format.decoder("positions")
        found: Scores = {}
        for docnum in sorted(within or ()):
            starts = set(decode(places[0][docnum]))
            for offset, word in enumerate(places[1:], start=1):
                starts.intersection_update(p - offset for p in decode(word[docnum]))
                if not starts:
                    break
            if starts:
                found[docnum] = make_binary_tree(_add, [word[docnum] for word in scores])
        return found

    def _postings(self, field: str, word: bytes, within: set[int] | None,
                  values: bool = False) -> tuple[Scores, dict[int, Any]]:
        """The word's live postings in the segment (within `within`): each document's score,
        and with `values` its posting's value (positions and character offsets)."""
        reader = self.reader
        scores: Scores = {}
        found: dict[int, Any] = {}
        if (field, word) in reader:
            ordered = sorted(within) if within is not None else None
            source = (blocks(reader, field, word, values=True, within=ordered) if values
                      else weights(reader, field, word, ordered))
            skip = self.deleted
            keep = within if within is not None else range(reader.doc_count_all())
            scorable = reader.schema[field].scorable  # if not, whoosh's WeightScorer: the weight is the score
            if scorable:
                weighting = self.top.weighting
                idf = self.top.idf(field, word)
                avgfl = self.top.avg_field_length(field) or 1
                b = weighting._field_B.get(field, weighting.B)
                k1 = weighting.K1
                fl = lengths(reader, field)
            for ids, tfs, vals in source:
                if scorable:
                    # whoosh.scoring.bm25 written out: the same operations in the same order give
                    # the same floating-point result, without a function call per posting.
                    scores.update((d, idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl[d] / avgfl))))
                                  for d, tf in zip(ids, tfs, strict=True) if d in keep and d not in skip)
                else:
                    scores.update((d, tf) for d, tf in zip(ids, tfs, strict=True) if d in keep and d not in skip)
                if values:
                    found.update((d, v) for d, v in zip(ids, vals, strict=True) if d in scores)
        self.check()
        return scores, found


def _add(a: float, b: float) -> float:
    return a + b


def _any(parts: list[Scores]) -> Scores:
    """The documents any part holds, the scores of the parts holding each summed."""
    found: Scores = dict(parts[0]) if parts else {}
    for part in parts[1:]:
        for docnum, score in part.items():
            found[docnum] = found.get(docnum, 0.0) + score
    return found
