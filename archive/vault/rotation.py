"""Master key rotation: re-wrap every data key under a new master key; payloads stay as they are.

Crash-safe: the new ring (old and new key) is written before any data key moves, each
batch commits on its own, and a re-run finishes an unfinished rotation instead of
starting another. The old key leaves the ring only once no data key needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit
from archive.config import Config
from archive.errors import KeyProblem
from archive.vault import crypto, keys
from archive.vault.keys import Keyring
from archive.vault.models import Recording, Story

BATCH = 500


@dataclass(frozen=True)
class Rotation:
    """The outcome: the master key version now in use and how many data keys moved to it."""

    version: int
    rewrapped: int
    resumed: bool


Wrapped = type[Story] | type[Recording]
# Every table holding data keys wrapped by the master key, with the associated data of its wraps.
WRAPPED: tuple[tuple[Wrapped, Callable[[str, str, int], bytes]], ...] = (
    (Story, crypto.wrap_aad), (Recording, crypto.recording_wrap_aad))


def _behind(session: Session, version: int) -> list[str]:
    return [f"{model.__tablename__}/{row_id}" for model, _ in WRAPPED for row_id in session.scalars(
        select(model.id).where(model.wrapped_key.is_not(None), model.kek_version != version))]


def _rewrap(session: Session, keyring: Keyring, version: int) -> int:
    """Move every data key not yet under `version` to it, one committed batch at a time."""
    moved = 0
    for model, aad in WRAPPED:
        pending = list(session.scalars(select(model.id).where(
            model.wrapped_key.is_not(None), model.kek_version != version)))
        for start in range(0, len(pending), BATCH):
            rows: list[Story | Recording] = list(session.scalars(
                select(model).where(model.id.in_(pending[start : start + BATCH]))))
            for row in rows:
                old = row.kek_version
                if old is None or row.wrapped_key is None or old == version:
                    continue  # withdrawn or moved since the list was read
                dek = crypto.unwrap(keyring.kek(old), row.wrapped_key, aad(row.id, row.dek_id, old))
                row.wrapped_key = crypto.wrap(keyring.kek(version), dek, aad(row.id, row.dek_id, version))
                row.kek_version = version
                moved += 1
            session.commit()
    return moved


def rotate(session: Session, config: Config, actor: str,
           ring_lock: Callable[[], AbstractContextManager[None]]) -> Rotation:
    """Rotate (or finish rotating) to a newer master key; rewrite the key file.

    `ring_lock` is the key ring's exclusive lock: held while the new key joins the ring
    and while the old one leaves it, so a story sealed meanwhile is either wrapped under
    the new key or waited for and re-wrapped; the ring is re-read inside it each time.
    """
    if config.master_key is not None:
        raise KeyProblem("keys rotate rewrites the key file; it cannot change ESCROW_MASTER_KEY")
    with ring_lock():
        keyring = keys.unlock(session, config)
        # A ring holding more than one master key is a rotation that did not finish
        # (killed while re-wrapping, or after the last batch but before the key file shrank).
        resumed = len(keyring.keks) > 1
        if not resumed:
            keys.forget_unused(session, keyring)
            keyring = keyring.with_new_kek()
            keys.register(session, keyring)
            session.commit()
            keys.write_file(config.key_file, keyring, replace=True)
        session.commit()
    version = keyring.current_version
    rewrapped = _rewrap(session, keyring, version)
    with ring_lock():
        session.commit()  # a fresh read: what was sealed while the batches ran is seen now
        rewrapped += _rewrap(session, keyring, version)
        audit.record(session, keyring.audit_key, actor, "keys.rotate", version=version, rewrapped=rewrapped)
        session.commit()
        left = _behind(session, version)
        if left:  # cannot happen while every wrapper holds the shared lock; never drop a key in use
            raise KeyProblem(f"{len(left)} data keys are still wrapped under an older master key: "
                             "the old key stays in the ring; run 'escrow keys rotate' again")
        keys.write_file(config.key_file, keyring.only({version}), replace=True)
    return Rotation(version, rewrapped, resumed)
