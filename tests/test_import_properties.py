"""Generated JSON Lines: every line is either sealed or refused with `FILE:LINE: reason`, and a
refusal never repeats a key or a value it was given (they may be pieces of a sealed story).

Through the import's parsing service (the same one `stories import` calls), on the real
database: no generated line may raise anything but InvalidInput.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from archive.accounts.users import User
from archive.errors import InvalidInput
from archive.vault import drafts, imports
from tests.helpers import story

KNOWN = set(drafts.CONTENT_FIELDS) | set(drafts.CONTROL_FIELDS) | set(drafts.OPTIONAL_EXTRA)
# Words a message is made of, which a generated value may happen to equal.
VOCABULARY = {"title", "narrator", "transcript", "summary", "interviewer", "interview_date", "place",
              "language", "tags", "notes", "embargo_until", "redaction_level", "release_review", "owner",
              "captions", "recording_release"}

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {k for k in value} | {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in _strings(v)}
    return set()


def _telling(text: str) -> bool:
    """A given string that no message could hold by chance: five characters or more, and one of
    them not a lower-case ASCII letter, digit or space (messages are made of those)."""
    return len(text.strip()) >= 5 and any(not (c.isascii() and (c.islower() or c.isdigit() or c == " "))
                                          for c in text)


def _refusal_repeats_nothing(error: InvalidInput, given_: set[str]) -> None:
    message = str(error)
    assert message.startswith("upload.jsonl:")
    leaked = [s for s in given_ if _telling(s) and s not in VOCABULARY and s in message]
    assert not leaked, f"the message repeats what it was given: {leaked!r} in {message!r}"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: k not in KNOWN), values,
                             min_size=1, max_size=3))
def test_an_unknown_field_is_refused_without_its_name_or_value(session: Session, organizer: User,
                                                               extra: dict[str, Any]) -> None:
    line = json.dumps({**story(), **extra})
    try:
        imports.parse_lines(session, organizer, [line], "upload.jsonl")
    except InvalidInput as error:
        # One fixed sentence, whatever the key: nothing of it can be in the message.
        assert str(error) == f"upload.jsonl:1: a field the story format does not have; the fields are " \
                             f"{', '.join(sorted(KNOWN))}"
    else:
        raise AssertionError("an unknown field was accepted")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(sorted(KNOWN - {"owner"})), values, min_size=1, max_size=4))
def test_any_value_in_any_field_is_sealed_or_refused_cleanly(session: Session, organizer: User,
                                                             changes: dict[str, Any]) -> None:
    line = json.dumps({**story(), **changes})
    try:
        [parsed] = imports.parse_lines(session, organizer, [line], "upload.jsonl")
    except InvalidInput as error:
        _refusal_repeats_nothing(error, _strings(changes))
    else:
        assert parsed.draft.title.strip() and parsed.owner.id == organizer.id


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_as_a_line_is_sealed_or_refused_cleanly(session: Session, organizer: User, text: str) -> None:
    try:
        imports.parse_lines(session, organizer, [text], "upload.jsonl")
    except InvalidInput as error:
        _refusal_repeats_nothing(error, {text})


def test_a_line_separator_inside_a_string_is_text_and_a_bom_is_accepted(tmp_path: Any, session: Session,
                                                                        organizer: User) -> None:
    path = tmp_path / "s.jsonl"
    line = json.dumps(story(transcript="one\u2028two\u2029three"), ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + line.encode() + b"\r\n" + line.encode() + b"\n")

    lines = imports.read_lines(path, limit=1 << 20)
    parsed = imports.parse_lines(session, organizer, lines, str(path))

    assert len(parsed) == 2
    assert parsed[0].draft.transcript == "one\u2028two\u2029three"
