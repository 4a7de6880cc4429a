"""Searching the reading room: checked queries, highlighted snippets from released text only.

No query can run away with the site: ranges are accepted on the interview year only (a range
over words expands to every word of the index); a prefix, wildcard or fuzzy word may stand
for at most MAX_EXPANSION words of the index; matching stops after TIME_LIMIT seconds with
"query too broad"; and anything the query parser cannot read is an InvalidQuery, never an
internal error. Plain queries (words, exact phrases, AND, OR: most of them) are matched and
scored a block of postings at a time (scoring.py); the rest by whoosh's matchers. Snippets
are cut around the matches from the character offsets stored in the index, without analysing
the stored text again, and returned as data: plain text with each match's offsets, which each
door renders its own way (the page as HTML marks, the API as offsets, the command line as
plain text).
"""

from __future__ import annotations

import fnmatch
import math
import re
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

from whoosh import collectors, highlight
from whoosh.analysis import Token
from whoosh.collectors import WrappingCollector
from whoosh.qparser import AndGroup, FieldAliasPlugin, MultifieldPlugin, QueryParser
from whoosh.query import (
    And,
    AndMaybe,
    AndNot,
    DisjunctionMax,
    Every,
    Not,
    NullQuery,
    NumericRange,
    Or,
    Phrase,
    Query,
    Require,
    Term,
    TermRange,
    Wildcard,
)
from whoosh.query.terms import MultiTerm
from whoosh.reading import IndexReader

from archive.errors import InvalidInput
from archive.messages import N_
from archive.reading_room import postings, scoring
from archive.reading_room.index import TEXT_FIELDS, Index, schema, spanish, stored_as
from archive.reading_room.languages import SPANISH, EitherLanguage, analysis_of, fold
from archive.reading_room.phrases import exact_phrases

MAX_QUERY = 256
MIN_WILDCARD_PREFIX = 3
MAX_EXPANSION = 200  # index words one prefix, wildcard or fuzzy word may stand for
TIME_LIMIT = 2.0  # seconds of matching a search may take
RANGE_FIELDS = ("year",)
SEARCH_FIELDS = ("title", "body", "summary", "tags")
_FIELD_WITHOUT_VALUE = re.compile(r"\w+:(?=\s|\)|$)")
_TOKEN = re.compile(r'[^\s()"]+')


class InvalidQuery(InvalidInput):
    """A query that cannot be searched, with what to change."""


class QueryTooBroad(InvalidQuery):
    """A query that would take too long to answer: it needs to be narrower."""


@dataclass(frozen=True)
class Snippet:
    """A snippet as plain text, with each match's [start, end) offsets in it (in characters)."""

    text: str
    matches: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Hit:
    """One result: the story's id, its released title, a snippet (plain text, match offsets),
    and the story's language (its title and snippet are in it)."""

    id: str
    title: str
    snippet: Snippet = Snippet("")
    language: str = ""


@dataclass(frozen=True)
class Results:
    """One page of results and the total count; `ranked_of`, when not all matches were ranked
    (PostgreSQL without RUM ranks the newest GIN_RANKED), how many were."""

    total: int
    page: int
    hits: list[Hit] = field(default_factory=list)
    ranked_of: int | None = None


@dataclass(frozen=True)
class Filters:
    """Narrowing by tag, language, interview year and redaction level."""

    tag: str | None = None
    language: str | None = None
    year: int | None = None
    level: str | None = None


class _Parser(QueryParser):  # type: ignore[misc]
    """Whoosh's parser over one language's fields (`words`: the field whose rules say what is a
    stop word). A stop word asks nothing, not even of the tags (which are not analysed: `the
    strike` asked for a tag `the`). A wildcard's letters are folded as the index folds words
    (languages.fold), not stemmed: a stemmer would cut `organizació*` to `organizaci*`, a
    beginning no indexed word has."""

    def __init__(self, words: str) -> None:
        super().__init__(None, _SCHEMA, group=AndGroup)
        self.words = _SCHEMA[words]

    def term_query(self, fieldname: str, text: str, termclass: Any, boost: float = 1.0, tokenize: bool = True,
                   removestops: bool = True) -> Query:
        if termclass is not Term and not tokenize and fieldname in _FOLDED:
            return termclass(fieldname, fold(text), boost=boost)
        if termclass is Term and fieldname not in _FOLDED and removestops \
                and not any(True for _ in self.words.process_text(text, mode="query")):
            return None
        return super().term_query(fieldname, text, termclass, boost, tokenize, removestops)


def _reader(fields: list[str], aliases: dict[str, list[str]]) -> _Parser:
    parser = _Parser(fields[SEARCH_FIELDS.index("body")])
    parser.add_plugin(MultifieldPlugin(fields))  # what whoosh's MultifieldParser is
    if aliases:  # title:huelga asks the Spanish reading's own title field
        parser.add_plugin(FieldAliasPlugin(aliases))
    return parser


_SCHEMA = schema()
_FOLDED = frozenset(name for name in _SCHEMA.names() if stored_as(name) in TEXT_FIELDS)
# The query read twice, once with each language's rules over that language's fields (tags,
# which are not analysed, in both): each story is matched by the reading of its own language.
_READINGS = (_reader(list(SEARCH_FIELDS), {}),
             _reader([spanish(f) if f in TEXT_FIELDS else f for f in SEARCH_FIELDS],
                     {spanish(f): [f] for f in TEXT_FIELDS}))


def check(text: str) -> str:
    """The query, trimmed, or InvalidQuery saying what to change."""
    query = text.strip()
    if not query:
        raise InvalidQuery(N_("type a word or phrase to search for"))
    if len(query) > MAX_QUERY:
        raise InvalidQuery(N_("a query may be at most %(limit)s characters", limit=MAX_QUERY))
    if query.count('"') % 2:
        raise InvalidQuery(N_('a quotation mark is not closed: add the closing "'))
    depth = 0
    for char in query:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise InvalidQuery(N_("parentheses do not match: check each ( has its )"))
    if _FIELD_WITHOUT_VALUE.search(query):
        raise InvalidQuery(N_("a field needs a value after the colon, e.g. title:strike"))
    for token in _TOKEN.findall(query):
        wild = re.search(r"[*?]", token)
        if wild:
            prefix = token[: wild.start()].split(":")[-1]
            if sum(c.isalnum() for c in prefix) < MIN_WILDCARD_PREFIX:
                raise InvalidQuery(N_("a wildcard needs at least %(count)s letters before * or ?, e.g. organi*",
                                      count=MIN_WILDCARD_PREFIX))
    return query


def parse(text: str) -> Query:
    """A checked query parsed for the index: read with English rules and with Spanish rules
    (languages.py), a story matching either reading, scored by the better one."""
    checked = check(text)
    readings = []
    for reader in _READINGS:
        try:
            reading = reader.parse(checked)
        except Exception:  # whoosh's parser fails with IndexError or AssertionError on operator soup
            raise InvalidQuery(N_("the query could not be read: put AND, OR and NOT between words, "
                                  "e.g. strike NOT hotel")) from None
        if not (reading is NullQuery or isinstance(reading, type(NullQuery))):
            readings.append(reading)  # (a reading of nothing but its language's stop words has none)
    if not readings:  # only stop words ("a", "de la"): a search that finds nothing, as the API promises
        return NullQuery
    query = readings[0] if len(readings) == 1 else EitherLanguage(readings)
    for node in _nodes(query):
        if isinstance(node, TermRange | NumericRange) and node.field() not in RANGE_FIELDS:
            raise InvalidQuery(N_("a range (from TO to) works only on the interview year, e.g. year:[2015 TO 2019]"))
    return exact_phrases(_tags_phrases(query))


def _tags_phrases(query: Query) -> Query:
    """The query with each phrase of tags read as all of those tags: tags have no positions,
    and whoosh refuses a phrase over them with an error ("strike, hotel" in quotes is a phrase
    in every field, tags included)."""
    if (isinstance(query, Phrase) and query.fieldname in _SCHEMA
            and not _SCHEMA[query.fieldname].format.supports("positions")):
        return And([Term(query.fieldname, word, boost=query.boost) for word in query.words])
    return query.apply(_tags_phrases)


def _nodes(query: Query) -> Iterator[Query]:
    yield query
    for child in query.children():
        yield from _nodes(child)


def _check_expansion(query: Query, reader: IndexReader) -> None:
    """The prefixes, wildcards and fuzzy words of a query stand for at most MAX_EXPANSION index
    words together (so forty wildcards of 200 words each cannot open 8,000 posting lists)."""
    words: set[tuple[str, bytes]] = set()  # a word counted once, though both readings ask it (tags)
    for node in _nodes(query):
        if isinstance(node, MultiTerm):
            words.update(islice(node.expanded_terms(reader), MAX_EXPANSION + 1))
            if len(words) > MAX_EXPANSION:
                raise QueryTooBroad(N_("the wildcards or fuzzy words match more than %(limit)s words: "
                                       "make them longer", limit=MAX_EXPANSION))


TOO_SLOW = N_("the query is too broad to answer in time: add words or use a phrase")


class _Deadline(WrappingCollector):  # type: ignore[misc]
    """Stops matching at `deadline` (time.monotonic()), checked every 64 matching documents in
    this thread (no signal and no timer thread, so it works in any worker). It sits innermost,
    on the stream of matches, so the collectors around it (terms, filter) keep their own loops."""

    def __init__(self, child: Any, deadline: float) -> None:
        super().__init__(child)
        self.deadline = deadline

    def matches(self) -> Iterator[int]:
        deadline = self.deadline
        for n, sub_docnum in enumerate(self.child.matches()):
            if not n & 63 and time.monotonic() > deadline:
                raise QueryTooBroad(TOO_SLOW)
            yield sub_docnum

    def collect_matches(self) -> None:
        for sub_docnum in self.matches():
            self.child.collect(sub_docnum)


def _collector(searcher: Any, limit: int, query_filter: Query | None, deadline: float) -> Any:
    """Best `limit` by score, filtered, under the deadline.

    Every match is scored and counted in one pass, so the total is exact: usequality=False
    (block skipping would make the total a second full run of the query) and replace=0
    (replacing the matcher with a pruned one, every 10 matches, drops the sub-queries that can
    no longer reach the top; with the terms collector's matcher that undercounted the total,
    e.g. 80 of 120 matching stories in whoosh-reloaded 2.7.5).
    """
    if limit >= searcher.doc_count():
        base = collectors.UnlimitedCollector()
    else:
        base = collectors.TopCollector(limit, usequality=False, replace=0)
    chain = _Deadline(base, deadline)
    return collectors.FilterCollector(chain, query_filter, None) if query_filter is not None else chain


def filter_query(filters: Filters) -> Query | None:
    """The filters as a query a hit must also match (None: no filter)."""
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
           filters: Filters | None = None, clamp_page: bool = True, filters_alone: bool = False) -> Results:
    """One page of released stories matching the query, best first, with snippets.

    A page past the last is the last page (the web page's way), or with clamp_page=False
    that page, empty (a script paging on until no hits come back stops). With
    `filters_alone`, an empty query and at least one filter is a search too: every story the
    filters allow (its snippet the start of its summary).
    """
    wanted = filter_query(filters or Filters())
    alone = filters_alone and not text.strip() and wanted is not None
    query = wanted if alone and wanted is not None else parse(text)
    page = max(1, page)
    with index.searcher() as searcher:
        _check_expansion(query, searcher.reader())
        total, ranked = _ranked(searcher, query, page * per_page, None if alone else wanted)
        shown = min(max(1, math.ceil(total / per_page)), page)
        if not clamp_page and shown != page:
            return Results(total=total, page=page)
        asked = asked_of(query)
        hits = []
        docnums = ranked[(shown - 1) * per_page:shown * per_page]
        places = _Offsets(searcher, docnums)
        reader = searcher.reader()

        def expand(docnum: int, field: str, start: bytes) -> list[bytes]:
            return list(islice(reader.expand_prefix(field, start), MAX_EXPANSION)) if field in reader.schema else []

        for docnum in docnums:
            stored = searcher.stored_fields(docnum)
            matched = Matched(places, docnum, stored, expand).terms(None if alone else query)
            hits.append(Hit(stored["id"], stored["title"], snippet(places, docnum, stored, matched, asked),
                            language=stored.get("language", "")))
        return Results(total=total, page=shown, hits=hits)


def _ranked(searcher: Any, query: Query, limit: int, query_filter: Query | None) -> tuple[int, list[int]]:
    """How many stories match and the best `limit` of them (document numbers, best first; equal
    scores in document order, as whoosh ranks them). A plain query is
    matched a block of postings at a time (scoring.py); any other through whoosh's matchers."""
    deadline = time.monotonic() + TIME_LIMIT

    def check() -> None:
        if time.monotonic() > deadline:
            raise QueryTooBroad(TOO_SLOW)

    found = scoring.matches(searcher, query, check, allow=query_filter)
    if found is not None:
        return len(found), found.best(limit)
    collector = _collector(searcher, limit, query_filter, deadline)
    searcher.search_with_collector(query, collector)
    results = collector.results()
    return len(results), [docnum for _, docnum in results.top_n]


BETWEEN = " … "  # between two fragments of one snippet


class _Pieces(highlight.Formatter):  # type: ignore[misc]
    """Formats the highlighter's fragments as a Snippet (plain text and match offsets). The walk
    over each fragment's matches is whoosh's Formatter.format_fragment's, so the marks a door
    renders from the offsets are where whoosh's HtmlFormatter would put them."""

    between = BETWEEN

    def format(self, fragments: list[Any], replace: bool = False) -> Snippet:
        parts: list[str] = []
        matches: list[tuple[int, int]] = []
        length = 0

        def add(piece: str) -> None:
            nonlocal length
            parts.append(piece)
            length += len(piece)

        for n, fragment in enumerate(fragments):
            if n:
                add(BETWEEN)
            index, text = fragment.startchar, fragment.text
            # Overlapping tokens: by position, the longest first; one inside a token shown is skipped.
            for token in sorted(fragment.matches, key=lambda t: (t.startchar, -(t.endchar - t.startchar))):
                if token.startchar is None or token.startchar < index:
                    continue
                add(text[index:token.startchar])
                matches.append((length, length + token.endchar - token.startchar))
                add(text[token.startchar:token.endchar])
                index = token.endchar
            add(text[index:fragment.endchar])
        return Snippet("".join(parts), tuple(matches))


_FRAGMENTER = highlight.PinpointFragmenter(maxchars=240, surround=60, autotrim=True)
_SCORER = highlight.BasicFragmentScorer()
SNIPPET_FRAGMENTS = 2


@dataclass
class _Asked:
    """What a query asks of one field: exact phrases, and words asked on their own."""

    phrases: list[tuple[bytes, ...]] = field(default_factory=list)
    words: set[bytes] = field(default_factory=set)


def asked_of(query: Query) -> dict[str, _Asked]:
    """The exact phrases and lone words of a query by field, as the index holds them."""
    found: dict[str, _Asked] = {}
    for node in _nodes(query):
        name = getattr(node, "fieldname", None)
        if not isinstance(name, str) or name not in _SCHEMA or not _SCHEMA[name].format.supports("characters"):
            continue
        to_bytes = _SCHEMA[name].to_bytes
        if isinstance(node, Phrase) and node.slop == 1 and len(node.words) > 1:
            found.setdefault(name, _Asked()).phrases.append(tuple(to_bytes(w) for w in node.words))
        elif isinstance(node, Term):
            found.setdefault(name, _Asked()).words.add(to_bytes(node.text))
    return found


def snippet(places: Places, docnum: Any, stored: dict[str, Any], matched: Collection[tuple[str, bytes]],
            asked: dict[str, _Asked]) -> Snippet:
    """A hit's snippet, from where the query's words stand in its fields (`places`: read from
    the index's postings, or from its released text analysed again as the index analysed it;
    both give the same offsets) and the (field, word) pairs it matched."""
    for name in ("body", "summary", "title"):
        # A story's words are in the field or in its Spanish twin (index.py), never in both;
        # the offsets of either point into the field's stored text.
        matches = [token for indexed in (name, spanish(name))
                   for token in _matches(places, docnum, matched, indexed, asked.get(indexed) or _Asked())]
        if matches:
            fragments = _FRAGMENTER.fragment_matches(stored[name], matches)
            best = highlight.top_fragments(fragments, SNIPPET_FRAGMENTS, _SCORER, highlight.FIRST)
            snippet = _Pieces().format(best)
            if snippet.text:
                return snippet
    return Snippet(stored.get("summary", "")[:240])


class Places(Protocol):
    """Where a hit's words stand: each position of a word in one of its indexed fields, with
    its [start, end) characters in the field's stored text."""

    def of(self, docnum: Any, field: str, word: bytes) -> dict[int, tuple[int, int]]: ...


class Analysed:
    """Places read by analysing each hit's released text again, with the index's own analyzers
    (for a backend without Whoosh's postings): the same positions and offsets as _Offsets."""

    def __init__(self, stored: dict[str, dict[str, Any]]) -> None:
        self.stored = stored  # by story id: its fields as search.snippet reads them, and its language
        self.words: dict[tuple[str, str], dict[bytes, dict[int, tuple[int, int]]]] = {}

    def of(self, docnum: Any, field: str, word: bytes) -> dict[int, tuple[int, int]]:
        return self.in_field(docnum, field).get(word, {})

    def expand(self, docnum: Any, field: str, start: bytes) -> list[bytes]:
        """The words of the hit's field that begin so."""
        return [word for word in self.in_field(docnum, field) if word.startswith(start)]

    def in_field(self, story_id: str, field: str) -> dict[bytes, dict[int, tuple[int, int]]]:
        """Every word of one of the hit's indexed fields, with its places (nothing for the twin
        field its language does not use)."""
        key = (story_id, field)
        if key not in self.words:
            stored = self.stored[story_id]
            found: dict[bytes, dict[int, tuple[int, int]]] = {}
            if field in _FOLDED and (spanish(stored_as(field)) == field) == \
                    (analysis_of(stored.get("language")) == SPANISH):
                for token in _SCHEMA[field].analyzer(stored.get(stored_as(field)) or "", positions=True, chars=True,
                                                     mode="index"):
                    found.setdefault(token.text.encode("utf-8"), {})[token.pos] = (token.startchar, token.endchar)
            self.words[key] = found
        return self.words[key]


class Matched:
    """What a query matched in one hit, for its snippet: the (field, word) pairs of every part
    of the query that matches the story (an OR's matching sides, an AND's all, the positive
    side of a NOT, a phrase's words where it stands whole, the words a prefix stands for in the
    story), read from its places (`places.of`) and stored tags and year. Both backends mark
    with it, so a snippet does not depend on the backend, nor on a matcher's inner state.
    `expand(docnum, field, beginning)`: the words of a field that begin so (the index's, or
    the story's own)."""

    def __init__(self, places: Places, docnum: Any, stored: dict[str, Any],
                 expand: Callable[[Any, str, bytes], Collection[bytes]]) -> None:
        self.places, self.docnum, self.stored, self.expand = places, docnum, stored, expand

    def terms(self, query: Query | None) -> set[tuple[str, bytes]]:
        found = self._match(query) if query is not None else None
        return found if found is not None else set()

    def _has(self, field: str, word: bytes) -> dict[int, tuple[int, int]]:
        if field not in _FOLDED:
            return {}
        return self.places.of(self.docnum, field, word)

    def _tags(self) -> set[str]:
        return {token.text for token in _SCHEMA["tags"].analyzer(self.stored.get("tags") or "", mode="index")}

    def _year_in(self, start: Any, end: Any, startexcl: bool = False, endexcl: bool = False) -> bool:
        year = self.stored.get("year")
        try:
            low = None if start is None else int(start)
            high = None if end is None else int(end)
        except (TypeError, ValueError):
            return False
        return year is not None and (low is None or year > low or (year == low and not startexcl)) \
            and (high is None or year < high or (year == high and not endexcl))

    def _match(self, node: Any) -> set[tuple[str, bytes]] | None:
        """The terms the node matched in the hit, or None when it does not match it."""
        if isinstance(node, Phrase):
            words = [_SCHEMA[node.fieldname].to_bytes(w) if node.fieldname in _FOLDED else str(w).encode()
                     for w in node.words]
            places = [self._has(node.fieldname, word) for word in words]
            if all(places) and any(all(p + n in places[n] for n in range(1, len(places))) for p in places[0]):
                return {(node.fieldname, word) for word in words}
            return None
        if isinstance(node, NumericRange):
            return set() if node.fieldname == "year" and self._year_in(node.start, node.end, node.startexcl,
                                                                        node.endexcl) else None
        if isinstance(node, Term):
            if node.fieldname == "year":
                year = _SCHEMA["year"].from_bytes(node.text) if isinstance(node.text, bytes) else node.text
                return set() if self._year_in(year, year) else None
            if node.fieldname == "tags":
                return {("tags", node.text.encode())} if node.text in self._tags() else None
            if node.fieldname not in _FOLDED:
                return None
            word = _SCHEMA[node.fieldname].to_bytes(node.text)
            return {(node.fieldname, word)} if self._has(node.fieldname, word) else None
        if isinstance(node, MultiTerm):  # a prefix or wildcard (only prefixes on PostgreSQL)
            start = node.text.split("*")[0].split("?")[0].encode()
            if node.fieldname == "tags":
                words: Collection[bytes] = {t.encode() for t in self._tags()}
            else:
                words = [w for w in self.expand(self.docnum, node.fieldname, start) if self._has(node.fieldname, w)]
            pattern = re.compile(fnmatch.translate(node.text).encode()) if isinstance(node, Wildcard) else None
            found = {(node.fieldname, w) for w in words
                     if w.startswith(start) and (pattern is None or pattern.match(w))}
            return found or None
        if isinstance(node, AndNot):
            return None if self._match(node.b) is not None else self._match(node.a)
        if isinstance(node, AndMaybe):
            first = self._match(node.a)
            return None if first is None else first | (self._match(node.b) or set())
        if isinstance(node, Not):
            return None if self._match(node.query) is not None else set()
        if isinstance(node, And | Require):
            parts = [self._match(child) for child in node.children()]
            return None if any(part is None for part in parts) else set().union(*parts)  # type: ignore[arg-type]
        if isinstance(node, Or | DisjunctionMax):
            parts = [part for part in (self._match(child) for child in node.children()) if part is not None]
            return set().union(*parts) if parts else None
        if isinstance(node, Every):
            return set()
        return None


class _Offsets:
    """Where the words of the query stand in a page's hits, as character offsets read from the
    index's postings (never by analysing the text again). Each word's postings are read once
    for the page in each segment holding hits, and only the blocks that hold those hits."""

    def __init__(self, searcher: Any, docnums: list[int]) -> None:
        self.where: dict[int, tuple[int, int]] = {}  # document -> (segment, its number there)
        self.segments: list[tuple[Any, list[int]]] = []  # segment reader, its hits in order
        for n, (sub, offset) in enumerate(searcher.leaf_searchers()):
            mine = sorted(d - offset for d in docnums if offset <= d < offset + sub.doc_count_all())
            self.segments.append((sub.reader(), mine))
            self.where.update((offset + d, (n, d)) for d in mine)
        self.values: dict[tuple[int, str, bytes], dict[int, Any]] = {}

    def of(self, docnum: int, field: str, word: bytes) -> dict[int, tuple[int, int]]:
        """Each position of the word in the document's field, with its [start, end) characters."""
        segment, local = self.where[docnum]
        key = (segment, field, word)
        if key not in self.values:
            reader, hits = self.segments[segment]
            found: dict[int, Any] = {}
            if (field, word) in reader:
                wanted = set(hits)
                for ids, _, values in postings.blocks(reader, field, word, within=hits):
                    found.update((d, v) for d, v in zip(ids, values, strict=True) if d in wanted)
            self.values[key] = found
        value = self.values[key].get(local)
        if value is None:
            return {}
        characters = _SCHEMA[field].format.decoder("characters")(value)
        return {pos: (start, end) for pos, start, end in characters}


def _matches(places: Places, docnum: Any, matched_terms: Collection[tuple[str, bytes]], name: str,
             asked: _Asked) -> list[Token]:
    """What the query matched in one field of the hit, as tokens with character offsets: each
    word the query matched on its own, and each place a phrase stands whole, as one token from
    its first word to its last (its words elsewhere are not marked); overlapping tokens joined."""
    cache: dict[bytes, dict[int, tuple[int, int]]] = {}

    def offsets(word: bytes) -> dict[int, tuple[int, int]]:
        if word not in cache:
            cache[word] = places.of(docnum, name, word)
        return cache[word]

    matched = {term for matched_field, term in matched_terms if matched_field == name}
    only_in_phrases = {word for phrase in asked.phrases for word in phrase} - asked.words
    spans = [span for word in matched - only_in_phrases for span in offsets(word).values()]
    for phrase in asked.phrases:
        if matched.issuperset(phrase):
            first, *rest = phrase
            for pos, (start, _end) in offsets(first).items():
                last = [offsets(word).get(pos + n) for n, word in enumerate(rest, start=1)]
                if all(last):
                    spans.append((start, last[-1][1]))  # type: ignore[index]
    tokens: list[Token] = []
    for start, end in sorted(spans):
        if tokens and start < tokens[-1].endchar:
            tokens[-1].endchar = max(tokens[-1].endchar, end)
        else:
            tokens.append(Token(startchar=start, endchar=end))
    return tokens


@dataclass(frozen=True)
class Facets:
    """The values researchers can filter by, read from the index (released stories only)."""

    tags: list[str]
    languages: list[str]
    years: list[int]
    levels: list[str]


def facets(index: Index) -> Facets:
    """Every tag, language, interview year and level present in the reading room (read from the
    index once per version of it, not on every page)."""
    return index.derived("facets", _facets)


def _facets(searcher: Any) -> Facets:
    reader = searcher.reader()
    year_field = reader.schema["year"]

    def words(name: str) -> list[str]:
        return sorted(t.decode("utf-8") for t in reader.lexicon(name))

    years = sorted({int(year_field.from_bytes(t)) for t in year_field.sortable_terms(reader, "year")})
    return Facets(words("tags"), words("language"), years, words("level"))
