"""One publisher at a time (and a few uploads per account): the node's lock file, and on
PostgreSQL a lock the whole database sees.

Two scopes. The node lock (an exclusive lock file in the instance folder) guards what
belongs to one machine: its search index, its key file. The database lock (a PostgreSQL
advisory lock, archive/storage/dialect.py) guards what every machine shares: releasing, taking
back and re-keying stories. Both are dropped by the kernel or the server when their holder
dies, so kill -9 never leaves one stuck. Always node first, then database, so two holders
never wait on each other crosswise.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from archive.storage import dialect

Lock = AbstractContextManager[None]
LOCK_FILE = "publish.lock"
KEYS_LOCK_FILE = "keys.lock"
# The advisory lock's key: any fixed 64-bit number no other program on the database uses
# (the first eight bytes of SHA-256("escrow.publisher"), as a signed integer).
PUBLISHER_KEY = 0x121B_F5CF_E1E1_5459
# The key ring's lock (SHA-256("escrow.keys"), the same way).
KEYS_KEY = -0x2CD8_88E7_E399_4740
# An account's upload slots on PostgreSQL: two-key advisory locks (UPLOADS_SPACE, account * 16 + slot).
UPLOADS_SPACE = 0x4553_5550  # "ESUP"
UPLOADS_FOLDER = "uploads"


def _open(home: Path, name: str = LOCK_FILE) -> int:
    home.mkdir(parents=True, exist_ok=True)
    return os.open(home / name, os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def publisher(home: Path, engine: Engine | None = None) -> Iterator[None]:
    """Hold the publisher lock; a second run waits until the first is done.

    With `engine` on PostgreSQL, also hold the database's publisher lock, so publishers,
    takedowns and key rotations on other machines wait too. Without it (or on SQLite)
    only this instance folder's runs are kept apart.
    """
    fd = _open(home)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if engine is None:
            yield
        else:
            with dialect.database_lock(engine, PUBLISHER_KEY):
                yield
    finally:
        os.close(fd)


@contextmanager
def key_ring(home: Path, engine: Engine | None = None, *, exclusive: bool) -> Iterator[None]:
    """Hold the key ring's lock: shared to wrap new data keys, exclusive to change the ring.

    Whoever wraps a data key reads the ring inside the shared lock and commits before
    leaving it; a rotation adds its new master key and drops the old one only inside
    the exclusive lock. So no data key is ever wrapped under a master key that a rotation
    is about to drop, and no wrapper waits for a whole rotation, only for its two short
    ring changes. With `engine` on PostgreSQL every machine's wrappers are kept apart too.
    """
    fd = _open(home, KEYS_LOCK_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if engine is None:
            yield
        else:
            with dialect.database_lock(engine, KEYS_KEY, shared=not exclusive):
                yield
    finally:
        os.close(fd)


@contextmanager
def node(home: Path) -> Iterator[bool]:
    """Try the node lock without waiting; yield whether it is held.

    For work that may simply be skipped while a publisher or a takedown runs on this
    machine, such as the index check before a search.
    """
    fd = _open(home)
    try:
        yield _try(fd)
    finally:
        os.close(fd)


def _try(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def upload_slot(home: Path, engine: Engine | None, account_id: int, slots: int) -> Iterator[int | None]:
    """Take one of an account's `slots` upload slots without waiting, held until the block
    ends; yield its number, or None when all are taken (on this machine or, on PostgreSQL,
    any other). A slot's holder that dies gives it back (the kernel drops its lock file's
    lock, the server its advisory lock)."""
    if not 1 <= slots <= 16:
        raise ValueError("an account has 1 to 16 upload slots")
    folder = home / UPLOADS_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for slot in range(slots):
        fd = os.open(folder / f"{account_id}-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _try(fd):
                continue
            if engine is None:
                yield slot
                return
            with dialect.database_try_lock(engine, UPLOADS_SPACE, (account_id * 16 + slot) % 2**31) as held:
                if held:
                    yield slot
                    return
        finally:
            os.close(fd)
    yield None
