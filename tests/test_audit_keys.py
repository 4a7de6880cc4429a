"""The audit key rotates with the master key: a key file copied before `escrow keys rotate` MACs
no audit entry that verifies after it.

The attacker holds a copy of master.key from before a rotation and can write to the database.
With the copy they forge an entry as a writer holding it would (tests/forgers.py, its own
process): first shown to verify while the copy is current (so the test would see a forgery
accepted), then named by `escrow audit verify` after the rotation. Entries written by other
processes while the rotation runs are held on either side of the switch and all verify; a
process that read the key file before the rotation writes under the new key; anchors and
backups from before the switch still check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive import audit, create_app, services
from archive.audit import Action, AuditAnchor, AuditEntry, AuditHead
from archive.config import Config
from archive.errors import TamperDetected
from archive.services import audit_log
from archive.storage import database
from archive.vault import keys
from tests.helpers import add_users, escrow, one, sql, story, write_lines
from tests.processes import ORGANIZER, Pauses, finish, poll, process_env, started
from tests.test_rotation_races import waits_for_a_file_lock

ADMIN = "admin@example.org"


@pytest.fixture
def home(archive_home: Path, tmp_path: Path) -> Path:
    add_users(archive_home, (ORGANIZER, "organizer"), (ADMIN, "admin"))
    lines = write_lines(tmp_path / "s.jsonl", *(story(title=f"t{n}") for n in range(3)))
    assert escrow(archive_home, "stories", "import", str(lines), "--as", ORGANIZER).exit_code == 0
    return archive_home


def copy_key_file(home: Path, to: Path) -> Path:
    """A copy of the key file as it is now, as someone might have taken it."""
    shutil.copyfile(home / "master.key", to)
    return to


def forge(home: Path, key_file: Path, actor: str = "mallory@example.org") -> int:
    """Append an entry MACed with the copy's audit key, from a process of its own; its number."""
    forger = subprocess.run([sys.executable, "-m", "tests.forgers", str(key_file), actor],
                            env=process_env(home), capture_output=True, text=True, timeout=120, check=False)
    assert forger.returncode == 0, forger.stderr
    return int(forger.stdout)


def rotate(home: Path) -> str:
    rotated = escrow(home, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    return rotated.output


def verify(home: Path, *args: str) -> tuple[int, str]:
    result = escrow(home, "audit", "verify", *args)
    return result.exit_code, result.output


def switch_at(home: Path, version: int = 2) -> int:
    """The entry that switched the chain to an audit key version."""
    found = one(home, "SELECT seq FROM audit_log WHERE action = 'audit.rekey' AND detail = :detail",
                detail=f'{{"version": {version}}}')
    assert found is not None
    return int(found)


def test_an_entry_forged_with_a_key_file_copied_before_a_rotation_is_named(home: Path, tmp_path: Path) -> None:
    copy = copy_key_file(home, tmp_path / "stolen.key")
    accepted = forge(home, copy)  # while the copy is the key file, its entries are the archive's own
    assert verify(home)[0] == 0
    assert "the audit log is under audit key version 2" in rotate(home)

    forged = forge(home, copy)
    assert escrow(home, "users", "add", "late@example.org", "--role", "researcher", "--password-stdin",
                  input="a long enough password\n").exit_code == 0  # an honest entry chained after it
    status, output = verify(home)

    assert forged > switch_at(home) > accepted
    assert status == 1 and output.count("\n") == 1
    assert (f"audit entry {forged} does not verify: it is signed with audit key version 1, which the log "
            "left for version 2, so whoever wrote it held an old key file") in output


def test_a_rotation_keeps_every_audit_key_and_only_the_newest_master_key(home: Path) -> None:
    first = keys.parse((home / "master.key").read_text(), "test")
    rotate(home)
    rotate(home)
    ring = keys.parse((home / "master.key").read_text(), "test")

    assert sorted(ring.keks) == [3] and sorted(ring.audits) == [1, 2, 3]
    assert ring.audits[1] == first.audits[1]
    assert len({*ring.audits.values()}) == 3
    assert switch_at(home, 2) < switch_at(home, 3)
    assert verify(home)[0] == 0


def test_the_old_key_cannot_rewrite_the_history_before_the_switch(home: Path, tmp_path: Path,
                                                                  config: Config) -> None:
    """The careful attacker edits entry 2 and re-MACs every entry up to the switch with the old
    key, the switch entry too: the first entry after it, MACed under the new key, still holds
    the switch entry's old MAC."""
    old = keys.parse(copy_key_file(home, tmp_path / "stolen.key").read_text(), "the copy")
    rotate(home)
    switch = switch_at(home)
    with create_app(config).app_context():
        session = database.db.session()
        entries = list(audit.entries(session))
        entries[1].actor = "someone@else.org"
        for before, entry in zip(entries[: switch - 1], entries[1:switch], strict=True):
            entry.prev_hash = before.hash
            entry.hash = audit._mac(old.audits[1], entry)
        session.commit()
        database.db.session.remove()
        database.db.engine.dispose()

    status, output = verify(home)

    assert status == 1
    assert f"audit entry {switch + 1} does not verify: it was edited, moved or replaced" in output


def test_replacing_the_switch_and_all_after_it_with_old_key_entries_fails(home: Path, tmp_path: Path) -> None:
    copy = copy_key_file(home, tmp_path / "stolen.key")
    rotate(home)
    switch = switch_at(home)
    before = one(home, "SELECT hash FROM audit_log WHERE seq = :seq", seq=switch - 1)
    sql(home, "DELETE FROM audit_log WHERE seq >= :seq", seq=switch)
    sql(home, "UPDATE audit_head SET seq = :seq, hash = :hash, key_version = 1", seq=switch - 1, hash=before)
    forge(home, copy)

    status, output = verify(home)

    assert status == 1
    assert ("the audit log ends under audit key version 1, not 2, the key ring's newest: its switch to the new "
            "key and the entries after it were replaced") in output


def test_a_chain_cut_just_after_its_switch_fails(home: Path) -> None:
    rotate(home)
    switch = switch_at(home)
    mac = one(home, "SELECT hash FROM audit_log WHERE seq = :seq", seq=switch)
    sql(home, "DELETE FROM audit_log WHERE seq > :seq", seq=switch)
    sql(home, "UPDATE audit_head SET seq = :seq, hash = :hash", seq=switch, hash=mac)

    status, output = verify(home)

    assert status == 1
    assert f"the audit log ends at its switch to a new audit key (entry {switch}): the entries after it were cut" \
        in output


def test_a_head_sent_back_to_the_old_key_is_caught(home: Path) -> None:
    rotate(home)
    sql(home, "UPDATE audit_head SET key_version = 1")

    status, output = verify(home)

    assert status == 1 and "the head was rewritten" in output


def test_writers_held_behind_a_rotation_land_on_either_side_of_its_switch(home: Path, tmp_path: Path) -> None:
    """The rotation stops just before its switch, inside the key ring's exclusive lock: an anchor
    and a reading of the log recorded meanwhile (the anchor verifies the chain first) are chained
    under the old audit key, an import waits for the ring, and everything written after the
    switch is under the new key. All of it verifies."""
    pauses = Pauses(tmp_path / "pauses")
    pauses.hold("rotation.switch")
    batch = write_lines(tmp_path / "late.jsonl", *(story(title=f"late {n}") for n in range(3)))
    with ExitStack() as running:
        rotation = running.enter_context(started(home, "keys", "rotate", env=pauses.env))
        pauses.reached("rotation.switch", alive=rotation)
        for writer in (["audit", "anchor"], ["audit", "show"]):
            status, output = finish(running.enter_context(started(home, *writer)))
            assert status == 0, output
        load = running.enter_context(started(home, "stories", "import", str(batch), "--as", ORGANIZER))
        poll("the import to wait for the key ring", lambda: waits_for_a_file_lock(load.pid), alive=load)
        pauses.release("rotation.switch")
        results = [finish(rotation), finish(load)]
    for status, output in results:
        assert status == 0, output

    actions = [r[0] for r in sql(home, "SELECT action FROM audit_log ORDER BY seq")]
    switch = actions.index("audit.rekey")
    assert actions[switch - 2 : switch] == ["audit.anchor", "audit.show"]
    assert actions[switch + 1] == "keys.rotate"
    assert actions[switch + 2 :].count("story.import") == 3
    status, output = verify(home)
    assert status == 0 and "audit log intact" in output, output


def test_a_process_that_read_the_key_file_before_a_rotation_writes_under_the_new_key(
        home: Path, config: Config) -> None:
    """Its ring lacks the new audit key; the head says the chain is under it; the key file is read again."""
    app = create_app(config)
    with app.app_context():
        archive = services.current()
        assert sorted(archive.keyring.audits) == [1]
        with started(home, "keys", "rotate") as rotation:
            status, output = finish(rotation)
        assert status == 0, output
        mark = audit_log.anchor(archive, ADMIN)  # verifies the chain, then records and anchors its head
        database.db.session.remove()
        database.db.engine.dispose()

    assert mark.seq > switch_at(home)
    assert verify(home, "--anchor", str(mark))[0] == 0


def test_a_machine_whose_key_file_predates_the_switch_writes_no_entry(home: Path, tmp_path: Path) -> None:
    old = (home / "master.key").read_text()
    rotate(home)
    (home / "master.key").write_text(old)
    before = one(home, "SELECT count(*) FROM audit_log")

    refused = escrow(home, "users", "add", "x@example.org", "--role", "researcher", "--password-stdin",
                     input="a long enough password\n")

    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert "lacks audit key version 2" in refused.output and "copy the key file" in refused.output
    assert one(home, "SELECT count(*) FROM audit_log") == before
    assert one(home, "SELECT count(*) FROM users WHERE email = 'x@example.org'") == 0


def test_anchors_kept_before_a_rotation_still_check_after_it(home: Path) -> None:
    early = escrow(home, "audit", "anchor")
    assert early.exit_code == 0
    kept = early.output.split()[3]
    rotate(home)
    late = escrow(home, "audit", "anchor")
    assert late.exit_code == 0

    assert verify(home, "--anchor", kept)[0] == 0
    assert verify(home, "--anchor", late.output.split()[3])[0] == 0
    seq = int(kept.split(":")[0])
    sql(home, "UPDATE audit_log SET hash = :h WHERE seq = :seq", h="0" * 64, seq=seq)
    status, output = verify(home, "--anchor", kept)
    assert status == 1 and f"audit entry {seq} does not verify" in output


# -- the property: verification fails exactly when an entry was forged with a retired key ---------

STEPS = st.lists(st.one_of(
    st.tuples(st.just("write"), st.just(0), st.just(0)),
    st.tuples(st.just("rotate"), st.just(0), st.just(0)),
    # forge: append an entry MACed with the audit key of the key file copied at rotation `copy`
    st.tuples(st.just("forge"), st.integers(0, 8), st.just(0)),
    # rewrite: edit entry `at` and re-MAC it and everything after it with that copy's key
    st.tuples(st.just("rewrite"), st.integers(0, 8), st.integers(0, 40)),
), max_size=14)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_verification_fails_exactly_when_an_entry_was_forged_with_a_retired_key(
        session: Session, steps: list[tuple[str, int, int]]) -> None:
    """Writes, rotations and forgeries in any order, on the real database. The model keeps, per
    entry, the audit key version in force at it and whether the key that MACed it was another:
    a key file current when it forged signs nothing wrong (it is the archive's key), a copy
    from before a switch does. Verification fails iff some entry is wrong, naming the first."""
    for table in (AuditAnchor, AuditEntry, AuditHead):
        session.execute(delete(table))
    session.commit()
    ring = keys.generate()
    copies = [ring]  # the key file as it was at each rotation
    version = 1
    in_force: list[int] = []
    wrong: list[bool] = []

    def honest(action: Action, **detail: object) -> None:
        audit.record(session, ring.audit_key, "org@example.org", action, **detail)
        in_force.append(version)
        wrong.append(False)

    honest(Action.STORY_READ)
    for kind, copy_at, at in steps:
        copy = copies[copy_at % len(copies)]
        forged_with = copy.audit_version
        if kind == "write":
            honest(Action.STORY_READ)
        elif kind == "rotate":
            ring = ring.with_new_keys()
            copies.append(ring)
            audit.rekey(session, ring.audit_key, audit.SYSTEM, ring.audit_version)
            in_force.append(version)
            wrong.append(False)
            version = ring.audit_version
            honest(Action.KEYS_ROTATE)
            ring = ring.only({ring.current_version})
        elif kind == "forge":
            audit.record(session, lambda _v, key=copy.audits[forged_with]: key, "mallory@example.org",
                         Action.USER_ADD, role="admin")
            in_force.append(version)
            wrong.append(forged_with != version)
        else:
            start = at % len(in_force)
            entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
            entries[start].actor = "someone@else.org"
            previous = entries[start - 1].hash if start else audit.GENESIS
            for index, entry in enumerate(entries[start:], start):
                entry.prev_hash = previous
                entry.hash = previous = audit._mac(copy.audits[forged_with], entry)
                wrong[index] = forged_with != in_force[index]
            head = session.get(AuditHead, 1)
            assert head is not None
            head.hash = previous
        session.commit()

    if True in wrong:
        with pytest.raises(TamperDetected) as caught:
            audit.verify(session, ring)
        assert f"audit entry {wrong.index(True) + 1} does not verify" in str(caught.value)
    else:
        assert audit.verify(session, ring) == len(in_force)
    session.rollback()
