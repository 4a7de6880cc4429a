"""The two search backends answer alike: on one reading room of generated stories in English and
Spanish, every query (words, phrases, prefixes, title:, year ranges, NOT, OR, filters) finds the
same stories on Whoosh and on PostgreSQL, with the same snippet and the same match offsets in
it; and a sealed story's words are in neither.

Collected on the PostgreSQL run only (tests/conftest.py): the PostgreSQL backend needs the
server, and the Whoosh side of each comparison is built from the same database's table.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from archive.errors import InvalidInput
from archive.reading_room import postgres as postgres_backend
from archive.reading_room.engines import Search, WhooshSearch
from archive.reading_room.index import Index
from archive.reading_room.postgres import PostgresSearch, has_rum
from archive.reading_room.search import Filters
from archive.storage import database
from tests.databases import BLANK
from tests.helpers import archive_app, canaries, escrow, story, unit, write_lines
from tests.prebuilt import prebuilt

ORGANIZER = "org@example.org"
STORIES = 240
ENGLISH = ("strike union wage hotel kitchen laundry worker workers organizing organized shift night picket "
           "contract manager boss overtime break injury safety rent housing visa papers raid meeting "
           "leaflet committee grievance steward dues walkout boycott farm harvest heat water").split()
SPANISH = ("huelga sindicato salario hotel cocina lavandería trabajador trabajadores organización "
           "organizaciones organizacion turno noche piquete contrato patrón horas descanso lesión seguridad "
           "renta vivienda papeles redada reunión volante comité queja delegado cuotas paro boicot campo "
           "cosecha calor agua compañeras compañeros derechos").split()
TAGS = ("strike", "hotel", "huelga", "farm work", "housing", "safety", "visa", "campo")
LANGUAGES = ("en", "en", "es", "es-MX", "fr")


@dataclass(frozen=True)
class Corpus:
    sealed_canary: str
    words: tuple[str, ...]
    phrases: tuple[str, ...]


def _zipf(rng: random.Random, words: list[str]) -> str:
    """A word drawn with Zipf's weights (the first words common, the last rare)."""
    return rng.choices(words, weights=[1 / (n + 1) for n in range(len(words))])[0]


def _sentence(rng: random.Random, words: list[str], length: int) -> str:
    said = [_zipf(rng, words) for _ in range(length)]
    if rng.random() < 0.3:
        said[0] = said[0].capitalize()
    if rng.random() < 0.2:
        said.insert(rng.randrange(len(said)), rng.choice(["the", "de", "la", "and", "y", "a"]))
    return " ".join(said) + rng.choice([".", ",", "!", "?", " —", "."])


def _stories(rng: random.Random) -> list[dict[str, object]]:
    made = []
    for n in range(STORIES):
        language = LANGUAGES[n % len(LANGUAGES)]
        words = SPANISH if language.startswith("es") else ENGLISH
        body = " ".join(_sentence(rng, words, rng.randint(4, 14)) for _ in range(rng.randint(3, 30)))
        made.append(story(
            title=_sentence(rng, words, rng.randint(2, 5)).rstrip(".,!? —"),
            transcript=body, summary=_sentence(rng, words, rng.randint(5, 12)),
            language=language, interview_date=f"{rng.randint(1985, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            tags=rng.sample(TAGS, rng.randint(0, 3)), embargo_until="2020-01-01T00:00:00Z",
            redaction_level=rng.choice(["full", "pseudonymized", "redacted"]), narrator=f"Narrator {n}"))
    return made


@prebuilt()
def corpus(home: Path) -> Corpus:
    """An organizer's STORIES stories in five languages, released; one more sealed, with a canary."""
    rng = random.Random(27)
    assert escrow(home, "users", "add", ORGANIZER, "--role", "organizer", "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    [canary] = canaries(1)
    lines = [*_stories(rng), story(title=f"Sealed {canary}", transcript=f"Only {canary} here.",
                                   embargo_until="2090-01-01T00:00:00Z")]
    path = write_lines(home.parent / "stories.jsonl", *lines)
    assert escrow(home, "stories", "import", str(path), "--as", ORGANIZER).exit_code == 0
    released = escrow(home, "publish-due")
    assert released.output.startswith(f"released {STORIES},"), released.output
    text_of = " ".join(str(line["transcript"]) for line in lines[:STORIES])
    pairs = re.findall(r"(?=\b([^\W\d_]{3,}) ([^\W\d_]{3,})\b)", text_of)
    return Corpus(canary, tuple(ENGLISH + SPANISH), tuple(f"{a} {b}" for a, b in rng.sample(pairs, 40)))


@pytest.fixture
def backends(archive_home: Path, corpus: Corpus, tmp_path: Path) -> Iterator[tuple[Session, Search, Search]]:
    """The database's session, its Whoosh index rebuilt from the table, and its PostgreSQL backend."""
    with archive_app(archive_home) as app, app.app_context():
        session = database.db.session()
        whoosh = WhooshSearch(Index(tmp_path / "index"))
        with unit(index=whoosh.index) as building:
            whoosh.rebuild(building)
        yield session, whoosh, PostgresSearch()
        whoosh.close()
        database.db.session.remove()


def _everything(session: Session, backend: Search, query: str, filters: Filters | None = None,
                ) -> dict[str, tuple[str, tuple[tuple[int, int], ...]]]:
    """Every hit of the query, page after page: its snippet and match offsets, by story id."""
    found: dict[str, tuple[str, tuple[tuple[int, int], ...]]] = {}
    page = 1
    while True:
        results = backend.search(session, query, page=page, per_page=100, filters=filters, clamp_page=False,
                                 filters_alone=True)
        for hit in results.hits:
            found[hit.id] = (hit.snippet.text, hit.snippet.matches)
        if page * 100 >= results.total:
            assert len(found) == results.total, (query, len(found), results.total)
            return found
        page += 1


def _queries(corpus: Corpus) -> list[str]:
    rng = random.Random(2027)
    words = list(corpus.words)
    asked = [*words[:12], *[f'"{phrase}"' for phrase in corpus.phrases[:20]]]
    asked += [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(8)]
    asked += [f"{rng.choice(words)} OR {rng.choice(words)}" for _ in range(6)]
    asked += [f"{rng.choice(words)} NOT {rng.choice(words)}" for _ in range(6)]
    asked += ["organi*", "trabaj*", "organiz*", "work*", "compañ*", "picket*"]
    asked += [f"title:{w}" for w in rng.sample(words, 6)]
    asked += ["year:[1990 TO 1999]", "strike year:[2000 TO 2010]", "year:[2015 TO]", "huelga year:[TO 2000]"]
    asked += ["organización", "organizacion", "ORGANIZACIONES", "lavanderia", "lesion", "reunion"]
    asked += ['(strike OR huelga) hotel', 'union NOT (wage OR rent)', '"night shift" OR "turno noche"',
              'title:"hotel kitchen"', "farm", "campo", "visa", "a", "the strike", "de la huelga"]
    return asked


def test_every_query_finds_the_same_stories_with_the_same_snippets_on_both(
        backends: tuple[Session, Search, Search], corpus: Corpus) -> None:
    session, whoosh, postgres = backends
    asked = _queries(corpus)
    assert len(asked) >= 60
    differing, hits = [], 0
    for query in asked:
        on_whoosh, on_postgres = _everything(session, whoosh, query), _everything(session, postgres, query)
        hits += len(on_whoosh)
        if on_whoosh != on_postgres:
            only = sorted(set(on_whoosh) ^ set(on_postgres))[:3]
            snips = [i for i in on_whoosh if i in on_postgres and on_whoosh[i] != on_postgres[i]][:1]
            differing.append((query, len(on_whoosh), len(on_postgres), only,
                              [(on_whoosh[i], on_postgres[i]) for i in snips]))
    assert not differing, differing
    assert hits > 1000  # the queries find something: a comparison of empty sets would prove nothing


def test_filters_alone_and_with_a_query_narrow_alike(backends: tuple[Session, Search, Search]) -> None:
    session, whoosh, postgres = backends
    for filters in (Filters(tag="farm work"), Filters(language="es"), Filters(language="es-MX", year=2001),
                    Filters(level="redacted", tag="strike"), Filters(tag="HOTEL")):
        for query in ("", "strike", "huelga OR union"):
            assert _everything(session, whoosh, query, filters) == _everything(session, postgres, query, filters), \
                (query, filters)


def test_the_facets_are_the_same(backends: tuple[Session, Search, Search]) -> None:
    session, whoosh, postgres = backends
    assert whoosh.facets(session) == postgres.facets(session)


_WORDS = st.sampled_from(ENGLISH + SPANISH + ["organizacion", "Trabajadores", "NIGHT", "lavanderia"])
_TERM = st.one_of(_WORDS, _WORDS.map(lambda w: f"title:{w}"), _WORDS.map(lambda w: w[:4] + "*"),
                  st.tuples(_WORDS, _WORDS).map(lambda p: f'"{p[0]} {p[1]}"'),
                  st.integers(1984, 2025).map(lambda y: f"year:[{y} TO {y + 5}]"))
_QUERY = st.recursive(_TERM, lambda inner: st.tuples(inner, st.sampled_from([" ", " OR ", " NOT ", " AND "]), inner)
                      .map(lambda t: f"({t[0]}{t[1]}{t[2]})"), max_leaves=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_QUERY)
def test_any_query_of_the_language_is_answered_alike(backends: tuple[Session, Search, Search], query: str) -> None:
    session, whoosh, postgres = backends
    outcomes = []
    for backend in (whoosh, postgres):
        try:
            outcomes.append(_everything(session, backend, query))
        except InvalidInput as error:
            outcomes.append(type(error).__name__)
    assert outcomes[0] == outcomes[1], query


def test_a_wildcard_inside_a_word_is_refused_with_what_to_do_on_postgresql(
        backends: tuple[Session, Search, Search]) -> None:
    session, _, postgres = backends
    with pytest.raises(InvalidInput, match="only at the end of a word"):
        postgres.search(session, "organ?zing")


def test_a_sealed_story_is_in_neither(backends: tuple[Session, Search, Search], corpus: Corpus,
                                      archive_home: Path) -> None:
    session, whoosh, postgres = backends
    assert _everything(session, whoosh, corpus.sealed_canary) == {}
    assert _everything(session, postgres, corpus.sealed_canary) == {}
    assert session.scalar(text("SELECT count(*) FROM released_stories WHERE search_vector::text LIKE :c"),
                          {"c": f"%{corpus.sealed_canary[:12]}%"}) == 0
    index_files = b"".join(path.read_bytes() for path in whoosh.index.path.rglob("*") if path.is_file())
    assert corpus.sealed_canary[:12].encode() not in index_files


def test_the_vectors_agree_with_the_released_text_and_nothing_is_pending(
        backends: tuple[Session, Search, Search]) -> None:
    session, _, postgres = backends
    assert postgres.differences(session) == []
    session.execute(text("UPDATE released_stories SET search_vector = NULL WHERE id = "
                         "(SELECT id FROM released_stories ORDER BY id LIMIT 1)"))
    assert [line for line in postgres.differences(session) if "differs from the released copy" in line]
    session.rollback()


def test_the_search_index_is_the_kind_this_run_expects(backends: tuple[Session, Search, Search]) -> None:
    """RUM where the extension is in the database's template (`.ci/run`'s main run), else GIN
    (its contract run without RUM): the comparisons above ran on that kind."""
    session = backends[0]
    expected = os.environ.get("ESCROW_TEST_EXPECT_INDEX") or ("rum" if BLANK == "template1" else "gin")
    assert ("rum" if has_rum(session) else "gin") == expected


def test_a_word_asked_with_a_year_is_marked_in_stories_of_that_year(backends: tuple[Session, Search, Search]) -> None:
    session, whoosh, postgres = backends
    years = postgres.facets(session).years
    marked = 0
    for year in years[:6]:
        found = _everything(session, whoosh, f"strike year:{year}")
        assert found == _everything(session, postgres, f"strike year:{year}")
        marked += sum(1 for _, matches in found.values() if matches)
    assert marked > 0


def test_without_rum_a_search_says_only_the_newest_matches_were_ranked(
        backends: tuple[Session, Search, Search], monkeypatch: pytest.MonkeyPatch) -> None:
    session, whoosh, postgres = backends
    monkeypatch.setattr(postgres_backend, "GIN_RANKED", 50)
    results = postgres.search(session, "strike")
    assert results.total > 50
    assert results.ranked_of == (None if has_rum(session) else 50)
    assert whoosh.search(session, "strike").ranked_of is None  # Whoosh ranks every match


@pytest.mark.parametrize("lang, said", [
    ("en", "Only the newest 50 matching stories are ranked by how well they match"),
    ("es", "Solo los 50 relatos más recientes que coinciden se ordenan según cuánto coinciden"),
])
def test_the_search_page_says_when_only_the_newest_matches_were_ranked(
        archive_home: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch, lang: str, said: str) -> None:
    monkeypatch.setattr(postgres_backend, "GIN_RANKED", 50)
    with archive_app(archive_home) as app:
        with app.app_context():
            rum = has_rum(database.db.session())
            database.db.session.remove()
        page = app.test_client().get(f"/search?q=strike&lang={lang}")
        text_of = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert page.status_code == 200
    assert (said in text_of) != rum  # GIN ranks the newest 50 of these hundreds; RUM ranks them all
