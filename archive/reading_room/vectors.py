"""A released copy's words as PostgreSQL's `tsvector` and a query as its `tsquery`, both read
with the Whoosh index's own rules, so that the two search backends find the same stories.

PostgreSQL's own parsers and dictionaries cut and stem words otherwise than the index does
(a hyphenated word, an address, a Spanish accent): the two backends would then answer one
query with two sets of stories, and the snippets would mark different words. Here the words
are analysed once, in Python, by the analyzers of the index's schema (languages.py), and
written as lexemes, each prefixed by the index field it is in: `b:organ` for a word of the
body read with English rules, `B:organiz` of a body read with Spanish rules, `t:` and `T:`
titles, `s:` and `S:` summaries, `g:` whole tags, `y:` the interview year. A query parsed by
search.py (the one query language of both backends) is compiled to a `tsquery` over the same
lexemes: a word is its term in each field the parser asked, a phrase `<->` between its terms,
a prefix `:*`, NOT `!`, a year range the years present in it.

PostgreSQL keeps positions 1 to 16,383 and at most 256 of them per lexeme: words past the
16,383rd of a field, and places of one word past its 256th, are not positions for phrases
(a phrase standing there is found by Whoosh, not by PostgreSQL); every word is still a
lexeme of the story, so single words, prefixes and AND/OR/NOT queries are found alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

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
    Prefix,
    Query,
    Require,
    Term,
    Wildcard,
)

from archive.errors import InvalidInput
from archive.messages import N_
from archive.reading_room import languages
from archive.reading_room.index import TEXT_FIELDS, schema, spanish

CODES = {"title": "t", "summary": "s", "body": "b", "title_es": "T", "summary_es": "S", "body_es": "B",
         "tags": "g", "year": "y"}
WEIGHTS = {"t": "A", "T": "A", "s": "B", "S": "B", "g": "C", "b": "D", "B": "D"}
MAX_POSITION = 16_383
MAX_PLACES = 255
MAX_LEXEME = 2_000  # bytes (PostgreSQL refuses lexemes of 2 KB); a longer "word" is not a word anyone searches
EVERYTHING = "*"  # the compiled form of a query that every story matches (NOT of nothing)
_SCHEMA = schema()
_PREFIX_ONLY = re.compile(r"[^*?]+\*")


def quoted(lexeme: str) -> str:
    """A lexeme as tsvector and tsquery literals write it: quoted, quotes and backslashes doubled."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def field_words(field: str, text: str) -> dict[str, list[tuple[int, int, int]]]:
    """Each term of the text as the index's field holds it, with its places: (position,
    start character, end character), in order."""
    found: dict[str, list[tuple[int, int, int]]] = {}
    for token in _SCHEMA[field].analyzer(text, positions=True, chars=True, mode="index"):
        found.setdefault(token.text, []).append((token.pos, token.startchar, token.endchar))
    return found


def text_field(name: str, language: str | None) -> str:
    """The index field a story's text field is read in: the field, or its Spanish twin."""
    return spanish(name) if languages.analysis_of(language) == languages.SPANISH else name


def analysed(doc: dict[str, Any]) -> dict[str, dict[str, list[tuple[int, int, int]]]]:
    """Each text field of an index document, as the index field it is read in, with its terms
    and their places (field_words)."""
    return {text_field(name, doc.get("language")): field_words(text_field(name, doc.get("language")),
                                                               doc.get(name) or "")
            for name in TEXT_FIELDS}


def places(fields: dict[str, dict[str, list[tuple[int, int, int]]]]) -> str:
    """The places of a story's terms as JSON (each field's terms, each with its positions and
    characters, flat: [pos, start, end, ...]), kept beside the vector so that a hit's snippet is
    cut without analysing its text again."""
    return json.dumps({field: {word: [n for place in found for n in place] for word, found in words.items()}
                       for field, words in fields.items()}, ensure_ascii=False, separators=(",", ":"))


def vector(doc: dict[str, Any], fields: dict[str, dict[str, list[tuple[int, int, int]]]] | None = None) -> str:
    """The tsvector literal of an index document (index.document): the same terms as the
    Whoosh index holds for it, each under its field's prefix, weighted by field (`fields`: its
    analysis, if made already)."""
    parts: list[str] = []
    for field, words in (fields if fields is not None else analysed(doc)).items():
        code = CODES[field]
        for word, places in words.items():
            lexeme = f"{code}:{word}"
            if len(lexeme.encode()) > MAX_LEXEME:
                continue
            positions = [pos + 1 for pos, _, _ in places if pos + 1 <= MAX_POSITION][:MAX_PLACES] or [MAX_POSITION]
            parts.append(quoted(lexeme) + ":" + ",".join(f"{p}{WEIGHTS[code]}" for p in positions))
    for tag in {t.text for t in _SCHEMA["tags"].analyzer(doc.get("tags") or "", mode="index")}:
        lexeme = f"g:{tag}"
        if len(lexeme.encode()) <= MAX_LEXEME:
            parts.append(quoted(lexeme) + ":1C")
    if doc.get("year") is not None:
        parts.append(quoted(f"y:{int(doc['year'])}"))
    return " ".join(parts)


def compile_query(query: Query, years: Callable[[], Iterable[int]]) -> str | None:
    """The tsquery of a parsed query (search.parse), None when no story can match it, or
    EVERYTHING. `years`: the interview years present, asked only for a year range."""
    return _compile(query, years)


def _compile(query: Query, years: Callable[[], Iterable[int]]) -> str | None:
    if query is NullQuery or isinstance(query, type(NullQuery)):
        return None
    if isinstance(query, Every):
        return EVERYTHING
    if isinstance(query, Phrase):  # (search.py's Adjacent is one)
        terms = [_lexeme(query.fieldname, word) for word in query.words]
        if any(term is None for term in terms):
            return None
        return "(" + " <-> ".join(quoted(term) for term in terms if term is not None) + ")"
    if isinstance(query, Term):
        term = _lexeme(query.fieldname, query.text)
        return None if term is None else quoted(term)
    if isinstance(query, Wildcard | Prefix):
        if isinstance(query, Wildcard) and not _PREFIX_ONLY.fullmatch(query.text):
            raise InvalidInput(N_("a wildcard works only at the end of a word here, e.g. organi*"))
        term = _lexeme(query.fieldname, query.text.rstrip("*"))
        return None if term is None else quoted(term) + ":*"
    if isinstance(query, NumericRange):
        start = -10**9 if query.start is None else int(query.start) + (1 if query.startexcl else 0)
        end = 10**9 if query.end is None else int(query.end) - (1 if query.endexcl else 0)
        wanted = sorted(year for year in years() if start <= year <= end)
        return _either([quoted(f"y:{year}") for year in wanted])
    if isinstance(query, AndNot):
        positive, negative = _compile(query.a, years), _compile(query.b, years)
        return _both([positive, _not(negative)])
    if isinstance(query, AndMaybe):
        return _compile(query.a, years)
    if isinstance(query, Require):
        return _both([_compile(query.a, years), _compile(query.b, years)])
    if isinstance(query, And):
        return _both([_compile(sub, years) for sub in query.subqueries])
    if isinstance(query, Or | DisjunctionMax):
        return _either([_compile(sub, years) for sub in query.subqueries])
    if isinstance(query, Not):
        return _not(_compile(query.query, years))
    raise InvalidInput(N_("the query could not be read: put AND, OR and NOT between words, e.g. strike NOT hotel"))


def _lexeme(field: str, word: Any) -> str | None:
    code = CODES.get(field)
    if code is None:
        return None
    if field == "year":
        try:
            return f"y:{int(_SCHEMA['year'].from_bytes(word) if isinstance(word, bytes) else word)}"
        except (TypeError, ValueError):
            return None
    return f"{code}:{word.decode() if isinstance(word, bytes) else word}"


def _not(compiled: str | None) -> str | None:
    if compiled is None:
        return EVERYTHING
    if compiled == EVERYTHING:
        return None
    return f"!{compiled}"


def _both(parts: list[str | None]) -> str | None:
    if any(part is None for part in parts):
        return None
    kept = [part for part in parts if part != EVERYTHING]
    if not kept:
        return EVERYTHING
    return kept[0] if len(kept) == 1 else "(" + " & ".join(p for p in kept if p is not None) + ")"


def _either(parts: list[str | None]) -> str | None:
    kept = [part for part in parts if part is not None]
    if EVERYTHING in kept:
        return EVERYTHING
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(" + " | ".join(kept) + ")"
