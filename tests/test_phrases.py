"""Phrases: an exact phrase finds what whoosh's Phrase finds (matched by intersecting position
sets, phrases.py); the snippets mark a phrase where it stands whole, as one mark, and not its words
elsewhere; a word asked on its own beside a phrase is marked wherever it stands; a phrase of
tags (which have no positions) is those tags, never an error."""

from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from whoosh.analysis import StemmingAnalyzer
from whoosh.qparser import AndGroup, MultifieldParser

from archive.reading_room.index import Index, schema
from archive.reading_room.search import InvalidQuery, search

# Few words, stop words and punctuation among them, so generated phrases are often found,
# sometimes with a stop word or a comma between their words, and sometimes only apart.
WORDS = ["picket", "pickets", "line", "strike", "union", "the", "at", "of", "Line,", "STRIKE."]
TEXTS = st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join)


def _doc(n: int, title: str, body: str, summary: str) -> dict[str, object]:
    return {"id": f"story{n:011d}", "title": title, "body": body, "summary": summary, "tags": "",
            "language": "en", "level": "full", "content_hash": "x"}


@settings(max_examples=60, deadline=None)
@given(stories=st.lists(st.tuples(TEXTS, TEXTS, TEXTS), min_size=1, max_size=8),
       phrase=st.lists(st.sampled_from(WORDS), min_size=2, max_size=4))
def test_a_phrase_is_marked_whole_where_it_stands_and_nowhere_else(
        stories: list[tuple[str, str, str]], phrase: list[str]) -> None:
    query = '"' + " ".join(phrase) + '"'
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Path(tmp) / "index")
        index.ensure()
        index.write(add=[_doc(n, *texts) for n, texts in enumerate(stories)], delete=())
        try:
            try:
                found = search(index, query, per_page=100).hits
            except InvalidQuery:  # only stop words: nothing to search for, on either side
                assume(False)
            # The same phrase matched by whoosh's own Phrase (the stories have no tags, where a
            # phrase is its tags).
            positional = MultifieldParser(["title", "body", "summary"], schema(), group=AndGroup).parse(query)
            with index.searcher() as searcher:
                matched = searcher.search(positional, limit=None).items()
                whoosh_found = [searcher.stored_fields(n)["id"] for n, _ in matched]
        finally:
            index.close()

    assert [hit.id for hit in found] == whoosh_found  # the same stories, ranked the same
    words = [t.text for t in StemmingAnalyzer()(" ".join(phrase))]
    for hit in found:
        for start, end in hit.snippet.matches:
            # A mark is the whole phrase, or overlapping places of it joined ("picket picket
            # picket" for "picket picket"): it starts with the phrase, and each two words next
            # to each other in it stand next to each other in the phrase.
            marked = [t.text for t in StemmingAnalyzer()(hit.snippet.text[start:end])]
            assert marked[: len(words)] == words, (marked, words)
            assert set(pairwise(marked)) <= set(pairwise(words)), (marked, words)


def test_a_phrase_of_tags_is_those_tags() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Path(tmp) / "index")
        index.ensure()
        index.write(add=[{**_doc(1, "t", "b", "s"), "tags": "hotel,picket line,strike"},
                         {**_doc(2, "t", "b", "s"), "tags": "hotel"}], delete=())
        try:
            assert [hit.id for hit in search(index, '"strike, hotel"').hits] == ["story00000000001"]
            assert {hit.id for hit in search(index, 'tags:"hotel"').hits} == {"story00000000001", "story00000000002"}
            assert [hit.id for hit in search(index, '"picket line, strike"').hits] == ["story00000000001"]
            assert search(index, '"picket line, vote"').hits == []
        finally:
            index.close()
