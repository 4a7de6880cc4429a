"""Instants in UTC: parsing what people type and comparing aware datetimes only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from archive.errors import InvalidInput

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


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
        raise InvalidInput("empty date: give an ISO 8601 date (2031-01-01) or instant (2031-01-01T09:00:00Z)")
    try:
        if _DATE.match(value):
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"malformed date {value[:40]!r}: give an ISO 8601 date (2031-01-01) "
            "or instant with offset (2031-01-01T09:00:00Z)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput(
            f"date-time {value[:40]!r} has no offset: add Z or +HH:MM so the instant is unambiguous"
        )
    return parsed.astimezone(UTC)


def format_instant(moment: datetime | None) -> str:
    """An instant as ISO 8601 UTC with a Z, or 'indefinite' for None."""
    if moment is None:
        return "indefinite"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> timedelta:
    """A span like 90s, 30m, 2h or 1d."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise InvalidInput(f"malformed duration {text[:20]!r}: give a number and a unit, e.g. 30m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
