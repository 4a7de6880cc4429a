"""What every operation works with: the archive's config, session, engine, key ring and index,
and the unit of work (archive/storage/units.py) each operation that writes opens on them.

One `Archive` per web request or command. The operations in this package own their unit of
work (its commit on success, its rollback on any failure, the effects around them), the locks
they need and their audit entries; a door only builds the context, calls an operation and
shows its result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, g, has_request_context
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archive import reading_room
from archive.accounts import users
from archive.accounts.users import User
from archive.config import Config
from archive.reading_room.engines import Search
from archive.storage import database, locks
from archive.storage.units import Guards, Unit
from archive.vault import keys
from archive.vault.keys import Keyring


@dataclass
class Archive:
    """One door's handle on the archive; the key ring is unlocked once, on first use."""

    config: Config
    session: Session
    engine: Engine
    _keyring: Keyring | None = field(default=None, repr=False)
    # Whether an operation of this request or command has committed a change (a door that
    # reports a failure says "nothing was changed" only when nothing was).
    changed: bool = False
    # Whether this node's index exists, once brought in step with the reading room (None: not
    # looked at yet): a request or command looks once, however many searches it makes.
    index_in_step: bool | None = None
    _unit: Unit | None = field(default=None, repr=False)

    @property
    def keyring(self) -> Keyring:
        """The key ring, checked against this database (read once per request or command)."""
        if self._keyring is None:
            self._keyring = keys.unlock(self.session, self.config)
        return self._keyring

    @property
    def search(self) -> Search:
        """This process's search backend."""
        return reading_room.search_backend()

    @contextmanager
    def unit(self, *, writes: bool = True) -> Iterator[Unit]:
        """Open the unit of work of an operation (`writes`: it changes something; on SQLite its
        transactions then hold the write lock). An operation called inside another's unit joins
        it: one commit, at the end of the outer one."""
        if self._unit is not None:
            yield self._unit
            return
        unit = Unit(self.session, self.guards(), search=self.search, media_root=self.config.media_root,
                    writes=writes)
        self._unit = unit
        try:
            with unit:
                yield unit
        finally:
            self._unit = None
            self.changed = self.changed or unit.changed

    def guards(self) -> Guards:
        """The locks and key ring reads a unit of work on this archive takes."""
        home, engine = self.config.home, self.engine

        def ring(session: Session) -> Keyring:
            return self.keyring

        def newest(session: Session) -> Keyring:
            self._keyring = keys.unlock(session, self.config)
            keys.require_newest(session, self._keyring)
            return self._keyring

        return Guards(publisher=lambda: locks.publisher(home, engine),
                      ring_shared=lambda: locks.key_ring(home, engine, exclusive=False),
                      ring_exclusive=lambda: locks.key_ring(home, engine, exclusive=True),
                      ring=ring, newest=newest)

    def user(self, email: str) -> User:
        """An account by email (the CLI's --as); NotFound if there is none."""
        return users.by_email(self.session, email)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work for an operation that only writes rows and their audit entries (no
        effects to register, no lock to take): commit what the block wrote, or roll all of it
        back if it raises."""
        with self.unit():
            yield self.session

    @contextmanager
    def sealing(self) -> Iterator[Keyring]:
        """Hold the key ring's shared lock, with the ring re-read inside it: for new data keys.

        The block commits before the lock is left (a rotation waits for it), so every data
        key it wraps is under a master key that stays in the ring until re-wrapped. Inside an
        operation's unit of work it is that unit's (`Unit.sealing`); alone, a unit of its own.
        """
        with self.unit() as unit, unit.sealing() as ring:
            yield ring


def current() -> Archive:
    """The archive of the running request (one per request) or command."""
    if has_request_context():
        found = g.get("escrow_archive")
        if found is None:
            found = g.escrow_archive = _new()
        return found
    return _new()


def finish() -> None:
    """End what the request's session still has open (its reads; every write was committed or
    rolled back by its unit of work): a request answered holds no transaction, so it pins no
    snapshot a checkpoint or a shred would wait for, even where its app context lives on."""
    found = g.get("escrow_archive") if has_request_context() else None
    if found is not None:
        found.session.rollback()


def _new() -> Archive:
    config: Config = current_app.config["ESCROW_CONFIG"]
    return Archive(config=config, session=database.db.session(), engine=database.db.engine)
