"""Where a name stands in a text, however it is spelled: one folding, one tokeniser, one matcher.

A name must be found in the forms a person would read as the same name, so the text and
the names go through the same folding before they are compared:

- compatibility decomposition (NFKD: full-width letters, ligatures, superscripts),
- combining marks and invisible format characters dropped (accent-folding: ``José`` is
  ``Jose``; ``Ma<zero-width space>ria`` is ``Maria``; NFC and NFD text fold alike),
- full case folding (``ß`` is ``ss``, Greek final sigma is sigma, ``İ`` is ``i``),
- a few letters that have no decomposition but are written plain in transliteration
  (``ı ł ø đ æ œ``...).

Folding is character by character, so every folded character knows the original character
it came from, and a match is mapped back to the original text's offsets: what is kept is
kept exactly as written.

Folded text is cut into tokens: runs of letters, runs of digits, and every character of a
script written without spaces (Han, kana, Thai...) as a token of its own. A name is the
sequence of its tokens, so ``Maria-Lopez``, ``MARIA LOPEZ``, ``maria_lopez`` and ``Maria\\nLopez`` are one
name, a name glued to digits (``Rosa2``, ``lopez2019``: a handle, an address) is still
found, and a name never matches inside a longer word of a spaced script. Matching walks a
trie of token sequences once over the text, longest match first: linear in the length of
the text, whatever the number of names.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate

# Categories that fold to nothing: combining marks (accents, Indic vowel signs, variation
# selectors) and format characters (zero-width spaces and joiners, soft hyphen, bidi controls).
_IGNORED = frozenset({"Mn", "Mc", "Me", "Cf"})
# Letters with no Unicode decomposition that transliteration writes plain.
_PLAIN = str.maketrans({"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae",
                        "œ": "oe", "ħ": "h", "ŀ": "l", "ŧ": "t", "ĸ": "k"})
# Cyrillic and Greek letters drawn like Latin ones (capitals: В К М Н Т, Β Ε Ζ Η Μ), which a
# writer switching keyboard layouts mixes into a Latin word (``Rоsa`` with a Cyrillic о). Read
# as Latin only in a token that also holds a Latin letter: a word wholly in Greek or Cyrillic
# (``και``, ``там``) is that script's word, never a Latin name.
_LOOKALIKE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "в": "b", "к": "k", "м": "m", "н": "h", "т": "t",
    "ο": "o", "α": "a", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "β": "b",
    "ε": "e", "ζ": "z", "η": "h", "μ": "m"})
_LOOKALIKES = re.compile("[" + "".join(map(chr, _LOOKALIKE)) + "]")
_LATIN = re.compile("[a-z]")
_GLUED_DIGITS = re.compile(r"\d[^\W\d_]|[^\W\d_]\d")  # a letter next to a digit
# Scripts written without spaces between words: each character is a token.
_UNSPACED = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
             "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f")
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W\d_{_UNSPACED}]+|\d+|\x00")
_SPLIT = re.compile(f"({_TOKEN.pattern})")

# Parts shorter than this are scrubbed only as part of the whole name ("Li" in "Li Na").
MIN_PART = 3
# Words that identify no one and that names share with ordinary sentences (articles,
# prepositions, conjunctions, name particles): never scrubbed alone, only within a name.
FUNCTION_WORDS = frozenset("""
    the and for from with our your their his her its who not but nor yet all any
    del della des der die das den dem von van les los las une uno una und
    """.split())

# Common nouns that employers' and places' names share with ordinary speech ("Harbor Hotel",
# "Fair Haven Local", "Elm Street"): identifying only with the rest of the name, so in org and
# place names they are scrubbed within the whole name, not wherever they stand alone. A
# person's name has no such words: every part of it is scrubbed.
COMMON_NOUNS = frozenset("""
    hotel hotels motel inn resort casino restaurant cafe diner kitchen bakery laundry hospital
    clinic school college university warehouse factory plant mill mine farm store shop market
    company corp corporation inc llc ltd group services service center centre office bank
    union local workers worker council committee association federation alliance coalition
    church hall house home building tower towers plaza park street avenue road lane square
    city town village county district state north south east west new old upper lower
    port harbor harbour bay beach lake river valley heights hills island airport station
    """.split())
NAMES_WITH_COMMON_NOUNS = ("org", "place")

Key = tuple[str, ...]


def _fold_char(char: str) -> str:
    def drop(text: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) not in _IGNORED)
    return drop(drop(char).casefold()).translate(_PLAIN)


_MAX_CACHED = 1 << 16


class _Folds(dict[int, str]):
    """Ordinal -> folded text, filled on first sight; usable as a str.translate table."""

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()  # characters that fold to other than one character

    def __missing__(self, ordinal: int) -> str:
        char = chr(ordinal)
        folded = _fold_char(char)
        # Marked irregular before it is cached: a thread that finds it cached must find it here.
        if len(folded) != 1:
            self.irregular.add(char)
        if len(self) < _MAX_CACHED:  # bounded, whatever code points a text brings
            self[ordinal] = folded
        return folded


_FOLDS = _Folds()


def fold(text: str) -> str:
    """The folded form of a text, the form in which names are compared."""
    return text.translate(_FOLDS)


class _Offsets:
    """Maps positions in folded text back to the original, through the characters that
    folded to zero or several characters (few: the common case is the identity)."""

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self.starts: list[int] = []  # folded position where each irregular character's output begins
        self.origins: list[int] = []  # its position in the original
        self.shifts: list[int] = []  # folded minus original position after it
        irregular = _FOLDS.irregular.intersection(text)
        if not irregular:
            return
        shift = 0
        pattern = re.compile("[" + "".join(re.escape(c) for c in irregular) + "]")
        for match in pattern.finditer(text):
            width = len(_FOLDS[ord(match.group())])
            self.starts.append(match.start() + shift)
            self.origins.append(match.start())
            shift += width - 1
            self.shifts.append(shift)

    def origin(self, position: int, folded_length: int) -> int:
        """The original position of the folded character at `position` (or the end)."""
        if position >= folded_length:
            return self.length
        k = bisect_right(self.starts, position) - 1
        if k < 0:
            return position
        width = self.shifts[k] - (self.shifts[k - 1] if k else 0) + 1
        if position < self.starts[k] + width:
            return self.origins[k]
        return position - self.shifts[k]


class _Tokens:
    """A text's tokens: their folded forms, and their original offsets when first asked.

    One `re.split` keeps the separators, so the offsets are running sums of the pieces'
    lengths, all computed in C: no Python object per token.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)
        self.pieces: list[str] = _SPLIT.split(self.folded)  # separator, token, separator, ...
        self.keys = _unmixed(self.pieces[1::2], self.folded)
        self._ends: list[int] | None = None

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original offsets [start, end) of tokens first..last."""
        if self._ends is None:
            self._ends = list(accumulate(map(len, self.pieces)))
            self._offsets = _Offsets(self.text)
        start, end = self._ends[2 * first], self._ends[2 * last + 1]
        if not self._offsets.starts:
            return start, end
        # Whole original characters: a match that ends inside a character's expansion (the "1"
        # of "¼") takes the whole character, and the marks that follow it.
        size = len(self.folded)
        last_char = self._offsets.origin(end - 1, size) + 1
        return self._offsets.origin(start, size), max(last_char, self._offsets.origin(end, size))


def key(name: str) -> Key:
    """A name as the sequence of its folded tokens: the same for every spelling of it."""
    folded = fold(name)
    return tuple(_unmixed(_TOKEN.findall(folded), folded))


def _unmixed(tokens: list[str], folded: str) -> list[str]:
    """The tokens, each that mixes Latin letters with look-alike Cyrillic or Greek ones read as
    Latin (the same length: offsets hold). Nothing to do, and no loop, for a text without any."""
    if not _LOOKALIKES.search(folded):
        return tokens
    return [t.translate(_LOOKALIKE) if _LATIN.search(t) and _LOOKALIKES.search(t) else t for t in tokens]


def glued(text: str) -> set[str]:
    """A text's letters and digits folded and run together (``#MariaLopez`` -> ``marialopez``):
    as written, and with look-alike letters read as Latin, since a name is looked for in both
    (``МарияLopez`` holds the Cyrillic ``мария``, ``RоsaFamily`` the Latin ``rosa``)."""
    folded = fold(text)
    tokens = _TOKEN.findall(folded)
    return {"".join(tokens), "".join(_unmixed(tokens, folded))}


def patterns(name: str, kind: str = "person") -> list[Key]:
    """What of a name is scrubbed, the whole name first: then the whole name run together (as
    in a hashtag or a handle), its compound words (O'Brien, Lopez-Garcia, 32BJ: a word of the
    name that is more than one token), and its parts of three letters or more that are not
    function words (nor, for an employer or place, common nouns). Each is a sequence of
    tokens as the text is cut: ``SEIULocal32BJ`` is the tokens ``seiulocal``, ``32``, ``bj``."""
    common = COMMON_NOUNS if kind in NAMES_WITH_COMMON_NOUNS else frozenset()
    whole = key(name)
    if not whole:
        return []
    found = [whole]
    if len(whole) > 1:
        found.append(key("".join(whole)))
        # A compound word of the name goes whole, with its short parts.
        for word in name.split():
            compound = key(word)
            if len(compound) > 1 and compound != whole and is_identifying("".join(compound)):
                found.append(compound)
        found += [(part,) for part in dict.fromkeys(_parts(name)) if is_identifying(part) and part not in common]
    return list(dict.fromkeys(found))


def _parts(name: str) -> list[str]:
    """The parts of a name that stand for it alone: its words, and the pieces of a word joined
    by hyphens or apostrophes (Lopez-Garcia, O'Brien); not the letters or digits of a piece
    that glues them (Studio54, 32BJ, Route 66A), which are the name only together."""
    pieces = re.findall(r"[^\W_]+", fold(name))
    return [token for piece in pieces for token in _unmixed(_TOKEN.findall(piece), piece)
            if len(_TOKEN.findall(piece)) == 1 or not _GLUED_DIGITS.search(piece)]


def detector(hidden: Iterable[tuple[str, str]]) -> Matcher:
    """A matcher of everything `patterns` scrubs of the given (name, kind) pairs, to ask whether
    a text holds any of them."""
    return Matcher((p, "") for name, kind in hidden for p in patterns(name, kind))


def is_identifying(part: str) -> bool:
    """Whether one part of a name is scrubbed on its own, outside the whole name."""
    return len(part) >= MIN_PART and part not in FUNCTION_WORDS


_END = ""  # a trie node's value lives under the empty key, which no token can be


@dataclass(frozen=True)
class Match:
    """A found name: original offsets [start, end) and the value it was registered with."""

    start: int
    end: int
    value: str


class Matcher:
    """Finds registered token sequences in texts, longest first, in one pass over the text."""

    def __init__(self, entries: Mapping[Key, str] | Iterable[tuple[Key, str]] = ()) -> None:
        self._root: dict[str, dict] = {}  # type: ignore[type-arg]
        items = entries.items() if isinstance(entries, Mapping) else entries
        for sequence, value in items:
            if not sequence:
                continue
            node = self._root
            for part in sequence:
                node = node.setdefault(part, {})
            node[_END] = value  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self._root)

    def find(self, text: str) -> Iterator[Match]:
        """Every registered sequence in the text, left to right, the longest at each place."""
        if not self._root or not text:
            return
        found = _Tokens(text)
        keys, root, count = found.keys, self._root, len(found.keys)
        resume = 0
        # Only tokens that can start a name are walked: one C-speed membership test for the rest.
        for i in [i for i, k in enumerate(keys) if k in root]:
            if i < resume:
                continue
            node: dict | None = root[keys[i]]  # type: ignore[type-arg]
            best, j, value = -1, i, ""
            while node is not None:
                if _END in node:
                    best, value = j, node[_END]
                j += 1
                if j == count:
                    break
                node = node.get(keys[j])
            if best >= 0:
                yield Match(*found.span(i, best), value)
                resume = best + 1

    def replace(self, text: str) -> str:
        """The text with every match replaced by its value; the rest exactly as written."""
        out: list[str] = []
        last = 0
        for match in self.find(text):
            out += (text[last : match.start], match.value)
            last = match.end
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    def finds(self, text: str) -> bool:
        """Whether any registered sequence stands in the text."""
        return next(self.find(text), None) is not None
