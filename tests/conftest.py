"""Fixtures: an instance folder built by `escrow init` (migrations), its app, users and stories.

On SQLite (DATABASE_URL unset) the database is the file in each test's instance folder; on
PostgreSQL (DATABASE_URL set to a server's database) each test has its own database, a copy
of one built by `escrow init`, and DATABASE_URL names it for the test's CLI calls
(tests/databases.py). Either way the instance folder, with its key file and index, is the
test's own under tmp_path.

A test that reads an archive already in use (the API, OAI-PMH, export and search pages) asks for
a fixture made with `prebuilt`: the archive is built once per session, by the same commands as
before, and each test gets a copy of it (its folder copied, its database made from it as a
template), so a hundred read-only tests pay for one import and one publish-due, not a hundred.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import settings
from sqlalchemy.orm import Session

from archive import create_app
from archive.accounts import users
from archive.accounts.users import User
from archive.config import Config
from archive.storage import database
from archive.vault import keys
from archive.vault.keys import Keyring
from tests.databases import SERVER_URL, Server
from tests.helpers import escrow
from tests.prebuilt import Snapshot, Snapshots, steps

# Generated-input tests judge behaviour, not speed (benchmarks do that): no per-example deadline,
# which a shared, noisy machine would turn into flaky failures.
settings.register_profile("escrow", deadline=None)
settings.load_profile("escrow")

# The comparison of the two search backends, and search shared by two nodes, need PostgreSQL's
# backend: collected on the PostgreSQL run (DATABASE_URL set, as `.ci/run`'s second run does),
# not on SQLite's, where only Whoosh exists.
collect_ignore = [] if SERVER_URL else ["test_search_backends.py", "test_search_shared.py"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """The pages read the compiled catalogues: compile again any whose .po changed since the
    editable install (or the last `pybabel compile`) did, so the suite tests the .po as it is."""
    from archive.storage.paths import TRANSLATIONS
    from hatch_build import compile_catalogs

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            compile_catalogs(TRANSLATIONS, TRANSLATIONS)
            return


@pytest.fixture(scope="session")
def server() -> Iterator[Server | None]:
    """The PostgreSQL server the suite runs on, or None on SQLite."""
    if SERVER_URL is None:
        yield None
        return
    found = Server(SERVER_URL)
    yield found
    found.close()


@pytest.fixture(autouse=True)
def _only_its_own_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the server's own database: only one made for it (database_url, new_database)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def initialised_template(tmp_path_factory: pytest.TempPathFactory, server: Server | None) -> Path:
    """One instance folder built by `escrow init` (its database by the migrations), copied per test."""
    home = tmp_path_factory.mktemp("template") / "instance"
    env = {} if server is None else {"DATABASE_URL": server.create_template()}
    result = escrow(home, "init", env=env)
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture(scope="session")
def snapshots(tmp_path_factory: pytest.TempPathFactory, server: Server | None,
              initialised_template: Path) -> Snapshots:
    return Snapshots(tmp_path_factory, server, initialised_template)


@pytest.fixture
def archive_snapshot(request: pytest.FixtureRequest, snapshots: Snapshots) -> Snapshot:
    """The archive this test starts from: as `escrow init` left it, or as its prebuilt fixtures built it."""
    wanted = steps(request)
    return snapshots.of(wanted) if wanted else snapshots.initialised


@pytest.fixture
def database_url(server: Server | None, archive_snapshot: Snapshot,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """This test's database: None on SQLite (the file in archive_home), else its own copy of the
    snapshot's on PostgreSQL, which DATABASE_URL then names for the CLI (and child processes)."""
    if server is None:
        yield None
        return
    url = server.copy_of_template(archive_snapshot.database)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    server.drop(url)


@pytest.fixture
def new_database(server: Server | None) -> Callable[[], str | None]:
    """Make an empty database for a second archive: None on SQLite, where a new instance
    folder brings its own file. Pass it on as `env=database_env(url)`."""
    return lambda: None if server is None else server.empty()


@pytest.fixture
def archive_home(tmp_path: Path, archive_snapshot: Snapshot, database_url: str | None) -> Path:
    """A fresh initialised instance folder (database, master key 0600, audit log), or a copy of
    the prebuilt archive the test asks for."""
    home = tmp_path / "instance"
    shutil.copytree(archive_snapshot.home, home)
    (home / "master.key").chmod(0o600)
    return home


@pytest.fixture(autouse=True)
def _search_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The search backend of the test's archive: `auto` (PostgreSQL's on PostgreSQL), or Whoosh's
    for a test marked `whoosh` (its commands and child processes read ESCROW_SEARCH)."""
    if request.node.get_closest_marker("whoosh"):
        monkeypatch.setenv("ESCROW_SEARCH", "whoosh")
        return "whoosh"
    monkeypatch.delenv("ESCROW_SEARCH", raising=False)
    return "auto"


@pytest.fixture
def config(archive_home: Path, database_url: str | None, _search_backend: str) -> Config:
    return Config.for_home(archive_home, database_url=database_url, testing=True, password_cost="test",
                           search=_search_backend)


@pytest.fixture
def database_kind(config: Config) -> str:
    """The database kind this run is on: 'sqlite' or 'postgresql'."""
    return "sqlite" if config.database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    with app.app_context():
        yield app
        database.db.session.remove()
        database.db.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Session:
    return database.db.session()


@pytest.fixture
def keyring(session: Session, config: Config) -> Keyring:
    return keys.unlock(session, config)


def _user(session: Session, email: str, role: str) -> User:
    user = users.add(session, email, role, "correct horse battery staple")
    session.commit()
    return user


@pytest.fixture
def organizer(session: Session) -> User:
    return _user(session, "org@example.org", "organizer")


@pytest.fixture
def other_organizer(session: Session) -> User:
    return _user(session, "other@example.org", "organizer")


@pytest.fixture
def researcher(session: Session) -> User:
    return _user(session, "reader@example.org", "researcher")


@pytest.fixture
def admin(session: Session) -> User:
    return _user(session, "admin@example.org", "admin")


@pytest.fixture
def auckland() -> Iterator[None]:
    """The server's own zone set far from UTC (+12/+13), as a test of 'it changes nothing'."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Auckland"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()
