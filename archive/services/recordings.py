"""Recordings of a story's interview: attached by its organizer (or an admin), sealed as they
are read; the upload never touches the disk as plaintext (vault/recordings.py)."""

from __future__ import annotations

from collections.abc import Iterable

from archive import audit
from archive.errors import Conflict
from archive.services.context import Archive
from archive.users import User
from archive.vault import recordings, stories
from archive.vault.models import Recording

__all__ = ["READ", "Recording", "attach", "listing"]
READ = 1 << 20  # bytes a door reads at a time from an upload or a file


def attach(archive: Archive, actor: User, story_id: str, pieces: Iterable[bytes]) -> Recording:
    """Seal a recording to one of the actor's stories (an admin's: any); audited. Refused
    (InvalidInput) when it is not audio in a format the archive takes or is too large, and
    then nothing is kept."""
    config = archive.config
    sealed: list[Recording] = []
    try:
        with archive.sealing() as ring:  # commits before it returns, or rolls back
            story = stories.get_for(archive.session, actor, story_id)
            if story.status == "withdrawn":
                raise Conflict(f"story {story.id} is withdrawn: nothing can be added to it")
            sealed.append(recordings.seal(archive.session, ring, story, pieces, config.media_root,
                                          config.max_recording))
            audit.record(archive.session, ring.audit_key, actor.email, "recording.attach", story.id,
                         recording=sealed[0].id, media_type=sealed[0].media_type, size=sealed[0].size)
    except BaseException:
        recordings.remove(config.media_root, sealed)  # a sealed file whose row was not committed
        raise
    return sealed[0]


def listing(archive: Archive, actor: User, story_id: str) -> list[Recording]:
    """The recordings of one of the actor's stories (control columns only)."""
    return recordings.of(archive.session, stories.get_for(archive.session, actor, story_id))
