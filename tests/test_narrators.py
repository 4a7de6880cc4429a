"""The narrator's own door through the service layer and the command line: codenames issued,
replaced and revoked, sign-in (the same path for every wrong codename, throttled), and what a
narrator may do, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from archive import services
from archive.accounts.users import User
from archive.errors import Conflict, InvalidInput, NotFound, Throttled
from archive.services import Archive, narrators, releases
from archive.services import stories as story_service
from archive.vault import narrators as vault_narrators
from tests.helpers import add_users, assert_no_canary, escrow, one, sql, story, write_lines

ORG, OTHER, ADMIN = "org@example.org", "other@example.org", "admin@example.org"
HERE = "203.0.113.7"


def _archive() -> Archive:
    return services.current()


def _submit(organizer: User, **fields: object) -> str:
    made = story_service.submit(_archive(), organizer, story_service.parse(story(**fields)))
    assert made is not None
    return made.id


@pytest.fixture
def sealed_id(app: Flask, organizer: User) -> str:
    return _submit(organizer, embargo_until="2040-01-01")


def test_a_codename_is_seven_words_of_the_story_language_and_at_least_80_bits(app: Flask, organizer: User) -> None:
    english = narrators.issue(_archive(), organizer, _submit(organizer))
    spanish = narrators.issue(_archive(), organizer, _submit(organizer, language="es"))

    assert english.language == "en" and spanish.language == "es"
    assert english.bits >= 80 and spanish.bits >= 80
    assert all(word in vault_narrators.words("en") for word in english.codename.split())
    assert all(word in vault_narrators.words("es") for word in spanish.codename.split())
    assert len(english.codename.split()) == len(spanish.codename.split()) == 7


def test_the_codename_signs_in_to_its_story_only(app: Flask, organizer: User, sealed_id: str) -> None:
    other = _submit(organizer)
    first = narrators.issue(_archive(), organizer, sealed_id)
    second = narrators.issue(_archive(), organizer, other)

    found = narrators.sign_in(_archive(), first.codename, HERE)
    assert found is not None and found.story_id == sealed_id
    found = narrators.sign_in(_archive(), second.codename.upper().replace(" ", "-"), HERE)
    assert found is not None and found.story_id == other  # typed from the card: any case, any separator


def test_issuing_again_replaces_the_codename_and_ends_its_sessions(app: Flask, organizer: User,
                                                                   sealed_id: str) -> None:
    old = narrators.issue(_archive(), organizer, sealed_id)
    session = narrators.sign_in(_archive(), old.codename, HERE)
    assert session is not None
    new = narrators.issue(_archive(), organizer, sealed_id)

    assert narrators.sign_in(_archive(), old.codename, HERE) is None
    with pytest.raises(NotFound):
        narrators.page(_archive(), session)
    assert narrators.sign_in(_archive(), new.codename, HERE) is not None


def test_a_revoked_codename_opens_nothing_and_its_session_ends(app: Flask, organizer: User, sealed_id: str) -> None:
    issued = narrators.issue(_archive(), organizer, sealed_id)
    session = narrators.sign_in(_archive(), issued.codename, HERE)
    assert session is not None
    narrators.revoke(_archive(), organizer, sealed_id)

    assert narrators.sign_in(_archive(), issued.codename, HERE) is None
    with pytest.raises(NotFound):
        narrators.page(_archive(), session)
    assert narrators.issued_at(_archive(), sealed_id) is None


def test_another_organizer_can_neither_issue_nor_revoke(app: Flask, organizer: User, other_organizer: User,
                                                        sealed_id: str) -> None:
    narrators.issue(_archive(), organizer, sealed_id)
    with pytest.raises(NotFound):
        narrators.issue(_archive(), other_organizer, sealed_id)
    with pytest.raises(NotFound):
        narrators.revoke(_archive(), other_organizer, sealed_id)
    assert narrators.issued_at(_archive(), sealed_id) is not None


def test_wrong_revoked_and_random_codenames_fail_alike_and_are_throttled_per_address(
        app: Flask, organizer: User, sealed_id: str) -> None:
    revoked = narrators.issue(_archive(), organizer, sealed_id).codename
    narrators.revoke(_archive(), organizer, sealed_id)
    wrong = " ".join(vault_narrators.words("en")[:7])
    now = datetime.now(UTC)
    for typed in (revoked, wrong, "x", "", revoked):
        assert narrators.sign_in(_archive(), typed, HERE, now=now) is None
    with pytest.raises(Throttled) as caught:
        narrators.sign_in(_archive(), wrong, HERE, now=now)
    assert caught.value.retry_after > 0
    # Another address is not slowed by this one's failures; the right codename from it works.
    right = narrators.issue(_archive(), organizer, sealed_id).codename
    assert narrators.sign_in(_archive(), right, "198.51.100.1", now=now) is not None
    failures = [e for e in sql_entries("narrator.sign_in_failed")]
    assert failures and all(set(e) <= {"address"} for e in failures)


def sql_entries(action: str) -> list[dict[str, object]]:
    from archive import audit

    return [entry.details() for entry in audit.entries(_archive().session) if entry.action == action]


def test_no_byte_log_or_audit_entry_holds_the_codename(app: Flask, organizer: User, sealed_id: str,
                                                       archive_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    issued = narrators.issue(_archive(), organizer, sealed_id)
    assert narrators.sign_in(_archive(), issued.codename, HERE) is not None
    assert narrators.sign_in(_archive(), issued.codename + " extra", HERE) is None
    app_session = _archive().session
    app_session.remove() if hasattr(app_session, "remove") else app_session.close()

    words = issued.codename.split()
    assert_no_canary(archive_home, issued.codename, " ".join(words[:3]), "".join(words))
    assert not any(issued.codename in record.getMessage() for record in caplog.records)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(typed=st.text(max_size=500))
def test_any_typed_codename_is_hashed_and_refused_without_an_error(app: Flask, typed: str) -> None:
    found = vault_narrators.find(_archive().session, vault_narrators.digest(_archive().session, typed))
    assert found is None
    _archive().session.rollback()


@given(picks=st.lists(st.integers(0, 7000), min_size=7, max_size=7),
       separators=st.lists(st.sampled_from([" ", "-", "  ", "\n", " - ", ".", "\t"]), min_size=6, max_size=6),
       upper=st.lists(st.booleans(), min_size=7, max_size=7))
def test_a_codename_typed_in_any_case_with_any_separators_reads_as_written(
        picks: list[int], separators: list[str], upper: list[bool]) -> None:
    words = [vault_narrators.words("es")[i] for i in picks]
    typed = words[0].upper() if upper[0] else words[0]
    for separator, word, up in zip(separators, words[1:], upper[1:], strict=True):
        typed += separator + (word.upper() if up else word)

    assert vault_narrators.normalised(" " + typed + "\n") == " ".join(words)


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (OTHER, "organizer"), (ADMIN, "admin"))


def _import(home: Path, **fields: object) -> str:
    file = write_lines(home.parent / "s.jsonl", story(**fields))
    result = escrow(home, "stories", "import", str(file), "--as", ORG)
    assert result.exit_code == 0, result.output
    return str(one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT 1"))


def test_cli_issue_prints_the_codename_once_and_revoke_ends_it(home: Path) -> None:
    story_id = _import(home)
    issued = escrow(home, "narrator", "issue", story_id, "--as", ORG)
    assert issued.exit_code == 0, issued.output
    codename = issued.stdout.strip()
    assert len(codename.split()) == 7 and "shown only this once" in issued.stderr
    assert [tuple(r) for r in sql(home, "SELECT action FROM audit_log WHERE action LIKE 'narrator.%'")] == \
        [("narrator.issue",)]
    assert_no_canary(home, codename)

    revoked = escrow(home, "narrator", "revoke", story_id, "--as", ORG)
    assert revoked.exit_code == 0 and f"revoked the narrator codename of {story_id}" in revoked.output
    again = escrow(home, "narrator", "revoke", story_id, "--as", ORG)
    assert again.exit_code == 1 and "no narrator codename" in again.output
    assert one(home, "SELECT count(*) FROM narrator_codenames") == 0


def test_cli_issue_refuses_another_organizers_story_and_changes_nothing(home: Path) -> None:
    story_id = _import(home)
    refused = escrow(home, "narrator", "issue", story_id, "--as", OTHER)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert one(home, "SELECT count(*) FROM narrator_codenames") == 0
    assert escrow(home, "narrator", "issue", "nosuchstory", "--as", ORG).exit_code == 1


# -- the preview, the hold and the cooling-off against publish-due ---------------------------

CAPTIONS = ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n"
            "I worked at [[org:Harbor Hotel]] with [[person:Maria Lopez|the housekeeper]].\n")


def _narrator(organizer: User, story_id: str) -> narrators.Narrator:
    issued = narrators.issue(_archive(), organizer, story_id)
    found = narrators.sign_in(_archive(), issued.codename, HERE)
    assert found is not None
    return found


def _released_copy(story_id: str) -> dict[str, object]:
    from archive.reading_room.models import ReleasedStory

    row = _archive().session.get(ReleasedStory, story_id, populate_existing=True)
    assert row is not None
    return {name: getattr(row, name) for name in COPY_FIELDS}


COPY_FIELDS = ("title", "narrator", "transcript", "summary", "interviewer", "interview_date", "place", "language",
               "tags", "redaction_level", "captions", "content_hash")


def _previewed(story_id: str, shown: object) -> dict[str, object]:
    from archive.release.gate import released_row

    row = released_row(story_id, shown.copy)  # type: ignore[attr-defined]
    return {name: getattr(row, name) for name in COPY_FIELDS}


@pytest.mark.parametrize("level", ["full", "pseudonymized", "redacted", "summary"])
def test_the_preview_is_byte_for_byte_the_copy_publish_due_then_releases(app: Flask, organizer: User,
                                                                        level: str) -> None:
    story_id = _submit(organizer, embargo_until="2001-01-01", redaction_level=level, transcript="",
                       captions=CAPTIONS, tags=["hotel", "Lopez strike"], title="Maria at [[org:Harbor Hotel]]")
    page = narrators.page(_archive(), _narrator(organizer, story_id))
    assert page.preview is not None
    expected = _previewed(story_id, page.preview)

    assert releases.publish_due(_archive()).released == 1
    assert _released_copy(story_id) == expected


@given(name=st.text(st.characters(codec="utf-8", categories=("L",)), min_size=3, max_size=20),
       level=st.sampled_from(["full", "pseudonymized", "redacted", "summary"]))
def test_for_any_narrator_name_the_preview_holds_the_copy_the_gate_releases(name: str, level: str) -> None:
    """The narrator's page shows redaction.preview(draft).copy; the gate releases redact(draft):
    for any story they are one value (the example above shows publish-due writes that value)."""
    from archive.release.redaction import preview, redact

    try:
        draft = story_service.parse(story(redaction_level=level, narrator=name, captions=CAPTIONS, transcript="",
                                          summary=f"About {name}.", tags=[name, "strike"]))
    except InvalidInput as refused:  # "HOU" would be hidden in the stand-in "the housekeeper": refused
        assert "the stand-in repeats a name the story hides" in str(refused)
        reject()
    assert preview(draft).copy == redact(draft)


def test_an_objection_keeps_a_due_story_from_publish_due_until_an_admin_clears_it(
        app: Flask, organizer: User, admin: User, archive_home: Path) -> None:
    story_id = _submit(organizer, embargo_until="2001-01-01")
    narrators.hold(_archive(), _narrator(organizer, story_id), "object", "a hearing next month")

    assert releases.publish_due(_archive()).released == 0
    assert story_service.own(_archive(), organizer, story_id).status == "sealed"
    assert releases.check(_archive(), timedelta(hours=2)).held == {story_id: "objection"}
    checked = escrow(archive_home, "publish-due", "--check")
    assert checked.exit_code == 0 and f"{story_id} is held by its narrator (objection)" in checked.output
    with pytest.raises(Exception) as refused:
        narrators.clear(_archive(), organizer, story_id)
    assert "only an admin" in str(refused.value)

    cleared = escrow(archive_home, "narrator", "clear", story_id, "--as", admin.email)
    assert cleared.exit_code == 0, cleared.output
    assert releases.publish_due(_archive()).released == 1


def test_words_to_hide_hold_the_story_until_its_organizer_clears_it(app: Flask, organizer: User) -> None:
    story_id = _submit(organizer, embargo_until="2001-01-01")
    narrators.hold(_archive(), _narrator(organizer, story_id), "words", "my sister's name, Ana")
    record = narrators.record(_archive(), organizer, story_id)
    assert record[0].kind == "words" and record[0].text == "my sister's name, Ana"
    assert releases.publish_due(_archive()).released == 0

    narrators.clear(_archive(), organizer, story_id)
    assert releases.publish_due(_archive()).released == 1


def test_a_narrator_cannot_loosen_or_shorten_alone(app: Flask, organizer: User) -> None:
    story_id = _submit(organizer, embargo_until="2040-01-01", redaction_level="redacted")
    narrator = _narrator(organizer, story_id)
    with pytest.raises(InvalidInput):
        narrators.protect(_archive(), narrator, "full", "none", "")
    with pytest.raises(InvalidInput):
        narrators.delay(_archive(), narrator, datetime(2035, 1, 1, tzinfo=UTC), "")
    narrators.ask(_archive(), narrator, "earlier", datetime(2035, 1, 1, tzinfo=UTC), None, "I am ready")
    narrators.ask(_archive(), narrator, "looser", None, "pseudonymized", "")
    story = story_service.own(_archive(), organizer, story_id)
    assert story.embargo_until == datetime(2040, 1, 1, tzinfo=UTC) and story.redaction_level == "redacted"
    pending = [item for item in narrators.record(_archive(), organizer, story_id) if item.state == "pending"]
    assert {item.kind for item in pending} == {"earlier", "looser"}


def test_after_the_cooling_off_publish_due_destroys_the_story_and_its_recording_files(
        app: Flask, organizer: User, archive_home: Path) -> None:
    import dataclasses

    from archive.services import recordings
    from tests.web.conftest import tiny_wav

    story_id = _submit(organizer, embargo_until="2001-01-01", recording_release="full", redaction_level="full")
    recordings.attach(_archive(), organizer, story_id, [tiny_wav()])
    releases.publish_due(_archive())
    narrator = _narrator(organizer, story_id)
    archive = _archive()
    archive.config = dataclasses.replace(archive.config, cooling_off=timedelta(0))
    narrators.withdraw(archive, narrator, "")
    files = list((archive_home / "media").rglob("*"))
    assert any(f.is_file() for f in files)

    summary = releases.publish_due(_archive())
    assert summary.destroyed == 1 and "destroyed after cooling-off 1" in summary.line()
    assert not [f for f in (archive_home / "media").rglob("*") if f.is_file()]
    with pytest.raises(NotFound):
        story_service.open_sealed(_archive(), organizer, story_id)
    with pytest.raises(NotFound):
        narrators.page(_archive(), narrator)
    assert releases.publish_due(_archive()).destroyed == 0


def test_within_the_cooling_off_nothing_is_destroyed_and_check_reports_it(app: Flask, organizer: User,
                                                                           archive_home: Path) -> None:
    story_id = _submit(organizer, embargo_until="2040-01-01")
    narrators.withdraw(_archive(), _narrator(organizer, story_id), "")
    assert releases.publish_due(_archive()).destroyed == 0
    assert story_id in releases.check(_archive(), timedelta(hours=2)).cooling
    checked = escrow(archive_home, "publish-due", "--check")
    assert checked.exit_code == 0 and f"{story_id} is withdrawn by its narrator, cooling off until" in checked.output
    with pytest.raises(Conflict):
        narrators.withdraw(_archive(), _narrator(organizer, story_id), "")


def test_undo_of_a_sealed_story_puts_back_its_embargo_and_requests_nothing(app: Flask, organizer: User) -> None:
    story_id = _submit(organizer, embargo_until="2040-01-01")
    narrator = _narrator(organizer, story_id)
    narrators.withdraw(_archive(), narrator, "")
    narrators.undo(_archive(), narrator)
    story = story_service.own(_archive(), organizer, story_id)
    assert story.status == "sealed" and story.embargo_until == datetime(2040, 1, 1, tzinfo=UTC)
    assert story.cooling_until is None
    with pytest.raises(Conflict):
        narrators.undo(_archive(), narrator)
