"""Timed transcripts: WebVTT whose cue text uses the archive's span markup.

    WEBVTT

    00:01.000 --> 00:04.500
    I worked at [[org:Harbor Hotel]] for six years.

A story may carry one: its plain text (the cues' texts, one line apart) is the story's
transcript, so every span has the start and end time of its cue, which is what a muted
recording silences. The parser is strict and small, for the part of WebVTT a transcript
uses (the header, cues with an optional identifier and settings, NOTE, STYLE and REGION
blocks), and every error names a line and column. (webvtt-py, the usual library, reads
times to whole seconds and skips a cue whose timing line it cannot read without a word.)

A cue's text is read as WebVTT cue text, as a player renders it, before anything else reads
it: tags (``<c>``, ``<i>``, ``<v Speaker>``...) and inline timestamps are dropped with their
annotations, ruby text (``<rt>``) too, and character references (``&amp;``, ``&#117;``) are
decoded; what a reference would give that the archive refuses (a control character, a
noncharacter) is dropped, as a player draws nothing for it. So a name split by a timestamp or
spelled with a reference is read whole, and what is released (`render`, every character
escaped) is what a player shows. At submission a ``<`` that starts no WebVTT tag is refused
(write ``&lt;``); at release, for stories sealed before, the cue is read as a player would.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from archive.messages import N_
from archive.transcripts import characters, markup
from archive.transcripts.markup import MarkupError

ARROW = "-->"
MAX_CUES = 20_000
_TIME = re.compile(r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
_HEADER = re.compile(r"^WEBVTT(?:[ \t].*)?$")
# WebVTT cue text: a tag runs from "<" to ">" (or the text's end); its name ends at whitespace,
# "." (classes) or ">"; an inline timestamp is a tag too.
_CUE_TAG = re.compile(r"<([^>]*)(>|$)")
_TAG_NAME = re.compile(r"/?([^\s./>]*)")
_TAGS = frozenset({"c", "i", "b", "u", "ruby", "rt", "v", "lang"})
_STAMP = re.compile(r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}")


class TimingError(MarkupError):
    """A timed transcript that cannot be read; carries where it went wrong."""


@dataclass(frozen=True)
class Cue:
    """One timed piece of the transcript: milliseconds from the recording's start, and text
    (with span markup, or already redacted)."""

    start: int
    end: int
    text: str


def parse(text: str, *, strict: bool = True) -> list[Cue]:
    """The cues of a WebVTT text, in order, each text as a player renders it (with span markup);
    TimingError naming the line and column if not. Not `strict`, a ``<`` that starts no WebVTT
    tag is read as a player reads it (a tag to the next ``>``) instead of refused."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not _HEADER.match(lines[0].lstrip("\ufeff")):
        raise TimingError(1, 1, N_("a timed transcript starts with the line WEBVTT"))
    cues: list[Cue] = []
    number = 1
    while number < len(lines):
        if not lines[number].strip():
            number += 1
            continue
        block_start = number
        while number < len(lines) and lines[number].strip():
            number += 1
        cue = _block(lines[block_start:number], block_start + 1, cues[-1].start if cues else 0, strict)
        if cue is not None:
            cues.append(cue)
            if len(cues) > MAX_CUES:
                raise TimingError(block_start + 1, 1, N_("more than %(limit)s cues: split the interview",
                                                         limit=MAX_CUES))
    if not cues:
        raise TimingError(len(lines), 1, N_("the timed transcript has no cue"))
    return cues


def _block(block: list[str], first_line: int, previous_start: int, strict: bool) -> Cue | None:
    if block[0].split(maxsplit=1)[0] in ("NOTE", "STYLE", "REGION") and ARROW not in block[0]:
        return None  # comments and styling: not part of the transcript
    timing = 0 if ARROW in block[0] else 1
    if timing >= len(block) or ARROW not in block[timing]:
        raise TimingError(first_line, 1, N_("a cue needs a timing line like 00:01.000 --> 00:04.000 (after an "
                                            "optional identifier line)"))
    line_no = first_line + timing
    start_text, _, rest = block[timing].partition(ARROW)
    end_text = rest.split(maxsplit=1)[0] if rest.strip() else ""
    start = _milliseconds(start_text.strip(), line_no, 1)
    end = _milliseconds(end_text, line_no, len(start_text) + len(ARROW) + 2)
    if end <= start:
        raise TimingError(line_no, 1, N_("a cue must end after it starts"))
    if start < previous_start:
        raise TimingError(line_no, 1, N_("cues must be in order of their start times"))
    text_lines = block[timing + 1:]
    if not text_lines:
        raise TimingError(line_no, 1, N_("a cue needs its text on the lines after its timing"))
    for offset, line in enumerate(text_lines, start=1):
        if ARROW in line:
            raise TimingError(line_no + offset, line.index(ARROW) + 1,
                              N_("cue text cannot hold %(arrow)s", arrow=repr(ARROW)))
    text = cue_text("\n".join(text_lines), line_no + 1, strict)
    try:
        markup.parse(text)
    except MarkupError as error:
        raise TimingError(line_no + error.line, error.column, error.reason) from None
    return Cue(start, end, text)


def cue_text(text: str, first_line: int = 1, strict: bool = False) -> str:
    """A cue's text as a player renders it: tags, timestamps, annotations and ruby text dropped,
    character references decoded (see the module's docstring)."""
    if "<" not in text and "&" not in text:
        return text
    out: list[str] = []
    position, ruby_text = 0, False
    for tag in _CUE_TAG.finditer(text):
        if not ruby_text:
            out.append(_decoded(text[position : tag.start()]))
        position = tag.end()
        inside, closed = tag.group(1), tag.group(2) == ">"
        name = _TAG_NAME.match(inside).group(1)  # type: ignore[union-attr]
        known = name in _TAGS or (not inside.startswith("/") and _STAMP.fullmatch(inside))
        if strict and (not closed or not known or "\n" in inside):
            line = first_line + text.count("\n", 0, tag.start())
            column = tag.start() - (text.rfind("\n", 0, tag.start()) + 1) + 1
            raise TimingError(line, column, N_("'<' starts a WebVTT tag (such as <i> or <v Name>): write &lt; "
                                               "for a '<' in the text"))
        if name == "rt":
            ruby_text = not inside.startswith("/")
        elif name == "ruby" and inside.startswith("/"):
            ruby_text = False
    if not ruby_text:
        out.append(_decoded(text[position:]))
    return "".join(out)


def _decoded(text: str) -> str:
    """Text with its character references decoded; what the archive refuses dropped."""
    if "&" not in text:
        return text
    value, bad = characters.clean(html.unescape(text))
    while bad is not None:
        value, bad = characters.clean(value[:bad] + value[bad + 1 :])
    return value


def _milliseconds(text: str, line: int, column: int) -> int:
    found = _TIME.match(text)
    if not found:
        raise TimingError(line, column, N_("a time is written like 00:01.000 or 01:02:03.000"))
    hours, minutes, seconds, millis = found.groups()
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def plain(cues: Sequence[Cue]) -> str:
    """The transcript the cues make: their texts, one line apart."""
    return "\n".join(cue.text for cue in cues)


def render(cues: Sequence[Cue]) -> str:
    """The cues as a WebVTT file to publish: each text as plain text ("&", "<" and ">" written
    as WebVTT's escapes, so no arrow or tag is read from it; no blank line inside a cue)."""
    blocks = ["WEBVTT"]
    for cue in cues:
        lines = [line for line in cue.text.split("\n") if line.strip()] or ["\u2026"]
        text = "\n".join(lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{clock(cue.start)} {ARROW} {clock(cue.end)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def clock(milliseconds: int) -> str:
    """A time as WebVTT writes it: 01:02:03.000."""
    seconds, millis = divmod(milliseconds, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
