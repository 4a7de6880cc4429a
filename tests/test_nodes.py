"""Two web nodes, one database, with the Whoosh backend (ESCROW_SEARCH=whoosh, which a node on
PostgreSQL may still choose): each keeps its own search index in step with the reading-room table.

Node A is the test's instance; node B is a second instance folder (its own key file copy
and index) on the same database, as a second machine behind the proxy would be. What A
releases or takes down, B finds or loses after `escrow index sync`, or on its own before a
search once its sync interval (ESCROW_INDEX_SYNC_SECONDS) has passed.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from archive import create_app, reading_room
from archive.accounts.users import User
from archive.config import Config
from archive.reading_room import room
from archive.reading_room.index import Index
from archive.release import gate
from archive.services import Archive, reading
from archive.services.reading import Facets
from archive.storage import database, locks
from archive.vault import drafts, stories
from archive.vault.keys import Keyring
from tests.helpers import assert_no_canary, canaries, database_url, escrow, story, unit, write_lines
from tests.processes import node

ADMIN, ORGANIZER = "admin@example.org", "org@example.org"
NEVER_BY_ITSELF = {"ESCROW_INDEX_SYNC_SECONDS": "3600"}  # only `index sync` brings B in step
EVERY_SEARCH = {"ESCROW_INDEX_SYNC_SECONDS": "0"}  # B checks the table before every search


@pytest.fixture
def config(archive_home: Path, database_url: str | None) -> Config:
    return Config.for_home(archive_home, database_url=database_url, testing=True, password_cost="test",
                           search="whoosh")


@pytest.fixture
def nodes(archive_home: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Node A with an organizer and an admin; node B joined to the same database, its index synced."""
    for email, role in ((ORGANIZER, "organizer"), (ADMIN, "admin")):
        assert on(archive_home, archive_home, "users", "add", email, "--role", role, "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    other = node(archive_home, tmp_path / "node-b")
    joined = on(archive_home, other, "index", "sync")
    assert joined.output.strip() == "index synced: added 0, removed 0", joined.output
    return archive_home, other


def on(a: Path, home: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """`escrow ARGS` on one node, against node A's database."""
    return escrow(home, *args, input=input,
                  env={"DATABASE_URL": database_url(a), "ESCROW_SEARCH": "whoosh", **(env or {})})


def found(a: Path, home: Path, words: str, env: dict[str, str] | None = None) -> list[str]:
    result = on(a, home, "search", words, "--json", env=env)
    assert result.exit_code == 0, result.output
    return [hit["id"] for hit in json.loads(result.output)]


def release_one(a: Path, tmp_path: Path, words: list[str]) -> str:
    """Import one due story (its text full of canary words) through A and release it there."""
    file = write_lines(tmp_path / "due.jsonl", story(title=f"Picket {words[0]}", embargo_until="2020-01-01",
                                                    redaction_level="full",
                                                    transcript=f"We held the line at {words[1]}."))
    assert on(a, a, "stories", "import", str(file), "--as", ORGANIZER).exit_code == 0
    published = on(a, a, "publish-due")
    assert published.output.startswith("released 1,"), published.output
    [story_id] = found(a, a, words[1])
    return story_id


def test_a_story_released_through_one_node_is_found_on_the_other_after_index_sync(
        nodes: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = nodes
    story_id = release_one(a, tmp_path, canaries(2))
    words = "picket"

    before = found(a, b, words, env=NEVER_BY_ITSELF)
    synced = on(a, b, "index", "sync")

    assert before == []  # B's index is a cache: it has not looked at the table yet
    assert synced.output.strip() == "index synced: added 1, removed 0"
    assert found(a, b, words, env=NEVER_BY_ITSELF) == [story_id]
    assert on(a, b, "index", "verify").exit_code == 0
    assert on(a, a, "index", "verify").exit_code == 0


def test_a_takedown_through_one_node_is_gone_from_the_others_search_after_index_sync(
        nodes: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = nodes
    words = canaries(2)
    story_id = release_one(a, tmp_path, words)
    on(a, b, "index", "sync")
    assert found(a, b, words[1], env=NEVER_BY_ITSELF) == [story_id]

    taken = on(a, a, "stories", "takedown", story_id, "--reason", "legal hold", "--as", ADMIN)
    synced = on(a, b, "index", "sync")

    assert taken.exit_code == 0, taken.output
    assert synced.output.strip() == "index synced: added 0, removed 1"
    assert found(a, b, words[1], env=NEVER_BY_ITSELF) == []
    assert_no_canary(b, *words)  # purged from B's index files, not only hidden
    for home in (a, b):
        verified = on(a, home, "index", "verify")
        assert verified.exit_code == 0, verified.output


def test_a_node_checks_the_table_before_a_search_once_its_interval_has_passed(
        nodes: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = nodes
    words = canaries(2)
    story_id = release_one(a, tmp_path, words)

    assert found(a, b, words[1], env=EVERY_SEARCH) == [story_id]  # no `index sync`: the search checked
    on(a, a, "stories", "withdraw", story_id, "--reason", "consent withdrawn", "--as", ADMIN)
    # Within the interval the node does not look: its index still holds the story, but a hit
    # whose copy left the table is never shown (the table is the truth).
    assert found(a, b, words[1], env=NEVER_BY_ITSELF) == []
    assert story_id in Index(b / "index").documents()
    assert found(a, b, words[1], env=EVERY_SEARCH) == []  # past it: gone from the index too
    assert story_id not in Index(b / "index").documents()
    assert_no_canary(b, *words)


def test_a_story_released_on_one_node_and_taken_down_on_the_other_before_it_checked_leaves_both(
        nodes: tuple[Path, Path], tmp_path: Path) -> None:
    """A released the story into its own index, and last remembered the table as it was before;
    B takes it down. The table then counts as many rows with the same latest release as A
    remembers: only the departure's instant tells A that it changed."""
    a, b = nodes
    words = canaries(2)
    story_id = release_one(a, tmp_path, words)

    taken = on(a, b, "stories", "takedown", story_id, "--reason", "legal hold", "--as", ADMIN)

    assert taken.exit_code == 0, taken.output
    assert found(a, a, words[1], env=EVERY_SEARCH) == []
    assert_no_canary(a, *words)


def test_a_bad_sync_interval_is_one_line(nodes: tuple[Path, Path]) -> None:
    a, b = nodes

    result = on(a, b, "search", "picket", env={"ESCROW_INDEX_SYNC_SECONDS": "soon"})

    assert result.exit_code == 1
    assert "ESCROW_INDEX_SYNC_SECONDS must be a number of seconds" in result.output
    assert result.output.count("\n") == 1


# -- the check itself, through the service -----------------------------------------------------

@pytest.fixture
def statements(app: Flask) -> list[str]:
    """Every SQL query the app's engine runs from now on (not SQLite's BEGIN: the begin of the
    transaction a query runs in, which PostgreSQL's driver sends unseen)."""
    seen: list[str] = []

    def query(_c: object, _cur: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(database.db.engine, "before_cursor_execute", query)
    return seen


def _release_elsewhere(session: Session, keyring: Keyring, organizer: User, elsewhere: Index) -> str:
    """Release a story as another node would: the reading-room table changes, this node's index does not."""
    sealed = stories.submit(session, keyring, organizer, drafts.parse(story(embargo_until="2020-01-01")))
    session.commit()
    with unit(index=elsewhere, media_root=elsewhere.path.parent / "media") as publishing:
        gate.publish_due(publishing, now=datetime.now(UTC))
    return sealed.id


def test_an_unchanged_table_costs_one_query_and_a_recent_check_none(
        session: Session, config: Config, statements: list[str]) -> None:
    index = reading_room.index()
    room.sync(session, index)
    session.commit()

    statements.clear()
    within = room.sync_if_stale(session, index, 3600, locks.node(config.home))
    assert (within, statements) == (None, [])
    checked = room.sync_if_stale(session, index, 0, locks.node(config.home))
    assert checked is None and len(statements) == 1


def test_a_changed_table_is_synced_and_a_busy_node_is_left_for_the_next_search(
        session: Session, keyring: Keyring, organizer: User, config: Config, tmp_path: Path,
        statements: list[str]) -> None:
    index = reading_room.index()
    room.sync(session, index)
    story_id = _release_elsewhere(session, keyring, organizer, Index(tmp_path / "elsewhere"))

    with locks.publisher(config.home):  # a publisher or a takedown at work on this node
        statements.clear()
        busy = room.sync_if_stale(session, index, 0, locks.node(config.home))
        assert (busy, statements) == (None, [])
    report = room.sync_if_stale(session, index, 0, locks.node(config.home))

    assert report == room.SyncReport(added=1, removed=0)
    assert index.documents().keys() == {story_id}
    assert gate.verify(unit(index=index)) == []


def test_the_filter_vocabularies_lose_a_story_taken_down_on_another_node(
        session: Session, keyring: Keyring, organizer: User, admin: User, config: Config, tmp_path: Path) -> None:
    """Facets are read from this node's index: they are brought in step first, like a search,
    or a story's tags, language and year would stay listed here after its takedown elsewhere."""
    def view() -> Archive:  # a page's (one per request: it brings the index in step once)
        return Archive(config=dataclasses.replace(config, index_sync_seconds=0), session=session,
                       engine=database.db.engine)

    room.sync(session, reading_room.index())
    story_id = _release_elsewhere(session, keyring, organizer, Index(tmp_path / "elsewhere"))
    assert "strike" in reading.facets(view()).tags  # brought in step: found here too

    with unit(index=Index(tmp_path / "elsewhere")) as taking:
        gate.takedown(taking, admin, story_id, "legal hold")

    assert reading.facets(view()) == Facets([], [], [], [])
    assert reading_room.index().documents() == {}


def test_the_search_page_brings_the_index_in_step_once_per_view(
        config: Config, session: Session, keyring: Keyring, organizer: User, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A page that searches and lists the filters brings this node's index in step once, not once
    for each (with ESCROW_INDEX_SYNC_SECONDS=0 every view looks)."""
    room.sync(session, reading_room.index())
    _release_elsewhere(session, keyring, organizer, Index(tmp_path / "elsewhere"))
    looked: list[float] = []
    real = room.sync_if_stale

    def counted(session: Session, index: Index, interval: float, guard: Any) -> room.SyncReport | None:
        looked.append(interval)
        return real(session, index, interval, guard)

    monkeypatch.setattr(room, "sync_if_stale", counted)
    app = create_app(dataclasses.replace(config, index_sync_seconds=0))
    client = app.test_client()

    page = client.get("/search", query_string={"q": "strike"})

    assert page.status_code == 200 and "1 story found" in page.get_data(as_text=True)
    assert looked == [0]
    assert client.get("/search").status_code == 200 and looked == [0, 0]  # the filters alone: once too
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


def test_a_missing_index_is_left_for_rebuild(session: Session, config: Config, tmp_path: Path) -> None:
    index = Index(tmp_path / "never-built")

    assert room.sync_if_stale(session, index, 0, locks.node(config.home)) is None
    assert not index.exists()
