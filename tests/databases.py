"""The database a test runs on: SQLite in its instance folder, or a PostgreSQL database of its own.

With DATABASE_URL unset the suite runs on SQLite, as an archive does by default. With
DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB naming a database on a real
server whose role may create databases (`.ci/run` sets one up), the session builds one
template database with `escrow init` (the migrations), and every test gets its own copy,
CREATE DATABASE ... TEMPLATE, dropped after it. A server that cannot be reached fails
every test that needs a database, with the driver's reason; nothing is skipped.
"""

from __future__ import annotations

import itertools
import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

SERVER_URL = os.environ.get("DATABASE_URL") or None  # read once, before any test sets its own
# The database new ones are copied from: template0 (nothing in it), or one in which a superuser
# created the RUM extension (`.ci/run` does, in template1), which the tests' role cannot create.
BLANK = os.environ.get("ESCROW_TEST_TEMPLATE") or "template0"


class Server:
    """A PostgreSQL server on which this session creates and drops its databases."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise RuntimeError(f"the tests run on SQLite (DATABASE_URL unset) or on PostgreSQL "
                               f"(DATABASE_URL=postgresql+psycopg://...), not on {parsed.get_backend_name()}")
        self.url = parsed
        self.admin: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.prefix = f"escrow_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self._numbers = itertools.count(1)
        self._created: list[str] = []

    def url_of(self, name: str) -> str:
        """The SQLAlchemy URL of one of this session's databases, password included."""
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create_template(self) -> str:
        """The session's template database, empty until `escrow init` builds it."""
        return self._create(self.template, BLANK)

    def copy_of_template(self, template: str | None = None) -> str:
        """A new database holding what `escrow init` built in the template (or what another
        database of this session holds, one no connection is open to: a prebuilt archive's)."""
        return self._create(f"{self.prefix}_{next(self._numbers)}", template or self.template)

    def empty(self) -> str:
        """A new, empty database (for a second archive, or a restore)."""
        return self._create(f"{self.prefix}_{next(self._numbers)}", BLANK)

    def _create(self, name: str, template: str) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
        self._created.append(name)
        return self.url_of(name)

    def drop(self, url: str) -> None:
        """Drop one of this session's databases. A connection a test left open to it is ended,
        and then fails the test: a leak, of the test's or of the archive's, is found where it
        happens, not as a flaky error in whichever test the forgotten connection is freed."""
        name = make_url(url).database
        assert name is not None and name.startswith(self.prefix)
        with self.admin.connect() as conn:
            try:  # a plain DROP waits a few seconds for connections to go, and stops an autovacuum
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))  # worker (FORCE cannot: not ours)
                left = []
            except OperationalError:
                left = conn.execute(text(
                    "SELECT pg_terminate_backend(pid), state, left(query, 120) FROM pg_stat_activity"
                    " WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"),
                    {"name": name}).all()
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        self._created.remove(name)
        assert not left, f"the test left {len(left)} connection(s) open to its database: " + \
            "; ".join(f"{state}, last statement {query!r}" for _, state, query in left)

    def close(self) -> None:
        """Drop every database this session made, the template last."""
        for name in reversed(self._created):
            self.drop(self.url_of(name))
        self.admin.dispose()
