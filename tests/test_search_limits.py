"""No query can stall the reading room: ranges on words, runaway wildcards, operator soup and
slow matching are each a clear message, on the command line and the web, never a 500."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import create_app
from archive.config import Config
from archive.reading_room import postings
from archive.reading_room import search as room_search
from archive.reading_room.index import Index
from archive.reading_room.search import InvalidQuery, QueryTooBroad, search
from archive.storage import database
from archive.web.display import marked
from tests.helpers import escrow

WORDS = ["picket", "strike", "steward", "contract", "overtime", "laundry", "union", "shift", "hotel", "vote"]


def _doc(n: int, words: str, year: int = 2019) -> dict[str, object]:
    return {"id": f"story{n:011d}", "title": words[:40], "body": words, "summary": "", "tags": "hotel",
            "language": "en", "level": "full", "content_hash": "x", "year": year}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    """A real index of 120 stories, and 300 distinct words that share the prefix 'orga'."""
    found = Index(tmp_path_factory.mktemp("limits") / "index")
    found.ensure()
    docs = [_doc(n, " ".join(WORDS[(n + k) % len(WORDS)] for k in range(30)) + f" organizer{n}",
                 year=2000 + n % 20) for n in range(120)]
    docs.append(_doc(999, " ".join(f"orga{chr(97 + i // 26)}{chr(97 + i % 26)}x" for i in range(300))))
    found.write(add=docs, delete=())
    yield found
    found.close()


@pytest.mark.parametrize("query", ["[a TO z]", "{a TO zzzz}", "body:[a TO z]", "title:{aa TO zz]", "tags:[a TO b]",
                                   "strike AND [a TO z]"])
def test_a_range_over_words_is_refused(index: Index, query: str) -> None:
    with pytest.raises(InvalidQuery, match="works only on the interview year"):
        search(index, query)


def test_the_year_range_still_works(index: Index) -> None:
    assert search(index, "picket year:[2000 TO 2004]").total == 30


@pytest.mark.parametrize("query", ["NOT NOT word", "picket NOT NOT line", "x OR NOT NOT y", "NOT OR x",
                                   "a ANDNOT ANDNOT b"])
def test_operator_soup_is_a_message(index: Index, query: str) -> None:
    with pytest.raises(InvalidQuery, match="could not be read"):
        search(index, query)


def test_a_wildcard_that_stands_for_too_many_words_is_refused(index: Index) -> None:
    with pytest.raises(QueryTooBroad, match="match more than 200 words"):
        search(index, "orga*")
    with pytest.raises(QueryTooBroad, match="match more than 200 words"):  # together, not each
        search(index, " OR ".join(f"orga{c}*" for c in "abcdefgh"))
    assert search(index, "organizer1*").total == 31  # organizer1, 10-19 and 100-119: narrow enough


def test_matching_stops_at_the_time_limit(index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    assert search(index, "strike").total == 120
    monkeypatch.setattr(room_search, "TIME_LIMIT", 0.0)

    with pytest.raises(QueryTooBroad, match="too broad to answer in time"):
        search(index, "strike")


def test_snippets_come_from_stored_offsets_and_are_escaped(tmp_path: Path) -> None:
    index = Index(tmp_path / "index")
    index.ensure()
    text = ("before <b>bold</b> & the picket line held " + "filler " * 80 + "picket again, the line "
            + "filler " * 80 + "the Picket, at the lines! " + "filler " * 80 + "strike")
    index.write(add=[_doc(1, text)], delete=())

    [hit] = search(index, '"picket line"').hits
    [page] = marked([hit.snippet])  # as the search page renders the reading room's snippet

    # The phrase is marked where it stands (stop words and punctuation between its words are
    # skipped, as the search skips them), and its words elsewhere are not.
    assert [hit.snippet.text[start:end] for start, end in hit.snippet.matches] == ["picket line",
                                                                                   "Picket, at the lines"]
    assert '<mark class="match term0">picket line</mark>' in page
    assert '">Picket, at the lines</mark>' in page
    assert "picket again" not in hit.snippet.text
    assert "<b>bold</b> &" in hit.snippet.text  # data: the text as released
    assert "&lt;b&gt;bold&lt;/b&gt; &amp;" in page and "<b>" not in page  # the page escapes it
    [both] = search(index, 'strike "picket line"').hits  # a word and a phrase: two of the three places
    marked_words = [both.snippet.text[start:end] for start, end in both.snippet.matches]
    assert len(marked_words) == 2 and set(marked_words) <= {"picket line", "Picket, at the lines", "strike"}, \
        marked_words
    index.close()


# -- generated queries over the whole grammar ----------------------------------------------------

ATOMS = st.one_of(
    st.sampled_from(WORDS + ["orga*", "pick?t", "str*ke", "picket~", "picket~2", "line^3", "*", "?", "a*"]),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8),
)
OPERATORS = st.sampled_from(["AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "+", "-", "&&", "||", "!"])
FIELDS = st.sampled_from(["", "title:", "body:", "summary:", "tags:", "year:", "level:", "nosuch:", "id:"])
BRACKETS = st.sampled_from(["(", ")", ",", "[", "]", "{", "}", '"', "'", " TO ", "^2", "~", ":", "<", ">", "=", "\\"])


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Sequences of words, operators, fields, quotes, brackets, ranges and boosts, with unicode."""
    parts = draw(st.lists(st.one_of(ATOMS, OPERATORS, BRACKETS, st.tuples(FIELDS, ATOMS).map("".join),
                                    st.builds(lambda f, a, b: f"{f}[{a} TO {b}]", FIELDS, ATOMS, ATOMS)),
                          min_size=1, max_size=12))
    return " ".join(parts) if draw(st.booleans()) else "".join(parts)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries())
def test_any_query_is_answered_or_refused_with_a_message_in_bounded_time(index: Index, query: str) -> None:
    start = time.monotonic()
    try:
        results = search(index, query)
    except InvalidQuery as error:
        assert str(error) and "Traceback" not in str(error)
    else:
        assert results.total >= 0
    assert time.monotonic() - start < room_search.TIME_LIMIT + 2.0


@pytest.fixture
def reader(archive_home: Path, config: Config) -> Iterator[FlaskClient]:
    escrow(archive_home, "index", "rebuild")
    app = create_app(config)
    yield app.test_client()
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(queries())
def test_no_generated_query_is_a_server_error_on_the_web(reader: FlaskClient, query: str) -> None:
    response = reader.get("/search", query_string={"q": query})
    assert response.status_code in (200, 400), response.status_code
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["[a TO z]", "NOT NOT word", "body:{a TO zzzz}"])
def test_the_web_and_the_command_line_refuse_with_a_message(reader: FlaskClient, archive_home: Path,
                                                           query: str) -> None:
    page = reader.get("/search", query_string={"q": query})
    cli = escrow(archive_home, "search", query)

    assert page.status_code == 400 and 'role="alert"' in page.get_data(as_text=True)
    assert cli.exit_code == 1 and cli.output.count("\n") == 1 and "Traceback" not in cli.output


def test_the_memory_search_keeps_is_a_setting_and_a_bad_one_is_one_line(config: Config, archive_home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings, "CACHED_ITEMS", postings.CACHED_ITEMS)  # restored after the test
    app = create_app(dataclasses.replace(config, search_cache=3 * 2**20))
    app.extensions["escrow.index"].close()
    assert postings.CACHED_ITEMS == 3 * 2**20 // 8
    assert Config.from_env({"ARCHIVE_HOME": "x", "ESCROW_SEARCH_CACHE_MB": "128"}).search_cache == 128 * 2**20

    for bad in ("0", "lots", "-5"):
        result = escrow(archive_home, "stories", "list", env={"ESCROW_SEARCH_CACHE_MB": bad})
        assert result.exit_code == 1 and result.output.count("\n") == 1
        assert "ESCROW_SEARCH_CACHE_MB must be a whole number of MiB from 1 to 1000000" in result.output
