"""What the release gate releases of a story's recording, as its narrator chose.

`none` (the default): nothing; the voice stays sealed even once the text is released; the
same for a story with more than one recording (which one to release is not known).
`full` (only at level full): the original recording itself. `muted`: a derivative made here,
decoded from the sealed original through the seal (nothing decrypted reaches the disk), every
cue whose released text hides something silent with short fades outside it, re-encoded as
WAV and sealed as it is made. A story without a recording, or whose timed transcript is
missing (nothing to time the silences by), releases none: the gate never guesses where a
name was said.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from archive import audit
from archive.release import muting
from archive.release.redaction import ReleasedText
from archive.vault import media, recordings
from archive.vault.keys import Keyring
from archive.vault.models import Recording, Story


def release(session: Session, keyring: Keyring, story: Story, text: ReleasedText, root: Path,
            actor: str) -> Recording | None:
    """The rendition of the story's recording to release now (made, if muted), or None."""
    choice = story.recording_release
    originals = [r for r in recordings.of(session, story) if r.rendition == "original"]
    if choice == "none" or len(originals) != 1:
        # None, or several (parts, a re-take): which one the timed transcript times, or the
        # narrator agreed to release, is not known here, so none is released.
        return None
    [original] = originals
    if choice == "full":
        if text.redaction_level != "full":  # the vault refuses this pairing; never trusted here
            return None
        chosen = original
    elif text.captions is None:
        return None
    else:
        chosen = _muted(session, keyring, story, original, text, root)
    audit.record(session, keyring.audit_key, actor, "recording.release", story.id, recording=chosen.id,
                 rendition=chosen.rendition, silenced=len(text.silences) if chosen.rendition == "muted" else 0)
    return chosen


def _muted(session: Session, keyring: Keyring, story: Story, original: Recording, text: ReleasedText,
           root: Path) -> Recording:
    silences = [(start / 1000, end / 1000) for start, end in text.silences]
    binding = media.Binding(original.story_id, original.id, original.rendition)
    with recordings.path(root, original).open("rb") as source:
        reader = recordings.Reader(recordings.data_key(keyring, original), binding, source)
        made = muting.mute(reader, silences)
        return recordings.seal(session, keyring, story, made.pieces, root, None, rendition="muted")


def take_back(session: Session, story: Story) -> list[Recording]:
    """The story's muted renditions, deleted (uncommitted): a takedown or withdrawal releases
    nothing of the recording any more. Their files are removed once that is committed."""
    muted = [r for r in recordings.of(session, story) if r.rendition == "muted"]
    for recording in muted:
        session.delete(recording)
    return muted
