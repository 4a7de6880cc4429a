"""Exact phrases matched by intersecting their words' position sets.

Whoosh matches a phrase with its general span machinery (a SpanNear2 over the words, one
Span object per position of every word in every story that holds them all), which is the
costliest step of a search on a large index: a phrase of common words is checked in nearly
every story. An exact phrase (slop 1) needs less: a story holds it where its first word
stands at p and its k-th word at p + k, so one set intersection per word decides it. The
documents matched, their scores and their matched terms are those of whoosh's Phrase.
"""

from __future__ import annotations

from typing import Any

from whoosh import matching
from whoosh.matching import IntersectionMatcher
from whoosh.query import Phrase, Query, Term
from whoosh.query.spans import Span, SpanWrappingMatcher
from whoosh.util import make_binary_tree


class Adjacent(Phrase):  # type: ignore[misc]
    """An exact phrase in one field (Phrase with slop 1)."""

    def __init__(self, fieldname: str, words: list[str], boost: float = 1.0, char_ranges: Any = None) -> None:
        super().__init__(fieldname, words, slop=1, boost=boost, char_ranges=char_ranges)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        fieldname = self.fieldname
        if fieldname not in searcher.schema:
            return matching.NullMatcher()
        field = searcher.schema[fieldname]
        if not field.format or not field.format.supports("positions"):
            return super().matcher(searcher, context)  # whoosh's own refusal
        reader = searcher.reader()
        terms = []
        for word in self.words:
            try:
                word = field.to_bytes(word)
            except ValueError:
                return matching.NullMatcher()
            if (fieldname, word) not in reader:
                return matching.NullMatcher()  # a word no story holds: no story holds the phrase
            terms.append(Term(fieldname, word))
        found = _AdjacentMatcher(make_binary_tree(IntersectionMatcher, [t.matcher(searcher, context) for t in terms]))
        return matching.WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


def exact_phrases(query: Query) -> Query:
    """The query with every exact phrase (slop 1, two words or more) matched as Adjacent."""
    if type(query) is Phrase and query.slop == 1 and len(query.words) > 1:
        return Adjacent(query.fieldname, list(query.words), boost=query.boost, char_ranges=query.char_ranges)
    return query.apply(exact_phrases)


def _leaves(matcher: Any) -> list[Any]:
    """The term matchers of an intersection tree, in the phrase's order."""
    if isinstance(matcher, IntersectionMatcher):
        return _leaves(matcher.a) + _leaves(matcher.b)
    return [matcher]


class _AdjacentMatcher(SpanWrappingMatcher):  # type: ignore[misc]
    """Moves over the stories holding every word (the intersection), stopping at those where
    the words stand next to each other in order."""

    def __init__(self, child: Any) -> None:
        self._words = _leaves(child)
        super().__init__(child)

    def _get_spans(self) -> list[Span]:
        first, *rest = self._words
        starts = set(first.value_as("positions"))
        for offset, word in enumerate(rest, start=1):
            starts.intersection_update(p - offset for p in word.value_as("positions"))
            if not starts:
                return []
        return [Span(p, p + len(rest)) for p in sorted(starts)]
