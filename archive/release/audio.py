"""What the release gate releases of a story's recording, as its narrator chose.

`none` (the default): nothing; the voice stays sealed even once the text is released.
`full` (only at level full): the original recording itself. `muted`: a derivative made here,
decoded from the sealed original through the seal (nothing decrypted reaches the disk), every
cue whose released text hides something silent with short fades outside it, re-encoded as
WAV and sealed as it is made.

When the narrator's choice cannot be honoured safely, the recording stays sealed and the
story's text is released all the same, with a `recording.release_refused` entry whose reason
is one of REFUSALS' fixed words: a story with several recordings (which one the narrator
agreed to release is not known), no timed transcript to time the silences by (the gate never
guesses where a name was said), a cue that hides something ending after the recording ends
(captions timed for another edit: clamping it would leave the name audible), a muted copy too
long for a WAV file, or a recording that cannot be decoded. Other failures (a missing file, a
wrong key) are the operator's to fix and leave the story stuck, to be tried again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit
from archive.audit import Action
from archive.messages import N_
from archive.reading_room.models import ReleasedStory
from archive.release import muting
from archive.release.redaction import ReleasedText
from archive.storage.units import Unit
from archive.transcripts import webvtt
from archive.vault import media, recordings
from archive.vault.drafts import Draft
from archive.vault.models import Recording, Story
from archive.vault.recordings import Sound

# Why a recording stays sealed although its narrator chose to release it: the audit entry's word,
# and the sentence an admin reads. Neither holds anything of the story or the recording.
REFUSALS = {
    "several_recordings": "the story has more than one recording: which one to release is not known",
    "not_full": "a recording is released in full only with a story released in full",
    "no_captions": "there is no timed transcript whose cues make the released transcript, "
                   "so nothing times the silences",
    "cue_past_end": "a cue that hides something ends after the recording ends (captions timed for another edit?)",
    "too_long": "the muted copy would be larger than the 4 GiB a WAV file can hold",
    "unreadable": "the recording cannot be decoded as audio",
}


@dataclass
class Premade:
    """A story's muted copy made ahead of the release gate's transaction (its file written and
    sealed, its key only in memory): the gate registers it if the story still releases that
    copy of that original; the unit of work removes its file at the transaction's end if not."""

    original: str  # the original recording's id
    silences: tuple[tuple[int, int], ...]
    written: recordings.Written


def plan(unit: Unit, story: Story, text: ReleasedText) -> Callable[[], Premade | None] | None:
    """What making the story's muted copy ahead needs, read now (in the unit's transaction),
    as a function that makes it later, outside any transaction; None when there is no muted
    copy to make. The function answers None when the copy would be refused: the gate refuses
    it again in its transaction, and audits that."""
    originals = [r for r in recordings.of(unit.session, story) if r.rendition == "original"]
    if story.recording_release != "muted" or text.captions is None or len(originals) != 1:
        return None
    [original] = originals
    root = unit.media_root
    key, binding = recordings.data_key(unit.keyring, original), _binding(original)
    file, silences = recordings.path(root, original), tuple(text.silences)

    def make() -> Premade | None:
        try:
            return Premade(binding.recording_id, silences, _made(key, binding, file, silences, root))
        except muting.Refused:
            return None

    return make


def release(unit: Unit, story: Story, text: ReleasedText, actor: str,
            premade: Premade | None = None) -> Recording | str | None:
    """The rendition of the story's recording to release now (made, if muted, unless `premade`
    is that copy); or, when the narrator's choice cannot be honoured safely, the reason it
    stays sealed (a key of REFUSALS, audited); or None when nothing is to be released."""
    choice = story.recording_release
    originals = [r for r in recordings.of(unit.session, story) if r.rendition == "original"]
    if choice == "none" or not originals:
        return None
    audit_key = unit.keyring.audit_key
    try:
        chosen = _chosen(unit, story, originals, text, premade)
    except muting.Refused as refused:
        # The muted copy's file was removed as it failed, and no row was added for it.
        audit.record(unit.session, audit_key, actor, Action.RECORDING_RELEASE_REFUSED, story.id,
                     reason=refused.reason)
        return refused.reason
    audit.record(unit.session, audit_key, actor, Action.RECORDING_RELEASE, story.id, recording=chosen.id,
                 rendition=chosen.rendition, silenced=len(text.silences) if chosen.rendition == "muted" else 0)
    return chosen


class _Refusal(muting.Refused):
    def __init__(self, reason: str) -> None:
        super().__init__(REFUSALS[reason])
        self.reason = reason


def _chosen(unit: Unit, story: Story, originals: list[Recording], text: ReleasedText,
            premade: Premade | None) -> Recording:
    if len(originals) != 1:
        # Parts, or a re-take: which one the timed transcript times, or the narrator agreed to
        # release, is not known here.
        raise _Refusal("several_recordings")
    [original] = originals
    if story.recording_release == "full":
        if text.redaction_level != "full":  # the vault refuses this pairing; never trusted here
            raise _Refusal("not_full")
        return original
    if text.captions is None:
        raise _Refusal("no_captions")
    silences = tuple(text.silences)
    if premade is not None and premade.original == original.id and premade.silences == silences:
        return recordings.register(unit, premade.written)
    root = unit.media_root
    written = _made(recordings.data_key(unit.keyring, original), _binding(original), recordings.path(root, original),
                    silences, root)
    return recordings.register(unit, written)


def _binding(recording: Recording) -> media.Binding:
    return media.Binding(recording.story_id, recording.id, recording.rendition)


def _made(key: bytes, binding: media.Binding, file: Path, silences: tuple[tuple[int, int], ...],
          root: Path) -> recordings.Written:
    """The muted copy of the sealed original (`key`, `binding`, `file`), silent in `silences`
    (milliseconds), sealed into a hidden file of the media folder as it is made."""
    with file.open("rb") as source:
        made = muting.mute(recordings.Reader(key, binding, source), [(a / 1000, b / 1000) for a, b in silences])
        # Checked on the frames the decoder reports, before a byte is made: a silence past the
        # end would be clamped to it, and what the cue hides would be heard where it really is.
        if any(end * made.rate > made.frames * 1000 for _, end in silences):
            raise _Refusal("cue_past_end")
        return recordings.write(binding.story_id, made.pieces, root, None, rendition="muted")


def refusal_to_attach(draft: Draft, sound: Sound) -> tuple[str, str] | None:
    """Why a recording of this shape cannot be attached to the story as it stands, or None:
    what the release gate would otherwise refuse, known now. A key of REFUSALS (for the audit
    log) and a sentence for whoever attaches it, neither telling anything of the story."""
    if draft.recording_release == "muted" and not muting.fits(sound.frames, sound.channels, sound.subtype):
        hours = "%.1f" % (sound.frames / sound.rate / 3600)  # noqa: UP031 - a value for the message
        return "too_long", N_("the recording is too long to release muted (%(hours)s hours): its muted copy "
                              "would be larger than the 4 GiB a WAV file can hold; choose to release no "
                              "recording, or split the interview", hours=hours)
    try:
        cues = webvtt.parse(draft.captions, strict=False) if draft.captions else []
    except webvtt.TimingError:
        return None  # checked when the story was sealed; the gate releases no timed audio for it
    last = max((cue.end for cue in cues), default=0)
    if last * sound.rate > sound.frames * 1000:
        # The recording's length is the uploader's own file's; the cue's time is the story's, which
        # an admin attaching a recording may not read: it is left out.
        return "cue_past_end", N_("the timed transcript's last cue ends after the recording ends (it lasts "
                                  "%(length)s): were the captions timed for another edit?",
                                  length=webvtt.clock(round(sound.milliseconds)))
    return None


def refused(session: Session) -> dict[str, str]:
    """Released stories whose recording stayed sealed although their narrator chose to release
    it, and why (a key of REFUSALS): a refusal since the story was last taken down."""
    without = select(ReleasedStory.id).where(ReleasedStory.recording_id.is_(None))
    return audit.last_detail(session, Action.RECORDING_RELEASE_REFUSED, "reason", within=without,
                             cleared_by=Action.STORY_TAKEDOWN)


def take_back(session: Session, story: Story) -> list[Recording]:
    """The story's muted renditions, deleted (uncommitted): a takedown or withdrawal releases
    nothing of the recording any more. Their files are removed once that is committed."""
    muted = [r for r in recordings.of(session, story) if r.rendition == "muted"]
    for recording in muted:
        session.delete(recording)
    return muted
