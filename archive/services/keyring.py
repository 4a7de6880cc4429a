"""The master key ring: rotation, exclusive of every operation that wraps a data key."""

from __future__ import annotations

from archive import audit
from archive.accounts import users
from archive.audit import Action
from archive.services.context import Archive
from archive.vault import rotation
from archive.vault.rotation import Rotation


def rotate(archive: Archive) -> Rotation:
    """Re-wrap every data key under a new master key; the old key leaves only when unused.

    Everything the web signs (session cookies, CSRF tokens, OAI-PMH resumption tokens) is
    signed with a key derived from the newest master key, so the old key file signs nothing
    accepted from the moment the new one is written; and every account's session generation
    is made anew, so no session from before the rotation lives on, whatever signed it.
    """
    with archive.unit() as unit, unit.publishing():
        done = rotation.rotate(unit, archive.config, audit.SYSTEM)
        ended = users.end_every_session(unit.session)
        audit.record(unit.session, unit.keyring.audit_key, audit.SYSTEM, Action.USER_SESSIONS_END_ALL,
                     why="keys rotated", accounts=ended)
        return done
