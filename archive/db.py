"""The database: one SQLAlchemy metadata, UTC datetimes, SQLite hardening, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_migrate import upgrade as _alembic_upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event, inspect
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from archive.errors import NotInitialised
from archive.paths import MIGRATIONS

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
migrate = Migrate()


def init_app(app: Flask) -> None:
    """Bind the database and migrations to the app and harden SQLite connections."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _harden_sqlite)


def _harden_sqlite(connection: Any, _record: Any) -> None:
    # secure_delete overwrites freed pages, so a shredded key or an old version
    # does not linger in the file; WAL lets readers run beside the publisher.
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


def upgrade() -> None:
    """Run every Alembic migration up to head (inside an app context)."""
    _alembic_upgrade(directory=str(MIGRATIONS))


def is_migrated(engine: Engine) -> bool:
    """Whether the database has been built by the migrations."""
    return inspect(engine).has_table("alembic_version")


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def make_private(url: str) -> None:
    """Make an SQLite database file readable by its owner only (SQLite copies this to -wal/-shm)."""
    path = _sqlite_file(url)
    if path is not None and path.exists():
        path.chmod(0o600)


def require_initialised(url: str) -> None:
    """Fail with a clear line, and without creating a file, if no SQLite database exists yet."""
    path = _sqlite_file(url)
    if path is not None and not path.is_file():
        raise NotInitialised(f"no archive database at {path}: run 'escrow init' first")
    if not is_migrated(db.engine):
        raise NotInitialised("the archive database has no tables: run 'escrow init' first")


def scrub_journal(session: Any) -> None:
    """After destroying data, leave no old page image of it in SQLite's write-ahead log."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        session.commit()
