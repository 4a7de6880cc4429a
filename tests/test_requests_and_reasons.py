"""Pending requests end when their story changes, and the reasons people give are sealed with it.

A request is about the embargo it was made against: an extension, a release, a takedown or a
withdrawal ends it (audited as cancelled, with why), and an approval re-checks that nothing
changed since. Reasons are kept only as ciphertext under the story's data key, so the
database never holds them readable and a withdrawal destroys them with the story.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import add_users, assert_no_canary, canaries, escrow, one, sql, story, write_lines

ORG, ADMIN, ADMIN2 = "org@example.org", "admin@example.org", "admin2@example.org"
PAST = "2026-01-01T00:00:00Z"  # an embargo already over: the next run releases the story


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (ADMIN, "admin"), (ADMIN2, "admin"))


def _import(home: Path, **fields: object) -> str:
    file = write_lines(home.parent / f"s{len(list(home.parent.glob('s*.jsonl')))}.jsonl", story(**fields))
    result = escrow(home, "stories", "import", str(file), "--as", ORG)
    assert result.exit_code == 0, result.output
    return str(one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT 1"))


def _request(home: Path, story_id: str, reason: str = "the campaign is over", until: str = "now") -> str:
    made = escrow(home, "embargo", "request", story_id, "--until", until, "--reason", reason, "--as", ORG)
    assert made.exit_code == 0, made.output
    return made.output.split()[1]


def _reason(entry: dict[str, Any]) -> object:
    return entry["detail"].get("reason")


def _audit(home: Path, *args: str) -> list[dict[str, Any]]:
    shown = escrow(home, "audit", "show", "--json", *args)
    assert shown.exit_code == 0, shown.output
    return list(json.loads(shown.output))


def _cancelled(home: Path, request_id: str) -> list[object]:
    return [e["detail"] for e in _audit(home) if e["action"] == "embargo.cancel"
            and e["detail"]["request"] == request_id]


def _approve_refused(home: Path, request_id: str) -> str:
    approved = escrow(home, "embargo", "approve", request_id, "--as", ADMIN2)
    assert approved.exit_code == 1, approved.output
    return approved.output


def test_an_extension_ends_a_pending_request_so_no_admin_can_undo_it(home: Path) -> None:
    story_id = _import(home)
    request_id = _request(home, story_id)

    extended = escrow(home, "embargo", "extend", story_id, "--until", "indefinite",
                      "--reason", "the organizer is at risk again", "--as", ORG)

    assert extended.exit_code == 0, extended.output
    assert _cancelled(home, request_id) == [{"request": request_id, "why": "the embargo was extended"}]
    assert "0 pending requests" in escrow(home, "embargo", "requests").output
    assert "no pending request" in _approve_refused(home, request_id)
    assert one(home, "SELECT embargo_until FROM stories WHERE id = :id", id=story_id) is None


def test_a_release_and_a_takedown_end_a_request_and_the_story_stays_out(home: Path) -> None:
    story_id = _import(home, embargo_until=PAST)
    request_id = _request(home, story_id)
    assert escrow(home, "publish-due").output.startswith("released 1")
    taken = escrow(home, "stories", "takedown", story_id, "--reason", "a court order", "--as", ADMIN)
    assert taken.exit_code == 0, taken.output

    assert _cancelled(home, request_id) == [{"request": request_id, "why": "the story was released"}]
    assert "no pending request" in _approve_refused(home, request_id)
    assert escrow(home, "publish-due").output.startswith("released 0")
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "sealed"


def test_a_story_held_for_review_ends_its_request_so_none_waits_that_no_one_can_approve(home: Path) -> None:
    story_id = _import(home, embargo_until=PAST, release_review=True)
    request_id = _request(home, story_id)

    ran = escrow(home, "publish-due")

    assert ran.exit_code == 0 and "due for review 1" in ran.output, ran.output
    assert _cancelled(home, request_id) == [{"request": request_id, "why": "the story is due and waits for review"}]
    assert "0 pending requests" in escrow(home, "embargo", "requests").output
    assert "no pending request" in _approve_refused(home, request_id)
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "due_for_review"


def test_approval_refuses_a_request_older_than_the_embargo_it_would_change(home: Path) -> None:
    """Even a request that escaped cancellation (made by an older version) cannot undo a change."""
    story_id = _import(home)
    request_id = _request(home, story_id, until="2030-01-01")
    assert escrow(home, "embargo", "extend", story_id, "--until", "2032-01-01", "--reason", "more time",
                  "--as", ORG).exit_code == 0
    sql(home, "UPDATE embargo_requests SET state = 'pending' WHERE id = :id", id=request_id)

    output = _approve_refused(home, request_id)

    assert "changed after request" in output and "2032-01-01" in output
    assert str(one(home, "SELECT embargo_until FROM stories WHERE id = :id", id=story_id)).startswith("2032-01-01")


def test_the_requester_takes_a_request_back_and_no_one_else_can(home: Path) -> None:
    story_id = _import(home)
    request_id = _request(home, story_id)

    by_other = escrow(home, "embargo", "cancel", request_id, "--as", ADMIN)
    by_owner = escrow(home, "embargo", "cancel", request_id, "--as", ORG)

    assert by_other.exit_code == 1 and "no pending request" in by_other.output
    assert by_owner.exit_code == 0 and f"cancelled {request_id}" in by_owner.output
    assert _cancelled(home, request_id) == [{"request": request_id, "why": "taken back by the requester"}]
    assert "no pending request" in _approve_refused(home, request_id)


def test_the_pending_list_shows_the_current_embargo_beside_the_one_asked_for(home: Path) -> None:
    story_id = _import(home, embargo_until="2031-01-01T00:00:00Z")
    _request(home, story_id, until="2030-01-01")

    listed = json.loads(escrow(home, "embargo", "requests", "--json").output)

    assert [(r["story"], r["until"], r["current"]) for r in listed] == [
        (story_id, "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z")]


def test_reasons_are_never_readable_in_the_database_and_admins_read_them(home: Path) -> None:
    words = canaries(3)
    story_id = _import(home, embargo_until=PAST)
    _request(home, story_id, reason=f"asked by {words[0]}")
    assert escrow(home, "embargo", "extend", story_id, "--until", "2040-01-01",
                  "--reason", f"for {words[1]}", "--as", ORG).exit_code == 0
    sql(home, "UPDATE stories SET embargo_until = :t WHERE id = :id", t="2026-01-01 00:00:00.000000", id=story_id)
    assert escrow(home, "publish-due").output.startswith("released 1")
    assert escrow(home, "stories", "takedown", story_id, "--reason", f"{words[2]} asked",
                  "--as", ADMIN).exit_code == 0

    assert_no_canary(home, *words)
    reasons = [_reason(e) for e in _audit(home, "--story", story_id)]
    assert [r for r in reasons if r] == [f"asked by {words[0]}", f"for {words[1]}", f"{words[2]} asked"]


def test_a_withdrawal_destroys_every_reason_given_for_the_story(home: Path) -> None:
    words = canaries(3)
    story_id = _import(home)
    request_id = _request(home, story_id, reason=f"asked by {words[0]}")
    assert escrow(home, "embargo", "deny", request_id, "--reason", f"not while {words[1]} works there",
                  "--as", ADMIN).exit_code == 0

    withdrawn = escrow(home, "stories", "withdraw", story_id, "--reason", f"{words[2]} withdrew consent",
                       "--as", ADMIN)

    assert withdrawn.exit_code == 0, withdrawn.output
    assert_no_canary(home, *words)
    reasons = [_reason(e) for e in _audit(home, "--story", story_id)]
    assert [r for r in reasons if r] == ["(destroyed with the story)"] * 3
    assert escrow(home, "audit", "verify").exit_code == 0


def test_reason_help_asks_not_to_name_people(home: Path) -> None:
    for command in (["stories", "takedown"], ["stories", "withdraw"], ["embargo", "extend"], ["embargo", "request"]):
        shown = escrow(home, *command, "--help")
        assert "Do not name people" in " ".join(shown.output.split()), command
