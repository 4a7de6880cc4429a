"""One operation's unit of work: its transaction, its locks, and the effects that must follow
its commit or undo what it leaves behind when it rolls back.

Modelled on invenio-records-resources' services/uow.py. The service that runs an operation
opens a unit (services/context.py) and hands it to the rooms, which never commit: they write
through `unit.session`, read the key ring, search backend, media folder and clock from it, and register
what has to happen around the commit:

- `after_commit(effect)`: once the transaction holding its cause has committed (an index
  document written, a file no row needs any more removed, the database's journal scrubbed, the
  index's old text purged). Effects run in the order they were registered; each runs even if
  one before it failed, and the first failure is raised once all have run (the commit stands:
  each effect has its repair, `index sync`, `recordings sweep`, and the error says so).
- `on_rollback(effect)`: when that transaction rolls back instead, or the savepoint
  (`unit.savepoint()`) that holds its cause does: a file written for a row that will not
  exist. Latest first.

`checkpoint()` is a deliberate commit in the middle of a run: the gate's batches, redact-again's
stories, a rotation's batches, a sealing block before it leaves the key ring's lock. What was
registered before it runs then. Everything the unit has committed stays committed when a later
step fails; `changed` says whether anything was, so a door never says "nothing was changed"
when something was.

On SQLite a writing unit's transactions begin with BEGIN IMMEDIATE (archive/storage/dialect.py): the
database's write lock is held from the transaction's first read to its commit, so what an
operation decides on (a story still sealed and due, an embargo not extended, the audit chain's
head) cannot change before it writes. A unit's first act is to end whatever transaction its
session had begun for the door (its reads), so that its own begins inside the lock.

This module is the only one that commits a database transaction (tests/test_layers.py checks
it), the database's own maintenance in archive/storage/dialect.py aside. It imports no room and no Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from archive import pauses
from archive.storage import dialect
from archive.times import utcnow

if TYPE_CHECKING:
    from archive.reading_room.engines import Search
    from archive.vault.keys import Keyring

Effect = Callable[[], object]
Lock = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class Guards:
    """The locks a unit may take and how it reads the key ring, supplied by whoever opens it.

    `publisher`: the publisher lock (releases, takedowns, re-keying). `ring_shared` and
    `ring_exclusive`: the key ring's lock, shared to wrap new data keys, exclusive to change the
    ring. `ring`: the key ring read from the key file and checked against the database;
    `newest` (read inside the shared lock) refuses a ring older than the database's newest key.
    """

    publisher: Lock
    ring_shared: Lock
    ring_exclusive: Lock
    ring: Callable[[Session], Keyring]
    newest: Callable[[Session], Keyring]


@dataclass
class _Frame:
    """Effects registered since the last commit, or inside one savepoint."""

    after: list[Effect] = field(default_factory=list)
    undo: list[Effect] = field(default_factory=list)


class Unit:
    """One operation's transaction, locks and effects. Use it as a context manager: it commits
    when the block ends well (then runs the after-commit effects), rolls back when it raises
    (then runs the rollback effects)."""

    def __init__(self, session: Session, guards: Guards, *, search: Search | None = None,
                 media_root: Path | None = None, clock: Callable[[], datetime] = utcnow,
                 writes: bool = True) -> None:
        self.session = session
        self.guards = guards
        self._search = search
        self._media_root = media_root
        self.clock = clock
        self.writes = writes
        self.changed = False  # whether a commit of this unit wrote anything
        self._keyring: Keyring | None = None
        self._frames: list[_Frame] = [_Frame()]
        self._closing: list[Effect] = []
        self._held: set[str] = set()
        self._wrote = False
        self._begun = False  # whether a database transaction is open now
        self._open = False
        self._writing: AbstractContextManager[None] | None = None

    # -- what the rooms read ------------------------------------------------------

    @property
    def keyring(self) -> Keyring:
        """The key ring, read once (again inside `sealing()`)."""
        if self._keyring is None:
            self._keyring = self.guards.ring(self.session)
        return self._keyring

    @property
    def search(self) -> Search:
        """The reading room's search backend (this node's index, or the database's)."""
        if self._search is None:
            raise RuntimeError("this unit of work was opened without a search backend")
        return self._search

    @property
    def media_root(self) -> Path:
        """The folder of sealed recordings."""
        if self._media_root is None:
            raise RuntimeError("this unit of work was opened without a media folder")
        return self._media_root

    def now(self) -> datetime:
        """The unit's clock (the real one, unless a test gives another)."""
        return self.clock()

    # -- effects ------------------------------------------------------------------

    def after_commit(self, effect: Effect) -> None:
        """Run `effect` once the transaction now open has committed."""
        self._frames[-1].after.append(effect)

    def on_rollback(self, effect: Effect) -> None:
        """Run `effect` if the transaction now open (or the savepoint around it) rolls back."""
        self._frames[-1].undo.append(effect)

    def when_closed(self, effect: Effect) -> None:
        """Run `effect` when the whole unit ends, after its last commit or its rollback (a file
        written ahead for one of several transactions, which one of them may take)."""
        self._closing.append(effect)

    def at_end(self, effect: Effect) -> None:
        """Run `effect` when the transaction now open ends, committed or rolled back (a file
        written ahead that the transaction may or may not have taken)."""
        self.after_commit(effect)
        self.on_rollback(effect)

    # -- transactions -------------------------------------------------------------

    def __enter__(self) -> Unit:
        if self._open:
            raise RuntimeError("a unit of work is entered once")
        self._open = True
        event.listen(self.session, "after_flush", self._flushed)
        event.listen(self.session, "do_orm_execute", self._executed)
        event.listen(self.session, "after_begin", self._began)
        # What the door's session began (its reads) ends here, so this unit's transaction
        # begins under its own terms: with the write lock, on SQLite, if it writes.
        self._commit()
        pauses.at("unit.open")
        if self.writes:
            self._writing = dialect.writing(True)
            self._writing.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            try:
                if kind is None:
                    self.checkpoint(last=True)
                else:
                    self._rollback(quiet=True)  # the error that stopped the block is the one to report
            finally:
                closing, self._closing = self._closing, []
                if kind is None:
                    _run(closing)
                else:
                    _run_quietly(closing)
        finally:
            if self._writing is not None:
                self._writing.__exit__(None, None, None)
                self._writing = None
            event.remove(self.session, "after_flush", self._flushed)
            event.remove(self.session, "do_orm_execute", self._executed)
            event.remove(self.session, "after_begin", self._began)
            self._open = False

    def checkpoint(self, *, last: bool = False) -> None:
        """Commit what the unit has written so far, then run the effects that waited for it.
        If the commit fails, the transaction rolls back (and its rollback effects run).

        Effects registered while no transaction is open (between two, say while a file is
        written ahead) wait for the next one's end; at the unit's `last` commit, all run."""
        began = self._begun
        try:
            self._commit()
        except BaseException:
            self._rollback(quiet=True)
            raise
        if not (began or last):
            return
        frame = self._frames[0]
        self._frames[0] = _Frame()
        _run(frame.after)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A step that only reads, outside the write lock: a list that a later transaction
        checks again, a search index brought in step. What is open commits first; the step
        reads in a transaction of its own (a plain BEGIN on SQLite), which ends with it."""
        self.checkpoint()
        with dialect.writing(False):
            yield
            self.checkpoint()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint: if the block raises, what it wrote is rolled back (and the rollback
        effects registered in it run) while the transaction goes on; if it ends well, its
        effects join the transaction's."""
        frame = _Frame()
        self._frames.append(frame)
        try:
            with self.session.begin_nested():
                yield
        except BaseException:
            self._frames.pop()
            _run(reversed(frame.undo))
            raise
        self._frames.pop()
        self._frames[-1].after += frame.after
        self._frames[-1].undo += frame.undo

    def undo(self) -> None:
        """Roll back what the unit has written since its last commit (its rollback effects run);
        what it committed before stays. For a run that records how far it got, then stops."""
        self._rollback(quiet=True)

    def _commit(self) -> None:
        # The archive's one commit of a database transaction (tests/test_layers.py).
        self.session.commit()
        if self._wrote and self.writes:
            self.changed = True
        self._wrote = self._begun = False

    def _rollback(self, *, quiet: bool = False) -> None:
        self.session.rollback()
        self._wrote = self._begun = False
        frames, self._frames = self._frames, [_Frame()]
        undo = reversed([effect for frame in frames for effect in frame.undo])
        try:
            if quiet:
                _run_quietly(undo)
            else:
                _run(undo)
        finally:
            self.session.rollback()  # whatever an effect read to decide (a file's row) holds nothing after

    def _flushed(self, session: Session, context: Any) -> None:
        self._wrote = True

    def _began(self, session: Session, transaction: Any, connection: Any) -> None:
        self._begun = True

    def _executed(self, state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self._wrote = True

    # -- locks --------------------------------------------------------------------

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Hold the publisher lock (every machine's, on PostgreSQL) for the block, unless this
        unit holds it already."""
        with self._holding("publisher", self.guards.publisher):
            yield

    @contextmanager
    def sealing(self) -> Iterator[Keyring]:
        """Hold the key ring's shared lock, with the ring read again inside it, for new data
        keys. The block's writes are committed before the lock is left (a rotation waits for
        it), so every data key wrapped in it is under a master key that stays in the ring."""
        with self._holding("ring", self.guards.ring_shared) as first:
            if first:
                self._keyring = self.guards.newest(self.session)
            yield self.keyring
            if first:
                self.checkpoint()

    def ring_change(self) -> AbstractContextManager[bool]:
        """The key ring's exclusive lock, for a rotation's two changes of the ring."""
        return self._holding("ring", self.guards.ring_exclusive)

    @contextmanager
    def _holding(self, name: str, lock: Lock) -> Iterator[bool]:
        if name in self._held:
            yield False
            return
        # Never wait for a lock with a transaction open: its holder may be waiting for what
        # that transaction holds (the write lock, a row). What is open commits first.
        self.checkpoint()
        with lock():
            self._held.add(name)
            try:
                yield True
            finally:
                self._held.discard(name)


def _run(effects: Any) -> None:
    """Run every effect; raise the first failure once all have run."""
    first: BaseException | None = None
    for effect in list(effects):
        try:
            effect()
        except BaseException as error:  # noqa: BLE001 - the others must run all the same
            first = first or error
    if first is not None:
        raise first


def _run_quietly(effects: Any) -> None:
    """Run every effect, while another error is on its way: theirs would hide it."""
    try:
        _run(effects)
    except Exception:  # noqa: BLE001, S110 - each effect's own repair (sweep, sync) remains
        pass
