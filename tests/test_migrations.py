"""The migrations build exactly the models' schema, and go down and up again with data in place."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade
from sqlalchemy import inspect

from archive import db
from archive.db import Base
from archive.paths import MIGRATIONS
from tests.helpers import escrow, story, write_lines


def test_the_migrations_head_matches_the_models(app: Flask) -> None:
    with db.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)

    assert diff == []


def test_every_migration_goes_down_and_up_again(app: Flask, archive_home: Path,
                                                tmp_path: Path) -> None:
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
           "--password-stdin", input="a long enough password\n")
    escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", story())),
           "--as", "org@example.org")

    downgrade(directory=str(MIGRATIONS), revision="base")
    assert set(inspect(db.db.engine).get_table_names()) <= {"alembic_version"}
    db.upgrade()

    assert escrow(archive_home, "stories", "list").exit_code == 0
