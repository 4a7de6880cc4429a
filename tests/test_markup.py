"""Span markup: names, kinds and stand-ins parsed; mistakes pointed at by line and column."""

from __future__ import annotations

import pytest

from archive.transcripts import markup
from archive.transcripts.markup import MarkupError, Span


def test_spans_are_parsed_with_kind_name_and_stand_in() -> None:
    segments = markup.parse("At [[org:Harbor Hotel]], [[person:Maria Lopez|the housekeeper]].\n"
                            "In [[place: New Haven ]].")

    assert segments == [
        "At ", Span("org", "Harbor Hotel", None, 1, 4), ", ",
        Span("person", "Maria Lopez", "the housekeeper", 1, 26), ".\nIn ",
        Span("place", "New Haven", None, 2, 4), ".",
    ]


def test_text_without_spans_is_one_segment() -> None:
    assert markup.parse("just words\nand more") == ["just words\nand more"]
    assert markup.parse("") == []


@pytest.mark.parametrize("text, line, column, reason", [
    ("ok\nthen [[person:Maria", 2, 6, "unclosed '[['"),
    ("[[employer:Harbor]]", 1, 1, "unknown span kind"),
    ("a [[Maria Lopez]] b", 1, 3, "needs a kind"),
    ("x ]] y", 1, 3, "never opened"),
    ("[[person:a [[org:b]] ]]", 1, 12, "spans cannot nest"),
    ("[[person:]]", 1, 1, "empty person span"),
    ("[[person:Maria|]]", 1, 1, "empty stand-in"),
    ("[[person:Maria\nLopez]]", 1, 1, "unclosed '[['"),
])
def test_malformed_markup_points_at_line_and_column(text: str, line: int, column: int,
                                                    reason: str) -> None:
    with pytest.raises(MarkupError) as raised:
        markup.parse(text)

    assert (raised.value.line, raised.value.column) == (line, column)
    assert reason in raised.value.reason


def test_errors_do_not_repeat_what_was_written() -> None:
    with pytest.raises(MarkupError) as raised:
        markup.parse("[[Maria Lopez:secret]]")
    assert "Maria" not in str(raised.value) and "secret" not in str(raised.value)
