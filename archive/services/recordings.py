"""Recordings of a story's interview: attached by its organizer (or an admin), sealed as they
are read; the upload never touches the disk as plaintext (vault/recordings.py). The organizer
listens to their own sealed recording decrypted range by range, each read audited (folded to
one entry a minute, as a player asks for many ranges)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import audit
from archive.accounts import users
from archive.accounts.users import User
from archive.audit import Action
from archive.errors import Conflict, InvalidInput, NoRoom, NotFound, Throttled
from archive.messages import N_
from archive.release import audio
from archive.services import reading
from archive.services.context import Archive
from archive.storage import locks
from archive.storage.units import Unit
from archive.times import utcnow
from archive.vault import ranges, recordings, stories
from archive.vault.drafts import Draft
from archive.vault.media import RangeNotSatisfiable
from archive.vault.models import Recording, Story
from archive.vault.ranges import Opened

__all__ = ["READ", "Opened", "RangeNotSatisfiable", "Recording", "attach", "listing", "open_for_owner", "sweep"]
READ = 1 << 20  # bytes a door reads at a time from an upload or a file
AT_ONCE = 2  # recordings one account may be sending at once (on every machine together)
PER_STORY = 10  # recordings a story may hold
AUDIT_EVERY = timedelta(minutes=1)  # one `recording.open` entry per account and recording a minute


def attach(archive: Archive, actor: User, story_id: str, pieces: Iterable[bytes],
           expected: int | None = None, framing: int = 0) -> Recording:
    """Seal a recording to one of the actor's stories (an admin's: any); audited. Refused
    (InvalidInput) when it is not audio in a format the archive takes, is too large, or is what
    the release gate would refuse for this story later; then nothing is kept, and a refusal
    that read the sealed story to decide is audited (`recording.attach_refused`, with a key of
    audio.REFUSALS), as every read of a sealed story is.

    Bounded before a byte is read (`expected`: at most that many bytes arrive, if known, of
    which up to `framing` may be a form's and not the recording's): Throttled while the actor
    already sends AT_ONCE recordings, NoRoom when the story holds PER_STORY recordings, the
    story's account would pass its share (ESCROW_ACCOUNT_RECORDINGS_MB) or the disk its free
    margin (ESCROW_MEDIA_FREE_MB). The share is counted again, exactly, once it has arrived.

    The recording is read and sealed outside any transaction (an upload may take an hour, and
    on PostgreSQL an open transaction would hold up a withdrawal's clean-up and, behind it,
    every query on stories); only its registration is a short sealing transaction."""
    with sending(archive, actor), archive.unit() as unit:
        with unit.reading():
            story = _attachable(unit.session, actor, story_id)
            story_id, owner_id = story.id, story.owner_id
            room(archive, owner_id, story_id, max(0, (expected or 0) - framing))
        written = recordings.write(story_id, pieces, archive.config.media_root, archive.config.max_recording,
                                   expected=expected, keep_free=archive.config.media_free)
        assert written.sound is not None  # read as audio by `recordings.write`
        unit.at_end(lambda: recordings.discard(written))  # the hidden file, unless registered
        with archive.sealing() as ring:  # commits before it returns, or rolls back
            # Again, locked (its row on PostgreSQL, the writer lock on SQLite): a withdrawal that
            # committed while the recording arrived must not be outlived by a recording with a
            # live key. One that comes after waits, and shreds this one with the rest.
            story = _attachable(unit.session, actor, story_id, locked=True)
            refusal = audio.refusal_to_attach(stories.decrypt(ring, story), written.sound)
            if refusal is None:
                return register(archive, unit, actor, story, written)
            audit.record(unit.session, ring.audit_key, actor.email, Action.RECORDING_ATTACH_REFUSED, story.id,
                         reason=refusal[0])
    raise InvalidInput(N_("%(reason)s: nothing was kept", reason=refusal[1]), field="recording")


@contextmanager
def sending(archive: Archive, actor: User) -> Iterator[None]:
    """One of the actor's AT_ONCE upload slots for the block (every machine's, on PostgreSQL);
    Throttled, before anything is read, when all are taken."""
    with locks.upload_slot(archive.config.home, archive.engine, actor.id, AT_ONCE) as slot:
        if slot is None:
            raise Throttled(N_("you are already sending %(count)s recordings: wait for one to finish, then "
                               "try again; nothing was kept", count=AT_ONCE), retry_after=60)
        yield


def room(archive: Archive, owner_id: int, story_id: str | None, size: int, *, locked: bool = False) -> None:
    """NoRoom unless a recording of `size` bytes fits its story (PER_STORY recordings; None: a
    story being added) and its owner's share of the media folder. `locked`: in the transaction
    that registers it, the owner's row locked first, so two of their uploads ending at once are
    counted one after the other."""
    session = archive.session
    if locked:
        session.execute(select(users.User.id).where(users.User.id == owner_id).with_for_update())
    kept = (Recording.rendition == "original", Recording.wrapped_key.is_not(None))
    if story_id is not None:
        count = session.scalar(select(func.count(Recording.id)).where(Recording.story_id == story_id, *kept)) or 0
        if count >= PER_STORY:
            raise NoRoom(N_("this story already holds %(count)s recordings, as many as a story may: "
                            "nothing was kept", count=PER_STORY), field="recording")
    used = session.scalar(select(func.coalesce(func.sum(Recording.size), 0)).join(Story, Story.id == Recording.story_id)
                          .where(Story.owner_id == owner_id, *kept)) or 0
    share = archive.config.account_recordings
    if used + size > share:
        raise NoRoom(N_("the recordings of this account's stories would pass the %(share)s MiB an account may "
                        "keep (%(used)s MiB are kept already): nothing was kept; an admin can make room",
                        share=share // 2**20, used=used // 2**20), field="recording")


def write(archive: Archive, unit: Unit, story_id: str, draft: Draft, pieces: Iterable[bytes],
          expected: int | None = None) -> recordings.Written:
    """Seal a recording of a story being added (`draft`, the caller's own content) into a hidden
    file as it is read, outside any transaction; the file goes when the unit's next transaction
    ends, unless that transaction registers it. InvalidInput, and nothing kept, when it is not
    audio the archive takes, is too large, or is what the release gate would refuse for this
    story later (a muted copy too long for a WAV file, captions that end after the recording);
    NoRoom when the disk would keep less than its free margin."""
    written = recordings.write(story_id, pieces, unit.media_root, archive.config.max_recording,
                               expected=expected, keep_free=archive.config.media_free)
    assert written.sound is not None  # read as audio by `recordings.write`
    unit.at_end(lambda: recordings.discard(written))
    refusal = audio.refusal_to_attach(draft, written.sound)
    if refusal is not None:
        raise InvalidInput(N_("%(reason)s: nothing was kept", reason=refusal[1]), field="recording")
    return written


def register(archive: Archive, unit: Unit, actor: User, story: Story, written: recordings.Written) -> Recording:
    """Add a written recording to its story in the unit's sealing transaction, audited, if it
    still fits (`room`, counted again now that its size is known and the story locked)."""
    room(archive, story.owner_id, story.id, written.recording.size, locked=True)
    recording = recordings.register(unit, written)
    audit.record(unit.session, unit.keyring.audit_key, actor.email, Action.RECORDING_ATTACH, story.id,
                 recording=recording.id, media_type=recording.media_type, size=recording.size)
    return recording


def _attachable(session: Session, actor: User, story_id: str, locked: bool = False) -> Story:
    story = stories.get_for(session, actor, story_id)
    if locked:
        session.refresh(story, with_for_update=True)
        if story.status == "withdrawn" or story.wrapped_key is None:
            raise Conflict(N_("story %(id)s was withdrawn while the recording arrived: nothing was kept",
                              id=story.id))
    if story.status == "withdrawn":
        raise Conflict(N_("story %(id)s is withdrawn: nothing can be added to it", id=story.id))
    return story


def read_file(path: Path) -> Iterator[bytes]:
    """A file's bytes in pieces of READ, for `attach` or `seal`."""
    with path.open("rb") as source:
        yield from iter(lambda: source.read(READ), b"")


def listing(archive: Archive, actor: User, story_id: str) -> list[Recording]:
    """The recordings of one of the actor's stories as attached (not the muted copies the gate made)."""
    found = recordings.of(archive.session, stories.get_for(archive.session, actor, story_id))
    return [recording for recording in found if recording.rendition == "original"]


def open_for_owner(archive: Archive, actor: User, story_id: str, recording_id: str) -> Opened:
    """The actor's own sealed recording of their own story; NotFound, the same as an unknown id,
    for anyone else's, another story's, or a withdrawn story's."""
    story = stories.get_for(archive.session, actor, story_id)
    recording = archive.session.get(Recording, recording_id) if stories.can_be_id(recording_id) else None
    if (story.owner_id != actor.id or story.status == "withdrawn" or recording is None
            or recording.story_id != story.id or recording.rendition != "original"
            or recording.wrapped_key is None):
        raise NotFound(f"no recording {recording_id[:40]}")
    email, story_id, recording_id = actor.email, story.id, recording.id
    return _opened(archive, recording, lambda start, end: _audit_read(archive, email, story_id, recording_id,
                                                                        start, end))


def open_released(archive: Archive, story_id: str) -> Opened:
    """The released rendition of a released story's recording (muted, or the original at level
    full), for anyone who may read the reading room; not audited, as released text is not. The
    same NotFound for a sealed, withdrawn or unknown story and for one that releases no audio."""
    released = reading.released(archive, story_id)
    recording = archive.session.get(Recording, released.recording_id) if released.recording_id else None
    if recording is None or recording.story_id != released.id or recording.wrapped_key is None:
        raise NotFound("no such story in the reading room")
    return _opened(archive, recording, None)


def _opened(archive: Archive, recording: Recording, audited: ranges.Audited | None) -> Opened:
    return ranges.opened(archive.keyring, archive.config.media_root, recording, audited)


def _audit_read(archive: Archive, email: str, story_id: str, recording_id: str, start: int, end: int) -> None:
    """Record a read, unless this account read this recording within the last minute."""
    with archive.unit() as unit:
        if audit.recorded_since(unit.session, Action.RECORDING_OPEN, actor=email, story_id=story_id,
                                since=utcnow() - AUDIT_EVERY, recording=recording_id):
            return
        audit.record(unit.session, unit.keyring.audit_key, email, Action.RECORDING_OPEN, story_id,
                     recording=recording_id, range=f"{start}-{end - 1}" if end > start else "none")


def sweep(archive: Archive) -> list[recordings.Stray]:
    """Remove the media folder's files no committed recording needs (what `index verify` reports
    of it, each a day old at least); the files removed. With the key ring's exclusive lock
    besides: no sealing transaction (an import's, publish-due's) is open while it looks."""
    with archive.unit(writes=False) as unit, unit.ring_change():
        found = recordings.strays(unit.session, unit.media_root)
        for stray in found:
            stray.path.unlink(missing_ok=True)
    return found
