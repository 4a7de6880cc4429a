"""Where a name stands in a text, however it is written: one folding, one tokeniser, one matcher.

Text and names are folded alike (`archive.transcripts.characters`: compatibility forms, accents, invisible
characters, keyboard variants, look-alike letters, case), character by character, so every
folded character knows the original character it came from and a match is mapped back to the
original text's offsets: what is kept is kept exactly as written.

Folded text is cut into tokens: runs of letters, runs of digits, and every character of a
script written without spaces (Han, kana, Thai...) as a token of its own. Redaction's unit is
the token, the word as the eye reads it between spaces, digits and punctuation; a token is
hidden whole when it **carries** a hidden name part, however people write names:

- a part of five letters or more anywhere inside it (``Garcias``, ``mlopez``, ``Kowalskiego``);
- a part of three or four letters at its start or end, or at the start or end of one of its
  segments, the pieces a capital begins (``#JusticeForRuiz``, ``DeJesus``, ``ruiz2019``, and the
  Korean, Arabic or Hebrew particle written onto a name: ``ولعلي``);
- in a script written without spaces, the name's characters wherever they stand;
- the whole name, or its parts run together or in any order (``MariaLopez``, ``NaLi``), also
  inside a longer word as a part of their joint length (``#JusticeForLina``, ``msaid`` for
  ``Saʿid``, whose apostrophe-like letter makes it two short parts);
- a part too short to stand alone (``Li`` of ``Li Na``) or that is also a common word (``Das``,
  ``Her``, ``Van``): beside another part of the same name, in any order and with any separator
  (``Na, Li``), after a title (``Mx. Das``), or written with a capital inside a sentence (for
  the narrator, anywhere); a run of particles alone (``de la``) is not a name;
- letters spelled out (``G-A-R-C-I-A``, ``G A R C I A``) and a word broken across a line end by
  a hyphen (``Gar-`` / ``cia``) are joined first.

Matching is one pass over the text, linear in its length whatever the number of names: a trie
of token sequences for whole names, one Aho-Corasick automaton (pyahocorasick) for the parts
inside words, and a walk over the few tokens that are a part for the context rules.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate, permutations

import ahocorasick

from archive.transcripts import characters

# Scripts written without spaces between words: each character is a token.
_UNSPACED = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
             "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f")
_LETTER = rf"[^\W\d_{_UNSPACED}]"
_TOKEN = re.compile(rf"[{_UNSPACED}]|{_LETTER}+|\d+|\x00")
_LETTERS = re.compile(f"{_LETTER}+")
_SPLIT = re.compile(f"({_TOKEN.pattern})")
_GLUED_DIGITS = re.compile(r"\d[^\W\d_]|[^\W\d_]\d")  # a letter next to a digit
# A word broken by a hyphen at a line's end is joined before matching (letters spelled out one
# by one are joined from the tokens).
_LINE_BREAK = re.compile("[-\u2010\u2011][ \t]*\n")
_BROKEN = re.compile(rf"(?<![^\W\d_])({_LETTER}+)[-\u2010\u2011][ \t]*\n[ \t]*({_LETTER}+)")
_HANGUL_NAME = re.compile("[\uac00-\ud7a3]{3,4}")
_SENTENCE_END = re.compile(r"[.!?\u2026:;\n\u00bf\u00a1]")

# A part shorter than this is hidden only in context ("Li" of "Li Na"); one this long or longer
# hidden at a word's or segment's start or end; one ANYWHERE long or longer anywhere in a word.
MIN_PART = 3
ANYWHERE = 5
# Words that names share with ordinary sentences (articles, prepositions, pronouns, conjunctions,
# name particles): a part that is one is hidden only in context (see the module's docstring).
# Prefixes written onto a name in one word without a capital ("Delacruz", "Vanderberg"); names
# written with one (DeJesus, McDonald) are split at their capitals.
_PARTICLE_PREFIXES = ("dela", "della", "delos", "delas", "vander", "vanden", "vonder")
# Name particles: a run of only these is not a name ("de la"), even beside each other.
PARTICLES = frozenset("""
    de del della di da do dos das du la le les los las van von der den ter ten y e i bin ibn bint
    al el st zu af the of and und
    """.split()) | frozenset(_PARTICLE_PREFIXES)
FUNCTION_WORDS = frozenset("""
    the and for from with our your their his her its who not but nor yet all any
    del della des der die das den dem von van les los las une uno una und
    con por sin que mas sus
    """.split()) | frozenset(p for p in PARTICLES if len(p) >= 3)
# Titles after which a part that is also a common word is a name ("Mx. Das", "Sra. Una").
TITLES = frozenset("""
    mr mrs ms mx miss mister madam dr prof rev fr sr sra srta srs sras don dona dna dra lic ing
    hno hna herr frau sir dame
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


class _Folds(dict[int, str]):
    """Ordinal -> folded text, filled on first sight; usable as a str.translate table."""

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()  # characters that fold to other than one character

    def __missing__(self, ordinal: int) -> str:
        char = chr(ordinal)
        folded = characters.fold_char(char)
        # Marked irregular before it is cached: a thread that finds it cached must find it here.
        if len(folded) != 1:
            self.irregular.add(char)
        if len(self) < _MAX_CACHED:  # bounded, whatever code points a text brings
            self[ordinal] = folded
        return folded


_MAX_CACHED = 1 << 16
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
    """A text's tokens: their folded forms, and their offsets when first asked.

    One `re.split` keeps the separators, so the offsets are running sums of the pieces'
    lengths, all computed in C: no Python object per token.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)
        self.pieces: list[str] = _SPLIT.split(self.folded)  # separator, token, separator, ...
        self.keys: list[str] = self.pieces[1::2]
        self._ends: list[int] | None = None
        self._offsets: _Offsets | None = None

    def _index(self) -> tuple[list[int], _Offsets]:
        if self._ends is None or self._offsets is None:
            self._ends = list(accumulate(map(len, self.pieces)))
            self._offsets = _Offsets(self.text)
        return self._ends, self._offsets

    def origin(self, position: int) -> int:
        """The original offset of a folded position."""
        _, offsets = self._index()
        return offsets.origin(position, len(self.folded)) if offsets.starts else position

    def bounds(self, token: int) -> tuple[int, int]:
        """Folded offsets [start, end) of one token."""
        ends, _ = self._index()
        return ends[2 * token], ends[2 * token + 1]

    def token_at(self, position: int) -> int:
        """The token holding a folded position (a letter of some token)."""
        ends, _ = self._index()
        return bisect_right(ends, position) // 2

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original offsets [start, end) of tokens first..last."""
        ends, offsets = self._index()
        return self.folded_span(ends[2 * first], ends[2 * last + 1])

    def folded_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets [start, end) of the folded text [start, end)."""
        _, offsets = self._index()
        if not offsets.starts:
            return start, end
        # Whole original characters: a match that ends inside a character's expansion (the "1"
        # of "¼") takes the whole character, and the marks that follow it.
        size = len(self.folded)
        last_char = offsets.origin(end - 1, size) + 1
        return offsets.origin(start, size), max(last_char, offsets.origin(end, size))

    def segment_edge(self, position: int) -> bool:
        """Whether a capital begins a segment of a word at this folded position (``Lopez|Strike``,
        ``HTTP|Server``): the original's case, which folding removed."""
        text, at = self.text, self.origin(position)
        if not 0 < at < len(text):
            return False
        before, here = text[at - 1], text[at]
        after = text[at + 1] if at + 1 < len(text) else ""
        return here.isupper() and (before.islower() or (before.isupper() and after.islower()))

    def segment_starts(self, position: int, token_start: int) -> bool:
        """Whether a segment written with a capital starts at this folded position of a token."""
        if position == token_start:
            at = self.origin(position)
            return self.text[at : at + 1].isupper()
        return self.segment_edge(position)

    def capitalised(self, token: int) -> bool:
        """Whether a token is written with a capital first letter."""
        start, _ = self.span(token, token)
        return self.text[start : start + 1].isupper()

    def starts_sentence(self, token: int) -> bool:
        """Whether a token is the first word of a sentence, a line or the text."""
        return token == 0 or bool(_SENTENCE_END.search(self.pieces[2 * token]))


def key(name: str) -> Key:
    """A name as the sequence of its folded tokens: the same for every spelling of it."""
    return tuple(_TOKEN.findall(fold(name)))


def glued(text: str) -> set[str]:
    """A text's letters and digits folded and run together (``#MariaLopez`` -> ``marialopez``)."""
    return {"".join(_TOKEN.findall(fold(text)))}


def words(text: str) -> list[tuple[str, str]]:
    """A text's tokens, each folded and as written."""
    tokens = _Tokens(text)
    found = []
    for i, word in enumerate(tokens.keys):
        start, end = tokens.span(i, i)
        found.append((word, text[start:end]))
    return found


def is_identifying(part: str) -> bool:
    """Whether one part of a name is hidden on its own, wherever it stands in a word."""
    return len(part) >= MIN_PART and part not in FUNCTION_WORDS


@dataclass(frozen=True)
class Forms:
    """What of one name is hidden, and how: token sequences hidden wherever they stand, parts
    hidden as or inside a word, and parts hidden only in context (short, or common words)."""

    wholes: frozenset[Key] = frozenset()
    parts: frozenset[str] = frozenset()
    contextual: frozenset[str] = frozenset()

    def all_parts(self) -> frozenset[str]:
        """Every part of the name, whatever rule hides it."""
        return self.parts | self.contextual


def forms(name: str, kind: str = "person") -> Forms:
    """What of a name is hidden: the whole name, run together (a hashtag, a handle), its compound
    words (O'Brien, Lopez-Garcia, 32BJ), its words split at their capitals or written-on particles
    (DeJesus is also De Jesus), its parts run together in any order when one of them is too short
    or common to stand alone (NaLi); its parts of three letters or more that are not common words
    (nor, for an employer or place, common nouns); and its other parts, hidden in context."""
    whole = key(name)
    if not whole:
        return Forms()
    common = COMMON_NOUNS if kind in NAMES_WITH_COMMON_NOUNS else frozenset()
    wholes = {whole}
    parts = list(dict.fromkeys(_parts(name)))
    for word in name.split():
        compound = key(word)
        if len(compound) > 1 and compound != whole and is_identifying("".join(compound)):
            wholes.add(compound)
        for pieces in _split_words(word):
            wholes.add(tuple(fold(p) for p in pieces))
            parts += [fold(p) for p in pieces if fold(p) not in parts]
        if _HANGUL_NAME.fullmatch(word):  # 김민수: the surname, then the given name, written as one word
            parts += [fold(word[:-2]), fold(word[-2:])]
    if len(whole) > 1:
        wholes.add(key("".join(whole)))
    identifying = {p for p in parts if is_identifying(p) and p not in common}
    contextual = {p for p in parts if p not in identifying and p not in common and p.isalpha()}
    if contextual and 1 < len(parts) <= 5:  # glued in any order: NaLi, LiNa, DasPriya
        for size in range(2, min(len(parts), 3) + 1):
            for chosen in permutations(parts, size):
                if contextual.intersection(chosen) and not PARTICLES.issuperset(chosen):
                    wholes.add(key("".join(chosen)))
    return Forms(frozenset(w for w in wholes if w), frozenset(identifying), frozenset(contextual))


def patterns(name: str, kind: str = "person") -> list[Key]:
    """Every token sequence of a name hidden wherever it stands, the whole name first, then its
    parts hidden on their own (as one-token sequences)."""
    found = forms(name, kind)
    whole = key(name)
    return list(dict.fromkeys([whole, *sorted(found.wholes - {whole}), *((p,) for p in sorted(found.parts))]))


def _parts(name: str) -> list[str]:
    """The parts of a name that stand for it alone: its words, and the pieces of a word joined
    by hyphens or apostrophes (Lopez-Garcia, O'Brien); not the letters or digits of a piece
    that glues them (Studio54, 32BJ, Route 66A), which are the name only together."""
    pieces = re.findall(r"[^\W_]+", fold(name))
    return [token for piece in pieces for token in _TOKEN.findall(piece)
            if len(_TOKEN.findall(piece)) == 1 or not _GLUED_DIGITS.search(piece)]


def _split_words(word: str) -> list[list[str]]:
    """A word of a name written as several (DeJesus, McDonald, Delacruz): its pieces, for the
    name to be found written apart too (De Jesus, Mc Donald, Dela Cruz)."""
    found = []
    for piece in re.findall(r"[^\W\d_]+", word):
        cut, start = [], 0
        for i in range(1, len(piece)):
            if piece[i].isupper() and piece[i - 1].islower():
                cut.append(piece[start:i])
                start = i
        cut.append(piece[start:])
        if len(cut) > 1:
            found.append(cut)
        folded = fold(piece)
        found += [[prefix, folded[len(prefix):]] for prefix in _PARTICLE_PREFIXES
                  if folded.startswith(prefix) and len(folded) - len(prefix) >= MIN_PART]
    return found


def detector(hidden: Iterable[tuple[str, str]]) -> Matcher:
    """A matcher of everything hidden of the given (name, kind) pairs, to ask whether a text holds
    any of them."""
    return Matcher(Entry(forms(name, kind), "", group) for group, (name, kind) in enumerate(hidden))


@dataclass(frozen=True)
class Entry:
    """One name to hide: its forms, what replaces it, which person it names (parts of one person
    beside each other are that person), and whether it is the narrator's (strict: a part that is
    also a common word is hidden wherever it is written with a capital, sentences' starts too)."""

    forms: Forms
    value: str
    group: int
    strict: bool = False


@dataclass(frozen=True)
class Match:
    """A found name: original offsets [start, end) and the value it was registered with."""

    start: int
    end: int
    value: str


@dataclass
class _Part:
    """What one folded part is to the matcher: the values and people it stands for."""

    identifying: set[str] = field(default_factory=set)  # values of the people it identifies alone
    contextual: dict[int, str] = field(default_factory=dict)  # group -> value, for the context rules
    strict: bool = False
    groups: dict[int, str] = field(default_factory=dict)  # every person it is a part of -> value


_END = ""  # a trie node's value lives under the empty key, which no token can be


class Matcher:
    """Finds hidden names in texts, in one pass over each text (see the module's docstring)."""

    def __init__(self, entries: Iterable[Entry] | Mapping[Key, str] = (), conflict: str = "") -> None:
        """Hide the entries' names; a word two people's names claim, with different values,
        becomes `conflict`. (A mapping of token sequences to values: those sequences only.)"""
        self.conflict = conflict
        self._root: dict[str, dict] = {}  # type: ignore[type-arg]
        self._parts: dict[str, _Part] = {}
        self._joined: dict[str, str] = {}  # wholes and parts run together: a joined-up word is one
        if isinstance(entries, Mapping):
            for sequence, value in entries.items():
                self._add(sequence, value)
            self._automaton: ahocorasick.Automaton | None = None
            return
        whole_values: dict[Key, set[str]] = {}
        part_values: dict[Key, set[str]] = {}
        for entry in entries:
            for whole in entry.forms.wholes:
                whole_values.setdefault(whole, set()).add(entry.value)
            for part in entry.forms.all_parts():
                found = self._parts.setdefault(part, _Part())
                found.groups[entry.group] = entry.value
                if part in entry.forms.parts:
                    found.identifying.add(entry.value)
                    part_values.setdefault((part,), set()).add(entry.value)
                else:
                    found.contextual[entry.group] = entry.value
                    found.strict = found.strict or entry.strict
        table = {sequence: self._one(values) for sequence, values in part_values.items()}
        table.update((sequence, self._one(values)) for sequence, values in whole_values.items())
        for sequence, value in table.items():
            self._add(sequence, value)
        self._automaton = None
        # Parts looked for inside words: letters of spaced scripts (the unspaced ones are matched
        # character by character in the trie); short and common ones for the segment rule, but
        # not particles, which are no name alone.
        inside = [(p, self._one(found.identifying), True) for p, found in self._parts.items()
                  if found.identifying and _LETTERS.fullmatch(p)]
        inside += [(p, "", False) for p, found in self._parts.items()
                   if not found.identifying and len(p) >= 2 and p not in PARTICLES and _LETTERS.fullmatch(p)]
        # Names and short parts run together into one word (NaLi, Saʿid written Said, MariaLopez):
        # a part as long as they are together, carried inside a word as any part of that length.
        inside += [(word, value, True) for (word, *more), value in table.items()
                   if not more and word not in self._parts and len(word) >= MIN_PART and word not in FUNCTION_WORDS
                   and _LETTERS.fullmatch(word)]
        if inside:
            self._automaton = ahocorasick.Automaton()
            for part, value, identifying in inside:
                self._automaton.add_word(part, (part, value, identifying))
            self._automaton.make_automaton()

    def _one(self, values: set[str]) -> str:
        return next(iter(values)) if len(values) == 1 else self.conflict

    def _add(self, sequence: Key, value: str) -> None:
        if not sequence:
            return
        node = self._root
        for part in sequence:
            node = node.setdefault(part, {})
        node[_END] = value  # type: ignore[assignment]
        self._joined.setdefault("".join(sequence), value)

    def __bool__(self) -> bool:
        return bool(self._root) or bool(self._parts)

    def find(self, text: str) -> Iterator[Match]:
        """Every hidden name in the text, left to right, each as one match (a whole name as one)."""
        if not self or not text:
            return
        tokens = _Tokens(text)
        named = list(self._wholes(tokens))
        covered = [(start, end) for start, end, _ in named]
        found = [*self._inside(tokens), *self._in_context(tokens), *self._joined_up(tokens)]
        # A word hidden inside a whole name goes with the whole name, as its person's.
        edges = [start for start, _ in covered]
        extra = []
        for start, end, value in found:
            k = bisect_right(edges, start) - 1
            if k < 0 or covered[k][1] < end:
                extra.append((start, end, value))
        merged: list[list[object]] = []
        for start, end, value in sorted(named + extra):
            if merged and start < merged[-1][1]:  # type: ignore[operator]
                last = merged[-1]
                last[1] = max(end, last[1])  # type: ignore[call-overload]
                if last[2] != value:
                    last[2] = self.conflict
            else:
                merged.append([start, end, value])
        for start, end, value in merged:
            yield Match(start, end, value)  # type: ignore[arg-type]

    def _wholes(self, tokens: _Tokens) -> Iterator[tuple[int, int, str]]:
        """Registered token sequences, longest first at each place, walking only the tokens that
        can start one (one C-speed membership test for the rest)."""
        keys, root, count = tokens.keys, self._root, len(tokens.keys)
        resume = 0
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
                yield (*tokens.span(i, best), value)
                resume = best + 1

    def _inside(self, tokens: _Tokens) -> Iterator[tuple[int, int, str]]:
        """Words that carry a part: five letters or more anywhere, three or four at the start or
        end of the word or of a segment; a common word or short part only as a whole segment
        written with a capital inside a longer word (``#JusticeForDas``)."""
        if self._automaton is None:
            return
        hidden: dict[int, str] = {}
        for last, (part, value, identifying) in self._automaton.iter(tokens.folded):
            start, end = last + 1 - len(part), last + 1
            token = tokens.token_at(start)
            first, stop = tokens.bounds(token)
            if identifying:
                if len(part) >= ANYWHERE or start == first or end == stop or tokens.segment_edge(start) \
                        or tokens.segment_edge(end):
                    hidden[token] = value if hidden.get(token, value) == value else self.conflict
            elif (start, end) != (first, stop) and tokens.segment_starts(start, first) and \
                    (end == stop or tokens.segment_edge(end)):
                found = self._parts[part]
                hidden[token] = self._one(set(found.contextual.values()))
        for token, value in hidden.items():
            yield (*tokens.span(token, token), value)

    def _in_context(self, tokens: _Tokens) -> Iterator[tuple[int, int, str]]:
        """Parts too short or too common to be hidden alone: beside another part of the same
        person (in any order, any separator of up to three characters), after a title, or written
        with a capital inside a sentence (the narrator's at a sentence's start too)."""
        parts, keys, pieces = self._parts, tokens.keys, tokens.pieces
        candidates = [i for i, k in enumerate(keys) if k in parts]
        run: list[int] = []
        groups: set[int] = set()

        def close() -> Iterator[tuple[int, int, str]]:
            if len(run) > 1 and any(parts[keys[i]].contextual for i in run) and \
                    any(keys[i] not in PARTICLES for i in run):
                values = {parts[keys[i]].groups[g] for i in run for g in groups}
                yield (*tokens.span(run[0], run[-1]), self._one(values))

        for i in candidates:
            found = parts[keys[i]]
            together = run and run[-1] == i - 1 and len(pieces[2 * i]) <= 3 and groups & found.groups.keys()
            if together:
                run.append(i)
                groups &= found.groups.keys()
            else:
                yield from close()
                run, groups = [i], set(found.groups)
            if not found.contextual or len(keys[i]) < 2:
                continue
            after_title = i > 0 and keys[i - 1] in TITLES and len(pieces[2 * i]) <= 2
            if after_title or (tokens.capitalised(i) and (found.strict or not tokens.starts_sentence(i))):
                yield (*tokens.span(i, i), self._one(set(found.contextual.values())))
        yield from close()

    def _joined_up(self, tokens: _Tokens) -> Iterator[tuple[int, int, str]]:
        """Letters spelled out one by one, and a word broken across a line by a hyphen, joined and
        judged as one word."""
        if not self._automaton and not self._joined:
            return
        keys, pieces = tokens.keys, tokens.pieces
        # Single letters (of the scripts below Thai: unspaced scripts' characters are tokens of
        # one character anyway), one or two characters apart on one line.
        run: list[int] = []
        for i in [*(i for i, k in enumerate(keys) if len(k) == 1 and k < "\u0e00" and k.isalpha()), -1]:
            if run and i == run[-1] + 1 and 0 < len(pieces[2 * i]) <= 2 and "\n" not in pieces[2 * i]:
                run.append(i)
                continue
            if len(run) > 1:
                value = self._word("".join(keys[k] for k in run))
                if value is not None:
                    yield (*tokens.span(run[0], run[-1]), value)
            run = [i]
        folded = tokens.folded
        if _LINE_BREAK.search(folded):
            for broken in _BROKEN.finditer(folded):
                value = self._word(broken.group(1) + broken.group(2))
                if value is not None:
                    yield (*tokens.folded_span(broken.start(), broken.end()), value)

    def _word(self, word: str) -> str | None:
        """What hides one joined-up word, if anything does."""
        if word in self._joined:
            return self._joined[word]
        if self._automaton is not None:
            for last, (part, value, identifying) in self._automaton.iter(word):
                start = last + 1 - len(part)
                if identifying and (len(part) >= ANYWHERE or start == 0 or last + 1 == len(word)):
                    return value
        return None

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
        """Whether any hidden name stands in the text."""
        return next(self.find(text), None) is not None
