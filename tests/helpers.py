"""Plain helpers for tests: running the CLI, reading the database, writing story files, hunting canaries."""

from __future__ import annotations

import contextvars
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import Connection, MetaData, create_engine, select, text
from sqlalchemy.pool import NullPool

from archive import create_app, services
from archive.cli import cli
from archive.config import Config
from archive.errors import EscrowError
from archive.reading_room.engines import WhooshSearch
from archive.reading_room.index import Index
from archive.storage import database
from archive.storage.units import Unit
from archive.times import utcnow
from archive.vault import keys, stories
from archive.vault.models import Story

# Cheap argon2 parameters for the accounts tests make (Config.password_cost; `serve` refuses them).
FAST_PASSWORDS = {"ESCROW_PASSWORD_COST": "test"}


def escrow(home: Path, *args: str, input: str | None = None,
           env: dict[str, str] | None = None) -> Result:
    """Run `escrow ARGS` in-process against an instance folder, as a user would.

    The command runs in an empty context: with a test's app context pushed, Flask's CLI would
    otherwise use that app, its session and its engine (which the command's end disposes,
    stranding a connection the test's requests still hold), not an app of its own as a
    command run from a shell does."""
    environ = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": "", **FAST_PASSWORDS}
    if "DATABASE_URL" in os.environ and os.environ["DATABASE_URL"]:
        environ["DATABASE_URL"] = os.environ["DATABASE_URL"]
    environ.update(env or {})
    return contextvars.Context().run(CliRunner().invoke, cli, list(args), input=input, env=environ,
                                     catch_exceptions=False)


def add_users(home: Path, *accounts: tuple[str, str]) -> Path:
    """Add (email, role) accounts through the CLI, as an operator does; the instance folder."""
    for email, role in accounts:
        added = escrow(home, "users", "add", email, "--role", role, "--password-stdin",
                       input="a long enough password\n")
        assert added.exit_code == 0, added.output
    return home


def database_env(url: str | None) -> dict[str, str]:
    """The environment that points the CLI at a database (None: the instance folder's SQLite file)."""
    return {"DATABASE_URL": url or ""}


def database_url(home: Path) -> str:
    """The database the CLI uses for an instance folder: this test's DATABASE_URL, else the folder's file."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{home / 'escrow.db'}"


@contextmanager
def connect(home: Path, url: str | None = None) -> Iterator[Connection]:
    """An autocommit connection of its own to the instance's database (or `url`), as another program's."""
    url = url or database_url(home)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(f"no database at {url}")  # and do not create one by looking
    waits = {"timeout": 60} if url.startswith("sqlite") else {}  # for a writer's lock, as PostgreSQL does
    engine = create_engine(url, poolclass=NullPool, connect_args=waits, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def reading(home: Path, table: str = "stories") -> Iterator[None]:
    """Another program's transaction held open on a table it has read (it pins SQLite's
    write-ahead log; PostgreSQL's VACUUM FULL of the table waits for it)."""
    with connect(home) as conn:
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql(f"SELECT count(*) FROM {table}").all()
        try:
            yield
        finally:
            conn.exec_driver_sql("ROLLBACK")


@contextmanager
def archive_app(home: Path) -> Iterator[Flask]:
    """The archive's app on an instance folder (this test's database), to call the service layer
    in this process as a door does; its connections and index handle closed afterwards."""
    config = Config.for_home(home, database_url=os.environ.get("DATABASE_URL") or None, testing=True,
                             password_cost="test")
    app = create_app(config)
    try:
        yield app
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()


def sql(home: Path, statement: str, url: str | None = None, **params: Any) -> list[tuple[Any, ...]]:
    """Run one SQL statement (named :params) on the instance's database (or `url`), committed; its rows."""
    with connect(home, url) as conn:
        result = conn.execute(text(statement), params)
        return [tuple(row) for row in result] if result.returns_rows else []


def one(home: Path, statement: str, **params: Any) -> Any:
    """The first column of the first row of a query, or None."""
    rows = sql(home, statement, **params)
    return rows[0][0] if rows else None


def database_rows(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: to show that something changed nothing."""
    with connect(home) as conn:
        tables = MetaData()
        tables.reflect(conn)
        return {name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
                for name, table in sorted(tables.tables.items())}


def database_bytes(home: Path) -> bytes:
    """Everything the instance's database stores, as bytes: on SQLite its file and write-ahead log;
    on PostgreSQL, whose files are the server's, every value of every row, read through SQL."""
    if not os.environ.get("DATABASE_URL"):
        files = [home / "escrow.db", home / "escrow.db-wal"]
        return b"".join(f.read_bytes() for f in files if f.is_file())
    values = [v if isinstance(v, bytes) else str(v).encode()
              for rows in database_rows(home).values() for row in rows for v in row if v is not None]
    return b"\0".join(values)


def database_canaries(home: Path, *words: str) -> list[str]:
    """Every word readable in what the instance's database stores (see database_bytes)."""
    data = database_bytes(home)
    return [f"database: {w}" for w in words if w.encode() in data or w.encode("utf-16-le") in data]


def story(**overrides: Any) -> dict[str, Any]:
    """A valid story line, with keyword overrides."""
    data: dict[str, Any] = {
        "title": "Night shift", "narrator": "Rosa Example",
        "transcript": "I worked at [[org:Harbor Hotel]] with [[person:Maria Lopez|the housekeeper]].",
        "summary": "A housekeeper on the night shift.", "interviewer": "J. Kim",
        "interview_date": "2019-05-01", "place": "New Haven", "language": "en",
        "tags": ["hotel", "strike"], "embargo_until": "2031-01-01T00:00:00Z",
        "redaction_level": "pseudonymized", "release_review": False,
    }
    data.update(overrides)
    return data


def write_lines(path: Path, *lines: dict[str, Any] | str) -> Path:
    """Write a JSON Lines file; strings are written as they are (for broken lines)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def canaries(n: int) -> list[str]:
    """Random words that appear nowhere else, to plant in sealed content.

    Letters only, so that a name made of one is one word to the redaction too (which splits
    `rosa2` into a name and a number); random consonants ending in 'q', which no stemmer
    strips: a word ending in 'e' or 's' is indexed stemmed, and a search of the files for the
    whole word would miss it.
    """
    return ["canary" + "".join(secrets.choice(_CONSONANTS) for _ in range(10)) + "q" for _ in range(n)]


_CONSONANTS = "bcdfghjklmnpqrstvwxz"


def find_canaries(home: Path, *words: str) -> list[str]:
    """Every (file, word) where a word's bytes occur anywhere under the folder."""
    hits = []
    needles = [(w, w.encode()) for w in words] + [(w, w.encode("utf-16-le")) for w in words]
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path.name}: {word}" for word, needle in needles if needle in data]
    return hits


def assert_no_canary(home: Path, *words: str) -> None:
    """Fail if any canary word is readable anywhere under the instance folder or in its database's rows."""
    hits = find_canaries(home, *words) + database_canaries(home, *words)
    assert not hits, f"sealed words found at rest: {hits}"


def opening(config: Config) -> tuple[int, list[str]]:
    """Decrypt every story not withdrawn with the key file as it now is: how many opened, and the
    ids of those that did not (a data key under a master key the ring lacks, a damaged row)."""
    app = create_app(config)
    opened, failed = 0, []
    with app.app_context():
        try:
            session = database.db.session()
            ring = keys.unlock(session, config)
            for each in session.scalars(select(Story).where(Story.wrapped_key.is_not(None))):
                try:
                    stories.decrypt(ring, each)
                    opened += 1
                except EscrowError:
                    failed.append(each.id)
        finally:
            database.db.session.remove()
            database.db.engine.dispose()
    return opened, failed


def every_story_opens(config: Config) -> int:
    """How many stories there are, once each has opened with the key file as it now is."""
    opened, failed = opening(config)
    assert not failed, f"stories that no longer open: {failed}"
    return opened


def unit(at: datetime | None = None, *, index: Index | None = None, media_root: Path | None = None) -> Unit:
    """A unit of work on the app context's session, for a test that calls a room itself and
    commits (or not) when it chooses: a handle, not entered. `at` fixes its clock."""
    archive = services.current()
    return Unit(archive.session, archive.guards(), search=WhooshSearch(index) if index else archive.search,
                media_root=media_root or archive.config.media_root, clock=(lambda: at) if at else utcnow)


def indexed_words(home: Path, field: str) -> set[str]:
    """Every word the archive's search holds for a field of released stories (title, body,
    summary, tags, in either language's reading): its Whoosh index's lexicon, or on PostgreSQL
    the lexemes of the search vectors."""
    from archive.reading_room.vectors import CODES

    if (home / "index").is_dir():
        index = Index(home / "index")
        try:
            with index.searcher() as searcher:
                names = [name for name in (field, f"{field}_es") if name in searcher.schema]
                return {t.decode() for name in names for t in searcher.lexicon(name)}
        finally:
            index.close()
    codes = {CODES[name] for name in (field, f"{field}_es") if name in CODES}
    rows = sql(home, "SELECT word FROM ts_stat('SELECT search_vector FROM released_stories')")
    return {word.split(":", 1)[1] for (word,) in rows if word.split(":", 1)[0] in codes}
