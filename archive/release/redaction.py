"""Redaction, applied once on the plaintext in the release gate, as the narrator chose.

| level | the released copy shows |
| full | everything; spans as their names |
| pseudonymized | each distinct person/org/place as a stable stand-in; narrator as "the narrator" |
| redacted | every span as [redacted]; narrator anonymous |
| summary | title, summary and non-identifying metadata; no transcript |

Stand-ins are in the story's own language, never the reader's: "Persona A", "Empleador 1",
"Lugar 1", "[suprimido]" and "la persona narradora" in a Spanish story (STAND_INS).

Spans may be marked in the title and summary as in the transcript. Beyond the marked
spans, every hidden name (the narrator's, every marked name, and the
interviewer and place fields, which are not released) is scrubbed from every released
text field wherever it stands, in any spelling `archive.transcripts.names` folds together: whole,
run together, or any part of three letters or more. Each person keeps one stand-in across
every field of the story; a part shared by two people with different stand-ins becomes
[redacted]. A tag that holds a hidden name is dropped. No mapping from stand-ins to names
leaves this module.

`redact` raises on nothing the vault accepts: it works on any text, and anything it cannot
use as given (a chosen stand-in that repeats a hidden name) it replaces by a safe one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archive.transcripts import markup, names, webvtt
from archive.transcripts.markup import Span
from archive.vault.drafts import MARKED_FIELDS, Draft

REDACTED = "[redacted]"
NARRATOR_PSEUDONYM = "the narrator"
INTERVIEWER_PSEUDONYM = "the interviewer"
NARRATOR_BY_LEVEL = {"pseudonymized": "Pseudonymous narrator",
                     "redacted": "Anonymous narrator", "summary": "Anonymous narrator"}
_LABELS = {"person": "Person", "org": "Employer", "place": "Place"}


@dataclass(frozen=True)
class StandIns:
    """The words a released copy writes itself, in one language: the story's, never the reader's
    (the reading room shows the same copy to everyone)."""

    redacted: str
    narrator: str
    interviewer: str
    narrator_by_level: Mapping[str, str]
    labels: Mapping[str, str]  # person, org, place: followed by a letter or a number


# Spanish stand-ins are gender-neutral: "la persona narradora" names no one's gender.
STAND_INS = {
    "en": StandIns(REDACTED, NARRATOR_PSEUDONYM, INTERVIEWER_PSEUDONYM, NARRATOR_BY_LEVEL, _LABELS),
    "es": StandIns("[suprimido]", "la persona narradora", "la persona entrevistadora",
                   {"pseudonymized": "Persona narradora con seudónimo", "redacted": "Persona narradora anónima",
                    "summary": "Persona narradora anónima"},
                   {"person": "Persona", "org": "Empleador", "place": "Lugar"}),
}


def stand_ins(language: str) -> StandIns:
    """The stand-ins of a story in this language (its code's first part: es, es-MX...); English
    for a language that has none of its own."""
    return STAND_INS.get(language.replace("_", "-").split("-")[0].strip().lower(), STAND_INS["en"])


# What `_ordinal` writes after each label: a capital letter repeated, or a number.
_ORDINALS = {"person": re.compile(r"([A-Z])\1*"), "org": re.compile(r"\d+"), "place": re.compile(r"\d+")}


def ordinals() -> dict[str, re.Pattern[str]]:
    """Each label's word (in every language's stand-ins) as names.key cuts it, and the ordinal
    written after it, as written."""
    return {names.key(label)[0]: _ORDINALS[kind]
            for words in STAND_INS.values() for kind, label in words.labels.items()}


def own_words() -> frozenset[str]:
    """The words a released copy writes itself (labels, stand-ins for the narrator and the
    interviewer) in every language, as names.key cuts them; never a word of the story's own."""
    phrases = [phrase for words in STAND_INS.values()
               for phrase in (words.redacted, words.narrator, words.interviewer, *words.narrator_by_level.values(),
                              *words.labels.values())]
    return frozenset(word for phrase in phrases for word in names.key(phrase))


_BARRIER = "\x00"  # stands for a span while the text around it is scrubbed; never inside a name


@dataclass(frozen=True)
class ReleasedText:
    """What the reading room may hold of a story: already redacted."""

    title: str
    narrator: str
    transcript: str | None
    summary: str
    interviewer: str
    interview_date: str
    place: str
    language: str
    tags: tuple[str, ...]
    redaction_level: str
    captions: str | None = None  # the timed transcript as WebVTT, redacted like the transcript
    # The times (ms) of every cue whose released text hides something: what a muted recording silences.
    silences: tuple[tuple[int, int], ...] = ()


def redact(draft: Draft) -> ReleasedText:
    """The released copy of a story at its own redaction level."""
    return _redaction(draft)[0]


@dataclass(frozen=True)
class Preview:
    """What one level would release of a draft, for its organizer: each released field in
    pieces (every hidden word with what was written there), the tags kept and dropped, whether
    the captions go out and how many cues a muted recording silences, and the name parts hidden
    only where they are written as a name (short, or common words)."""

    copy: ReleasedText
    fields: dict[str, list[Piece]]
    tags_dropped: tuple[str, ...]
    cues: int
    in_context: tuple[str, ...]


def preview(draft: Draft) -> Preview:
    """The preview of a draft at its own redaction level (it holds sealed text: its organizer's only)."""
    copy, fields, people = _redaction(draft)
    shown = [(name, pieces) for name, pieces in fields.items() if name != "transcript" or copy.transcript is not None]
    in_context = sorted({part for person in (people.everyone if people else []) for forms in person.names
                         for part in forms.contextual if len(part) > 1})
    return Preview(copy, dict(shown), tuple(t for t in draft.tags if t not in copy.tags),
                   len(_cues(draft.captions)), tuple(in_context))


def _redaction(draft: Draft) -> tuple[ReleasedText, dict[str, list[Piece]], _People | None]:
    """The released copy, its marked fields in pieces, and the story's people (None at full)."""
    level = draft.redaction_level
    cues = _cues(draft.captions)
    if cues:  # the captions' text, as a player renders it, is the transcript (a story sealed
        # before cue text was read as WebVTT holds its tags in its stored transcript)
        draft = draft.changed(transcript=webvtt.plain(cues))
    parsed = {name: _segments(getattr(draft, name)) for name in MARKED_FIELDS}
    if level == "full":
        shown = {name: _names_only(segments) for name, segments in parsed.items()}
        copy = ReleasedText(shown["title"], draft.narrator, shown["transcript"], shown["summary"],
                            draft.interviewer, draft.interview_date, draft.place, draft.language,
                            draft.tags, level, _timed(cues, lambda text: _names_only(_segments(text))))
        return copy, {name: [Piece(text)] for name, text in shown.items()}, None
    spans = [s for segments in parsed.values() for s in segments if isinstance(s, Span)]
    people = _People(draft, spans, level)
    scrubber = people.scrubber()
    # At level summary the transcript is not released: not scrubbed either.
    pieces = {name: _pieces(segments, people, scrubber) if name != "transcript" or level != "summary" else []
              for name, segments in parsed.items()}
    shown = {name: "".join(piece.text for piece in found) for name, found in pieces.items()}
    copy = ReleasedText(
        title=shown["title"], narrator=people.words.narrator_by_level[level],
        transcript=None if level == "summary" else shown["transcript"],
        summary=shown["summary"], interviewer="", interview_date=draft.interview_date[:4],
        place="", language=draft.language, tags=tuple(t for t in draft.tags if not people.holds_name(t, scrubber)),
        redaction_level=level,
        **_timed_release(cues, shown["transcript"], level, people, scrubber),
    )
    return copy, pieces, people


def _timed_release(cues: list[webvtt.Cue], transcript: str, level: str, people: _People,
                   scrubber: names.Matcher) -> dict[str, Any]:
    """The released captions and the silences of a muted recording, each cue redacted on its own.

    Only if the cues, redacted one by one, make exactly the released transcript: a name split
    by a cue break (``Li`` | ``Na``) is scrubbed in the transcript, where the break is only a
    line break, but would pass through each cue alone, in the captions and in the voice. Then
    neither captions nor a muted recording are released (the transcript is, redacted).
    """
    if level == "summary" or not cues:
        return {"captions": None, "silences": ()}
    shown = [_scrub(_segments(cue.text), people, scrubber) for cue in cues]
    if "\n".join(shown) != transcript:
        return {"captions": None, "silences": ()}
    return {"captions": webvtt.render([webvtt.Cue(c.start, c.end, text) for c, text in zip(cues, shown, strict=True)]),
            "silences": tuple((c.start, c.end) for c, text in zip(cues, shown, strict=True)
                              if text != _names_only(_segments(c.text)))}


def _cues(captions: str) -> list[webvtt.Cue]:
    """The cues of a timed transcript; none if there is none, or if it no longer parses (the
    vault checked it at submission; the gate never stops on a story, and the transcript is
    released as it is)."""
    try:
        return webvtt.parse(captions, strict=False) if captions else []
    except webvtt.TimingError:
        return []


def _timed(cues: list[webvtt.Cue], shown: Callable[[str], str]) -> str | None:
    """The cues with each text as released, as WebVTT; each keeps its times."""
    if not cues:
        return None
    return webvtt.render([webvtt.Cue(cue.start, cue.end, shown(cue.text)) for cue in cues])


def _segments(text: str) -> list[markup.Segment]:
    """A field's spans and text. Markup that does not parse (a title stored before titles could
    carry spans) is plain text, scrubbed like any other: the gate never stops on a story."""
    try:
        return markup.parse(text)
    except markup.MarkupError:
        return [text] if text else []


def _names_only(segments: list[markup.Segment]) -> str:
    return "".join(s if isinstance(s, str) else s.text for s in segments)


@dataclass(frozen=True)
class Piece:
    """A piece of a released field, for the preview: text as released and, where the piece is a
    stand-in, what was written there (the organizer's own text, never released)."""

    text: str
    hidden: str | None = None


def _scrub(segments: list[markup.Segment], people: _People, scrubber: names.Matcher) -> str:
    return "".join(piece.text for piece in _pieces(segments, people, scrubber))


def _pieces(segments: list[markup.Segment], people: _People, scrubber: names.Matcher) -> list[Piece]:
    """Spans become their person's stand-in; the text between them is scrubbed in one pass,
    with a barrier where each span stood so that no match reaches across a span."""
    runs: list[list[str]] = [[]]
    spans = []
    for segment in segments:
        if isinstance(segment, Span):
            spans.append(segment)
            runs.append([])
        else:
            runs[-1].append(segment.replace(_BARRIER, ""))
    joined = _BARRIER.join("".join(run) for run in runs)
    found: list[Piece] = []
    last = 0
    for match in scrubber.find(joined):
        found += (Piece(joined[last : match.start]), Piece(match.value, joined[match.start : match.end]))
        last = match.end
    found.append(Piece(joined[last:]))
    marked = iter(spans)
    out: list[Piece] = []
    for piece in found:
        if piece.hidden is not None or _BARRIER not in piece.text:
            out.append(piece)
            continue
        first, *rest = piece.text.split(_BARRIER)
        out.append(Piece(first))
        for text in rest:
            span = next(marked)
            out += (Piece(people.stand_in_of(span), span.text), Piece(text))
    return [piece for piece in out if piece.text or piece.hidden is not None]


@dataclass(eq=False)
class _Person:
    """One person, employer or place of the story: its stand-in, and what of its names is
    hidden (each whole name, and the parts and run-together forms that go with them)."""

    stand_in: str
    names: list[names.Forms] = field(default_factory=list)

    def known_as(self, name: str, kind: str) -> None:
        """Add one of the names this person goes by (kind: person, org or place)."""
        found = names.forms(name, kind)
        if found.wholes:
            self.names.append(found)


class _People:
    """The people of one story at one level, and which stand-in each name takes."""

    def __init__(self, draft: Draft, spans: list[Span], level: str) -> None:
        """Group names into people: the narrator first, then each distinct marked name, then the
        interviewer and the place unless a span already names them."""
        pseudo = level == "pseudonymized"
        self.words = words = stand_ins(draft.language)
        self.narrator = _Person(words.narrator if pseudo else words.redacted)
        self.narrator.known_as(draft.narrator, "person")
        narrator_key = names.key(draft.narrator)
        keys = {text: names.key(text) for text in {s.text for s in spans}}
        chosen: dict[tuple[str, names.Key], str] = {}
        for span in spans:
            chosen.setdefault((span.kind, keys[span.text]), span.stand_in or "")
        by_ident: dict[tuple[str, names.Key], _Person] = {}
        self._by_span: dict[tuple[str, str], _Person] = {}
        counters = dict.fromkeys(_LABELS, 0)
        for span in spans:
            ident = (span.kind, keys[span.text])
            if ident not in by_ident:
                if span.kind == "person" and _is_narrator(ident[1], narrator_key):
                    by_ident[ident] = self.narrator
                elif not pseudo:
                    by_ident[ident] = _Person(words.redacted)
                elif chosen[ident]:
                    by_ident[ident] = _Person(chosen[ident])
                else:
                    counters[span.kind] += 1
                    by_ident[ident] = _Person(f"{words.labels[span.kind]} {_ordinal(span.kind, counters[span.kind])}")
            if (span.kind, span.text) not in self._by_span:
                self._by_span[(span.kind, span.text)] = by_ident[ident]
                by_ident[ident].known_as(span.text, span.kind)
        self.everyone = list({id(p): p for p in [self.narrator, *by_ident.values()]}.values())
        if draft.interviewer:
            person = by_ident.get(("person", names.key(draft.interviewer)))
            if names.key(draft.interviewer) == narrator_key:
                person = self.narrator
            self._also(person or _Person(words.interviewer if pseudo else words.redacted), draft.interviewer, "person")
        if draft.place:
            person = by_ident.get(("place", names.key(draft.place)))
            if person is None:
                counters["place"] += 1
                person = _Person(f"{words.labels['place']} {counters['place']}" if pseudo else words.redacted)
            self._also(person, draft.place, "place")
        self._make_stand_ins_safe()

    def _also(self, person: _Person, name: str, kind: str) -> None:
        person.known_as(name, kind)
        if all(p is not person for p in self.everyone):
            self.everyone.append(person)

    def _make_stand_ins_safe(self) -> None:
        """A stand-in that itself holds a hidden name (chosen carelessly, or a label that
        happens to be someone's name) would release that name: it becomes [redacted]."""
        hidden = names.Matcher(names.Entry(forms, "", id(person)) for person in self.everyone
                               for forms in person.names)
        for person in self.everyone:
            if hidden.finds(person.stand_in):
                person.stand_in = self.words.redacted

    def stand_in_of(self, span: Span) -> str:
        """The stand-in of a marked span."""
        return self._by_span[(span.kind, span.text)].stand_in

    def scrubber(self) -> names.Matcher:
        """Every hidden name, whole or in part, each to its person's stand-in: a whole name to the
        person it names; a part shared by people with different stand-ins to [redacted]. The
        narrator's parts that are also common words are hidden wherever they are capitalised."""
        return names.Matcher((names.Entry(forms, person.stand_in, id(person), strict=person is self.narrator)
                              for person in self.everyone for forms in person.names), conflict=self.words.redacted)

    def holds_name(self, tag: str, scrubber: names.Matcher) -> bool:
        """Whether a tag holds a hidden name or part as a word, or run together with other
        words (``marialopez``, ``#MariaLopez``, ``lopez2019``)."""
        if scrubber.finds(tag):
            return True
        spellings = names.glued(tag)
        return any(g in spelling for spelling in spellings for g in self._glued())

    def _glued(self) -> set[str]:
        """Every hidden whole name run together and every identifying part, three letters or more."""
        joined = {"".join(w) for person in self.everyone for forms in person.names for w in forms.wholes}
        joined |= {p for person in self.everyone for forms in person.names for p in forms.parts}
        return {g for g in joined if len(g) >= names.MIN_PART and g not in names.FUNCTION_WORDS}


def _is_narrator(span_key: names.Key, narrator_key: names.Key) -> bool:
    """A marked person is the narrator when marked by the whole name or by one distinctive part."""
    if span_key == narrator_key:
        return True
    return len(span_key) == 1 and names.is_identifying(span_key[0]) and span_key[0] in narrator_key


def _one_or_redacted(stand_ins: set[str]) -> str:
    return next(iter(stand_ins)) if len(stand_ins) == 1 else REDACTED


def _ordinal(kind: str, n: int) -> str:
    """People are lettered (A, B, ... Z, AA), employers and places numbered."""
    if kind != "person":
        return str(n)
    return string.ascii_uppercase[(n - 1) % 26] * ((n - 1) // 26 + 1)
