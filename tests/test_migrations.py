"""The migrations build exactly the models' schema, and go down and up again with data in place."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from archive.storage import database
from archive.storage.database import Base
from archive.storage.paths import MIGRATIONS
from archive.vault import keys
from tests.helpers import assert_no_canary, canaries, escrow, one, sql, story, write_lines
from tests.web.conftest import tiny_wav


def _modelled(thing: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    """What the models describe: on PostgreSQL, released_stories' hash partitions, its search
    vector and that vector's index are the search backend's own (migration 0015 makes them,
    archive/reading_room/postgres.py writes the vector in SQL), not the ORM's."""
    if kind == "table" and name is not None and re.fullmatch(r"released_stories_p\d+", name):
        return False
    if kind == "column" and name in ("search_vector", "search_places"):
        return False
    return not (kind == "index" and name == "ix_released_stories_search_vector")


def test_the_migrations_head_matches_the_models(app: Flask) -> None:
    with database.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True,
                                                                       "include_object": _modelled}),
                                Base.metadata)

    assert diff == []


def test_released_copies_are_partitioned_with_a_search_vector_on_postgresql_only(app: Flask) -> None:
    with database.db.engine.connect() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("released_stories")}
        partitions = [name for name in inspect(conn).get_table_names() if name.startswith("released_stories_p")]

    if conn.dialect.name == "postgresql":
        assert "search_vector" in columns and len(partitions) == 32
    else:
        assert "search_vector" not in columns and partitions == []


def test_every_migration_goes_down_and_up_again(app: Flask, archive_home: Path,
                                                tmp_path: Path) -> None:
    assert escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
                  "--password-stdin", input="a long enough password\n").exit_code == 0
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
                  "--as", "org@example.org").exit_code == 0
    assert "1 story" in escrow(archive_home, "stories", "list").output

    downgrade(directory=str(MIGRATIONS), revision="base")
    assert set(inspect(database.db.engine).get_table_names()) <= {"alembic_version"}
    database.upgrade()

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
    database.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0003")
    sql(archive_home, "UPDATE stories SET updated_at = '2026-03-04 05:06:07.000000'")
    sql(archive_home, "INSERT INTO embargo_requests (id, story_id, requested_by_id, until, reason, state, created_at, "
        "expires_at) VALUES ('legacyrequest000', :story, 1, NULL, :reason, 'pending', "
        "'2026-03-05 00:00:00.000000', '2099-01-01 00:00:00.000000')", story=story_id, reason=f"asked by {word}")

    database.upgrade()

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
    database.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0010")
    sql(archive_home, "UPDATE users SET session_epoch = 3")
    before = sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id")

    database.upgrade()

    assert sql(archive_home, "SELECT id, email, role, password_hash FROM users ORDER BY id") == before
    generations = [g for (g,) in sql(archive_home, "SELECT session_generation FROM users")]
    assert len(set(generations)) == 2 and all(len(g) == 22 for g in generations)
    assert escrow(archive_home, "users", "add", "new@example.org", "--role", "researcher", "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    assert len(one(archive_home, "SELECT session_generation FROM users WHERE email = 'new@example.org'")) == 22


def test_an_archive_and_key_file_from_before_audit_keys_had_versions_verify_and_rotate(
        app: Flask, archive_home: Path, tmp_path: Path) -> None:
    """0011 -> 0012: the key file's one `audit:` line is audit key version 1, the chain written
    under it verifies, and the next rotation switches it to a version 2 while keeping version 1."""
    assert escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
                  "--password-stdin", input="a long enough password\n").exit_code == 0
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
                  "--as", "org@example.org").exit_code == 0
    ring = keys.parse((archive_home / "master.key").read_text(), "test")
    database.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0011")
    assert "key_version" not in {c["name"] for c in inspect(database.db.engine).get_columns("audit_head")}
    legacy = (f"audit:{base64.b64encode(ring.audits[1]).decode()}\n"  # as a key file of that time reads
              f"kek1:{base64.b64encode(ring.keks[1]).decode()}\n")
    (archive_home / "master.key").write_text(legacy)
    entries = one(archive_home, "SELECT count(*) FROM audit_log")

    database.upgrade()

    assert one(archive_home, "SELECT key_version FROM audit_head") == 1
    verified = escrow(archive_home, "audit", "verify")
    assert verified.exit_code == 0 and f"intact: {entries} entries" in verified.output
    assert escrow(archive_home, "keys", "rotate").exit_code == 0
    rotated = keys.parse((archive_home / "master.key").read_text(), "test")
    assert sorted(rotated.audits) == [1, 2] and rotated.audits[1] == ring.audits[1]
    assert "audit:" not in (archive_home / "master.key").read_text()  # written as audit1: now
    assert escrow(archive_home, "audit", "verify").exit_code == 0
    assert one(archive_home, "SELECT key_version FROM audit_head") == 2


# -- data tests of 0007-0010: an archive in use, taken down to the revision before, and up again --

ORG, ADMIN = "org@example.org", "admin@example.org"
PAST = "2021-01-01T00:00:00Z"


def _in_use(home: Path, tmp_path: Path, *lines: dict[str, object]) -> dict[str, str]:
    """An organizer and an admin, stories imported and published (ids by title), as at head."""
    for email, role in ((ORG, "organizer"), (ADMIN, "admin")):
        assert escrow(home, "users", "add", email, "--role", role, "--password-stdin",
                      input="a long enough password\n").exit_code == 0
    imported = escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", *lines)), "--as", ORG)
    assert imported.exit_code == 0, imported.output
    published = escrow(home, "publish-due")
    assert published.exit_code == 0, published.output
    return {str(title): str(story_id) for story_id, title in sql(home, "SELECT s.id, r.title FROM stories s "
                                                                     "LEFT JOIN released_stories r ON r.id = s.id")
            if title is not None} | {"all": ",".join(sorted(str(i) for (i,) in sql(home, "SELECT id FROM stories")))}


def _instant(value: object) -> datetime:
    """A stored instant as naive UTC (SQLite returns text, PostgreSQL a datetime)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _rows(home: Path, statement: str) -> list[tuple[object, ...]]:
    return sorted(sql(home, statement), key=repr)


def test_room_records_are_rebuilt_from_the_released_copies_and_the_audit_log(app: Flask, archive_home: Path,
                                                                              tmp_path: Path) -> None:
    """0006 -> 0007: a released story's record is present, stamped when it was released; one taken
    down or withdrawn after its release is a deletion stamped when it left; a story never
    released has none; and a harvester is told the same as before."""
    ids = _in_use(archive_home, tmp_path, *(story(title=t, embargo_until=PAST) for t in ("Kept", "Down", "Gone")),
                  story(title="Sealed", embargo_until="2090-01-01"))
    for title, command in (("Down", "takedown"), ("Gone", "withdraw")):
        assert escrow(archive_home, "stories", command, ids[title], "--reason", "consent",
                      "--as", ADMIN).exit_code == 0
    before = _rows(archive_home, "SELECT story_id, present, datestamp FROM room_records")
    assert len(before) == 3
    database.db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision="0006")
    assert not inspect(database.db.engine).has_table("room_records")
    upgrade(directory=str(MIGRATIONS), revision="0007")

    after = _rows(archive_home, "SELECT story_id, present, datestamp FROM room_records")
    assert [(i, bool(p)) for i, p, _ in after] == [(i, bool(p)) for i, p, _ in before]
    for (_, _, rebuilt), (_, _, written) in zip(after, before, strict=True):
        assert abs(_instant(rebuilt) - _instant(written)) < timedelta(seconds=1)  # the audit entry's instant
    database.upgrade()
    assert escrow(archive_home, "index", "verify").exit_code == 0


def test_sealed_stories_keep_everything_when_recordings_arrive_and_take_one_after(app: Flask, archive_home: Path,
                                                                                   tmp_path: Path) -> None:
    """0007 -> 0008: the recordings table comes empty, every story and released copy as it was,
    and a story imported before it takes a recording (down again: the table goes, nothing else)."""
    ids = _in_use(archive_home, tmp_path, story(title="Out", embargo_until=PAST), story(title="In", embargo_until=None))
    stories_before = _rows(archive_home, "SELECT s.id, s.status, s.wrapped_key, v.ciphertext FROM stories s "
                                       "JOIN story_versions v ON v.story_id = s.id")
    released_before = _rows(archive_home, "SELECT id, content_hash FROM released_stories")
    database.db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision="0007")
    assert not inspect(database.db.engine).has_table("recordings")
    upgrade(directory=str(MIGRATIONS), revision="0008")
    assert sql(archive_home, "SELECT count(*) FROM recordings") == [(0,)]
    database.upgrade()

    assert _rows(archive_home, "SELECT s.id, s.status, s.wrapped_key, v.ciphertext FROM stories s "
                                       "JOIN story_versions v ON v.story_id = s.id") == stories_before
    assert _rows(archive_home, "SELECT id, content_hash FROM released_stories") == released_before
    [sealed] = [i for i in ids["all"].split(",") if i != ids["Out"]]
    (tmp_path / "voice.wav").write_bytes(_wav())
    attached = escrow(archive_home, "stories", "attach", sealed, str(tmp_path / "voice.wav"), "--as", ORG)
    assert attached.exit_code == 0, attached.output
    assert sql(archive_home, "SELECT story_id, rendition FROM recordings") == [(sealed, "original")]


def test_copies_released_before_captions_keep_their_hash_and_stay_searchable(app: Flask, archive_home: Path,
                                                                            tmp_path: Path) -> None:
    """0008 -> 0009: a copy released before captions existed has none, its content hash still
    holds, and the index agrees with it; down again, the column goes and the copy stays."""
    ids = _in_use(archive_home, tmp_path, story(title="Picket", transcript="We sang on the picket line.",
                                                redaction_level="full", embargo_until=PAST))
    before = _rows(archive_home, "SELECT id, title, transcript, content_hash FROM released_stories")
    database.db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision="0008")
    assert "captions" not in {c["name"] for c in inspect(database.db.engine).get_columns("released_stories")}
    database.upgrade()

    assert _rows(archive_home, "SELECT id, title, transcript, content_hash FROM released_stories") == before
    assert sql(archive_home, "SELECT captions FROM released_stories") == [(None,)]
    assert escrow(archive_home, "index", "verify").exit_code == 0
    found = escrow(archive_home, "search", "--json", "picket")
    assert [hit["id"] for hit in json.loads(found.output)] == [ids["Picket"]]


def test_stories_and_recordings_from_before_release_choices_keep_their_recordings_sealed(
        app: Flask, archive_home: Path, tmp_path: Path) -> None:
    """0009 -> 0010: every story's choice is 'none' (its recording stays sealed), its recording
    an original as before, and a copy released before has no released recording; down again
    (an archive with no muted rendition can go down) and up, nothing else changes."""
    ids = _in_use(archive_home, tmp_path, story(title="Out", embargo_until=PAST))
    (tmp_path / "voice.wav").write_bytes(_wav())
    assert escrow(archive_home, "stories", "attach", ids["Out"], str(tmp_path / "voice.wav"),
                  "--as", ADMIN).exit_code == 0
    recordings = _rows(archive_home, "SELECT id, story_id, rendition, size FROM recordings")
    database.db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision="0009")
    upgrade(directory=str(MIGRATIONS), revision="0010")

    assert sql(archive_home, "SELECT recording_release FROM stories") == [("none",)]
    assert sql(archive_home, "SELECT recording_id FROM released_stories") == [(None,)]
    assert _rows(archive_home, "SELECT id, story_id, rendition, size FROM recordings") == recordings
    downgrade(directory=str(MIGRATIONS), revision="0009")
    database.upgrade()
    assert _rows(archive_home, "SELECT id, story_id, rendition, size FROM recordings") == recordings
    assert escrow(archive_home, "index", "verify").exit_code == 0


def _wav() -> bytes:
    return tiny_wav()


def test_the_narrators_door_keeps_every_story_as_it_was_and_goes_down_with_its_codenames(
        app: Flask, archive_home: Path, tmp_path: Path) -> None:
    """0013 -> 0014: stories keep every column, none is held or cooling off, the archive gets its
    codename salt; down again, the codenames and narrator actions go with their tables."""
    assert escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer", "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
                  "--as", "org@example.org").exit_code == 0
    database.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0013")
    before = sql(archive_home, "SELECT id, status, embargo_until, redaction_level, wrapped_key FROM stories")

    database.upgrade()

    assert sql(archive_home, "SELECT id, status, embargo_until, redaction_level, wrapped_key FROM stories") == before
    assert sql(archive_home, "SELECT hold, cooling_until FROM stories") == [(None, None)]
    salt = one(archive_home, "SELECT salt FROM narrator_salt WHERE id = 1")
    assert len(bytes(salt)) == 16
    story_id = str(before[0][0])
    issued = escrow(archive_home, "narrator", "issue", story_id, "--as", "org@example.org")
    assert issued.exit_code == 0, issued.output
    assert one(archive_home, "SELECT count(*) FROM narrator_codenames") == 1

    database.db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="0013")
    assert "narrator_codenames" not in inspect(database.db.engine).get_table_names()
    assert sql(archive_home, "SELECT id, status, embargo_until, redaction_level, wrapped_key FROM stories") == before
    database.upgrade()
