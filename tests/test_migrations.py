"""The migrations build exactly the models' schema, and go down and up again with data in place."""

from __future__ import annotations

import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade
from sqlalchemy import inspect

from archive import db
from archive.db import Base
from archive.paths import MIGRATIONS
from tests.helpers import assert_no_canary, canaries, escrow, one, sql, story, write_lines


def test_the_migrations_head_matches_the_models(app: Flask) -> None:
    with db.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)

    assert diff == []


def test_every_migration_goes_down_and_up_again(app: Flask, archive_home: Path,
                                                tmp_path: Path) -> None:
    assert escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
                  "--password-stdin", input="a long enough password\n").exit_code == 0
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
                  "--as", "org@example.org").exit_code == 0
    assert "1 story" in escrow(archive_home, "stories", "list").output

    downgrade(directory=str(MIGRATIONS), revision="base")
    assert set(inspect(db.db.engine).get_table_names()) <= {"alembic_version"}
    db.upgrade()

    listed = escrow(archive_home, "stories", "list")
    assert listed.exit_code == 0 and "0 stories" in listed.output  # the tables were rebuilt empty


def test_rows_written_before_reasons_were_sealed_survive_the_upgrade(app: Flask, archive_home: Path,
                                                                     tmp_path: Path) -> None:
    """0003 -> 0004: a pending request with a plain reason stays pending and readable, the story's
    embargo change time is its last update, and a withdrawal still clears the plain reason."""
    for email, role in (("org@example.org", "organizer"), ("admin@example.org", "admin")):
        assert escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
                      input="a long enough password\n").exit_code == 0
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
                  "--as", "org@example.org").exit_code == 0
    story_id = one(archive_home, "SELECT id FROM stories")
    [word] = canaries(1)
    db.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0003")
    sql(archive_home, "UPDATE stories SET updated_at = '2026-03-04 05:06:07.000000'")
    sql(archive_home, "INSERT INTO embargo_requests (id, story_id, requested_by_id, until, reason, state, created_at, "
        "expires_at) VALUES ('legacyrequest000', :story, 1, NULL, :reason, 'pending', "
        "'2026-03-05 00:00:00.000000', '2099-01-01 00:00:00.000000')", story=story_id, reason=f"asked by {word}")

    db.upgrade()

    changed = one(archive_home, "SELECT embargo_changed_at FROM stories")
    assert str(changed).startswith("2026-03-04 05:06:07")
    [pending] = json.loads(escrow(archive_home, "embargo", "requests", "--json").output)
    assert (pending["id"], pending["reason"], pending["current"]) == (
        "legacyrequest000", f"asked by {word}", "2031-01-01T00:00:00Z")
    withdrawn = escrow(archive_home, "stories", "withdraw", story_id, "--reason", "consent",
                       "--as", "admin@example.org")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert one(archive_home, "SELECT reason FROM embargo_requests") is None
    assert_no_canary(archive_home, word)
    assert one(archive_home, "SELECT state FROM embargo_requests") == "cancelled"


def test_counted_session_generations_become_random_ones_and_end_every_session(app: Flask,
                                                                              archive_home: Path) -> None:
    """0010 -> 0011: each account gets its own random generation (so every session signed in
    before the upgrade ends), and the accounts themselves are as they were."""
    for email, role in (("org@example.org", "organizer"), ("admin@example.org", "admin")):
        assert escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
                      input="a long enough password\n").exit_code == 0
    db.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0010")
    sql(archive_home, "UPDATE users SET session_epoch = 3")
    before = sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id")

    db.upgrade()

    assert sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id") == before
    generations = [g for (g,) in sql(archive_home, "SELECT session_generation FROM users")]
    assert len(set(generations)) == 2 and all(len(g) == 22 for g in generations)
    assert escrow(archive_home, "users", "add", "new@example.org", "--role", "researcher", "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    assert len(one(archive_home, "SELECT session_generation FROM users WHERE email = 'new@example.org'")) == 22


def test_the_narrators_door_keeps_every_story_as_it_was_and_goes_down_with_its_codenames(
        app: Flask, archive_home: Path, tmp_path: Path) -> None:
    """0011 -> 0013: stories keep every column, none is held or cooling off, the archive gets its
    codename salt; down again, the codenames and narrator actions go with their tables."""
    assert escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer", "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
                  "--as", "org@example.org").exit_code == 0
    db.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0011")
    before = sql(archive_home, "SELECT id, status, embargo_until, redaction_level, wrapped_key FROM stories")

    db.upgrade()

    assert sql(archive_home, "SELECT id, status, embargo_until, redaction_level, wrapped_key FROM stories") == before
    assert sql(archive_home, "SELECT hold, cooling_until FROM stories") == [(None, None)]
    salt = one(archive_home, "SELECT salt FROM narrator_salt WHERE id = 1")
    assert len(bytes(salt)) == 16
    story_id = str(before[0][0])
    issued = escrow(archive_home, "narrator", "issue", story_id, "--as", "org@example.org")
    assert issued.exit_code == 0, issued.output
    assert one(archive_home, "SELECT count(*) FROM narrator_codenames") == 1

    db.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0011")
    assert "narrator_codenames" not in inspect(db.db.engine).get_table_names()
    assert sql(archive_home, "SELECT id, status, embargo_until, redaction_level, wrapped_key FROM stories") == before
    db.upgrade()
