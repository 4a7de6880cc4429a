"""Embargo changes, two-admin approval, release review, overdue checks and audit anchors.

Through the `escrow` command as an operator types it, and through the embargo service
where a test needs to choose the instant (request expiry, the last second before release).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archive.accounts.users import User
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.storage import dialect
from archive.vault import drafts, embargo, stories
from archive.vault.keys import Keyring
from archive.vault.models import Story
from tests.helpers import add_users, escrow, one, reading, sql, story, unit, write_lines

ORG, OTHER, ADMIN, ADMIN2, READER = (
    "org@example.org", "other@example.org", "admin@example.org", "admin2@example.org", "reader@example.org")
EMBARGO = "2031-01-01T00:00:00Z"


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (OTHER, "organizer"), (ADMIN, "admin"), (ADMIN2, "admin"),
                     (READER, "researcher"))


def _import(home: Path, **fields: object) -> str:
    file = write_lines(home.parent / f"s{len(list(home.parent.glob('s*.jsonl')))}.jsonl", story(**fields))
    result = escrow(home, "stories", "import", str(file), "--as", ORG)
    assert result.exit_code == 0, result.output
    return str(one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT 1"))


def _sealed(session: Session, keyring: Keyring, organizer: User) -> Story:
    """One story sealed through the vault service, due 2031-01-01T00:00:00Z."""
    sealed = stories.submit(session, keyring, organizer, drafts.parse(story(embargo_until=EMBARGO)))
    session.commit()
    return sealed


def _embargo(home: Path, story_id: str) -> object:
    """The stored embargo as SQLite's text (PostgreSQL gives a naive timestamp: written the same way)."""
    value = one(home, "SELECT embargo_until FROM stories WHERE id = :id", id=story_id)
    return value if value is None or isinstance(value, str) else f"{value:%Y-%m-%d %H:%M:%S.%f}"


def _entries(home: Path) -> int:
    return int(str(one(home, "SELECT count(*) FROM audit_log")))


def _audit(home: Path, *args: str) -> list[dict[str, object]]:
    result = escrow(home, "audit", "show", "--json", *args)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def _fails(result: object, message: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert output.count("\n") == 1 and output.startswith("escrow: "), output
    assert message in output, output


# -- extending ---------------------------------------------------------------

def test_an_extension_takes_effect_at_once_and_is_audited(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)

    result = escrow(home, "embargo", "extend", story_id, "--until", "2033-05-01",
                    "--reason", "campaign still running", "--as", ORG)

    assert result.exit_code == 0, result.output
    assert "sealed until 2033-05-01T00:00:00Z" in result.output
    listed = escrow(home, "stories", "list").output
    assert f"{story_id}  sealed          2033-05-01T00:00:00Z" in listed
    [entry] = [e for e in _audit(home, "--story", story_id) if e["action"] == "embargo.extend"]
    assert entry["actor"] == ORG
    assert entry["detail"] == {"reason": "campaign still running", "embargo_from": "2031-01-01T00:00:00Z",
                               "embargo_to": "2033-05-01T00:00:00Z"}


def test_an_admin_may_make_any_embargo_indefinite(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)

    result = escrow(home, "embargo", "extend", story_id, "--until", "indefinite",
                    "--reason", "narrator at risk", "--as", ADMIN)

    assert result.exit_code == 0, result.output
    assert _embargo(home, story_id) is None


@pytest.mark.parametrize("until, message", [
    ("2030-01-01", "is not later: to shorten it, request it"),
    (EMBARGO, "is not later"),
    ("2001-01-01", "is not in the future"),
    ("2031-02-30", "malformed date"),
    ("next tuesday", "malformed date"),
    ("2032-01-01T09:00:00", "without an offset"),
])
def test_an_extension_that_is_not_later_or_not_a_date_changes_nothing(home: Path, until: str,
                                                                        message: str) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    before = _entries(home)

    result = escrow(home, "embargo", "extend", story_id, "--until", until, "--reason", "x", "--as", ORG)

    _fails(result, message)
    assert _embargo(home, story_id) == "2031-01-01 00:00:00.000000"
    assert _entries(home) == before


def test_an_indefinite_embargo_cannot_be_extended_or_shortened_by_extend(home: Path) -> None:
    story_id = _import(home, embargo_until=None)

    result = escrow(home, "embargo", "extend", story_id, "--until", "2040-01-01", "--reason", "x", "--as", ORG)

    _fails(result, "is indefinite")
    assert _embargo(home, story_id) is None


@pytest.mark.parametrize("who, args, message", [
    (OTHER, [], "no story"),
    (READER, [], "no story"),
    ("nobody@example.org", [], "no active user with email nobody@example.org"),
    (ORG, ["--reason", "  "], "give a reason"),
])
def test_only_the_own_organizer_or_an_admin_extends(home: Path, who: str, args: list[str],
                                                     message: str) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    before = _entries(home)

    result = escrow(home, "embargo", "extend", story_id, "--until", "2040-01-01", "--as", who,
                    *(args or ["--reason", "mine now"]))

    _fails(result, message)
    assert _embargo(home, story_id) == "2031-01-01 00:00:00.000000"
    assert _entries(home) == before


def test_an_unknown_story_is_one_line(home: Path) -> None:
    result = escrow(home, "embargo", "extend", "nosuchstory00000", "--until", "2040-01-01",
                    "--reason", "x", "--as", ADMIN)

    _fails(result, "no story nosuchstory00000")


def test_a_released_story_is_not_silently_extended(home: Path) -> None:
    story_id = _import(home, embargo_until="2020-01-01")
    assert escrow(home, "publish-due").exit_code == 0

    result = escrow(home, "embargo", "extend", story_id, "--until", "2040-01-01", "--reason", "x", "--as", ADMIN)

    _fails(result, "already released: an admin can take it down ('escrow stories takedown')")
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "released"


def test_an_extension_may_come_at_the_last_second_before_release(
        session: Session, keyring: Keyring, organizer: User) -> None:
    story = _sealed(session, keyring, organizer)
    last_second = datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)

    embargo.extend(unit(last_second), organizer, story.id, datetime(2032, 1, 1, tzinfo=UTC), "not yet")
    session.commit()

    assert session.get(Story, story.id).embargo_until == datetime(2032, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]


# -- early release: request and a second admin -------------------------------------------------

def _request(home: Path, story_id: str, until: str, who: str) -> str:
    result = escrow(home, "embargo", "request", story_id, "--until", until, "--reason", "narrator agreed",
                    "--as", who)
    assert result.exit_code == 0, result.output
    return result.output.split()[1]


def test_the_requester_can_never_approve_their_own_request(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    request_id = _request(home, story_id, "now", ADMIN)
    before = _entries(home)

    own = escrow(home, "embargo", "approve", request_id, "--as", ADMIN)

    _fails(own, "another admin must approve it")
    assert _embargo(home, story_id) == "2031-01-01 00:00:00.000000"
    assert _entries(home) == before
    approved = escrow(home, "embargo", "approve", request_id, "--as", ADMIN2)
    assert approved.exit_code == 0, approved.output
    assert "due now: the next publish-due releases it" in approved.output
    released = escrow(home, "publish-due")
    assert released.output.startswith("released 1"), released.output
    actions = [(e["action"], e["actor"]) for e in _audit(home, "--story", story_id)]
    assert ("embargo.request", ADMIN) in actions and ("embargo.approve", ADMIN2) in actions
    assert ("story.release", "system") in actions


def test_an_organizer_requests_and_an_admin_approves_a_shorter_embargo(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    request_id = _request(home, story_id, "2029-06-01", ORG)

    listed = escrow(home, "embargo", "requests", "--json")
    [pending] = json.loads(listed.output)
    assert pending == {"id": request_id, "story": story_id, "requested_by": ORG, "until": "2029-06-01T00:00:00Z",
                       "current": "2031-01-01T00:00:00Z", "reason": "narrator agreed",
                       "requested": pending["requested"], "expires": pending["expires"]}
    not_admin = escrow(home, "embargo", "approve", request_id, "--as", OTHER)
    _fails(not_admin, "only an admin may decide")

    approved = escrow(home, "embargo", "approve", request_id, "--as", ADMIN)

    assert approved.exit_code == 0, approved.output
    assert _embargo(home, story_id) == "2029-06-01 00:00:00.000000"
    assert json.loads(escrow(home, "embargo", "requests", "--json").output) == []
    again = escrow(home, "embargo", "approve", request_id, "--as", ADMIN2)
    _fails(again, f"no pending request {request_id}")


@pytest.mark.parametrize("who, until, message", [
    (ORG, "2040-01-01", "is not earlier: to move it later, extend it"),
    (ORG, "2001-01-01", "is not in the future: use --until now"),
    (ORG, "soon", "malformed date"),
    (OTHER, "now", "no story"),
    (READER, "now", "no story"),
])
def test_a_request_that_is_not_earlier_or_not_allowed_changes_nothing(home: Path, who: str, until: str,
                                                                       message: str) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    before = _entries(home)

    result = escrow(home, "embargo", "request", story_id, "--until", until, "--reason", "x", "--as", who)

    _fails(result, message)
    assert _entries(home) == before
    assert one(home, "SELECT count(*) FROM embargo_requests") == 0


def test_a_second_request_waits_for_the_first(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    first = _request(home, story_id, "now", ORG)

    second = escrow(home, "embargo", "request", story_id, "--until", "now", "--reason", "x", "--as", ADMIN)

    _fails(second, f"already has a pending request {first}")
    denied = escrow(home, "embargo", "deny", first, "--reason", "narrator changed mind", "--as", ADMIN)
    assert denied.exit_code == 0, denied.output
    assert _request(home, story_id, "now", ADMIN)


def test_an_unknown_request_is_one_line(home: Path) -> None:
    _fails(escrow(home, "embargo", "approve", "nosuchrequest000", "--as", ADMIN), "no pending request")


def test_an_expired_request_cannot_be_approved(session: Session, keyring: Keyring, organizer: User,
                                               admin: User) -> None:
    story = _sealed(session, keyring, organizer)
    asked = datetime(2030, 1, 1, tzinfo=UTC)
    item = embargo.request(unit(asked), organizer, story.id, None, "narrator agreed")
    session.commit()

    with pytest.raises(Conflict, match="expired 2030-01-08T00:00:00Z"):
        embargo.approve(unit(asked + timedelta(days=7)), admin, item.id)
    session.rollback()

    assert session.get(Story, story.id).embargo_until == datetime(2031, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]
    assert embargo.pending(session, keyring, now=asked + timedelta(days=7)) == []
    approved = embargo.approve(unit(asked + timedelta(days=7, seconds=-1)), admin, item.id)
    assert approved.embargo_until == asked + timedelta(days=7, seconds=-1)


def test_the_request_lifetime_is_configurable(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)

    result = escrow(home, "embargo", "request", story_id, "--until", "now", "--reason", "x", "--as", ORG,
                    env={"ESCROW_REQUEST_TTL_DAYS": "2"})
    assert result.exit_code == 0, result.output
    [pending] = json.loads(escrow(home, "embargo", "requests", "--json").output)
    requested = datetime.fromisoformat(pending["requested"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(pending["expires"].replace("Z", "+00:00")) - requested == timedelta(days=2)
    bad = escrow(home, "embargo", "requests", env={"ESCROW_REQUEST_TTL_DAYS": "forever"})
    assert bad.exit_code == 1 and "ESCROW_REQUEST_TTL_DAYS must be a whole number" in bad.output


def test_approval_is_refused_once_the_story_was_released_meanwhile(
        session: Session, keyring: Keyring, organizer: User, admin: User) -> None:
    story = _sealed(session, keyring, organizer)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    item = embargo.request(unit(now), organizer, story.id, None, "ok")
    story.status = "withdrawn"
    session.commit()

    with pytest.raises(Conflict, match="is withdrawn now, not sealed"):
        embargo.approve(unit(now), admin, item.id)


def test_service_errors_are_typed(session: Session, keyring: Keyring, organizer: User,
                                  other_organizer: User) -> None:
    story = _sealed(session, keyring, organizer)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(NotFound):
        embargo.extend(unit(now), other_organizer, story.id, None, "x")
    with pytest.raises(InvalidInput):
        embargo.request(unit(now), organizer, story.id, datetime(2032, 1, 1, tzinfo=UTC), "x")
    item = embargo.request(unit(now), organizer, story.id, None, "x")
    with pytest.raises(Forbidden):
        embargo.approve(unit(now), organizer, item.id)


# -- release review ----------------------------------------------------------

def test_a_review_story_never_reaches_the_reading_room_until_an_admin_releases_it(home: Path) -> None:
    story_id = _import(home, title="Held for review", embargo_until="2020-01-01", release_review=True)

    first = escrow(home, "publish-due")
    second = escrow(home, "publish-due")

    assert "due for review 1" in first.output and second.output.startswith("released 0")
    assert one(home, "SELECT count(*) FROM released_stories") == 0
    assert json.loads(escrow(home, "search", "review", "--json").output) == []
    upcoming = json.loads(escrow(home, "embargo", "upcoming", "--json").output)
    assert upcoming == []  # it waits for a person, not for the publisher
    check = escrow(home, "publish-due", "--check")
    assert check.exit_code == 0 and "1 due for review by an admin" in check.output
    released = escrow(home, "stories", "release", story_id, "--as", ADMIN)
    assert released.exit_code == 0, released.output
    assert [h["id"] for h in json.loads(escrow(home, "search", "review", "--json").output)] == [story_id]


def test_a_review_story_may_be_extended_instead_and_is_sealed_again(home: Path) -> None:
    story_id = _import(home, embargo_until="2020-01-01", release_review=True)
    escrow(home, "publish-due")

    result = escrow(home, "embargo", "extend", story_id, "--until", "2099-01-01", "--reason", "not yet",
                    "--as", ADMIN)

    assert result.exit_code == 0, result.output
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "sealed"
    assert escrow(home, "publish-due").output.startswith("released 0")


# -- upcoming and overdue -----------------------------------------------------

def test_upcoming_lists_ids_and_dates_within_the_window_and_no_content(home: Path) -> None:
    soon = _import(home, title="Soon to be told", embargo_until="2027-01-10")
    _import(home, embargo_until="2040-01-01")
    _import(home, embargo_until=None)

    result = escrow(home, "embargo", "upcoming", "--days", "365000")
    assert result.exit_code == 1 and "--days must be between" in result.output

    listed = escrow(home, "embargo", "upcoming", "--days", "3660", "--json")
    rows = json.loads(listed.output)
    assert [r["id"] for r in rows] == [soon]
    assert rows[0] == {"id": soon, "embargo_until": "2027-01-10T00:00:00Z", "level": "pseudonymized",
                       "then": "release", "overdue": False}
    assert "Soon to be told" not in escrow(home, "embargo", "upcoming", "--days", "3660").output


def test_check_fails_on_an_overdue_story_and_passes_once_it_is_released(home: Path) -> None:
    story_id = _import(home, embargo_until="2026-01-01T00:00:00Z")

    within = escrow(home, "publish-due", "--check", "--now", "2026-01-01T01:59:59Z")
    late = escrow(home, "publish-due", "--check", "--now", "2026-01-01T02:00:00Z")
    stricter = escrow(home, "publish-due", "--check", "--grace", "30m", "--now", "2026-01-01T00:30:00Z")

    assert within.exit_code == 0 and within.output.startswith("ok: no story overdue by more than 2h")
    _fails(late, f"1 story overdue by more than 2h; the oldest, {story_id}, was due 2026-01-01T00:00:00Z")
    _fails(stricter, "overdue by more than 30m")
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "sealed"  # --check releases nothing
    assert escrow(home, "publish-due", "--now", "2026-01-01T02:00:00Z").exit_code == 0
    assert escrow(home, "publish-due", "--check", "--now", "2026-01-01T02:00:00Z").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--check", "--grace", "two hours"], "malformed duration"),
    (["--check", "--now", "yesterday"], "malformed date"),
])
def test_check_refuses_bad_input(home: Path, args: list[str], message: str) -> None:
    _fails(escrow(home, "publish-due", *args), message)


def test_check_and_dry_run_together_is_a_usage_error(home: Path) -> None:
    result = escrow(home, "publish-due", "--check", "--dry-run")
    assert result.exit_code == 2 and "give one" in result.output


# -- time zones ---------------------------------------------------------------

def test_the_server_zone_changes_nothing_at_the_boundary_second(home: Path, auckland: None) -> None:
    story_id = _import(home, embargo_until="2026-07-01")  # 00:00 UTC, noon in Auckland

    before = escrow(home, "publish-due", "--now", "2026-07-01T11:59:59+12:00")
    assert before.output.startswith("released 0"), before.output
    upcoming = json.loads(escrow(home, "embargo", "upcoming", "--days", "3660", "--json").output)
    assert upcoming[0]["embargo_until"] == "2026-07-01T00:00:00Z"
    at = escrow(home, "publish-due", "--now", "2026-07-01T12:00:00+12:00")
    assert at.output.startswith("released 1"), at.output
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "released"


# -- the audit trail ----------------------------------------------------------

def test_audit_show_filters_by_story_and_time_and_records_that_it_was_read(home: Path) -> None:
    first = _import(home, embargo_until=EMBARGO)
    second = _import(home, embargo_until=EMBARGO)
    escrow(home, "embargo", "extend", second, "--until", "2040-01-01", "--reason", "r", "--as", ORG)

    mine = _audit(home, "--story", second)
    since = _audit(home, "--since", "2000-01-01")
    future = _audit(home, "--since", "2999-01-01")

    assert [e["action"] for e in mine] == ["story.import", "embargo.extend"]
    assert first not in {e["story"] for e in mine}
    assert len(since) > len(mine) and future == []
    shows = [e for e in _audit(home) if e["action"] == "audit.show"]
    assert len(shows) == 3 and shows[0]["story"] == second
    bad = escrow(home, "audit", "show", "--since", "last week")
    _fails(bad, "malformed date")


def test_a_tail_cut_after_an_anchor_fails_verify_even_with_the_head_rewritten(home: Path) -> None:
    _import(home, embargo_until=EMBARGO)
    anchored = escrow(home, "audit", "anchor")
    assert anchored.exit_code == 0, anchored.output
    mark = anchored.output.split()[3]
    seq, mac = mark.split(":")
    _import(home, embargo_until=EMBARGO)
    assert escrow(home, "audit", "verify", "--anchor", mark).exit_code == 0

    # Cut the anchored entry and everything after it, and make the head agree.
    sql(home, "DELETE FROM audit_log WHERE seq >= :seq", seq=int(seq))
    [(last, mac_before)] = sql(home, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    sql(home, "UPDATE audit_head SET seq = :seq, hash = :hash", seq=last, hash=mac_before)

    _fails(escrow(home, "audit", "verify"), f"an anchor records entry {seq}: entries were cut from the tail")
    sql(home, "DELETE FROM audit_anchors")  # and hide the stored anchor too
    assert escrow(home, "audit", "verify").exit_code == 0  # only the kept copy can tell now
    _fails(escrow(home, "audit", "verify", "--anchor", mark),
           f"the kept anchor records entry {seq}: entries were cut from the tail")
    assert len(mac) == 64


def test_a_kept_anchor_that_differs_fails_verify(home: Path) -> None:
    mark = escrow(home, "audit", "anchor").output.split()[3]
    seq = mark.split(":")[0]

    _fails(escrow(home, "audit", "verify", "--anchor", f"{seq}:{'0' * 64}"),
           f"audit entry {seq} differs from the kept anchor")
    _fails(escrow(home, "audit", "verify", "--anchor", "not-an-anchor"), "an anchor is SEQ:HASH")


def test_stewardship_actions_are_all_in_the_chain(home: Path) -> None:
    story_id = _import(home, embargo_until=EMBARGO)
    request_id = _request(home, story_id, "now", ORG)
    escrow(home, "embargo", "approve", request_id, "--as", ADMIN)
    escrow(home, "publish-due")
    escrow(home, "stories", "takedown", story_id, "--reason", "safety", "--as", ADMIN)
    escrow(home, "keys", "rotate")
    escrow(home, "stories", "withdraw", story_id, "--reason", "consent withdrawn", "--as", ADMIN)

    actions = [e["action"] for e in _audit(home)]

    for action in ("story.import", "embargo.request", "embargo.approve", "story.release", "story.takedown",
                   "keys.rotate", "story.withdraw"):
        assert action in actions, actions
    verified = escrow(home, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_withdrawal_with_a_transaction_held_open_says_the_shred_is_incomplete(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program's open transaction on stories pins SQLite's write-ahead log, or holds off
    PostgreSQL's VACUUM FULL (and every query queued behind it): the withdrawal waits a bounded
    time, then says it is saved but not scrubbed, and how to finish."""
    monkeypatch.setattr(dialect, "SHRED_WAIT_SECONDS", 0.3)
    story_id = _import(home, embargo_until=EMBARGO)
    with reading(home):
        result = escrow(home, "stories", "withdraw", story_id, "--reason", "consent", "--as", ADMIN)

        assert result.exit_code != 0
        assert "still hold" in result.output and "an old copy" in result.output, result.output
        assert "Traceback" not in result.output
        if not os.environ.get("DATABASE_URL"):
            assert (home / "escrow.db-wal").stat().st_size > 0
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "withdrawn"


def test_a_withdrawal_without_other_transactions_finishes_its_shred(home: Path) -> None:
    """Nothing left to say: on SQLite the write-ahead log is empty (PostgreSQL's rewritten table
    is checked for the old key in test_release_gate)."""
    story_id = _import(home, embargo_until=EMBARGO)

    result = escrow(home, "stories", "withdraw", story_id, "--reason", "consent", "--as", ADMIN)

    assert result.exit_code == 0, result.output
    assert "old copy" not in result.output
    wal = home / "escrow.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
