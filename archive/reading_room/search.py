"""Searching the reading room: checked queries, highlighted snippets from released text only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import highlight
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.query import And, NullQuery, Query, Term
from whoosh.searching import Hit as WhooshHit

from archive.errors import InvalidInput
from archive.reading_room.index import Index, schema

MAX_QUERY = 256
MIN_WILDCARD_PREFIX = 3
SEARCH_FIELDS = ("title", "body", "summary", "tags")
_FIELD_WITHOUT_VALUE = re.compile(r"\w+:(?=\s|\)|$)")
_TOKEN = re.compile(r'[^\s()"]+')


class InvalidQuery(InvalidInput):
    """A query that cannot be searched, with what to change."""


@dataclass(frozen=True)
class Hit:
    """One result: the story's id, its released title and a highlighted snippet (HTML-safe)."""

    id: str
    title: str
    snippet: str


@dataclass(frozen=True)
class Results:
    """One page of results and the total count."""

    total: int
    page: int
    hits: list[Hit] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    """Narrowing by tag, language, interview year and redaction level."""

    tag: str | None = None
    language: str | None = None
    year: int | None = None
    level: str | None = None


_parser = MultifieldParser(list(SEARCH_FIELDS), schema(), group=AndGroup)


def check(text: str) -> str:
    """The query, trimmed, or InvalidQuery saying what to change."""
    query = text.strip()
    if not query:
        raise InvalidQuery("type a word or phrase to search for")
    if len(query) > MAX_QUERY:
        raise InvalidQuery(f"a query may be at most {MAX_QUERY} characters")
    if query.count('"') % 2:
        raise InvalidQuery('a quotation mark is not closed: add the closing "')
    depth = 0
    for char in query:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise InvalidQuery("parentheses do not match: check each ( has its )")
    if _FIELD_WITHOUT_VALUE.search(query):
        raise InvalidQuery("a field needs a value after the colon, e.g. title:strike")
    for token in _TOKEN.findall(query):
        wild = re.search(r"[*?]", token)
        if wild:
            prefix = token[: wild.start()].split(":")[-1]
            if sum(c.isalnum() for c in prefix) < MIN_WILDCARD_PREFIX:
                raise InvalidQuery(
                    f"a wildcard needs at least {MIN_WILDCARD_PREFIX} letters before * or ?, e.g. organi*"
                )
    return query


def parse(text: str) -> Query:
    """A checked query parsed for the index."""
    query = _parser.parse(check(text))
    if query is NullQuery or isinstance(query, type(NullQuery)):
        raise InvalidQuery("the query has no words to search for")
    return query


def _filter(filters: Filters) -> Query | None:
    terms = []
    if filters.tag:
        terms.append(Term("tags", filters.tag.strip().lower()))
    if filters.language:
        terms.append(Term("language", filters.language.strip()))
    if filters.year is not None:
        terms.append(Term("year", filters.year))
    if filters.level:
        terms.append(Term("level", filters.level))
    return And(terms) if terms else None


def search(index: Index, text: str, *, page: int = 1, per_page: int = 10,
           filters: Filters | None = None) -> Results:
    """One page of released stories matching the query, best first, with snippets."""
    query = parse(text)
    page = max(1, page)
    with index.searcher() as searcher:
        # optimize=False: score every match in one pass and count as it goes; the block-
        # skipping default makes the total a second full run of the query.
        results = searcher.search_page(query, page, pagelen=per_page, optimize=False,
                                       filter=_filter(filters or Filters()), terms=True)
        results.results.fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
        results.results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
        hits = [Hit(hit["id"], hit["title"], _snippet(hit)) for hit in results]
        return Results(total=results.total, page=results.pagenum, hits=hits)


def _snippet(hit: WhooshHit) -> str:
    for name in ("body", "summary", "title"):
        snippet = hit.highlights(name, top=2)
        if snippet:
            return snippet
    return highlight.htmlescape(hit.get("summary", "")[:240])


@dataclass(frozen=True)
class Facets:
    """The values researchers can filter by, read from the index (released stories only)."""

    tags: list[str]
    languages: list[str]
    years: list[int]
    levels: list[str]


def facets(index: Index) -> Facets:
    """Every tag, language, interview year and level present in the reading room."""
    with index.searcher() as searcher:
        reader = searcher.reader()
        year_field = reader.schema["year"]

        def words(name: str) -> list[str]:
            return sorted(t.decode("utf-8") for t in reader.lexicon(name))

        years = sorted({int(year_field.from_bytes(t)) for t in year_field.sortable_terms(reader, "year")})
        return Facets(words("tags"), words("language"), years, words("level"))
