"""What differs between SQLite and PostgreSQL, kept in one place.

SQLite: transactions that begin when SQLAlchemy begins them (BEGIN IMMEDIATE for a unit of
work that writes), connection pragmas (secure_delete, WAL, foreign keys), the database file's
mode, scrubbing the write-ahead log after data is destroyed. PostgreSQL: rewriting a table so a
destroyed key leaves no old row version in its files, the advisory lock that every machine
on one database sees, and the server-side cursor of streamed queries. Everything else in
the archive speaks SQLAlchemy and runs unchanged on both.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from archive.errors import IncompleteShred
from archive.messages import N_

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# Server-side TCP keepalives for the lock's connection: a publisher whose machine vanished
# without closing its socket gives the lock up within about a minute, not after hours.
_KEEPALIVES = ("SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10",
               "SET tcp_keepalives_count = 3")


# Whether the transactions begun in this context write: a unit of work that writes sets it
# (units.py), and SQLite's transactions then begin with BEGIN IMMEDIATE.
_WRITING: ContextVar[bool] = ContextVar("escrow_writing", default=False)


def harden(engine: Engine) -> None:
    """Set the engine's connections up: SQLite's pragmas and transactions; PostgreSQL's cursor
    for streamed queries."""
    if engine.dialect.name == SQLITE:
        event.listen(engine, "connect", _harden_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    elif engine.dialect.name == POSTGRESQL:
        event.listen(engine, "connect", _use_stream_cursors)


@contextmanager
def writing(writes: bool) -> Iterator[None]:
    """Whether transactions begun inside the block write (SQLite: they take the write lock at BEGIN)."""
    token = _WRITING.set(writes)
    try:
        yield
    finally:
        _WRITING.reset(token)


def _begin_sqlite(conn: Connection) -> None:
    """Begin SQLite's transaction when SQLAlchemy begins one, as SQLAlchemy's documentation for
    pysqlite says (Serializable isolation / Savepoints / Transactional DDL). pysqlite's own
    handling sends BEGIN only before a data change: reads ran outside any transaction, a
    savepoint was its own commit, and a batch held nothing between its stories. A transaction
    that writes begins IMMEDIATE: it takes the write lock before its first read, so what it
    decides on cannot change before it writes (a deferred one would fail at its first write if
    another had written since its first read)."""
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _WRITING.get() else "BEGIN")


def _harden_sqlite(connection: Any, _record: Any) -> None:
    # secure_delete overwrites freed pages, so a shredded key or an old version
    # does not linger in the file; WAL lets readers run beside the publisher.
    if isinstance(connection, sqlite3.Connection):
        # pysqlite's own BEGIN off: _begin_sqlite sends it (see there).
        connection.isolation_level = None
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


@cache
def _stream_cursor() -> type[Any]:
    """psycopg's server-side cursor, counted closed once collected (psycopg is imported only on
    PostgreSQL: SQLite's commands do not pay for it).

    PostgreSQL closes such a cursor itself when its transaction ends, so one left unread
    by an error (a tampered audit log stops `audit verify` midway) holds nothing; only its
    client object lingers, and psycopg would warn when it is collected. Mark it closed
    then, on the client side only: a finaliser does no I/O and takes no lock.
    """
    import psycopg

    class StreamCursor(psycopg.ServerCursor[Any]):
        """The server-side cursor of a streamed query (yield_per)."""

        def __del__(self, *args: Any) -> None:
            if not self.closed:
                self._close()
            super().__del__(*args)

    return StreamCursor


def _use_stream_cursors(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.server_cursor_factory = _stream_cursor()


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == SQLITE and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def make_private(url: str) -> None:
    """Make an SQLite database file readable by its owner only (SQLite copies this to -wal/-shm).

    A server database keeps its files in the server's own, private data directory.
    """
    path = sqlite_file(url)
    if path is not None and path.exists():
        path.chmod(0o600)


def scrub(session: Session, tables: Sequence[str]) -> None:
    """After destroying data in place, leave no old copy of it in the database's own files.

    SQLite's secure_delete has zeroed the freed bytes of the main file; what remains is the
    old page image in the write-ahead log, which a TRUNCATE checkpoint removes. PostgreSQL
    keeps the old row version in the table's files until VACUUM FULL rewrites the table
    (`tables` are small: keys and control columns only). Its write-ahead log segments are
    recycled by the server; see README ("Past one machine").

    Either waits SHRED_WAIT_SECONDS at most for transactions open on the tables (a reader pins
    SQLite's log; VACUUM FULL waits for every transaction on its table, and every query on it
    would queue behind that wait), then says the shred is incomplete (IncompleteShred).
    """
    bind = session.get_bind()
    if bind.dialect.name == SQLITE:
        session.commit()  # a checkpoint waits for every reader, ours included
        _truncate_wal(bind if isinstance(bind, Engine) else bind.engine)
    elif bind.dialect.name == POSTGRESQL:
        session.commit()  # VACUUM waits for every transaction on the table, ours included
        engine = bind if isinstance(bind, Engine) else bind.engine
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            vacuum_full(conn, tables)


SHRED_WAIT_SECONDS = 5.0  # how long a shred waits for open transactions before it says it is incomplete
WAL_POLL_SECONDS = 0.1
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout that ran out


def vacuum_full(conn: Connection, tables: Sequence[str]) -> None:
    """VACUUM (FULL) each table on an AUTOCOMMIT connection, waiting at most SHRED_WAIT_SECONDS
    for the transactions open on it; IncompleteShred, naming the table, past that."""
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(f"SET lock_timeout = {max(1, round(SHRED_WAIT_SECONDS * 1000))}")
    try:
        for table in tables:
            try:
                conn.exec_driver_sql(f"VACUUM (FULL) {quote(table)}")
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                raise IncompleteShred(N_(
                    "the change is saved, but the files of table %(table)s still hold an old copy of what it "
                    "removed because another transaction has the table open: when it has ended, run "
                    "VACUUM (FULL) %(table)s on the database", table=table)) from None
    finally:
        conn.exec_driver_sql("RESET lock_timeout")


def _truncate_wal(engine: Engine) -> None:
    """Checkpoint and truncate the write-ahead log, waiting a bounded time for open readers.

    A reader (a request in flight, a backup) pins the log's old frames; a TRUNCATE
    checkpoint then reports busy and leaves them, and with them the destroyed key, on
    disk. The result is checked, never assumed: the operator must know a shred is not done.
    The checkpoint runs outside any transaction (inside one, SQLite refuses it): on the
    driver's connection, which SQLAlchemy's begin event never sees.
    """
    url = str(engine.url)
    deadline = time.monotonic() + SHRED_WAIT_SECONDS
    while True:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            cursor.close()
        finally:
            raw.close()
        if busy == 0:
            return
        if time.monotonic() >= deadline:
            raise IncompleteShred(N_(
                "the change is saved, but the write-ahead log of %(file)s still holds an old copy of what it "
                "removed because another process has the database open: stop every reader (server, backup, "
                "shell) and run PRAGMA wal_checkpoint(TRUNCATE) on it", file=sqlite_file(url)))
        time.sleep(WAL_POLL_SECONDS)  # a pause between polls, not synchronisation


@contextmanager
def database_lock(engine: Engine, key: int, *, shared: bool = False) -> Iterator[None]:
    """Hold a lock that every machine on this database sees, waiting for it if need be.

    `shared` holders exclude only an exclusive holder, not each other.

    PostgreSQL: a session advisory lock on a connection of its own, so commits in the
    work it guards do not release it; the server drops it when that connection ends,
    so a killed holder never leaves it stuck. SQLite: nothing to do, one machine holds
    the database and the caller's lock file guards it.
    """
    if engine.dialect.name != POSTGRESQL:
        yield
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in _KEEPALIVES:
            conn.exec_driver_sql(statement)
        kind = "_shared" if shared else ""
        conn.execute(text(f"SELECT pg_advisory_lock{kind}(:key)"), {"key": key})
        try:
            yield
        finally:
            _unlock(conn, key, kind)


def _unlock(conn: Connection, key: int, kind: str) -> None:
    try:
        conn.execute(text(f"SELECT pg_advisory_unlock{kind}(:key)"), {"key": key})
    except SQLAlchemyError:
        conn.invalidate()  # the connection is gone, and the lock with it


def transaction_lock(session: Session, key: int) -> None:
    """Serialise the session's transaction with every other one taking the same key, until it
    ends. PostgreSQL: a transaction advisory lock. SQLite: nothing to do, since the caller's
    first write takes the database's one write lock, which another writer waits for."""
    if session.get_bind().dialect.name == POSTGRESQL:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@contextmanager
def database_try_lock(engine: Engine, space: int, key: int) -> Iterator[bool]:
    """Try a lock every machine on this database sees, without waiting; yield whether it is held.

    PostgreSQL: a session advisory lock of the two-key form (`space`, `key`: 32-bit numbers; a
    space apart from the one-key locks) on a connection of its own, dropped by the server if
    its holder dies. SQLite: always held, the caller's lock file guarding its one machine.
    """
    if engine.dialect.name != POSTGRESQL:
        yield True
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in _KEEPALIVES:
            conn.exec_driver_sql(statement)
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:space, :key)"),
                                 {"space": space, "key": key}).scalar())
        try:
            yield held
        finally:
            if held:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), {"space": space, "key": key})
                except SQLAlchemyError:
                    conn.invalidate()  # the connection is gone, and the lock with it


def insert_new(session: Session, table: Any) -> Any:
    """An INSERT that leaves out each row a unique constraint already holds (ON CONFLICT DO
    NOTHING, which both databases speak, each in its dialect's statement)."""
    if session.get_bind().dialect.name == POSTGRESQL:
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
