"""Archives built once per session and copied per test: see `prebuilt`.

In the API, OAI-PMH, export and search page tests nearly all the time went to setting up (each
test re-seeding a released archive through up to a dozen commands). A fixture made with
`prebuilt` runs those same commands once per session, on an archive of its own; every test that
asks for it starts from a copy: the instance folder copied, and on PostgreSQL its database made
with CREATE DATABASE ... TEMPLATE the built one (tests/databases.py), as every test's database
is already made from the one `escrow init` built.
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.databases import Server


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """An archive between tests: its instance folder, on PostgreSQL the database holding its rows
    (None on SQLite, whose file is in the folder), and what its building made, by step name."""

    home: Path
    database: str | None
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of building a prebuilt archive: `build(home, **needed)`, run after the steps it needs."""

    name: str
    build: Callable[..., Any]
    needs: tuple[str, ...]


class Snapshots:
    """The archives this session has built, each once, keyed by the steps that built it."""

    def __init__(self, folders: pytest.TempPathFactory, server: Server | None, initialised: Path) -> None:
        self.folders, self.server = folders, server
        self.initialised = Snapshot(initialised, None if server is None else server.template, {})
        self._built: dict[tuple[Callable[..., Any], ...], Snapshot] = {}

    def of(self, steps: list[Step]) -> Snapshot:
        key = tuple(step.build for step in steps)
        if key not in self._built:
            self._built[key] = self._build(steps)
        return self._built[key]

    def copy(self, snapshot: Snapshot, home: Path) -> str | None:
        """A copy of a snapshot of one's own: its folder copied to `home`, and on PostgreSQL a
        database made from its database, whose URL this returns (None on SQLite)."""
        shutil.copytree(snapshot.home, home)
        (home / "master.key").chmod(0o600)
        return None if self.server is None else self.server.copy_of_template(snapshot.database)

    def drop(self, url: str | None) -> None:
        """Drop a copy's database (nothing on SQLite)."""
        if self.server is not None and url is not None:
            self.server.drop(url)

    def _build(self, steps: list[Step]) -> Snapshot:
        """Run the steps on a copy of the initialised archive, with DATABASE_URL naming its own
        database for the commands they run, as a test's does; every connection is closed after
        (a database with one open cannot be a template)."""
        home = self.folders.mktemp("prebuilt") / "instance"
        shutil.copytree(self.initialised.home, home)
        url = None if self.server is None else self.server.copy_of_template()
        data: dict[str, Any] = {}
        with pytest.MonkeyPatch.context() as patch:
            if url is None:
                patch.delenv("DATABASE_URL", raising=False)
            else:
                patch.setenv("DATABASE_URL", url)
            for step in steps:
                data[step.name] = step.build(home, **{name: data[name] for name in step.needs})
        return Snapshot(home, None if url is None else make_url(url).database, data)


def prebuilt(*needs: str, name: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Make `build(home, **needs)` a fixture of what it returns, built once per session on an
    archive of its own (after the prebuilt fixtures it names in `needs`); a test that asks for
    it gets a copy of that archive as its archive_home and database. A dataclass value with a
    `home` field gets the test's folder there. The fixture is named `name` (else the function's
    name); modules that make a fixture of the same function share one archive.

    Only for tests whose archive is otherwise as `escrow init` made it: a test asking for two
    prebuilt fixtures that do not need one another gets one archive built by both."""

    def decorate(build: Callable[..., Any]) -> Any:
        called = name or build.__name__

        def fixture(archive_snapshot: Snapshot, archive_home: Path, **_: Any) -> Any:
            value = archive_snapshot.data[called]
            if dataclasses.is_dataclass(value) and any(f.name == "home" for f in dataclasses.fields(value)):
                value = dataclasses.replace(value, home=archive_home)  # type: ignore[type-var]
            return value

        parameters = [inspect.Parameter(each, inspect.Parameter.KEYWORD_ONLY)
                      for each in ("archive_snapshot", "archive_home", *needs)]
        fixture.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        fixture.__name__ = fixture.__qualname__ = called
        fixture.__doc__ = build.__doc__
        fixture.escrow_step = Step(called, build, needs)  # type: ignore[attr-defined]
        return pytest.fixture(name=called)(fixture)

    return decorate


def steps(request: pytest.FixtureRequest) -> list[Step]:
    """The prebuilt steps this test asks for (with those they need), each after what it needs."""
    definitions = request._pyfuncitem._fixtureinfo.name2fixturedefs
    found = {step.name: step for name in request.fixturenames if name in definitions
             if (step := getattr(definitions[name][-1].func, "escrow_step", None)) is not None}
    ordered: list[Step] = []
    while len(ordered) < len(found):
        ready = [s for s in found.values() if s not in ordered and all(n in {o.name for o in ordered} for n in s.needs)]
        assert ready, f"prebuilt steps that need one another: {sorted(found)}"
        ordered += ready
    return ordered
