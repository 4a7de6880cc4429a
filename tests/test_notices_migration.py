"""0011 -> 0014: the outbox's tables and an account's language arrive with the data in place,
and leave again without touching it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_migrate import downgrade

from archive.storage import database
from archive.storage.paths import MIGRATIONS
from archive.times import format_instant, utcnow
from tests.helpers import add_users, escrow, one, sql, story, write_lines


def test_the_outbox_arrives_and_leaves_with_stories_and_accounts_in_place(app: Flask, archive_home: Path) -> None:
    add_users(archive_home, ("org@example.org", "organizer"), ("admin@example.org", "admin"))
    soon = format_instant(utcnow() + timedelta(days=3))
    file = write_lines(archive_home.parent / "s.jsonl", story(embargo_until=soon))
    assert escrow(archive_home, "stories", "import", str(file), "--as", "org@example.org").exit_code == 0
    assert escrow(archive_home, "notices", "run").exit_code == 0
    assert one(archive_home, "SELECT count(*) FROM notices") == 3
    sql(archive_home, "UPDATE users SET language = 'es' WHERE email = 'org@example.org'")
    accounts = sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id")
    stories = sql(archive_home, "SELECT id, status, embargo_until FROM stories")
    database.db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision="0012")
    assert sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id") == accounts
    database.upgrade()

    assert sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id") == accounts
    assert sql(archive_home, "SELECT id, status, embargo_until FROM stories") == stories
    assert {row[0] for row in sql(archive_home, "SELECT language FROM users")} == {None}
    assert one(archive_home, "SELECT count(*) FROM notices") == 0
    assert escrow(archive_home, "notices", "run").exit_code == 0  # armed again, once
    assert one(archive_home, "SELECT count(*) FROM notices") == 3
