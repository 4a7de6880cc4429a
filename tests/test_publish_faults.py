"""Release and key rotation under faults: concurrent runs, SIGKILL mid-run, a wrong master key.

Every test drives the real `escrow` console script in separate processes against a real
database (the instance's SQLite file, or this test's PostgreSQL database) and Whoosh
index; nothing is mocked. A run is stopped at a known point without guessing at timing:
the test busy-polls the database until the run has committed its first batch, then blocks
the run's next commit itself (SQLite: it takes the write lock; PostgreSQL: it locks the
table the run writes in SHARE mode), so the run cannot commit again while the test counts
what it did and kills it with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Connection
from whoosh import index as whoosh_index

from archive.config import Config
from archive.reading_room import INDEX_FOLDER, Index
from archive.reading_room.index import INDEX_NAME
from archive.release.gate import BATCH
from tests.helpers import connect, database_env, database_url, escrow, every_story_opens, one, opening, sql
from tests.processes import RELEASE_COUNTS, RUN_TIMEOUT, SUMMARY, finish, node, poll, seal_stories, started

PAST = "2020-01-01"
FUTURE = "2031-01-01T00:00:00Z"


# -- helpers -----------------------------------------------------------------

def run(home: Path, *args: str, input: str | None = None) -> Result:
    """`escrow ARGS` in-process, on this test's database."""
    return escrow(home, *args, input=input)


def scalar(conn: Connection, statement: str) -> int:
    # Autocommit: every statement reads the latest committed state, and no read
    # transaction stays open between polls.
    return int(conn.exec_driver_sql(statement).scalar_one())


def rows(home: Path, statement: str) -> list[tuple[object, ...]]:
    return sql(home, statement)


def count(home: Path, statement: str) -> int:
    return int(one(home, statement))


@contextmanager
def commits_held(conn: Connection, table: str) -> Iterator[None]:
    """Let a commit in flight finish, then keep any other from writing `table` until the block ends."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits for a commit in flight, then blocks the next
    else:
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql(f"LOCK TABLE {table} IN SHARE MODE")  # waits for writers in flight, blocks new ones
    try:
        yield
    finally:
        conn.exec_driver_sql("ROLLBACK")


def kill_between_commits(proc: subprocess.Popen[str], home: Path, progress_sql: str, table: str) -> int:
    """SIGKILL a running command after its first commit and before its last; return its progress.

    Polls until `progress_sql` counts something, then holds the commits that write `table`
    while it counts again and kills the process, so the count is exactly what the process
    had committed when it died.
    """
    with connect(home) as conn:
        poll("its first commit", lambda: scalar(conn, progress_sql) != 0, alive=proc)
        with commits_held(conn, table):
            progress = scalar(conn, progress_sql)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=RUN_TIMEOUT)
    return progress


def unopenable(config: Config) -> list[str]:
    """Ids of stories whose payload the instance's key file, as it is now, cannot decrypt."""
    return opening(config)[1]


def assert_index_and_audit_verify(home: Path) -> None:
    index = run(home, "index", "verify")
    assert index.exit_code == 0, index.output
    chain = run(home, "audit", "verify")
    assert chain.exit_code == 0, chain.output


# -- tests -------------------------------------------------------------------

def test_two_concurrent_runs_release_each_of_400_stories_exactly_once(archive_home: Path) -> None:
    seal_stories(archive_home, 400, PAST)

    with started(archive_home, "publish-due") as first, started(archive_home, "publish-due") as second:
        results = [finish(first), finish(second)]

    for status, output in results:
        assert status == 0, output
    summaries = [SUMMARY.search(output) for _, output in results]
    assert all(summaries), results
    assert sum(int(m.group(1)) for m in summaries if m) == 400, results
    assert all(m.group(3) == "0" for m in summaries if m), results
    assert count(archive_home, "SELECT count(*) FROM released_stories") == 400
    assert count(archive_home, "SELECT count(*) FROM stories WHERE status = 'released'") == 400
    per_story = rows(archive_home, RELEASE_COUNTS)
    assert len(per_story) == 400
    assert {n for _, n in per_story} == {1}
    assert_index_and_audit_verify(archive_home)


@pytest.mark.whoosh
def test_a_run_killed_with_sigkill_is_repaired_by_the_next(archive_home: Path) -> None:
    total = 1500
    seal_stories(archive_home, total, PAST)

    with started(archive_home, "publish-due") as proc:
        released = kill_between_commits(proc, archive_home, "SELECT count(*) FROM released_stories",
                                        "released_stories")

    assert proc.returncode == -signal.SIGKILL
    assert 0 < released < total, f"the run was not stopped midway ({released} of {total} released)"
    states = rows(archive_home, "SELECT s.status, r.id IS NOT NULL, count(*) FROM stories s "
                                "LEFT JOIN released_stories r ON r.id = s.id GROUP BY 1, 2")
    assert sorted(states) == [("released", 1, released), ("sealed", 0, total - released)]
    assert count(archive_home, "SELECT count(*) FROM released_stories r "
                               "LEFT JOIN stories s ON s.id = r.id WHERE s.id IS NULL") == 0
    audited = rows(archive_home, RELEASE_COUNTS)
    assert len(audited) == released and {n for _, n in audited} == {1}

    rerun = run(archive_home, "publish-due")

    assert rerun.exit_code == 0, rerun.output
    assert (f"released {total - released}, already released {released}, failed 0, "
            f"index repaired {released}") in rerun.output
    assert count(archive_home, "SELECT count(*) FROM stories WHERE status = 'released'") == total
    assert count(archive_home, "SELECT count(*) FROM released_stories") == total
    audited = rows(archive_home, RELEASE_COUNTS)
    assert len(audited) == total and {n for _, n in audited} == {1}
    assert_index_and_audit_verify(archive_home)


@contextmanager
def index_held(home: Path) -> Iterator[None]:
    """Hold the node's search index as its writer does, so another process's write waits."""
    writer = whoosh_index.open_dir(str(home / INDEX_FOLDER), indexname=INDEX_NAME).writer()
    try:
        yield
    finally:
        writer.cancel()


def results(output: str) -> int:
    """The count `escrow search` ends with."""
    return int(output.strip().splitlines()[-1].split()[0])


@pytest.mark.whoosh
def test_every_story_a_killed_run_released_is_found_by_the_next_search_on_every_node(
        archive_home: Path, tmp_path: Path) -> None:
    """Killed between a batch's commit and its index write (forced: the test holds the index,
    so the run waits there): the stories it released are on their pages, and the next search,
    from another process on its node or on another node, finds every one of them."""
    total = 2 * BATCH  # two batches: the run dies after committing the first
    seal_stories(archive_home, total, PAST)
    other = node(archive_home, tmp_path / "node-b")
    shared = {"DATABASE_URL": database_url(archive_home)}
    assert run(archive_home, "index", "rebuild").exit_code == 0
    assert escrow(other, "index", "sync", env=shared).exit_code == 0

    with index_held(archive_home), started(archive_home, "publish-due") as proc:
        with connect(archive_home) as conn:
            poll("the first batch's commit",
                 lambda: scalar(conn, "SELECT count(*) FROM released_stories") == BATCH, alive=proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=RUN_TIMEOUT)
    released = count(archive_home, "SELECT count(*) FROM released_stories")
    assert released == BATCH, released
    assert Index(archive_home / INDEX_FOLDER).documents() == {}  # committed, never indexed

    with started(archive_home, "search", "story") as search:
        status, output = finish(search)
    assert status == 0, output
    assert results(output) == released
    on_b = escrow(other, "search", "story", env=shared)
    assert on_b.exit_code == 0, on_b.output
    assert results(on_b.output) == released
    assert_index_and_audit_verify(archive_home)


def test_key_rotation_killed_midway_still_opens_every_story_and_a_rerun_finishes(
        archive_home: Path, config: Config) -> None:
    total = 2000  # four batches of 500, so the rotation is still running after its first commit
    seal_stories(archive_home, total, FUTURE)

    with started(archive_home, "keys", "rotate") as proc:
        moved = kill_between_commits(proc, archive_home,
                                     "SELECT count(*) FROM stories WHERE kek_version = 2", "stories")

    assert proc.returncode == -signal.SIGKILL
    assert 0 < moved < total, f"the rotation was not stopped midway ({moved} of {total} re-wrapped)"
    ring = (archive_home / "master.key").read_text()
    assert "kek1:" in ring and "kek2:" in ring
    assert unopenable(config) == []

    rerun = run(archive_home, "keys", "rotate")

    assert rerun.exit_code == 0, rerun.output
    assert f"finished rotating to master key version 2: {total - moved} data keys re-wrapped" \
        in rerun.output
    assert rows(archive_home, "SELECT DISTINCT kek_version FROM stories") == [(2,)]
    ring = (archive_home / "master.key").read_text()
    assert "kek2:" in ring and "kek1:" not in ring
    assert every_story_opens(config) == total
    assert_index_and_audit_verify(archive_home)


def test_publish_due_with_a_wrong_master_key_releases_nothing(
        archive_home: Path, tmp_path: Path, new_database: Callable[[], str | None]) -> None:
    seal_stories(archive_home, 5, PAST)
    other = tmp_path / "other"
    assert escrow(other, "init", env=database_env(new_database())).exit_code == 0
    shutil.copyfile(other / "master.key", archive_home / "master.key")
    (archive_home / "master.key").chmod(0o600)
    audit_entries = count(archive_home, "SELECT count(*) FROM audit_log")

    result = run(archive_home, "publish-due")

    assert result.exit_code == 1
    assert result.output.count("\n") == 1, result.output
    assert "does not match this archive" in result.output
    assert count(archive_home, "SELECT count(*) FROM released_stories") == 0
    assert rows(archive_home, "SELECT status, count(*) FROM stories GROUP BY status") == [("sealed", 5)]
    assert count(archive_home, "SELECT count(*) FROM audit_log") == audit_entries
