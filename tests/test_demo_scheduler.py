"""The scheduler as deployed: `escrow demo` releases what comes due (an approved early release)
and sends notices on its own while it serves, and its scheduler stops with it."""

from __future__ import annotations

import os
import re
import signal
from datetime import timedelta
from pathlib import Path

from flask import Flask

from archive.cli.notices import tick
from archive.times import format_instant, utcnow
from tests.helpers import add_users, escrow, one, story, write_lines
from tests.processes import finish, poll, started

ORG, ADMIN, ADMIN2 = "org@example.org", "admin@example.org", "admin2@example.org"


def _approved_early_release(home: Path) -> str:
    """A story sealed for a year, released early on a request a second admin approved; its id."""
    file = write_lines(home.parent / "s.jsonl", story(embargo_until=format_instant(utcnow() + timedelta(days=365))))
    assert escrow(home, "stories", "import", str(file), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    assert escrow(home, "embargo", "request", story_id, "--until", "now", "--reason", "narrator agreed",
                  "--as", ADMIN).exit_code == 0
    approved = escrow(home, "embargo", "approve", str(one(home, "SELECT id FROM embargo_requests")), "--as", ADMIN2)
    assert approved.exit_code == 0, approved.output
    return story_id


def test_a_scheduler_tick_releases_an_approved_early_release_and_tells_its_organizer(
        app: Flask, archive_home: Path) -> None:
    add_users(archive_home, (ORG, "organizer"), (ADMIN, "admin"), (ADMIN2, "admin"))
    story_id = _approved_early_release(archive_home)

    said = tick(app)

    assert said.startswith("released 1,"), said
    assert one(archive_home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "released"
    assert one(archive_home, "SELECT count(*) FROM notices WHERE story_id = :id AND kind IN "
                             "('request_approved', 'released')", id=story_id) == 2
    assert tick(app).startswith("released 0,")  # a second tick finds nothing more


def test_the_demo_releases_an_approved_early_release_on_its_own(archive_home: Path) -> None:
    # Standard password hashing: `serve` refuses the tests' cheap one.
    with started(archive_home, "demo", "--port", "0", "--workers", "1", "--every", "1",
                 env={"ESCROW_PASSWORD_COST": "standard"}) as demo:
        assert demo.pid
        poll("the demo's accounts", lambda: one(archive_home, "SELECT count(*) FROM users") == 5, alive=demo)
        file = write_lines(archive_home.parent / "s.jsonl",
                           story(embargo_until=format_instant(utcnow() + timedelta(days=365))))
        assert escrow(archive_home, "stories", "import", str(file), "--as", "organizer@demo.escrow").exit_code == 0
        story_id = str(one(archive_home, "SELECT id FROM stories ORDER BY created_at DESC LIMIT 1"))
        assert escrow(archive_home, "embargo", "request", story_id, "--until", "now", "--reason", "agreed",
                      "--as", "admin@demo.escrow").exit_code == 0
        request_id = str(one(archive_home, "SELECT id FROM embargo_requests WHERE story_id = :id", id=story_id))
        assert escrow(archive_home, "embargo", "approve", request_id, "--as", "admin2@demo.escrow").exit_code == 0

        # No command: the demo's scheduler releases it (a bounded wait on the condition, not a sleep).
        poll("the approved story's release", alive=demo,
             done=lambda: one(archive_home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "released")
        assert one(archive_home, "SELECT count(*) FROM notices WHERE story_id = :id AND kind = 'released'",
                   id=story_id) == 1
        demo.send_signal(signal.SIGTERM)
        code, output = finish(demo)
    scheduler_pid = int(re.search(r"scheduler: .* \(pid (\d+)\)", output).group(1))  # type: ignore[union-attr]
    try:
        os.kill(scheduler_pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "the scheduler outlived the demo"
