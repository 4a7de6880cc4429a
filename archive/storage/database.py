"""The database: one SQLAlchemy metadata, UTC datetimes, migrations; SQLite or PostgreSQL.

What differs between the two lives in archive/storage/dialect.py; this module stays neutral.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, inspect
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from archive.errors import NotInitialised
from archive.storage import dialect
from archive.storage.paths import MIGRATIONS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model; models stay free of Flask."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored as naive UTC so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the archive stores aware UTC instants only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


db = SQLAlchemy(metadata=Base.metadata)


# Tables whose rows have a secret destroyed in place: a withdrawn story's wrapped data key.
SHREDDED_TABLES = ("stories",)


def init_app(app: Flask) -> None:
    """Bind the database to the app and set up its connections (SQLite pragmas)."""
    db.init_app(app)
    with app.app_context():
        dialect.harden(db.engine)


def with_migrations(app: Flask) -> None:
    """Give the app Flask-Migrate (and so Alembic, a tenth of a second to import), which only the
    commands that migrate need: `init`, `restore`, `escrow db`."""
    from flask_migrate import Migrate

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(MIGRATIONS), render_as_batch=True)


def upgrade() -> None:
    """Run every Alembic migration up to head (inside an app context)."""
    from flask_migrate import upgrade as alembic_upgrade

    with_migrations(current_app)
    alembic_upgrade(directory=str(MIGRATIONS))


def is_migrated(engine: Engine) -> bool:
    """Whether the database has been built by the migrations."""
    return inspect(engine).has_table("alembic_version")


def make_private(url: str) -> None:
    """Make an SQLite database file readable by its owner only (a server keeps its own files private)."""
    dialect.make_private(url)


def require_initialised(url: str) -> None:
    """Fail with a clear line, and without creating a file, if no database has been set up yet."""
    path = dialect.sqlite_file(url)
    if path is not None and not path.is_file():
        raise NotInitialised(f"no archive database at {path}: run 'escrow init' first")
    if not is_migrated(db.engine):
        raise NotInitialised("the archive database has no tables: run 'escrow init' first")


def scrub_journal(session: Session) -> None:
    """After destroying data (a data key), leave no old copy of it in the database's files."""
    dialect.scrub(session, SHREDDED_TABLES)
