"""Canary words planted in every field of sealed stories are nowhere readable under the instance."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask import Flask

from archive import db
from archive.config import Config
from archive.users import by_email
from archive.vault import keys, stories
from tests.helpers import assert_no_canary, canaries, escrow, find_canaries, story, write_lines


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
    words = canaries(11)
    edit_words = canaries(2)
    file = write_lines(tmp_path / "canary.jsonl", _canary_story(words), _canary_story(canaries(11)))
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
           "--password-stdin", input="a long enough password\n")

    imported = escrow(archive_home, "stories", "import", str(file), "--as", "org@example.org")
    listed = escrow(archive_home, "stories", "list")
    session = db.db.session()
    ring = keys.unlock(session, config)
    organizer = by_email(session, "org@example.org")
    story_id = stories.listing(session)[0].id
    stories.edit(session, ring, organizer, story_id,
                 {"title": f"Renamed {edit_words[0]}", "notes": edit_words[1]})
    session.commit()
    opened = stories.open_sealed(session, ring, organizer, story_id)
    session.commit()
    db.db.session.remove()
    db.db.engine.dispose()

    assert imported.exit_code == 0 and listed.exit_code == 0
    assert opened.notes == edit_words[1]  # the canaries are really in there
    assert not any(w in listed.output for w in words)
    assert_no_canary(archive_home, *words, *edit_words)


def test_the_canary_hunt_would_see_a_plaintext_leak(archive_home: Path) -> None:
    word = canaries(1)[0]
    (archive_home / "leak.log").write_text(f"oops {word}\n")

    assert find_canaries(archive_home, word) == [f"leak.log: {word}"]


def test_sqlite_runs_with_secure_delete_on(app: Flask) -> None:
    with db.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_no_plaintext_column_exists_for_content(archive_home: Path) -> None:
    with sqlite3.connect(archive_home / "escrow.db") as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(stories)")}
    assert columns == {"id", "owner_id", "status", "embargo_until", "redaction_level",
                       "release_review", "version", "dek_id", "wrapped_key", "kek_version",
                       "created_at", "updated_at"}
