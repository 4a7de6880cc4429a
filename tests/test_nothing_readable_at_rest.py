"""Canary words planted in every field of sealed stories are nowhere readable at rest.

On SQLite that is every byte under the instance folder, the database file included. On
PostgreSQL the database's files are the server's: the instance folder is searched, and every
value of every row is read back through SQL (tests/helpers.assert_no_canary does both).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from archive.accounts.users import User, by_email
from archive.audit import AuditEntry
from archive.config import Config
from archive.storage import database
from archive.times import utcnow
from archive.vault import drafts, keys, stories
from archive.vault.keys import Keyring
from tests.helpers import (
    assert_no_canary,
    canaries,
    database_bytes,
    database_canaries,
    escrow,
    find_canaries,
    story,
    write_lines,
)


def _canary_story(words: list[str]) -> dict[str, object]:
    (title, narrator, person, org, place, standin, summary, interviewer, where, notes, tag) = words
    return story(
        title=f"The {title} story", narrator=narrator,
        transcript=(f"We met [[person:{person}|{standin}]] at [[org:{org}]].\n"
                    f"Later in [[place:{place}]] {narrator} spoke."),
        summary=f"About {summary}.", interviewer=interviewer, place=where, notes=notes,
        tags=[tag], language="es",
    )


def test_every_field_of_a_sealed_story_is_unreadable_at_rest(archive_home: Path, tmp_path: Path,
                                                             app: Flask, config: Config) -> None:
    words, others = canaries(11), canaries(11)
    file = write_lines(tmp_path / "canary.jsonl", _canary_story(words), _canary_story(others))
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
           "--password-stdin", input="a long enough password\n")

    imported = escrow(archive_home, "stories", "import", str(file), "--as", "org@example.org")
    listed = escrow(archive_home, "stories", "list")
    session = database.db.session()
    ring = keys.unlock(session, config)
    organizer = by_email(session, "org@example.org")
    story_id = stories.listing(session)[0].id
    opened = stories.open_sealed(session, ring, organizer, story_id)
    session.commit()
    database.db.session.remove()
    database.db.engine.dispose()

    assert imported.exit_code == 0 and listed.exit_code == 0
    assert opened.notes in (words[9], others[9])  # the canaries are really in there
    assert not any(w in listed.output for w in [*words, *others])
    assert_no_canary(archive_home, *words, *others)


def test_the_canary_hunt_would_see_a_plaintext_leak(archive_home: Path) -> None:
    word = canaries(1)[0]
    (archive_home / "leak.log").write_text(f"oops {word}\n")

    assert find_canaries(archive_home, word) == [f"leak.log: {word}"]


def test_the_database_canary_hunt_would_see_a_plaintext_leak(archive_home: Path, app: Flask) -> None:
    word = canaries(1)[0]
    session = database.db.session()
    session.add(AuditEntry(seq=999, at=utcnow(), actor="x", action="leak", story_id=None,
                           detail=f'{{"oops": "{word}"}}', prev_hash="", hash=""))
    session.commit()

    assert database_canaries(archive_home, word) == [f"database: {word}"]


def test_a_shredded_data_key_leaves_no_old_copy_in_the_database(
        archive_home: Path, session: Session, keyring: Keyring, organizer: User, database_kind: str) -> None:
    sealed = stories.submit(session, keyring, organizer, drafts.parse(story()))
    session.commit()
    wrapped = sealed.wrapped_key
    assert wrapped is not None and wrapped in database_bytes(archive_home)
    files_before = _table_files(session, database_kind)

    stories.shred(sealed)
    session.commit()
    database.scrub_journal(session)

    if database_kind == "sqlite":  # secure_delete zeroed the old cell, the checkpoint emptied the log
        assert session.connection().exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert wrapped not in database_bytes(archive_home)
    else:  # VACUUM FULL wrote the table anew: the old row version is in no file of it
        assert _table_files(session, database_kind) != files_before
    assert wrapped not in database_bytes(archive_home)


def _table_files(session: Session, database_kind: str) -> object:
    if database_kind == "sqlite":
        return None
    return session.connection().exec_driver_sql("SELECT pg_relation_filenode('stories')").scalar()


def test_no_plaintext_column_exists_for_content(app: Flask) -> None:
    columns = {c["name"] for c in inspect(database.db.engine).get_columns("stories")}
    assert columns == {"id", "owner_id", "status", "embargo_until", "redaction_level",
                       "release_review", "version", "dek_id", "wrapped_key", "kek_version",
                       "created_at", "updated_at", "embargo_changed_at", "recording_release", "hold",
                       "cooling_until"}
