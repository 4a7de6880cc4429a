"""Block-wise scoring (scoring.py) finds the documents whoosh's own matchers find, with whoosh's
scores (up to the rounding of sums), on generated stories and plain queries: words, exact
phrases, AND, OR, fields, boosts and filters, over several segments with deleted documents,
words spanning many posting blocks (read whole, kept, or skipped where a narrower part of the
query leaves nothing), and the search ranks by those scores as whoosh does."""

from __future__ import annotations

import gc
import math
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.query import And, Query, Term

from archive.reading_room import postings, scoring
from archive.reading_room.index import INDEX_NAME, Index
from archive.reading_room.search import Filters, filter_query, parse, search

WORDS = ["picket", "line", "strike", "union", "hotel", "vote", "shift", "steward", "laundry", "contract"]


def _doc(n: int, rng: random.Random, common: int) -> dict[str, object]:
    def text(size: int) -> str:  # the first words far more often than the last (as in a language)
        return " ".join(WORDS[min(int(rng.expovariate(1 / common)), len(WORDS) - 1)] for _ in range(size))
    return {"id": f"story{n:011d}", "title": text(rng.randint(1, 5)), "body": text(rng.randint(1, 60)),
            "summary": text(rng.randint(0, 8)), "tags": ",".join(rng.sample(WORDS[:4], rng.randint(0, 2))),
            # One story in ten in Spanish (its words in the Spanish fields): the English fields
            # keep common words over three posting blocks and more.
            "language": "es" if n % 10 == 3 else rng.choice(["en", "de"]),
            "level": rng.choice(["full", "pseudonymised"]),
            "content_hash": "x", "year": rng.choice([2015, 2019])}


def _check() -> None:
    """No deadline: the comparison is about results."""


def _whoosh(index: Index, query: Query, allow: Query | None) -> dict[int, float]:
    with index.searcher() as searcher:
        return {docnum: score for score, docnum in searcher.search(query, limit=None, filter=allow).top_n}


def _ours(index: Index, query: Query, allow: Query | None) -> dict[int, float]:
    with index.searcher() as searcher:
        found = scoring.matches(searcher, query, _check, allow=allow)
    assert found is not None, f"{query!r} is plain and should be scored block-wise"
    return found.as_dict()


def _same(ours: dict[int, float], theirs: dict[int, float]) -> None:
    assert set(ours) == set(theirs)
    for docnum, score in theirs.items():
        assert math.isclose(ours[docnum], score, rel_tol=1e-9, abs_tol=1e-12), (docnum, ours[docnum], score)


@pytest.fixture(scope="module")
def large() -> Iterator[Index]:
    """900 stories in three segments (the common words in up to 300 documents of a segment:
    three posting blocks and more), with deletions in two of them."""
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Path(tmp) / "index")
        index.ensure()
        for start in (0, 300, 600):
            index.write(add=[_doc(n, rng, common=2) for n in range(start, start + 300)], delete=())
        index.write(add=[], delete=[f"story{n:011d}" for n in range(0, 900, 7) if n < 600])
        yield index
        index.close()


PHRASES = st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
ATOMS = st.one_of(st.sampled_from(WORDS), PHRASES,
                  st.tuples(st.sampled_from(["title:", "body:", "summary:", "tags:"]), st.sampled_from(WORDS))
                  .map("".join),
                  st.tuples(st.sampled_from(WORDS), st.sampled_from(["^2", "^0.5"])).map("".join))


@st.composite
def plain_queries(draw: st.DrawFn, depth: int = 2) -> str:
    """Words, phrases, fields and boosts joined by AND, OR or nothing (AND), in parentheses."""
    parts = draw(st.lists(ATOMS if depth == 0 else st.one_of(ATOMS, plain_queries(depth - 1).map("({})".format)),
                          min_size=1, max_size=3))
    joins = draw(st.lists(st.sampled_from([" ", " AND ", " OR "]), min_size=len(parts), max_size=len(parts)))
    return "".join(part + join for part, join in zip(parts, joins[:-1] + [""], strict=True))


FILTERS = st.builds(Filters, tag=st.sampled_from([None, "picket", "union"]), language=st.sampled_from([None, "en"]),
                    year=st.sampled_from([None, 2019, 1999]), level=st.sampled_from([None, "full"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=plain_queries(), filters=FILTERS)
def test_plain_queries_match_and_score_as_whoosh_does(large: Index, text: str, filters: Filters) -> None:
    query = parse(text)
    allow = filter_query(filters)

    _same(_ours(large, query, allow), _whoosh(large, query, allow))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=plain_queries(), per_page=st.integers(1, 30), page=st.integers(1, 4))
def test_the_search_ranks_as_whoosh_does(large: Index, text: str, per_page: int, page: int) -> None:
    query = parse(text)
    theirs = sorted(_whoosh(large, query, None).items(), key=lambda item: (-item[1], item[0]))
    results = search(large, text, page=page, per_page=per_page, clamp_page=False)

    assert results.total == len(theirs)
    with large.searcher() as searcher:
        ids = {searcher.stored_fields(docnum)["id"]: (docnum, score) for docnum, score in theirs}
    shown = theirs[(page - 1) * per_page:page * per_page]
    assert len(results.hits) == len(shown)
    for hit, (docnum, score) in zip(results.hits, shown, strict=True):
        # The same story, or one whoosh scores the same up to rounding (whose order may differ).
        assert math.isclose(ids[hit.id][1], score, rel_tol=1e-9), (hit.id, ids[hit.id], docnum, score)


def test_common_words_are_kept_and_a_narrow_part_skips_blocks(large: Index) -> None:
    with large.searcher() as searcher:
        reader = next(sub.reader() for sub, _ in searcher.leaf_searchers())
        assert reader.doc_frequency("body", b"picket") >= postings.CACHED_FROM  # the fixture's premise
        whole = list(postings.weights(reader, "body", b"picket"))
        again = list(postings.weights(reader, "body", b"picket"))
        narrow = list(postings.weights(reader, "body", b"picket", within=[whole[1][0][0]]))

        # Narrowed to a block's first or last document, from the disk or from what is kept:
        # exactly the block that holds it is read.
        edges = [(list(ids), doc) for ids, _, _ in whole for doc in (ids[0], ids[-1])]
        read = [([list(ids) for ids, _, _ in postings.blocks(reader, "body", b"picket", values=False, within=[doc])],
                 [list(ids) for ids, _, _ in postings.weights(reader, "body", b"picket", within=[doc])])
                for _, doc in edges]

    assert len(whole) >= 3 and [list(ids) for ids, _, _ in again] == [list(ids) for ids, _, _ in whole]
    assert [list(ids) for ids, _, _ in narrow] == [list(whole[1][0])]  # the one block that holds it
    assert read == [([ids], [ids]) for ids, _ in edges]
    # The rare word first, the common one only where the rare one is: the same as whoosh.
    _same(_ours(large, parse("picket contract"), None), _whoosh(large, parse("picket contract"), None))
    _same(_ours(large, parse('"contract picket"'), Term("language", "en")),
          _whoosh(large, parse('"contract picket"'), Term("language", "en")))


@pytest.mark.parametrize("text", ["organi*", "pick?t", "strike NOT hotel", "strike ANDMAYBE hotel",
                                  "year:[2015 TO 2019]", '"picket line"~3'])
def test_other_queries_are_left_to_whoosh(large: Index, text: str) -> None:
    with large.searcher() as searcher:
        assert scoring.matches(searcher, parse(text), _check) is None
        assert scoring.matches(searcher, parse("picket"), _check, allow=And([parse("strike NOT hotel")])) is None
    assert search(large, text).total == len(_whoosh(large, parse(text), None))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), text=plain_queries(depth=1))
def test_small_indexes_of_any_shape_match_as_whoosh_does(seed: int, text: str) -> None:
    """Few stories, in one to three segments, some deleted: the short postings whoosh keeps
    inside the term's entry rather than in blocks, and segments a word is missing from."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Path(tmp) / "index")
        index.ensure()
        n = 0
        for _ in range(rng.randint(1, 3)):
            index.write(add=[_doc(n + k, rng, common=3) for k in range(rng.randint(1, 6))], delete=())
            n += 6
        index.write(add=[], delete=[f"story{k:011d}" for k in range(n) if rng.random() < 0.2])
        try:
            query = parse(text)
            _same(_ours(index, query, None), _whoosh(index, query, None))
        finally:
            index.close()


def test_one_budget_holds_for_every_reader_and_a_reader_gone_gives_its_share_back(
        large: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings, "CACHED_ITEMS", 900)
    monkeypatch.setattr(postings, "CACHED_WORD", 300)
    with whoosh_index.open_dir(str(large.path), indexname=INDEX_NAME).searcher() as searcher:  # fresh readers
        readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
        assert len(readers) == 3  # the fixture's premise
        for word in [w.encode() for w in WORDS] * 2:
            for reader in readers:
                if reader.doc_frequency("body", word):
                    list(postings.weights(reader, "body", word))
        sizes = [postings.kept(reader).size for reader in readers]
        assert 0 < sum(sizes) <= 900 and all(sizes)  # one budget, shared: no reader keeps it all
        with postings._KEPT_LOCK:
            postings._collect()  # what earlier readers kept, if they went
            before = postings._SIZE
        del reader, readers
    del searcher
    gc.collect()
    with postings._KEPT_LOCK:
        postings._collect()
        assert postings._SIZE == before - sum(sizes)  # the readers went, and their share with them


def test_what_is_kept_stays_within_its_budget(large: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings, "CACHED_ITEMS", 600)
    monkeypatch.setattr(postings, "CACHED_WORD", 125)
    with whoosh_index.open_dir(str(large.path), indexname=INDEX_NAME).searcher() as searcher:  # fresh readers
        reader = next(sub.reader() for sub, _ in searcher.leaf_searchers())
        keepable = [w.encode() for w in WORDS
                    if postings.CACHED_FROM <= reader.doc_frequency("body", w.encode()) <= 125]
        assert len(keepable) >= 2 and reader.doc_frequency("body", b"picket") > 125  # the fixture's premise
        for word in [*keepable, keepable[0], b"picket"]:
            list(postings.weights(reader, "body", word))
        kept = postings.kept(reader)
        assert kept.size == sum(items for _, items in kept.entries.values())
        assert kept.size <= 600 or len(kept.entries) == 1
        assert ("weights", "body", keepable[0]) in kept.entries  # read again: the most recently used stays
        assert ("weights", "body", b"picket") not in kept.entries  # too common to keep: read each time
        # Words too common to keep their positions: read where needed, each time.
        for text in [" OR ".join(WORDS), '"picket line"', '"line picket picket"', '"strike union" OR "picket vote"']:
            query = parse(text)
            found = scoring.matches(searcher, query, _check)
            assert found is not None
            _same(found.as_dict(), {d: score for score, d in searcher.search(query, limit=None).top_n})
        assert {("positions", "body", w) for w in (b"picket", b"line")}.isdisjoint(kept.entries)
