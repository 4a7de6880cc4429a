"""Search follows each story's language: Spanish stories are read with Spanish rules (Snowball's
stemmer, Spanish stop words), English ones with English rules, accents folded in both; a
query is read both ways and finds each story by the reading of its own language."""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import ID, TEXT, Schema

from archive.reading_room.index import INDEX_NAME, Index
from archive.reading_room.languages import analysis_of, fold
from archive.reading_room.search import InvalidQuery, QueryTooBroad, parse, search

SPANISH = "sp" + "0" * 14
ENGLISH = "en" + "0" * 14
MEXICAN = "mx" + "0" * 14


def _doc(story_id: str, language: str, body: str, title: str = "A story", summary: str = "",
         tags: str = "") -> dict[str, object]:
    return {"id": story_id, "title": title, "body": body, "summary": summary, "tags": tags,
            "language": language, "level": "full", "content_hash": "x", "year": 2019}


@pytest.fixture(scope="module")
def index() -> Iterator[Index]:
    with tempfile.TemporaryDirectory() as folder:
        found = Index(Path(folder) / "index")
        found.ensure()
        found.write(add=[
            _doc(SPANISH, "es", "La organización de las trabajadoras empezó en la lavandería. Hubo huelgas.",
                 title="Las camareras del hotel", summary="Cómo se organizaron las camareras."),
            _doc(ENGLISH, "en", "The organizers were striking at the hotel laundry for a contract.",
                 title="Housekeepers on strike", tags="hotel,strike"),
            _doc(MEXICAN, "es-MX", unicodedata.normalize("NFD", "La decisión del sindicato fue unánime."),
                 title="Decisión"),
        ], delete=())
        yield found
        found.close()


def _ids(index: Index, query: str) -> set[str]:
    return {hit.id for hit in search(index, query, per_page=50).hits}


@pytest.mark.parametrize("query", ["organizacion", "organización", "organizaciones", "ORGANIZACIÓN",
                                   unicodedata.normalize("NFD", "organización"), "Organizacion"])
def test_a_spanish_story_is_found_by_every_spelling_and_form_of_its_word(index: Index, query: str) -> None:
    assert _ids(index, query) == {SPANISH}


@pytest.mark.parametrize("query, found", [
    ("strikes", {ENGLISH}), ("organizer", {ENGLISH, SPANISH}), ("contracts", {ENGLISH}), ("laundries", {ENGLISH}),
    ("huelga", {SPANISH}), ("trabajadora", {SPANISH}), ("lavanderias", {SPANISH}), ("camarera", {SPANISH}),
    ("hotel", {SPANISH, ENGLISH}), ("decision", {MEXICAN}), ("sindicatos", {MEXICAN}), ("unanime", {MEXICAN}),
])
def test_each_story_is_found_by_the_stems_of_its_own_language(index: Index, query: str, found: set[str]) -> None:
    # ("organizer" read with Spanish rules is organiz-, as organización is: both readings count.)
    assert _ids(index, query) == found


@pytest.mark.parametrize("query, found", [
    ("la huelga", {SPANISH}),  # a Spanish stop word asks nothing of a Spanish story
    ("strike at the hotel", {ENGLISH}),  # nor an English one of an English story (it asked tags for "the")
    ('"organización de las trabajadoras"', {SPANISH}),  # a phrase across stop words, read in Spanish
    ("title:camareras", {SPANISH}), ("summary:organizaron", {SPANISH}), ("title:strikes", {ENGLISH}),
    ("huelga NOT lavanderia", set()), ("camarer*", {SPANISH}), ("housekeep*", {ENGLISH}), ("organizació*", set()),
    ("decisió*", {MEXICAN}), ("camareras OR housekeepers", {SPANISH, ENGLISH}),
])
def test_words_phrases_fields_and_operators_work_in_both_languages(index: Index, query: str, found: set[str]) -> None:
    assert _ids(index, query) == found


def test_a_query_of_stop_words_in_both_languages_finds_nothing_and_is_no_error(index: Index) -> None:
    """The API's document allows any query of 1-256 characters that is not only spaces: one of
    nothing but both languages' stop words is answered, with no story."""
    assert _ids(index, "a") == set()
    assert _ids(index, "de la") == set()
    assert _ids(index, "the") == set()  # a Spanish reading of "the" asks it; no story holds it


def test_the_snippet_marks_the_spanish_word_as_written_and_the_hit_carries_its_language(index: Index) -> None:
    hit = search(index, "organizacion").hits[0]

    assert hit.language == "es"
    start, end = hit.snippet.matches[0]
    assert hit.snippet.text[start:end] == "organización"


def test_an_nfd_story_is_marked_whole(index: Index) -> None:
    hit = search(index, "decision").hits[0]
    start, end = hit.snippet.matches[0]

    assert unicodedata.normalize("NFC", hit.snippet.text[start:end]) == "decisión"


def test_a_wildcard_counts_each_index_word_once_whichever_reading_asks_it(tmp_path: Path) -> None:
    index = Index(tmp_path / "index")
    index.ensure()
    index.write(add=[_doc(f"{n:016d}", "en", f"word{n}", title=f"word{n}", tags=f"tag{n}") for n in range(150)],
                delete=())

    assert search(index, "tag*").total == 150  # 150 tags, asked by both readings: 150 words
    with pytest.raises(QueryTooBroad):
        search(index, "word*")  # 150 in the body and 150 in the title: 300
    index.close()


def test_an_index_that_reads_every_story_as_english_is_outdated(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    text = StemmingAnalyzer()
    old = Schema(id=ID(stored=True, unique=True), title=TEXT(stored=True, analyzer=text, chars=True),
                 body=TEXT(stored=True, analyzer=text, chars=True))
    whoosh_index.create_in(str(folder), old, indexname=INDEX_NAME)

    assert Index(folder).outdated()


def test_languages_other_than_spanish_are_read_as_english() -> None:
    assert [analysis_of(code) for code in ("es", "es-MX", "ES_419", "en", "pt-BR", "", None)] == \
        ["es", "es", "es", "en", "en", "en", "en"]


# Words as Spanish writes them: letters with and without accents, ñ and ü, -ción and -ciones.
LETTERS = "abcdefghijlmnoprstuvz"
ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "úü", "n": "ñ"}
ENDINGS = ["", "ción", "ciones", "sión", "as", "os", "ería", "ando", "mente", "idad"]


@st.composite
def spanish_words(draw: st.DrawFn) -> str:
    stem = draw(st.text(LETTERS, min_size=3, max_size=8))
    word = stem + draw(st.sampled_from(ENDINGS))
    return "".join(draw(st.sampled_from([c, *ACCENTED.get(c, "")])) if draw(st.booleans()) else c for c in word)


SPELLINGS = (fold, str.upper, str.title, lambda w: unicodedata.normalize("NFD", w),
             lambda w: unicodedata.normalize("NFD", fold(w).upper()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(spanish_words(), min_size=2, max_size=6, unique=True), languages=st.lists(
    st.sampled_from(["es", "en", "es-MX"]), min_size=6, max_size=6), asked=st.lists(spanish_words(), max_size=3))
def test_accented_and_accent_folded_queries_find_the_same_stories(words: list[str], languages: list[str],
                                                                  asked: list[str]) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        index = Index(folder / "index")
        index.ensure()
        # Each story holds some of the words, as written; the queries are every word (and some
        # no story holds) in every spelling.
        index.write(add=[_doc(f"{n:016d}", language, " ".join(words[n % len(words):] + words[:1]))
                         for n, language in enumerate(languages)], delete=())
        for word in words + asked:
            try:
                found = _ids(index, word)
            except InvalidQuery:  # a stop word of both languages: so is every spelling of it
                for spell in SPELLINGS:
                    with pytest.raises(InvalidQuery):
                        parse(spell(word))
                continue
            for spell in SPELLINGS:
                assert _ids(index, spell(word)) == found, (word, spell(word))
            if word in words:
                assert found, word  # a word a story holds finds it, in either language
        index.close()
    finally:
        shutil.rmtree(folder)
