"""Embargo instants: ISO 8601 dates and instants, always UTC, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archive.errors import InvalidInput
from archive.times import format_instant, parse_instant


@pytest.mark.parametrize("text, expected", [
    ("2031-01-01", datetime(2031, 1, 1, tzinfo=UTC)),
    ("2031-01-01T00:00:00Z", datetime(2031, 1, 1, tzinfo=UTC)),
    ("2031-01-01T09:30:00+02:00", datetime(2031, 1, 1, 7, 30, tzinfo=UTC)),
    ("2030-12-31T20:00:00-05:00", datetime(2031, 1, 1, 1, 0, tzinfo=UTC)),
])
def test_dates_and_instants_become_utc(text: str, expected: datetime, auckland: None) -> None:
    parsed = parse_instant(text)

    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("text, message", [
    ("", "empty date"),
    ("2031-02-30", "malformed date"),
    ("01/02/2031", "malformed date"),
    ("2031-01-01T09:00:00", "has no offset"),
    ("tomorrow", "malformed date"),
])
def test_bad_dates_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_instant(text)


def test_instants_are_shown_in_utc_and_none_as_indefinite() -> None:
    assert format_instant(datetime(2031, 1, 1, 7, 30, tzinfo=UTC)) == "2031-01-01T07:30:00Z"
    assert format_instant(None) == "indefinite"
