"""Instants in UTC: parsing what people type and comparing aware datetimes only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from archive.errors import InvalidInput
from archive.messages import N_

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Instants the archive accepts: far enough from datetime's ends that any offset and any
# duration added to them (a request's time to live) stays representable.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 date (00:00 UTC that day) or instant with an offset, into UTC.

    A date-time without an offset is refused: an embargo must not depend on the
    server's time zone.
    """
    value = text.strip()
    if not value:
        raise InvalidInput(N_("empty date: give an ISO 8601 date (2031-01-01) or instant (2031-01-01T09:00:00Z)"))
    # Messages never repeat what was typed: it may have been pasted from somewhere sealed.
    try:
        if _DATE.match(value):
            day = date.fromisoformat(value)
            parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            N_("malformed date: give an ISO 8601 date (2031-01-01) or instant with offset (2031-01-01T09:00:00Z)")
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput(N_("a date-time without an offset: add Z or +HH:MM so the instant is unambiguous"))
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant <= LATEST:
        raise InvalidInput(N_("a date out of range: give one between the years 1900 and 9998"))
    return instant


def format_instant(moment: datetime | None) -> str:
    """An instant as ISO 8601 UTC with a Z, or 'indefinite' for None."""
    if moment is None:
        return "indefinite"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> timedelta:
    """A span like 90s, 30m, 2h or 1d."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise InvalidInput("malformed duration: give a number and a unit, e.g. 30m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
