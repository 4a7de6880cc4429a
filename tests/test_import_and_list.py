"""`escrow stories import` is all or nothing; `escrow stories list` never shows content."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import database_env, escrow, one, sql, story, write_lines


def _counts(home: Path) -> tuple[int, int, int]:
    return tuple(one(home, f"SELECT count(*) FROM {table}")  # type: ignore[return-value]
                 for table in ("stories", "story_versions", "audit_log"))


@pytest.fixture
def home(archive_home: Path) -> Path:
    for email, role in (("org@example.org", "organizer"), ("admin@example.org", "admin"),
                        ("reader@example.org", "researcher"), ("org2@example.org", "organizer")):
        result = escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
                        input="a long enough password\n")
        assert result.exit_code == 0, result.output
    return archive_home


def test_import_seals_every_line_and_lists_them_without_content(home: Path, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "s.jsonl", story(title="First"), story(title="Second"),
                       story(title="Third", embargo_until=None, redaction_level="full"))

    result = escrow(home, "stories", "import", str(file), "--as", "org@example.org")

    assert result.exit_code == 0, result.output
    assert "sealed 3 stories" in result.output
    listed = escrow(home, "stories", "list")
    assert listed.exit_code == 0
    assert "3 stories" in listed.output
    assert "2031-01-01T00:00:00Z" in listed.output and "indefinite" in listed.output
    for word in ("First", "Second", "Third", "Rosa", "Harbor", "Maria", "housekeeper"):
        assert word not in listed.output
    assert _counts(home)[:2] == (3, 3)


def test_list_filters_by_status_and_refuses_an_unknown_one(home: Path, tmp_path: Path) -> None:
    escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
           "--as", "org@example.org")

    assert "1 story\n" in escrow(home, "stories", "list", "--status", "sealed").output
    assert "0 stories" in escrow(home, "stories", "list", "--status", "due-for-review").output
    bad = escrow(home, "stories", "list", "--status", "lost")
    assert bad.exit_code == 1
    assert "unknown status 'lost'" in bad.output


BAD_LINES = {
    "bad JSON": ('{"title": "x",', "not valid JSON"),
    "not an object": ('["a list"]', "a line must be one JSON object"),
    "missing field": (story(transcript=None) | {"transcript": None}, "transcript must be text"),
    "absent field": ({k: v for k, v in story().items() if k != "narrator"}, "missing field 'narrator'"),
    "unknown field": (story(embargo="2031-01-01"), "a field the story format does not have"),
    "malformed date": (story(embargo_until="2031-02-30"), "embargo_until: malformed date"),
    "date-time without offset": (story(embargo_until="2031-01-01T09:00:00"), "without an offset"),
    "instant before year 1 in UTC": (story(embargo_until="0001-01-01T00:00:00+14:00"), "out of range"),
    "instant after year 9999 in UTC": (story(embargo_until="9999-12-31T23:00:00-05:00"), "out of range"),
    "duplicate key": (json.dumps(story())[:-1] + ', "embargo_until": "2020-01-01"}', "a field appears twice"),
    "deep nesting": ('{"title": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper than 20 levels"),
    "nul in the transcript": (story(transcript="a\u0000b"), "transcript has a control character"),
    "lone surrogate": (json.dumps(story(title="x")).replace('"x"', '"\\ud800"'),
                       "title has a control character or an invalid one"),
    "not a date at all": (story(embargo_until="next spring"), "embargo_until: malformed date"),
    "unknown redaction level": (story(redaction_level="partial"), "unknown redaction level: use full"),
    "unclosed span": (story(transcript="fine line\nthen [[person:Maria Lopez and more"),
                      "transcript, line 2, column 6: unclosed '[['"),
    "unknown span kind": (story(transcript="at [[employer:Harbor Hotel]]"),
                          "transcript, line 1, column 4: unknown span kind"),
    "stray closing": (story(transcript="text ]] here"), "transcript, line 1, column 6"),
    "empty span": (story(transcript="x [[person:]] y"), "empty person span"),
    "unknown owner": (story(owner="ghost@example.org"), "owner is not an account of this archive"),
    "bad interview date": (story(interview_date="May 2019"), "interview_date must be"),
    "tags not a list": (story(tags="hotel"), "tags must be a list of text"),
    "a comma in a tag": (story(tags=["hotel, strike"]), "a tag may not contain a comma"),
    "summary level without summary": (story(redaction_level="summary", summary=""),
                                      "needs a summary"),
    "release_review not boolean": (story(release_review="yes"), "release_review must be true or false"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_a_bad_line_stops_the_import_and_stores_nothing(home: Path, tmp_path: Path, case: str) -> None:
    bad, message = BAD_LINES[case]
    file = write_lines(tmp_path / "s.jsonl", story(title="good one"), story(title="good two"), bad)
    before = _counts(home)

    result = escrow(home, "stories", "import", str(file), "--as", "admin@example.org")

    assert result.exit_code == 1
    assert result.output.startswith(f"escrow: {file}:3: "), result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    for echoed in ("embargo", "partial", "ghost", "2020-01-01", "May 2019"):  # no value or unknown key
        assert echoed not in result.output.replace("embargo_until", ""), result.output
    assert _counts(home) == before


def test_span_errors_never_echo_the_sensitive_text(home: Path, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "s.jsonl", story(transcript="[[Maria Lopez: the cook]] said"))

    result = escrow(home, "stories", "import", str(file), "--as", "org@example.org")

    assert result.exit_code == 1
    assert "Maria" not in result.output and "cook" not in result.output


@pytest.mark.parametrize("as_email, message", [
    ("nobody@example.org", "no active user with email nobody@example.org"),
    ("reader@example.org", "is a researcher and cannot own stories"),
])
def test_import_refuses_an_unknown_or_unfit_actor(home: Path, tmp_path: Path, as_email: str,
                                                  message: str) -> None:
    file = write_lines(tmp_path / "s.jsonl", story())
    before = _counts(home)

    result = escrow(home, "stories", "import", str(file), "--as", as_email)

    assert result.exit_code == 1
    assert message in result.output
    assert _counts(home) == before


def test_only_an_admin_imports_for_another_organizer(home: Path, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "s.jsonl", story(owner="org2@example.org"))

    refused = escrow(home, "stories", "import", str(file), "--as", "org@example.org")
    accepted = escrow(home, "stories", "import", str(file), "--as", "admin@example.org")

    assert refused.exit_code == 1
    assert "only an admin may import stories for another organizer" in refused.output
    assert accepted.exit_code == 0, accepted.output
    assert sql(home, "SELECT u.email FROM stories s JOIN users u ON u.id = s.owner_id") == [("org2@example.org",)]


@pytest.mark.parametrize("given, stored", [
    ("2031-01-01", "2031-01-01 00:00:00"),
    ("2031-01-01T09:30:00+02:00", "2031-01-01 07:30:00"),
    ("2031-01-01T09:30:00Z", "2031-01-01 09:30:00"),
    (None, None),
])
def test_embargo_is_stored_as_a_utc_instant(home: Path, tmp_path: Path, given: str | None,
                                            stored: str | None) -> None:
    file = write_lines(tmp_path / "s.jsonl", story(embargo_until=given))

    assert escrow(home, "stories", "import", str(file), "--as", "org@example.org").exit_code == 0

    value = one(home, "SELECT embargo_until FROM stories")
    assert (str(value)[:19] if value else None) == stored  # SQLite gives text, PostgreSQL a timestamp


def test_import_reports_a_missing_file_and_an_empty_one(home: Path, tmp_path: Path) -> None:
    missing = escrow(home, "stories", "import", str(tmp_path / "nope.jsonl"), "--as", "org@example.org")
    empty = write_lines(tmp_path / "empty.jsonl")
    nothing = escrow(home, "stories", "import", str(empty), "--as", "org@example.org")

    assert missing.exit_code == 1 and "no such file" in missing.output
    assert nothing.exit_code == 1 and "no stories in the file" in nothing.output


def test_import_refuses_a_file_that_is_not_utf8(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "latin1.jsonl"
    file.write_bytes(json.dumps(story(title="Caf\u00e9")).encode("latin-1", "replace") + b"\xe9\n")

    result = escrow(home, "stories", "import", str(file), "--as", "org@example.org")

    assert result.exit_code == 1 and "not UTF-8" in result.output


def test_story_ids_are_random_not_a_count(home: Path, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "s.jsonl", *[story(title=f"t{i}") for i in range(20)])
    escrow(home, "stories", "import", str(file), "--as", "org@example.org")

    ids = [row[0] for row in sql(home, "SELECT id FROM stories")]
    assert len(set(ids)) == 20
    assert all(len(i) == 16 and not i.isdigit() for i in ids)
    assert sorted(ids) != [str(n) for n in range(1, 21)]


def test_commands_before_init_say_so(tmp_path: Path, new_database: Callable[[], str | None]) -> None:
    result = escrow(tmp_path / "never", "stories", "list", env=database_env(new_database()))

    assert result.exit_code == 1
    assert "run 'escrow init' first" in result.output
    assert not (tmp_path / "never").exists()
