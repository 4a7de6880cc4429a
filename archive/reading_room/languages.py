"""How the index reads a story's words: with its own language's rules, English or Spanish.

Each story is analysed with the rules of its language (its `language` code's first part;
any language other than Spanish is read as English, as every story was before): its words
cut at the same places, lower-cased, accents folded away, stop words dropped, then stemmed
with Porter's stemmer for English and Snowball's for Spanish. A Spanish story's words go to
fields of their own (index.py), so each language keeps its own terms and statistics; a
query is read with both languages' rules and matches either (search.py).

Folding comes first, so a word's terms depend only on its folded spelling: `organización`,
`organizacion`, `ORGANIZACIÓN` and its NFD form are the same term, whatever the stemmer does
with accents. Snowball's Spanish stemmer needs one accent back: it removes `-ación` and
`-ión`, which it knows only accented, so a folded `-cion` or `-sion` at the end of a word
gets its `ó` again before stemming (`organizacion` -> `organización` -> `organiz`, as
`organizaciones` -> `organiz`); the stem is folded again after. Plurals (`-ciones`) carry no
accent to restore.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import STOP_WORDS, Filter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter, Token
from whoosh.analysis.analyzers import CompositeAnalyzer
from whoosh.lang.porter import stem as porter_stem
from whoosh.lang.stopwords import stoplists
from whoosh.matching import DisjunctionMaxMatcher
from whoosh.query import DisjunctionMax

ENGLISH, SPANISH = "en", "es"
ANALYSED = (ENGLISH, SPANISH)

# A word: letters, digits and the combining marks that NFD text puts after its letters (\w
# alone would cut `organizacio\u0301n` in two), with inner dots as whoosh's default pattern.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
WORD = rf"[\w{_MARKS}]+(?:\.?[\w{_MARKS}]+)*"


def analysis_of(language: str | None) -> str:
    """The rules a story in this language is read with: Spanish for es (es-MX, es-419...),
    English for everything else."""
    primary = (language or "").split("-")[0].split("_")[0].strip().lower()
    return SPANISH if primary == SPANISH else ENGLISH


def fold(text: str) -> str:
    """Lower case (full case folding) without accents or compatibility forms: what a search
    compares. `Ñandú` -> `nandu`, `ﬁesta` -> `fiesta`, `Straße` -> `strasse`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Fold(Filter):  # type: ignore[misc]
    """Folds each token (see `fold`)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.text = fold(token.text)
            yield token


class RestoreAccent(Filter):  # type: ignore[misc]
    """`-cion` and `-sion` at the end of a folded word become `-ción` and `-sión`, which
    Snowball's Spanish stemmer knows."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            text = token.text
            if text.endswith(("cion", "sion")):
                token.text = text[:-2] + "ón"
            yield token


def _folded(words: frozenset[str] | set[str]) -> frozenset[str]:
    return frozenset(fold(word) for word in words)


# Snowball's Spanish list, less the forms of `sentir` it carries: `sentido` is a word people search for.
_SPANISH_STOPS = _folded({w for w in stoplists["es"] if not w.startswith(("sent", "sient", "sint"))})
_ENGLISH_STOPS = _folded(STOP_WORDS)  # StemmingAnalyzer's, as before


def english() -> CompositeAnalyzer:
    """English rules: whoosh's StemmingAnalyzer (Porter stemmer, its stop words) with accents folded."""
    return (RegexTokenizer(WORD) | LowercaseFilter() | Fold() | StopFilter(stoplist=_ENGLISH_STOPS, minsize=2)
            | StemFilter(stemfn=porter_stem))


def spanish() -> CompositeAnalyzer:
    """Spanish rules: Snowball's Spanish stemmer and stop words, accents folded (one restored
    for the stemmer, see the module's note)."""
    return (RegexTokenizer(WORD) | LowercaseFilter() | Fold() | StopFilter(stoplist=_SPANISH_STOPS, minsize=2)
            | RestoreAccent() | StemFilter(lang=SPANISH) | Fold())


ANALYZERS = {ENGLISH: english, SPANISH: spanish}


class EitherLanguage(DisjunctionMax):  # type: ignore[misc]
    """The readings of one query in each language: a story matches if any reading does, and
    scores as its best reading. (Summing them would count a tag, which both readings ask,
    twice.)"""

    def __init__(self, subqueries: list[Any], boost: float = 1.0) -> None:
        super().__init__(subqueries, boost=boost)

    def _matcher(self, subs: list[Any], searcher: Any, context: Any) -> Any:
        reader = searcher.reader()
        return self._tree_matcher(subs, _BestOf, searcher, context, lambda q: q.estimate_size(reader))


class _BestOf(DisjunctionMaxMatcher):  # type: ignore[misc]
    """Whoosh's DisjunctionMaxMatcher, scoring the current document only: whoosh-reloaded 2.7.5's
    takes the better of its two sides' scores even when they stand on different documents."""

    def score(self) -> float:
        a, b = self.a, self.b
        if not b.is_active() or (a.is_active() and a.id() < b.id()):
            return float(a.score())
        if not a.is_active() or b.id() < a.id():
            return float(b.score())
        return float(max(a.score(), b.score()))

    def replace(self, minquality: float = 0) -> Any:
        found = super().replace(minquality)
        if type(found) is DisjunctionMaxMatcher:
            return _BestOf(found.a, found.b)
        return found

    def copy(self) -> _BestOf:
        return _BestOf(self.a.copy(), self.b.copy())
