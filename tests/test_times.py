"""Embargo instants: ISO 8601 dates and instants, always UTC, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    ("2031-01-01T09:00:00", "without an offset"),
    ("tomorrow", "malformed date"),
    ("0001-01-01T00:00:00+14:00", "out of range"),
    ("9999-12-31T23:00:00-05:00", "out of range"),
    ("0001-01-01", "out of range"),
])
def test_bad_dates_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_instant(text)


@given(st.text(max_size=40))
def test_no_typed_text_is_refused_with_anything_but_a_clear_message_that_does_not_repeat_it(text: str) -> None:
    try:
        parsed = parse_instant(text)
    except InvalidInput as error:
        typed = text.strip()
        assert len(typed) < 4 or typed not in str(error)
    else:
        assert parsed.tzinfo is UTC


@given(st.datetimes(timezones=st.timezones()))
def test_every_representable_instant_is_accepted_in_range_or_refused_cleanly(moment: datetime) -> None:
    try:
        parsed = parse_instant(moment.isoformat())
    except InvalidInput as error:
        assert "out of range" in str(error) or "offset" in str(error)
    else:  # (compared as written: a local time in a DST gap is not one instant otherwise)
        assert parsed == datetime.fromisoformat(moment.isoformat())


def test_instants_are_shown_in_utc_and_none_as_indefinite() -> None:
    assert format_instant(datetime(2031, 1, 1, 7, 30, tzinfo=UTC)) == "2031-01-01T07:30:00Z"
    assert format_instant(None) == "indefinite"
