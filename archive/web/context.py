"""What a request works with: the database session, the key ring, the index, the acting user."""

from __future__ import annotations

from flask import abort, current_app
from flask_login import current_user
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archive import db, reading_room
from archive.config import Config
from archive.reading_room.index import Index
from archive.users import User
from archive.vault import keys
from archive.vault.keys import Keyring


def config() -> Config:
    """The running archive's configuration."""
    return current_app.config["ESCROW_CONFIG"]


def session() -> Session:
    """The request's database session (removed at the end of the request)."""
    return db.db.session()


def engine() -> Engine:
    """The database engine (the publisher lock takes its database-wide lock through it)."""
    return db.db.engine


def keyring() -> Keyring:
    """The key ring, read and checked on each use: a rotation elsewhere is seen at once."""
    return keys.unlock(session(), config())


def index() -> Index:
    """This process's index handle."""
    return reading_room.index()


def user() -> User:
    """The signed-in user (views are guarded, so there is one)."""
    if not current_user.is_authenticated:
        abort(401)
    return current_user._get_current_object()
