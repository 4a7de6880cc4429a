"""Master key rotation: re-wrap every data key under a new master key; payloads stay as they are;
switch the audit log to a new audit key.

Crash-safe: the new ring (old and new key) is written before any data key moves, each
batch commits on its own (a checkpoint of the unit of work), and a re-run finishes an
unfinished rotation instead of starting another. The old key leaves the ring only once no
data key needs it. The audit log switches to the new audit key at the end, inside the ring's
exclusive lock, after the key file holding it was written (archive/audit.py: every process that
finds the chain under the new key can read it from the file); old audit keys stay in the ring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from archive import audit, pauses
from archive.audit import Action
from archive.config import Config
from archive.errors import KeyProblem
from archive.storage.units import Unit
from archive.vault import crypto, keys
from archive.vault.keys import Keyring
from archive.vault.models import Recording, Story

BATCH = 500


@dataclass(frozen=True)
class Rotation:
    """The outcome: the master key version now in use, how many data keys moved to it, and the
    audit key version the audit log is now under."""

    version: int
    rewrapped: int
    resumed: bool
    audit_version: int


Wrapped = type[Story] | type[Recording]
# Every table holding data keys wrapped by the master key, with the associated data of its wraps.
WRAPPED: tuple[tuple[Wrapped, Callable[[str, str, int], bytes]], ...] = (
    (Story, crypto.wrap_aad), (Recording, crypto.recording_wrap_aad))


def _behind(session: Session, version: int) -> list[str]:
    return [f"{model.__tablename__}/{row_id}" for model, _ in WRAPPED for row_id in session.scalars(
        select(model.id).where(model.wrapped_key.is_not(None), model.kek_version != version))]


def _rewrap(unit: Unit, keyring: Keyring, version: int) -> int:
    """Move every data key not yet under `version` to it, one committed batch at a time. Each
    batch's keys are read and re-wrapped outside the write lock and written only where the key
    is still the one read (a withdrawal since destroyed it): the transaction holds the database
    for the writes alone, so a sign-in waiting meanwhile gets in between two batches."""
    session = unit.session
    moved = 0
    for model, aad in WRAPPED:
        with unit.reading():
            pending = list(session.scalars(select(model.id).where(
                model.wrapped_key.is_not(None), model.kek_version != version)))
        for start in range(0, len(pending), BATCH):
            with unit.reading():
                found = session.execute(select(model.id, model.dek_id, model.kek_version, model.wrapped_key)
                                        .where(model.id.in_(pending[start : start + BATCH]))).all()
            rewrapped = []
            for row_id, dek_id, old, wrapped in found:
                if old is None or wrapped is None or old == version:
                    continue  # withdrawn or moved since the list was read
                dek = crypto.unwrap(keyring.kek(old), wrapped, aad(row_id, dek_id, old))
                rewrapped.append((row_id, old, wrapped, crypto.wrap(keyring.kek(version), dek,
                                                                   aad(row_id, dek_id, version))))
            if rewrapped:
                table = cast(Table, model.__table__)
                session.execute(update(table).where(
                    table.c.id == bindparam("row_id"), table.c.kek_version == bindparam("old"),
                    table.c.wrapped_key == bindparam("wrapped")).values(wrapped_key=bindparam("new"),
                                                                        kek_version=version),
                    [{"row_id": r, "old": o, "wrapped": w, "new": n} for r, o, w, n in rewrapped])
                # (Only this run moves keys to `version`: the publisher lock keeps rotations apart.)
                moved += session.scalar(select(func.count()).select_from(model).where(
                    model.id.in_([r for r, *_ in rewrapped]), model.kek_version == version)) or 0
            unit.checkpoint()
    return moved


def rotate(unit: Unit, config: Config, actor: str) -> Rotation:
    """Rotate (or finish rotating) to a newer master key and audit key; rewrite the key file (the
    unit holds the publisher lock).

    The key ring's exclusive lock is held while the new key joins the ring and while the old
    one leaves it, so a story sealed meanwhile is either wrapped under the new key or waited
    for and re-wrapped; the ring is re-read inside it each time.
    """
    if config.master_key is not None:
        raise KeyProblem("keys rotate rewrites the key file; it cannot change ESCROW_MASTER_KEY")
    session = unit.session
    with unit.ring_change():
        keyring = keys.unlock(session, config)
        # A ring holding more than one master key is a rotation that did not finish
        # (killed while re-wrapping, or after the last batch but before the key file shrank).
        resumed = len(keyring.keks) > 1
        if audit.key_version(session) > keyring.audit_version:
            raise KeyProblem(f"the audit log is under audit key version {audit.key_version(session)}, which "
                             "this key file lacks: restore the newer key file before rotating")
        if not resumed:
            keys.forget_unused(session, keyring)
            keyring = keyring.with_new_keys()
            keys.register(session, keyring)
            unit.checkpoint()
            keys.write_file(config.key_file, keyring, replace=True)
        unit.checkpoint()
    version = keyring.current_version
    rewrapped = _rewrap(unit, keyring, version)
    with unit.ring_change():  # (it commits first: what was sealed while the batches ran is read now)
        rewrapped += _rewrap(unit, keyring, version)
        pauses.at("rotation.switch")  # (tests: writers run here, on the old audit key)
        # The switch, under the old audit key, then the rotation's entry under the new one, which
        # pins it (a chain that ends at its switch was cut). Writers wait for the head's lock.
        audit.rekey(session, keyring.audit_key, actor, keyring.audit_version)
        audit.record(session, keyring.audit_key, actor, Action.KEYS_ROTATE, version=version, rewrapped=rewrapped,
                     audit_key=keyring.audit_version)
        unit.checkpoint()
        left = _behind(session, version)
        if left:  # cannot happen while every wrapper holds the shared lock; never drop a key in use
            raise KeyProblem(f"{len(left)} data keys are still wrapped under an older master key: "
                             "the old key stays in the ring; run 'escrow keys rotate' again")
        keys.write_file(config.key_file, keyring.only({version}), replace=True)
    return Rotation(version, rewrapped, resumed, keyring.audit_version)
