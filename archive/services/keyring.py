"""The master key ring: rotation, exclusive of every operation that wraps a data key."""

from __future__ import annotations

from archive import audit, users
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
    with archive.publishing(), archive.transaction():
        done = rotation.rotate(archive.session, archive.config, audit.SYSTEM, archive.ring_change)
        ended = users.end_every_session(archive.session)
        audit.record(archive.session, archive.keyring.audit_key, audit.SYSTEM, "user.sessions_end_all",
                     why="keys rotated", accounts=ended)
        return done
