"""The unit of work (archive/storage/units.py): one commit, the effects that follow it or undo what it
leaves, savepoints that scope both, and the write lock a writing unit holds on SQLite.

Run on the archive's own database (SQLite file or PostgreSQL), through the service layer's
`Archive.unit`, as every operation opens one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from archive import audit, services
from archive.audit import Action, AuditEntry
from archive.services import Archive
from tests.helpers import connect, one


@pytest.fixture
def archive(app: Flask) -> Iterator[Archive]:
    with app.test_request_context():
        yield services.current()


def _entries(home: Path) -> int:
    return int(one(home, "SELECT count(*) FROM audit_log"))


def _record(archive: Archive) -> None:
    audit.record(archive.session, archive.keyring.audit_key, audit.SYSTEM, Action.AUDIT_SHOW, shown=0)


def test_effects_run_after_the_commit_in_order_and_every_one_runs(archive: Archive, archive_home: Path) -> None:
    before = _entries(archive_home)
    seen: list[str] = []

    def failing() -> None:
        seen.append(f"second, after the commit: {_entries(archive_home) - before} entry")
        raise RuntimeError("the index is busy")

    with pytest.raises(RuntimeError, match="the index is busy"), archive.unit() as unit:
        _record(archive)
        unit.after_commit(lambda: seen.append(f"first, after the commit: {_entries(archive_home) - before} entry"))
        unit.after_commit(failing)
        unit.after_commit(lambda: seen.append("third, all the same"))
        unit.on_rollback(lambda: seen.append("never: it committed"))

    assert seen == ["first, after the commit: 1 entry", "second, after the commit: 1 entry", "third, all the same"]
    assert archive.changed  # the commit stands: the door must not say nothing was changed


def test_a_failure_rolls_back_and_undoes_latest_first(archive: Archive, archive_home: Path) -> None:
    before = _entries(archive_home)
    seen: list[str] = []

    with pytest.raises(ValueError, match="refused"), archive.unit() as unit:
        _record(archive)
        unit.on_rollback(lambda: seen.append("the file written first"))
        unit.on_rollback(lambda: seen.append("the file written last"))
        unit.after_commit(lambda: seen.append("never: nothing committed"))
        raise ValueError("refused")

    assert seen == ["the file written last", "the file written first"]
    assert _entries(archive_home) == before and not archive.changed


def test_a_savepoint_that_fails_undoes_only_its_own(archive: Archive, archive_home: Path) -> None:
    before = _entries(archive_home)
    seen: list[str] = []

    with archive.unit() as unit:
        _record(archive)
        with pytest.raises(ValueError), unit.savepoint():
            _record(archive)
            unit.on_rollback(lambda: seen.append("undone with its savepoint"))
            unit.after_commit(lambda: seen.append("never: its savepoint rolled back"))
            archive.session.flush()
            raise ValueError("one story fails")
        with unit.savepoint():
            unit.after_commit(lambda: seen.append("after the commit, with the transaction's"))
        seen.append("the transaction goes on")

    assert seen == ["undone with its savepoint", "the transaction goes on", "after the commit, with the transaction's"]
    assert _entries(archive_home) == before + 1
    assert archive.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) == before + 1


def test_a_checkpoint_commits_and_runs_what_waited_and_a_later_failure_keeps_it(
        archive: Archive, archive_home: Path) -> None:
    before = _entries(archive_home)
    seen: list[str] = []

    with pytest.raises(RuntimeError), archive.unit() as unit:
        _record(archive)
        unit.after_commit(lambda: seen.append("the first batch's"))
        unit.checkpoint()
        unit.at_end(lambda: seen.append("a file written between two transactions"))
        unit.checkpoint()  # nothing was open: it waits for the next transaction's end
        _record(archive)
        raise RuntimeError("the second batch fails")

    assert seen == ["the first batch's", "a file written between two transactions"]
    assert _entries(archive_home) == before + 1  # the first batch stays committed
    assert archive.changed


def test_a_unit_that_only_reads_changes_nothing(archive: Archive) -> None:
    with pytest.raises(RuntimeError), archive.unit() as unit:
        unit.session.execute(text("SELECT 1"))
        unit.checkpoint()
        raise RuntimeError("stopped")

    assert not archive.changed


def test_an_operation_inside_another_joins_its_unit(archive: Archive, archive_home: Path) -> None:
    before = _entries(archive_home)

    with pytest.raises(RuntimeError), archive.unit() as outer:
        with archive.transaction():  # another operation's: one unit, one commit, at the end
            _record(archive)
        assert archive._unit is outer
        raise RuntimeError("the outer one fails")

    assert _entries(archive_home) == before


def test_a_writing_unit_holds_the_database_from_its_first_read(
        archive: Archive, archive_home: Path, database_kind: str) -> None:
    """SQLite: its transaction began with BEGIN IMMEDIATE, so no other writer gets in between
    what it read and what it writes (PostgreSQL: its claims lock rows; see test_release_concurrency)."""
    if database_kind != "sqlite":
        with archive.unit() as unit:
            unit.session.execute(text("SELECT 1 FROM audit_head FOR UPDATE"))
            with connect(archive_home) as other:
                other.exec_driver_sql("SET lock_timeout = 100")
                with pytest.raises(OperationalError):
                    other.exec_driver_sql("SELECT 1 FROM audit_head FOR UPDATE")
        return
    with archive.unit(writes=False) as reading:
        reading.session.execute(text("SELECT count(*) FROM stories"))
        with connect(archive_home) as other:
            other.exec_driver_sql("PRAGMA busy_timeout = 0")
            other.exec_driver_sql("BEGIN IMMEDIATE")  # a reader holds no lock a writer waits for
            other.exec_driver_sql("ROLLBACK")
    with archive.unit() as writing:
        writing.session.execute(text("SELECT count(*) FROM stories"))
        with connect(archive_home) as other:
            other.exec_driver_sql("PRAGMA busy_timeout = 0")
            with pytest.raises(OperationalError, match="locked"):
                other.exec_driver_sql("BEGIN IMMEDIATE")
