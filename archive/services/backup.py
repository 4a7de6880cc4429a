"""Backups of the archive's database, and restoring one into a fresh instance.

A backup holds the database only, never the master key: the operator keeps the key apart,
because whoever holds both reads every sealed story. SQLite: a copy made with SQLite's
online backup API (consistent while the archive runs), itself an SQLite file. PostgreSQL:
pg_dump's custom format (one consistent snapshot), put back with pg_restore. A backup is
written to a new file of mode 0600, never over another file nor inside the instance
folder, where the key lives. A withdrawn story's data key is gone from the database before
any later backup is taken, so such a backup cannot open it, key or no key.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, create_engine, inspect
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive.config import Config
from archive.errors import Conflict, EscrowError, InvalidInput, KeyProblem, NotFound, NotInitialised
from archive.storage import dialect
from archive.vault import keys
from archive.vault.keys import Keyring

MAGIC = {b"SQLite format 3\x00": dialect.SQLITE, b"PGDMP": dialect.POSTGRESQL}
NAMES = {dialect.SQLITE: "SQLite", dialect.POSTGRESQL: "PostgreSQL"}


class ToolProblem(EscrowError):
    """pg_dump or pg_restore is missing, or failed (its first line of complaint says why)."""


@dataclass(frozen=True)
class Backup:
    """A backup file written: where, of which database kind, how many bytes, and how many
    sealed recordings went with it (in the folder `media_folder(path)`)."""

    path: Path
    kind: str
    size: int
    recordings: int = 0


def media_folder(backup: Path) -> Path:
    """Where a backup's sealed recordings go: beside it, named after it."""
    return backup.with_name(backup.name + ".media")


def create(config: Config, engine: Engine, target: Path) -> Backup:
    """Write a consistent copy of the database to a new file outside the instance folder."""
    target = target.expanduser().absolute()
    kind = _supported(engine.dialect.name)
    _check_target(config, target)
    with _partial(target, "partial") as partial:
        if kind == dialect.SQLITE:
            source = dialect.sqlite_file(config.database_url)
            assert source is not None  # an initialised SQLite archive has its file
            _sqlite_copy(source, partial)
        else:
            _run("pg_dump", engine.url, ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"])
        _publish(partial, target)
    # After the database: a recording attached since is an extra file (harmless); every row
    # of the copy has its file unless its story was withdrawn meanwhile.
    copied = _copy_media(config.media_root, media_folder(target))
    return Backup(target, kind, target.stat().st_size, copied)


def restore(config: Config, engine: Engine, source: Path) -> Backup:
    """Put a backup in place of this instance's database: no SQLite file yet, or an empty PostgreSQL one.

    The master key must be at hand (key file or ESCROW_MASTER_KEY) and be the backed-up
    archive's: it is checked before the restored database becomes the instance's, or the
    restore is undone. The caller then migrates, rebuilds the index and records the restore.
    """
    source = source.expanduser().absolute()
    kind = _kind(source)
    here = _supported(engine.dialect.name)
    if kind != here:
        raise InvalidInput(f"{source.name} is a backup of an archive on {NAMES[kind]}; "
                           f"this instance uses {NAMES[here]}")
    ring = _key(config)
    if any(config.media_root.glob("*" + SEALED)):
        raise Conflict(f"this instance's media folder {config.media_root} already holds recordings: "
                       "restore only into a fresh instance")
    if kind == dialect.SQLITE:
        _restore_sqlite(config, source, ring)
    else:
        _restore_postgresql(engine, source, ring)
    copied = _copy_media(media_folder(source), config.media_root)
    return Backup(source, kind, source.stat().st_size, copied)


# -- checks ----------------------------------------------------------------------

def _supported(name: str) -> str:
    if name not in NAMES:
        raise InvalidInput(f"backups cover SQLite and PostgreSQL databases, not {name}")
    return name


def _check_target(config: Config, target: Path) -> None:
    for taken in (target, media_folder(target)):
        if taken.exists():
            raise Conflict(f"{taken} already exists: a backup never replaces a file")
    if not target.parent.is_dir():
        raise InvalidInput(f"no folder {target.parent} to write the backup in")
    if target.is_relative_to(config.home):
        raise InvalidInput(f"write the backup outside the instance folder {config.home}: "
                           "it holds the master key, which must be kept apart from database backups")


def _kind(source: Path) -> str:
    try:
        with source.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        raise NotFound(f"{source}: no such backup file") from None
    except OSError:
        raise InvalidInput(f"{source}: cannot be read") from None
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    raise InvalidInput(f"{source.name} is not a backup made by 'escrow backup create'")


def _key(config: Config) -> Keyring:
    if config.master_key is None and not config.key_file.exists():
        raise KeyProblem(f"a restore needs the archive's master key: put its key file at {config.key_file} "
                         "(mode 0600) or set ESCROW_MASTER_KEY")
    return keys.load(config)


def _verify_key(engine: Engine, ring: Keyring, source: Path) -> None:
    """Check the ring against the restored database's check values; InvalidInput if it has none."""
    try:
        with Session(engine) as session:
            keys.verify(session, ring)
    except KeyProblem:
        raise KeyProblem(f"this master key is not the one {source.name} was made with; nothing was restored") from None
    except (SQLAlchemyError, NotInitialised):
        raise InvalidInput(f"{source.name} holds no escrow archive; nothing was restored") from None


# -- SQLite ----------------------------------------------------------------------

def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy a live database page by page with SQLite's online backup API (a consistent snapshot)."""
    origin = sqlite3.connect(source, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            origin.backup(copy)
        finally:
            copy.close()
    except sqlite3.DatabaseError:
        raise InvalidInput(f"{source.name} is not a readable SQLite database") from None
    finally:
        origin.close()


def _restore_sqlite(config: Config, source: Path, ring: Keyring) -> None:
    target = dialect.sqlite_file(config.database_url)
    assert target is not None  # an SQLite archive on a file (the URL names it)
    if target.exists():
        raise Conflict(f"this instance already has a database ({target}): "
                       "restore only into a fresh instance, before 'escrow init'")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _partial(target, "restoring") as partial:
        _sqlite_copy(source, partial)
        engine = create_engine(f"sqlite:///{partial}")
        try:
            _verify_key(engine, ring, source)
        finally:
            engine.dispose()
        _publish(partial, target)


# -- PostgreSQL ------------------------------------------------------------------

def _restore_postgresql(engine: Engine, source: Path, ring: Keyring) -> None:
    if inspect(engine).get_table_names():
        raise Conflict(f"this instance's database ({engine.url.database}) is not empty: "
                       "restore only into a fresh instance, on a new, empty database")
    # --no-comments: an extension's comment (RUM's, in a database whose superuser created it)
    # may be changed only by the extension's owner, which the archive's role is not.
    _run("pg_restore", engine.url, ["--single-transaction", "--exit-on-error", "--no-owner",
                                    "--no-privileges", "--no-comments", str(source)])
    try:
        _verify_key(engine, ring, source)
    except EscrowError:
        _empty(engine)  # it was empty before: leave it so
        raise


def _empty(engine: Engine) -> None:
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)


def _run(tool: str, url: URL, arguments: list[str]) -> None:
    """Run pg_dump or pg_restore on the URL's database; the password goes by environment, not argv."""
    program = shutil.which(tool)
    if program is None:
        raise ToolProblem(f"{tool} was not found: install PostgreSQL's client programs "
                          "(Debian: apt-get install postgresql-client) or put them on PATH")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run([program, *arguments, f"--dbname={_conninfo(url)}"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        complaint = next((line for line in done.stderr.splitlines() if line.strip()), "no message")
        raise ToolProblem(f"{tool} failed: {complaint.removeprefix(f'{tool}: ')[:300]}")


def _conninfo(url: URL) -> str:
    """libpq's key=value form of an SQLAlchemy URL, without its password."""
    fields: dict[str, object] = {"dbname": url.database, "host": url.host, "port": url.port,
                                 "user": url.username}
    fields.update({k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()})
    return " ".join(f"{k}={_quoted(str(v))}" for k, v in fields.items() if v not in (None, ""))


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- files -----------------------------------------------------------------------

SEALED = ".sealed"  # vault/recordings.py names each sealed recording <id>.sealed


def _copy_media(source: Path, target: Path) -> int:
    """Copy the sealed recordings of one folder into another (new or empty), each file private
    and renamed into place once whole; how many. They stay sealed: nothing is decrypted."""
    files = sorted(source.glob("*" + SEALED)) if source.is_dir() else []
    if not files:
        return 0
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for file in files:
        with _partial(target / file.name, "copying") as partial:
            shutil.copyfile(file, partial)
            _publish(partial, target / file.name)
    return len(files)


@contextmanager
def _partial(target: Path, what: str) -> Iterator[Path]:
    """A new, private file beside the target, removed (with any SQLite journal) when done."""
    partial = target.with_name(f".{target.name}.{what}-{os.getpid()}")
    partial.unlink(missing_ok=True)  # left by a run that was killed
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield partial
    finally:
        for leftover in (partial, Path(f"{partial}-journal"), Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)


def _publish(partial: Path, target: Path) -> None:
    """Give the finished file its name, durably, never replacing a file that appeared meanwhile."""
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    try:
        os.link(partial, target)
    except FileExistsError:
        raise Conflict(f"{target} appeared while it was being written; it was left as it is") from None
