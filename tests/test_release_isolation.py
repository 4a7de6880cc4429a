"""One story that cannot be released never stops the others, and the run says which one and why.

Each story is released in a savepoint of its own: a failure (its redaction raising, a value
the database refuses) leaves that story sealed with an audit entry naming the failure's class,
every other due story is released, the run exits 1 naming the story on stderr, and
`publish-due --check` names it as the reason it is overdue. The clock a run went by is in each
release's audit entry; a clock later than the machine's only shows what would happen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from archive.accounts.users import User
from archive.release import gate, redaction
from archive.vault import drafts, stories
from archive.vault.keys import Keyring
from tests.helpers import escrow, one, sql, story, write_lines

PAST = "2026-01-01T00:00:00Z"
POISON = "poisoned story"


@pytest.fixture
def home(archive_home: Path) -> Path:
    for email, role in (("org@example.org", "organizer"), ("admin@example.org", "admin")):
        assert escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
                      input="a long enough password\n").exit_code == 0
    return archive_home


def _import(home: Path, tmp_path: Path, *titles: str) -> None:
    file = write_lines(tmp_path / "due.jsonl", *(story(title=t, embargo_until=PAST) for t in titles))
    assert escrow(home, "stories", "import", str(file), "--as", "org@example.org").exit_code == 0


def _statuses(home: Path) -> list[str]:
    return sorted(str(r[0]) for r in sql(home, "SELECT status FROM stories"))


def _poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redaction fails for one story (as a bug in it would), and for no other."""
    real = redaction.redact

    def redact(draft: drafts.Draft) -> Any:
        if draft.title == POISON:
            raise RuntimeError("redaction broke on this story's text")
        return real(draft)

    monkeypatch.setattr(gate, "redact", redact)


def _failed_entries(home: Path) -> list[tuple[str, dict[str, object]]]:
    return [(str(r[0]), json.loads(str(r[1]))) for r in
            sql(home, "SELECT story_id, detail FROM audit_log WHERE action = 'story.release_failed' ORDER BY seq")]


def test_a_story_whose_redaction_fails_stays_sealed_and_every_other_one_is_released(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _import(home, tmp_path, "first good", POISON, "second good")
    _poison(monkeypatch)
    bad = str(one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq LIMIT 1 OFFSET 1"))

    run = escrow(home, "publish-due")
    again = escrow(home, "publish-due")
    check = escrow(home, "publish-due", "--check", "--grace", "1m")

    assert run.exit_code == 1
    assert run.output.startswith("released 2, already released 0, failed 1"), run.output
    assert f"{bad} stays sealed: its release failed (RuntimeError)" in run.output
    assert "redaction broke" not in run.output  # the message may quote the story: only its class is shown
    assert _statuses(home) == ["released", "released", "sealed"]
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=bad) == "sealed"
    assert again.exit_code == 1 and again.output.startswith("released 0, already released 2, failed 1")
    assert [(i, d["cause"]) for i, d in _failed_entries(home)] == [(bad, "RuntimeError")] * 2
    assert check.exit_code == 1 and f"{bad} failed to release (RuntimeError)" in check.output
    assert escrow(home, "index", "verify").exit_code == 0
    assert escrow(home, "audit", "verify").exit_code == 0
    assert len(escrow(home, "search", "sheets OR hotel OR shift", "--json").output) > 2


def test_a_value_postgresql_refuses_fails_one_story_not_the_run(
        home: Path, app: Flask, session: Session, keyring: Keyring, database_kind: str) -> None:
    """A NUL character (accepted by older versions of the form and the import) in one story's text."""
    owner = session.query(User).filter_by(email="org@example.org").one()
    good = [drafts.parse(story(title=f"good {n}", embargo_until=PAST)) for n in range(2)]
    # (At level full the summary is released as it is; redaction drops such characters elsewhere.)
    nul = drafts.parse(story(embargo_until=PAST, redaction_level="full")).changed(summary="a NUL \x00 here")
    sealed = stories.submit_many(session, keyring, owner, [stories.Submission(d, owner) for d in (*good, nul)])
    bad = sealed[-1].id
    session.commit()
    session.close()

    run = escrow(home, "publish-due")

    if database_kind == "postgresql":
        assert run.exit_code == 1 and run.output.startswith("released 2, already released 0, failed 1"), run.output
        assert f"{bad} stays sealed" in run.output and "DataError" in run.output
        assert one(home, "SELECT status FROM stories WHERE id = :id", id=bad) == "sealed"
    else:  # SQLite stores the character: all three are released
        assert run.exit_code == 0 and run.output.startswith("released 3"), run.output
    assert _statuses(home).count("released") >= 2


def test_the_clock_a_run_went_by_is_in_each_release_entry(home: Path, tmp_path: Path) -> None:
    _import(home, tmp_path, "told")

    run = escrow(home, "publish-due", "--now", "2026-06-01T00:00:00Z")

    assert run.exit_code == 0, run.output
    [detail] = [json.loads(str(r[0])) for r in sql(home, "SELECT detail FROM audit_log WHERE action = 'story.release'")]
    assert detail["clock"] == "2026-06-01T00:00:00Z"


def test_a_clock_later_than_the_machine_releases_nothing_and_only_a_dry_run_may_use_it(
        home: Path, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "later.jsonl", story(embargo_until="2031-01-01T00:00:00Z"))
    assert escrow(home, "stories", "import", str(file), "--as", "org@example.org").exit_code == 0
    entries = one(home, "SELECT count(*) FROM audit_log")

    early = escrow(home, "publish-due", "--now", "2031-01-01T00:00:00Z")
    preview = escrow(home, "publish-due", "--now", "2031-01-01T00:00:00Z", "--dry-run")

    assert early.exit_code == 1 and early.output.count("\n") == 1
    assert "later than this machine's clock" in early.output and "--dry-run" in early.output
    assert preview.exit_code == 0 and "would release 1" in preview.output
    assert _statuses(home) == ["sealed"]
    assert one(home, "SELECT count(*) FROM audit_log") == entries
