"""Master key rotation: re-wrap every data key under a new master key; payloads stay as they are.

Crash-safe: the new ring (old and new key) is written before any data key moves, each
batch commits on its own, and a re-run finishes an unfinished rotation instead of
starting another. The old key leaves the ring only once no data key needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit
from archive.config import Config
from archive.errors import KeyProblem
from archive.vault import crypto, keys
from archive.vault.keys import Keyring
from archive.vault.models import Story

BATCH = 500


@dataclass(frozen=True)
class Rotation:
    """The outcome: the master key version now in use and how many data keys moved to it."""

    version: int
    rewrapped: int
    resumed: bool


def _behind(session: Session, version: int) -> list[str]:
    return list(session.scalars(select(Story.id).where(
        Story.wrapped_key.is_not(None), Story.kek_version != version)))


def rotate(session: Session, config: Config, keyring: Keyring, actor: str) -> Rotation:
    """Rotate (or finish rotating) to a newer master key; rewrite the key file."""
    if config.master_key is not None:
        raise KeyProblem("keys rotate rewrites the key file; it cannot change ESCROW_MASTER_KEY")
    # A ring holding more than one master key is a rotation that did not finish
    # (killed while re-wrapping, or after the last batch but before the key file shrank).
    resumed = len(keyring.keks) > 1
    if not resumed:
        keys.forget_unused(session, keyring)
        keyring = keyring.with_new_kek()
        keys.register(session, keyring)
        session.commit()
        keys.write_file(config.key_file, keyring, replace=True)
    version, rewrapped = keyring.current_version, 0
    pending = _behind(session, version)
    for start in range(0, len(pending), BATCH):
        for story in session.scalars(select(Story).where(Story.id.in_(pending[start : start + BATCH]))):
            old = story.kek_version
            assert old is not None and story.wrapped_key is not None
            dek = crypto.unwrap(keyring.kek(old), story.wrapped_key,
                                crypto.wrap_aad(story.id, story.dek_id, old))
            story.wrapped_key = crypto.wrap(keyring.kek(version), dek,
                                            crypto.wrap_aad(story.id, story.dek_id, version))
            story.kek_version = version
            rewrapped += 1
        session.commit()
    audit.record(session, keyring.audit_key, actor, "keys.rotate", version=version, rewrapped=rewrapped)
    session.commit()
    keys.write_file(config.key_file, keyring.only({version}), replace=True)
    return Rotation(version, rewrapped, resumed)
