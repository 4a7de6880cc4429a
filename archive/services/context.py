"""What every operation works with: the archive's config, session, engine, key ring and index.

One `Archive` per web request or command. The operations in this package own their
transaction (commit on success, roll back on any failure), the locks they need and their
audit entries; a door only builds the context, calls an operation and shows its result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, g, has_request_context
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archive import db, reading_room, users
from archive.config import Config
from archive.reading_room.index import Index
from archive.release import locks
from archive.users import User
from archive.vault import keys
from archive.vault.keys import Keyring


@dataclass
class Archive:
    """One door's handle on the archive; the key ring is unlocked once, on first use."""

    config: Config
    session: Session
    engine: Engine
    _keyring: Keyring | None = field(default=None, repr=False)

    @property
    def keyring(self) -> Keyring:
        """The key ring, checked against this database (read once per request or command)."""
        if self._keyring is None:
            self._keyring = keys.unlock(self.session, self.config)
        return self._keyring

    @property
    def index(self) -> Index:
        """This process's search index handle."""
        return reading_room.index()

    def user(self, email: str) -> User:
        """An account by email (the CLI's --as); NotFound if there is none."""
        return users.by_email(self.session, email)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit what the block wrote, or roll all of it back if it raises."""
        try:
            yield self.session
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    @contextmanager
    def sealing(self) -> Iterator[Keyring]:
        """Hold the key ring's shared lock, with the ring re-read inside it: for new data keys.

        The block commits before the lock is left (a rotation waits for it), so every data
        key it wraps is under a master key that stays in the ring until re-wrapped.
        """
        with locks.key_ring(self.config.home, self.engine, exclusive=False):
            self._keyring = keys.unlock(self.session, self.config)
            keys.require_newest(self.session, self._keyring)
            with self.transaction():
                yield self._keyring

    def ring_change(self) -> locks.Lock:
        """The key ring's exclusive lock, for a rotation's two ring changes."""
        return locks.key_ring(self.config.home, self.engine, exclusive=True)

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Hold the publisher lock (every machine's, on PostgreSQL)."""
        with locks.publisher(self.config.home, self.engine):
            yield


def current() -> Archive:
    """The archive of the running request (one per request) or command."""
    if has_request_context():
        found = g.get("escrow_archive")
        if found is None:
            found = g.escrow_archive = _new()
        return found
    return _new()


def _new() -> Archive:
    config: Config = current_app.config["ESCROW_CONFIG"]
    return Archive(config=config, session=db.db.session(), engine=db.db.engine)
