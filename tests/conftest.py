"""Fixtures: an instance folder built by `escrow init` (migrations), its app, users and stories."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from archive import create_app, db, users
from archive.config import Config
from archive.users import User
from archive.vault import keys
from archive.vault.keys import Keyring
from tests.helpers import escrow


@pytest.fixture(scope="session")
def initialised_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instance folder built by `escrow init` (its database by the migrations), copied per test."""
    home = tmp_path_factory.mktemp("template") / "instance"
    result = escrow(home, "init")
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def archive_home(tmp_path: Path, initialised_template: Path) -> Path:
    """A fresh initialised instance folder (database, master key 0600, audit log)."""
    home = tmp_path / "instance"
    shutil.copytree(initialised_template, home)
    (home / "master.key").chmod(0o600)
    return home


@pytest.fixture
def config(archive_home: Path) -> Config:
    return Config.for_home(archive_home, testing=True)


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    with app.app_context():
        yield app
        db.db.session.remove()
        db.db.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Session:
    return db.db.session()


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
