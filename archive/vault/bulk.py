"""Bulk embargo changes: a CSV of (story id, new embargo or 'indefinite', reason), applied all or
nothing with the rules of one change, each row audited with its reason sealed.

A later date (or 'indefinite') extends at once; an earlier one becomes a pending request that
a second admin decides, never a lift; the same date changes nothing and needs no reason, so
that `escrow embargo upcoming --csv` (which writes this format) loads back unchanged. Any bad
row stops the whole file, named by its line, and nothing is written. Messages never repeat a
row's reason: it may name someone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.accounts.users import User
from archive.errors import EscrowError, InvalidInput
from archive.messages import N_
from archive.storage.units import Unit
from archive.times import format_instant, parse_instant
from archive.vault import embargo, stories
from archive.vault.embargo import DEFAULT_REQUEST_TTL

HEADER = ("story_id", "embargo_until", "reason")
MAX_ROWS = 10_000
MAX_BYTES = 4 * 1024 * 1024
INDEFINITE = "indefinite"


@dataclass(frozen=True)
class Row:
    """One line of the file: the story, the embargo asked for (None: indefinite), the reason."""

    line: int
    story_id: str
    until: datetime | None
    reason: str


@dataclass(frozen=True)
class Change:
    """What one row did (or, in a dry run, would do): 'extended', 'requested' or 'unchanged'."""

    line: int
    story_id: str
    before: datetime | None
    after: datetime | None
    what: str


def parse(data: bytes) -> list[Row]:
    """The rows of a CSV file (UTF-8, with the header line); InvalidInput naming the line."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(N_("the file is larger than %(limit)s MiB", limit=MAX_BYTES // 2**20))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(N_("the file is not UTF-8 text")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or tuple(cell.strip().lower() for cell in header) != HEADER:
            raise InvalidInput(N_("line 1: the header must be story_id,embargo_until,reason"))
        rows: list[Row] = []
        seen: dict[str, int] = {}
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise InvalidInput(N_("more than %(limit)s rows: split the file", limit=MAX_ROWS))
            if len(cells) != len(HEADER):
                raise InvalidInput(N_("line %(line)s: a row has three cells: story_id, embargo_until, reason",
                                      line=str(line)))
            story_id, until_text, reason = (cell.strip() for cell in cells)
            if not stories.can_be_id(story_id) or not story_id:
                raise InvalidInput(N_("line %(line)s: no such story", line=str(line)))
            if story_id in seen:
                raise InvalidInput(N_("line %(line)s: story %(id)s is on line %(first)s already", line=str(line),
                                      id=story_id, first=str(seen[story_id])))
            seen[story_id] = line
            try:
                until = None if until_text.lower() == INDEFINITE else parse_instant(until_text)
            except InvalidInput as error:
                raise InvalidInput(N_("line %(line)s: %(error)s", line=str(line), error=error.args[0])) from None
            rows.append(Row(line, story_id, until, reason))
    except csv.Error:
        raise InvalidInput(N_("line %(line)s: not a CSV row", line=str(reader.line_num))) from None
    return rows


def apply(unit: Unit, actor: User, rows: Sequence[Row], *, ttl: timedelta = DEFAULT_REQUEST_TTL) -> list[Change]:
    """Apply every row in the unit's transaction (the caller commits it, or undoes it for a dry
    run); the first row that fails raises, naming its line, and the unit rolls all back."""
    changes = []
    for row in rows:
        try:
            changes.append(_one(unit, actor, row, ttl))
        except EscrowError as error:
            raise type(error)(N_("line %(line)s: %(error)s", line=str(row.line), error=error.args[0])) from None
    return changes


def _one(unit: Unit, actor: User, row: Row, ttl: timedelta) -> Change:
    story = stories.get_for(unit.session, actor, row.story_id)
    before = story.embargo_until
    if row.until == before and story.status == "sealed":
        return Change(row.line, story.id, before, before, "unchanged")
    if before is not None and (row.until is None or row.until > before):  # later: at once
        embargo.extend(unit, actor, story.id, row.until, row.reason)
        return Change(row.line, story.id, before, row.until, "extended")
    embargo.request(unit, actor, story.id, row.until, row.reason, ttl=ttl)
    return Change(row.line, story.id, before, row.until, "requested")


def write(found: Iterable[tuple[str, datetime | None]]) -> str:
    """The CSV of (story id, embargo) pairs with empty reasons: what `parse` reads back."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for story_id, until in found:
        writer.writerow((story_id, INDEFINITE if until is None else format_instant(until), ""))
    return out.getvalue()
