"""Redaction, applied once on the plaintext in the release gate, as the narrator chose.

| level | the released copy shows |
| full | everything; spans as their names |
| pseudonymized | each distinct person/org/place as a stable stand-in; narrator as "the narrator" |
| redacted | every span as [redacted]; narrator anonymous |
| summary | title, summary and non-identifying metadata; no transcript |

Beyond the marked spans, every occurrence of the narrator's name (whole or any part of
it) and of every marked name is scrubbed from every released text field, so an
unmarked repetition does not undo the redaction. No mapping from stand-ins to names
leaves this module.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from archive import markup
from archive.markup import Span
from archive.vault.drafts import Draft

REDACTED = "[redacted]"
NARRATOR_PSEUDONYM = "the narrator"
NARRATOR_BY_LEVEL = {"pseudonymized": "Pseudonymous narrator",
                     "redacted": "Anonymous narrator", "summary": "Anonymous narrator"}
_LABELS = {"person": "Person", "org": "Employer", "place": "Place"}


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


def redact(draft: Draft) -> ReleasedText:
    """The released copy of a story at its own redaction level."""
    level = draft.redaction_level
    if level == "full":
        return ReleasedText(draft.title, draft.narrator, _names_only(draft.transcript), draft.summary,
                            draft.interviewer, draft.interview_date, draft.place, draft.language,
                            draft.tags, level)
    segments = markup.parse(draft.transcript)
    spans = [s for s in segments if isinstance(s, Span)]
    stand_in = _stand_ins(spans) if level == "pseudonymized" else (lambda span: REDACTED)
    narrator = NARRATOR_PSEUDONYM if level == "pseudonymized" else REDACTED
    scrub = _scrubber(draft.narrator, narrator, spans, stand_in)
    transcript = None
    if level != "summary":
        transcript = scrub("".join(s if isinstance(s, str) else stand_in(s) for s in segments))
    return ReleasedText(
        title=scrub(draft.title), narrator=NARRATOR_BY_LEVEL[level], transcript=transcript,
        summary=scrub(draft.summary), interviewer="", interview_date=draft.interview_date[:4],
        place="", language=draft.language, tags=tuple(scrub(t) for t in draft.tags),
        redaction_level=level,
    )


def _names_only(transcript: str) -> str:
    return "".join(s if isinstance(s, str) else s.text for s in markup.parse(transcript))


def _stand_ins(spans: list[Span]) -> Callable[[Span], str]:
    """Stable stand-ins within one story: the chosen one, else Person A, Employer 1, Place 1."""
    chosen: dict[tuple[str, str], str] = {}
    for span in spans:
        key = (span.kind, span.text.casefold())
        if span.stand_in and key not in chosen:
            chosen[key] = span.stand_in
    counters = {kind: 0 for kind in _LABELS}
    for span in spans:
        key = (span.kind, span.text.casefold())
        if key not in chosen:
            counters[span.kind] += 1
            chosen[key] = f"{_LABELS[span.kind]} {_ordinal(span.kind, counters[span.kind])}"
    return lambda span: chosen[(span.kind, span.text.casefold())]


def _ordinal(kind: str, n: int) -> str:
    """People are lettered (A, B, ... Z, AA), employers and places numbered."""
    if kind != "person":
        return str(n)
    return string.ascii_uppercase[(n - 1) % 26] * ((n - 1) // 26 + 1)


def _scrubber(narrator: str, narrator_stand_in: str, spans: list[Span],
              stand_in: Callable[[Span], str]) -> Callable[[str], str]:
    """Replace every remaining occurrence of the narrator's and the marked names, longest first."""
    replacements: dict[str, str] = {}
    for span in spans:
        replacements.setdefault(span.text.casefold(), stand_in(span))
    replacements[narrator.casefold()] = narrator_stand_in
    for part in re.findall(r"\w[\w'’-]*", narrator):
        if len(part) >= 2:
            replacements.setdefault(part.casefold(), narrator_stand_in)
    names = sorted((n for n in replacements if n.strip()), key=len, reverse=True)
    if not names:
        return lambda text: text
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in names) + r")(?!\w)", re.IGNORECASE)
    return lambda text: pattern.sub(lambda m: replacements[m.group(0).casefold()], text)
