"""Three publishers started at once release each of 1,000 due stories exactly once.

On PostgreSQL the three run as three machines would: each on its own node (instance
folder, key file, index) against the one database, kept apart by the database's advisory
lock. On SQLite the database is one machine's, so the three share its instance folder and
are kept apart by its lock file. Either way the test holds that lock itself until all
three are waiting on it (busy-polled, with a deadline), then lets them go, so they really
contend; then every story must be released once, with one audit entry, and every node's
index must hold exactly the reading room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from archive.config import Config
from archive.storage import locks
from tests.helpers import escrow, one, sql
from tests.processes import RELEASE_COUNTS, SUMMARY, finish, node, poll, seal_stories, started

STORIES = 1000
PUBLISHERS = 3


def waiting_on_database_lock(home: Path) -> int:
    """How many sessions wait for an advisory lock on this test's PostgreSQL database."""
    return int(one(home, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                         "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"))


def waiting_on_lock_file(path: Path) -> int:
    """How many processes wait for a flock on this file (Linux /proc/locks marks them with '->')."""
    inode = str(path.stat().st_ino)
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if " -> FLOCK " in line and line.split()[-3].split(":")[-1] == inode)


@contextmanager
def publisher_lock_held(config: Config, holder: Path) -> Iterator[Callable[[], int]]:
    """Hold the publishers' lock from the test; yield a count of the processes waiting for it."""
    if config.database_url.startswith("sqlite"):
        with locks.publisher(config.home):
            yield lambda: waiting_on_lock_file(config.home / locks.LOCK_FILE)
        return
    engine = create_engine(config.database_url, poolclass=NullPool)
    try:
        with locks.publisher(holder, engine):
            yield lambda: waiting_on_database_lock(config.home)
    finally:
        engine.dispose()


def wait_for(count: Callable[[], int], wanted: int) -> None:
    poll(f"{wanted} publishers to reach the lock", lambda: count() >= wanted)


def test_three_publishers_at_once_release_each_of_1000_stories_exactly_once(
        archive_home: Path, tmp_path: Path, config: Config, database_kind: str) -> None:
    seal_stories(archive_home, STORIES, "2020-01-01")
    if database_kind == "postgresql":
        nodes = [archive_home] + [node(archive_home, tmp_path / f"node{n}") for n in (2, 3)]
    else:
        nodes = [archive_home] * PUBLISHERS

    with ExitStack() as running:
        with publisher_lock_held(config, tmp_path / "holder") as waiting:
            processes = [running.enter_context(started(home, "publish-due")) for home in nodes]
            wait_for(waiting, PUBLISHERS)
        results = [finish(proc) for proc in processes]

    for status, output in results:
        assert status == 0, output
    summaries = [SUMMARY.search(output) for _, output in results]
    assert all(summaries), results
    assert sorted(int(m.group(1)) for m in summaries if m) == [0] * (PUBLISHERS - 1) + [STORIES], results
    assert all(m.group(3) == "0" for m in summaries if m), results
    assert one(archive_home, "SELECT count(*) FROM released_stories") == STORIES
    assert sql(archive_home, "SELECT status, count(*) FROM stories GROUP BY status") == [("released", STORIES)]
    per_story = sql(archive_home, RELEASE_COUNTS)
    assert len(per_story) == STORIES and {n for _, n in per_story} == {1}
    for home in set(nodes):
        verified = escrow(home, "index", "verify")
        assert verified.exit_code == 0, verified.output
    assert escrow(archive_home, "audit", "verify").exit_code == 0

