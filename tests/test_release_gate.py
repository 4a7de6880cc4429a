"""publish-due, search, index verify, takedown and withdrawal, through the `escrow` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from archive.reading_room.index import Index
from tests.helpers import assert_no_canary, canaries, database_rows, escrow, find_canaries, one, sql, story, write_lines

PAST, FUTURE = "2020-01-01T00:00:00Z", "2090-01-01T00:00:00Z"


@pytest.fixture
def home(archive_home: Path) -> Path:
    for email, role in (("org@example.org", "organizer"), ("admin@example.org", "admin")):
        escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
               input="a long enough password\n")
    return archive_home


def _import(home: Path, tmp_path: Path, *lines: dict[str, object]) -> list[str]:
    file = write_lines(tmp_path / f"s{len(list(tmp_path.iterdir()))}.jsonl", *lines)
    result = escrow(home, "stories", "import", str(file), "--as", "org@example.org")
    assert result.exit_code == 0, result.output
    rows = sql(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT :n",
               n=len(lines))
    return [r[0] for r in reversed(rows)]


def _status(home: Path, story_id: str) -> str:
    return str(one(home, "SELECT status FROM stories WHERE id = :id", id=story_id))


def _search(home: Path, query: str) -> list[dict[str, str]]:
    result = escrow(home, "search", query, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.whoosh
def test_publish_releases_due_stories_and_nothing_sealed_reaches_the_reading_room(
        home: Path, tmp_path: Path) -> None:
    sealed_words, indefinite_words, released_words = canaries(3), canaries(3), canaries(1)
    _import(home, tmp_path,
            story(title=f"Due {released_words[0]}", embargo_until=PAST, redaction_level="full"),
            story(title=f"Sealed {sealed_words[0]}", narrator=sealed_words[1],
                  transcript=f"words [[person:{sealed_words[2]}]]", embargo_until=FUTURE),
            story(title=f"Indefinite {indefinite_words[0]}", narrator=indefinite_words[1],
                  transcript=f"[[org:{indefinite_words[2]}]]", embargo_until=None))

    result = escrow(home, "publish-due")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "released 1, already released 0, failed 0"
    assert [h["title"] for h in _search(home, released_words[0])] == [f"Due {released_words[0]}"]
    assert _search(home, sealed_words[0]) == [] and _search(home, indefinite_words[0]) == []
    assert find_canaries(home, released_words[0])  # released text is in the index, as it should be
    assert_no_canary(home, *sealed_words, *indefinite_words)
    assert escrow(home, "index", "verify").exit_code == 0


def test_dry_run_lists_and_changes_nothing(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=PAST))
    before = database_rows(home)

    result = escrow(home, "publish-due", "--dry-run")

    assert result.exit_code == 0
    assert story_id in result.output and "would release 1" in result.output
    assert "Night shift" not in result.output
    assert database_rows(home) == before
    assert _status(home, story_id) == "sealed"


def test_a_second_run_releases_nothing(home: Path, tmp_path: Path) -> None:
    _import(home, tmp_path, story(embargo_until=PAST), story(embargo_until=PAST))

    first = escrow(home, "publish-due")
    second = escrow(home, "publish-due")

    assert first.output.strip() == "released 2, already released 0, failed 0"
    assert second.output.strip() == "released 0, already released 2, failed 0"
    assert one(home, "SELECT count(*) FROM audit_log WHERE action='story.release'") == 2


def test_a_story_is_due_exactly_at_its_embargo_instant(home: Path, tmp_path: Path) -> None:
    # (--now may only look back: a run going by an earlier clock, as a late run catching up does.)
    [story_id] = _import(home, tmp_path, story(embargo_until="2026-06-01T12:00:00+02:00"))

    early = escrow(home, "publish-due", "--now", "2026-06-01T09:59:59Z")
    assert early.output.strip().startswith("released 0") and _status(home, story_id) == "sealed"
    on_time = escrow(home, "publish-due", "--now", "2026-06-01T10:00:00Z")
    assert on_time.output.strip().startswith("released 1") and _status(home, story_id) == "released"


def test_a_bad_now_is_one_line_and_changes_nothing(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=PAST))

    result = escrow(home, "publish-due", "--now", "2030-13-01")

    assert result.exit_code == 1 and "malformed date" in result.output
    assert _status(home, story_id) == "sealed"


def test_release_review_stories_wait_for_an_admin(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(title="Held back", embargo_until=PAST,
                                               release_review=True))

    published = escrow(home, "publish-due")
    assert "due for review 1" in published.output
    assert _status(home, story_id) == "due_for_review" and _search(home, "held") == []

    refused = escrow(home, "stories", "release", story_id, "--as", "org@example.org")
    assert refused.exit_code == 1 and "only an admin" in refused.output
    released = escrow(home, "stories", "release", story_id, "--as", "admin@example.org")
    assert released.exit_code == 0, released.output
    assert [h["id"] for h in _search(home, "held")] == [story_id]


def test_search_json_gives_id_title_and_a_highlighted_snippet_of_the_released_copy(
        home: Path, tmp_path: Path) -> None:
    _import(home, tmp_path, story(embargo_until=PAST, redaction_level="redacted",
                                  transcript="The picket at [[org:Harbor Hotel]] lasted weeks."))
    escrow(home, "publish-due")

    [hit] = _search(home, "picket")

    assert set(hit) == {"id", "title", "snippet"}
    text, matches = hit["snippet"]["text"], hit["snippet"]["matches"]  # the API's shape: text and match offsets
    assert [text[start:end] for start, end in matches] == ["picket"]
    assert "[redacted]" in text and "Harbor" not in text
    assert _search(home, "Harbor") == []


@pytest.mark.parametrize("query, message", [
    ('"unclosed', "quotation mark is not closed"),
    ("(((", "parentheses do not match"),
    ("title:", "needs a value after the colon"),
    ("*", "at least 3 letters before"),
    ("ab*", "at least 3 letters before"),
    ("x" * 10_000, "at most 256 characters"),
    ("   ", "type a word"),
])
def test_a_bad_query_gets_a_message_not_a_traceback(home: Path, query: str, message: str) -> None:
    escrow(home, "index", "rebuild")

    result = escrow(home, "search", query)

    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1


@pytest.mark.whoosh
def test_search_without_an_index_says_how_to_rebuild_it(home: Path, tmp_path: Path) -> None:
    _import(home, tmp_path, story(embargo_until=PAST))
    escrow(home, "publish-due")
    shutil.rmtree(home / "index")

    missing = escrow(home, "search", "shift")
    rebuilt = escrow(home, "index", "rebuild")

    assert missing.exit_code == 1 and "escrow index rebuild" in missing.output
    assert rebuilt.output.strip() == "index rebuilt: 1 released story"
    assert len(_search(home, "shift")) == 1


@pytest.mark.whoosh
def test_index_verify_names_a_document_that_is_not_released(home: Path, tmp_path: Path) -> None:
    _import(home, tmp_path, story(embargo_until=PAST))
    escrow(home, "publish-due")
    Index(home / "index").write(add=[{"id": "intruder00000000", "title": "leak", "body": "",
                                      "summary": "", "tags": "", "language": "en", "level": "full",
                                      "content_hash": "x"}], delete=())

    result = escrow(home, "index", "verify")

    assert result.exit_code == 1
    assert "index holds intruder00000000, which is not in the reading room" in result.output
    assert escrow(home, "index", "sync").output.strip() == "index synced: added 0, removed 1"
    assert escrow(home, "index", "verify").exit_code == 0


def test_index_verify_notices_changed_released_text(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=PAST))
    escrow(home, "publish-due")
    sql(home, "UPDATE released_stories SET title = 'Edited behind our back'")

    result = escrow(home, "index", "verify")

    assert result.exit_code == 1 and story_id in result.output


@pytest.mark.whoosh
@pytest.mark.parametrize("command, status", [("takedown", "sealed"), ("withdraw", "withdrawn")])
def test_taking_a_story_back_purges_it_from_the_index_files(home: Path, tmp_path: Path,
                                                            command: str, status: str) -> None:
    words = canaries(2)
    [story_id] = _import(home, tmp_path, story(title=f"Gone {words[0]}", embargo_until=PAST,
                                               redaction_level="full",
                                               transcript=f"We said {words[1]} at the gate."))
    escrow(home, "publish-due")
    assert find_canaries(home, *words)

    result = escrow(home, "stories", command, story_id, "--reason", "narrator asked",
                    "--as", "admin@example.org")

    assert result.exit_code == 0, result.output
    assert _status(home, story_id) == status
    assert _search(home, words[1]) == []
    assert_no_canary(home, *words)
    assert escrow(home, "index", "verify").exit_code == 0
    assert escrow(home, "audit", "verify").exit_code == 0


def test_a_taken_down_story_is_not_released_again_by_the_next_run(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=PAST))
    escrow(home, "publish-due")
    escrow(home, "stories", "takedown", story_id, "--reason", "legal hold", "--as", "admin@example.org")

    result = escrow(home, "publish-due")

    assert result.output.strip().startswith("released 0")
    assert _status(home, story_id) == "sealed"


def test_a_withdrawn_story_loses_its_data_key(home: Path, tmp_path: Path, database_kind: str) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=FUTURE))
    table_file = one(home, "SELECT pg_relation_filenode('stories')") if database_kind == "postgresql" else None

    result = escrow(home, "stories", "withdraw", story_id, "--reason", "consent withdrawn",
                    "--as", "admin@example.org")

    assert result.exit_code == 0, result.output
    assert sql(home, "SELECT wrapped_key, kek_version, status FROM stories") == [(None, None, "withdrawn")]
    if database_kind == "sqlite":  # no page image of the old key left in the write-ahead log
        assert not (home / "escrow.db-wal").exists() or (home / "escrow.db-wal").stat().st_size == 0
    else:  # the stories table was written anew: no old row version of it left in its files
        assert one(home, "SELECT pg_relation_filenode('stories')") != table_file


@pytest.mark.parametrize("args, message", [
    (["takedown", "nosuchstory00000", "--reason", "x", "--as", "admin@example.org"], "no story nosuchstory00000"),
    (["withdraw", "nosuchstory00000", "--reason", " ", "--as", "admin@example.org"], "give a reason"),
])
def test_taking_back_refuses_bad_input(home: Path, args: list[str], message: str) -> None:
    result = escrow(home, "stories", *args)

    assert result.exit_code == 1 and message in result.output


def test_only_an_admin_takes_a_story_back(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=PAST))
    escrow(home, "publish-due")

    result = escrow(home, "stories", "takedown", story_id, "--reason", "mine", "--as", "org@example.org")

    assert result.exit_code == 1 and "only an admin" in result.output
    assert _status(home, story_id) == "released"


@pytest.mark.whoosh
def test_verify_reports_text_left_in_the_index_files_until_sync_purges_it(home: Path, tmp_path: Path) -> None:
    """A crash between a takedown's delete and its purge leaves text in the files: verify says so."""
    words = canaries(1)
    [story_id, _] = _import(home, tmp_path, story(title=f"Gone {words[0]}", embargo_until=PAST),
                            story(title="Stays", embargo_until=PAST))
    escrow(home, "publish-due")
    Index(home / "index").write(add=(), delete=[story_id])  # a takedown's first step, then its
    sql(home, "DELETE FROM released_stories WHERE id = :id", id=story_id)  # second, and no purge
    sql(home, "UPDATE stories SET status = 'sealed', embargo_until = NULL WHERE id = :id", id=story_id)
    sql(home, "UPDATE room_records SET present = false WHERE story_id = :id", id=story_id)

    found = escrow(home, "index", "verify")

    assert found.exit_code == 1 and "still hold the text of 1 deleted document" in found.output
    assert find_canaries(home, *words) and _search(home, words[0]) == []
    assert escrow(home, "index", "sync").exit_code == 0
    assert escrow(home, "index", "verify").exit_code == 0
    assert not find_canaries(home, *words)


@pytest.mark.whoosh
def test_an_index_built_before_offsets_were_stored_is_rebuilt_before_the_next_search(
        home: Path, tmp_path: Path) -> None:
    from whoosh import index as whoosh_index
    from whoosh.fields import ID, TEXT, Schema

    _import(home, tmp_path, story(title="Harbor strike", embargo_until=PAST))
    escrow(home, "publish-due")
    shutil.rmtree(home / "index")
    (home / "index").mkdir()
    whoosh_index.create_in(str(home / "index"), Schema(id=ID(stored=True, unique=True), body=TEXT(stored=True)),
                           indexname="released")

    assert [h["title"] for h in _search(home, "harbor")] == ["Harbor strike"]
    assert not Index(home / "index").outdated()
    assert escrow(home, "index", "verify").exit_code == 0


def test_a_fresh_archive_answers_a_search_with_nothing_before_its_first_release(home: Path) -> None:
    found = escrow(home, "search", "strike", "--json")
    listed = escrow(home, "search", "strike")
    bad = escrow(home, "search", "body:[a TO z]")

    assert found.exit_code == 0 and json.loads(found.output) == []
    assert listed.exit_code == 0 and listed.output.strip() == "0 results"
    assert bad.exit_code == 1 and "range" in bad.output  # a bad query is still refused, index or not
    assert escrow(home, "index", "verify").exit_code == 0
