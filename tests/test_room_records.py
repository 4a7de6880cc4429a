"""Room records: every story ever released, present or gone, with the instant that changed.

What harvesters list (OAI-PMH's persistent deleted records) is kept by the release gate
itself, so no door can release or take back a story without its record following.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import downgrade

from archive.storage import database
from archive.storage.paths import MIGRATIONS
from tests.helpers import escrow, one, sql, story, write_lines

PAST, FUTURE = "2020-01-01T00:00:00Z", "2090-01-01T00:00:00Z"
ADMIN, SECOND = "admin@example.org", "second@example.org"


@pytest.fixture
def home(archive_home: Path) -> Path:
    for email, role in (("org@example.org", "organizer"), (ADMIN, "admin"), (SECOND, "admin")):
        escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
               input="a long enough password\n")
    return archive_home


def _import(home: Path, tmp_path: Path, *lines: dict[str, object]) -> list[str]:
    file = write_lines(tmp_path / f"s{len(list(tmp_path.iterdir()))}.jsonl", *lines)
    assert escrow(home, "stories", "import", str(file), "--as", "org@example.org").exit_code == 0
    rows = sql(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT :n",
               n=len(lines))
    return [r[0] for r in reversed(rows)]


def _records(home: Path) -> dict[str, tuple[bool, str]]:
    return {story_id: (bool(present), str(at)) for story_id, present, at in
            sql(home, "SELECT story_id, present, datestamp FROM room_records")}


def _stamp(value: object) -> datetime:
    return datetime.fromisoformat(str(value)[:26])


def _release_now(home: Path, story_id: str) -> None:
    asked = escrow(home, "embargo", "request", story_id, "--until", "now", "--reason", "ready", "--as", ADMIN)
    assert asked.exit_code == 0, asked.output
    [pending] = json.loads(escrow(home, "embargo", "requests", "--json").output)
    assert escrow(home, "embargo", "approve", pending["id"], "--as", SECOND).exit_code == 0
    assert escrow(home, "publish-due").exit_code == 0


def test_a_release_a_takedown_and_a_second_release_each_move_the_record(home: Path, tmp_path: Path) -> None:
    kept, taken, sealed = _import(home, tmp_path, story(embargo_until=PAST), story(embargo_until=PAST),
                                  story(embargo_until=FUTURE))
    assert escrow(home, "publish-due").exit_code == 0
    released = _records(home)
    assert set(released) == {kept, taken} and all(present for present, _ in released.values())
    # One instant for the batch, and the same one the reading room shows.
    assert len({at for _, at in released.values()}) == 1
    assert str(one(home, "SELECT released_at FROM released_stories WHERE id = :id", id=kept)) == released[kept][1]

    assert escrow(home, "stories", "takedown", taken, "--reason", "asked", "--as", ADMIN).exit_code == 0
    after_takedown = _records(home)
    assert after_takedown[kept] == released[kept]
    assert after_takedown[taken][0] is False and _stamp(after_takedown[taken][1]) > _stamp(released[taken][1])

    _release_now(home, taken)
    again = _records(home)
    assert again[taken][0] is True and _stamp(again[taken][1]) > _stamp(after_takedown[taken][1])
    assert sealed not in again
    assert escrow(home, "index", "verify").exit_code == 0


def test_withdrawal_leaves_a_gone_record_only_for_a_story_that_was_released(home: Path, tmp_path: Path) -> None:
    released, never = _import(home, tmp_path, story(embargo_until=PAST), story(embargo_until=FUTURE))
    assert escrow(home, "publish-due").exit_code == 0

    for story_id in (released, never):
        result = escrow(home, "stories", "withdraw", story_id, "--reason", "consent", "--as", ADMIN)
        assert result.exit_code == 0, result.output

    records = _records(home)
    assert set(records) == {released} and records[released][0] is False
    assert escrow(home, "index", "verify").exit_code == 0


def test_verify_reports_a_record_that_disagrees_with_the_room(home: Path, tmp_path: Path) -> None:
    [story_id] = _import(home, tmp_path, story(embargo_until=PAST))
    assert escrow(home, "publish-due").exit_code == 0
    sql(home, "DELETE FROM room_records WHERE story_id = :id", id=story_id)

    found = escrow(home, "index", "verify")

    assert found.exit_code == 1 and f"story {story_id} is in the reading room but harvesters are not told" \
        in found.output


def test_the_upgrade_writes_records_for_stories_released_before_it(app: Flask, home: Path, tmp_path: Path) -> None:
    """0006 -> 0007: present records from the reading room, gone ones from the audit log."""
    kept, taken, withdrawn_unreleased = _import(home, tmp_path, story(embargo_until=PAST),
                                                story(embargo_until=PAST), story(embargo_until=FUTURE))
    assert escrow(home, "publish-due").exit_code == 0
    assert escrow(home, "stories", "takedown", taken, "--reason", "asked", "--as", ADMIN).exit_code == 0
    assert escrow(home, "stories", "withdraw", withdrawn_unreleased, "--reason", "c", "--as", ADMIN).exit_code == 0
    before = _records(home)
    database.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0006")

    database.upgrade()

    after = _records(home)
    assert set(after) == {kept, taken}
    assert after[kept] == before[kept]
    taken_at = one(home, "SELECT at FROM audit_log WHERE action = 'story.takedown' AND story_id = :id", id=taken)
    assert after[taken] == (False, str(taken_at))


def test_a_records_stamp_is_taken_after_every_lock_its_change_needs(home: Path, tmp_path: Path) -> None:
    """Stamped after the audit entry (the last lock its transaction takes, on the audit head),
    so no wait for another writer can come between the stamp and the commit: an incremental
    harvest from a responseDate taken meanwhile cannot miss the change."""
    reviewed, taken, withdrawn = _import(home, tmp_path, story(embargo_until=PAST, release_review=True),
                                         story(embargo_until=PAST), story(embargo_until=PAST))
    assert escrow(home, "publish-due").exit_code == 0
    for command, story_id in (("release", reviewed), ("takedown", taken), ("withdraw", withdrawn)):
        extra = () if command == "release" else ("--reason", "asked")
        result = escrow(home, "stories", command, story_id, *extra, "--as", ADMIN)
        assert result.exit_code == 0, result.output

    for story_id, action in ((reviewed, "story.release"), (taken, "story.takedown"), (withdrawn, "story.withdraw")):
        audited = one(home, "SELECT max(at) FROM audit_log WHERE action = :a AND story_id = :id", a=action, id=story_id)
        assert _stamp(_records(home)[story_id][1]) >= _stamp(audited), action
