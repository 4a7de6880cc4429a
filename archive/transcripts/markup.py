"""Inline span markup for sensitive names: ``[[person:Maria Lopez|the housekeeper]]``.

One parser for the whole archive: the vault uses it to reject malformed markup at
submission, the release gate to redact. Errors point at line and column (1-based).
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import InvalidInput
from archive.messages import N_

KINDS = ("person", "org", "place")
OPEN, CLOSE = "[[", "]]"


class MarkupError(InvalidInput):
    """Span markup that cannot be parsed; carries where it went wrong."""

    def __init__(self, line: int, column: int, reason: str) -> None:
        super().__init__(N_("line %(line)s, column %(column)s: %(reason)s", line=str(line), column=str(column),
                            reason=reason))
        self.line = line
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Span:
    """One marked sensitive name, with its optional chosen stand-in."""

    kind: str
    text: str
    stand_in: str | None
    line: int
    column: int


Segment = str | Span


def parse(text: str) -> list[Segment]:
    """Split a transcript into plain text and spans; raise MarkupError on bad markup."""
    pieces: list[str | Span] = []
    if OPEN not in text and CLOSE not in text:  # most lines, and many transcripts, hold no span
        return [text] if text else []
    for line_no, line in enumerate(text.split("\n"), start=1):
        if line_no > 1:
            pieces.append("\n")
        _parse_line(line, line_no, pieces)
    return _merged(pieces)


def spans(text: str) -> list[Span]:
    """Only the spans of a transcript, in order."""
    return [s for s in parse(text) if isinstance(s, Span)]


def _merged(pieces: list[str | Span]) -> list[Segment]:
    """Adjacent plain pieces joined once (joining as they come would copy the text per line)."""
    segments: list[Segment] = []
    run: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            run.append(piece)
            continue
        if run:
            segments.append("".join(run))
            run = []
        segments.append(piece)
    if run:
        segments.append("".join(run))
    return [s for s in segments if s != ""]


def _parse_line(line: str, line_no: int, segments: list[str | Span]) -> None:
    pos = 0
    if OPEN not in line and CLOSE not in line:
        segments.append(line)
        return
    while pos < len(line):
        start = line.find(OPEN, pos)
        stray = line.find(CLOSE, pos)
        if stray != -1 and (start == -1 or stray < start):
            raise MarkupError(line_no, stray + 1, N_("']]' closes a span that was never opened with '[['"))
        if start == -1:
            segments.append(line[pos:])
            return
        segments.append(line[pos:start])
        end = line.find(CLOSE, start + 2)
        if end == -1:
            raise MarkupError(line_no, start + 1, N_("unclosed '[[': a span must end with ']]' on the same line"))
        inner = line[start + 2 : end]
        if OPEN in inner:
            raise MarkupError(line_no, start + 3 + inner.index(OPEN), N_("'[[' inside a span: spans cannot nest"))
        segments.append(_span(inner, line_no, start + 1))
        pos = end + 2


def _span(inner: str, line_no: int, column: int) -> Span:
    kind, colon, rest = inner.partition(":")
    kind = kind.strip()
    if not colon:
        raise MarkupError(line_no, column, N_("a span needs a kind: [[person:Name]], [[org:Name]] or [[place:Name]]"))
    if kind not in KINDS:
        # The kind is not echoed: what was typed there may be a name.
        raise MarkupError(line_no, column, N_("unknown span kind: use person, org or place"))
    name, bar, stand_in = rest.partition("|")
    name, stand_in = name.strip(), stand_in.strip()
    if not name:
        raise MarkupError(line_no, column, N_("empty %(kind)s span: write the name after '%(kind)s:'", kind=kind))
    if bar and not stand_in:
        raise MarkupError(line_no, column, N_("empty stand-in after '|': write one or drop the '|'"))
    return Span(kind, name, stand_in or None, line_no, column)
