"""A narrator's withdrawal of consent: at once out of every released surface, with a
cooling-off in which the narrator can undo it, then destroyed by the scheduled run.

- `withdraw` takes the story back exactly as an admin's withdrawal does (gate.take_back: the
  index document first, then the reading-room row, its room record gone for harvesters, its
  muted recording, in the request's transaction) and marks it withdrawn, but keeps its data
  key until the cooling-off ends (Story.cooling_until). Withdrawn, nothing releases it: the
  gate releases only sealed stories.
- `undo`, within the cooling-off, puts the story back as it was: sealed (or waiting for
  review) with its embargo, or released again from its sealed text, by the same code as any
  release, with the date of its first release.
- `destroy_due`, from publish-due, destroys the data keys (the story's and its recordings')
  of every story whose cooling-off has ended, and removes the recordings' files after the
  commit, as an admin's withdrawal does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from archive import audit
from archive.audit import Action
from archive.errors import Conflict
from archive.messages import N_
from archive.reading_room.index import document
from archive.reading_room.models import ReleasedStory
from archive.release import gate
from archive.release.redaction import redact
from archive.storage.units import Unit
from archive.vault import narrators, recordings, stories
from archive.vault.models import NarratorAction, Story
from archive.vault.narrators import Narrator

DEFAULT_COOLING_OFF = timedelta(days=14)


def withdraw(unit: Unit, narrator: Narrator, reason: str, *, cooling_off: timedelta) -> Story:
    """The narrator withdraws consent: out of the reading room now, sealed, undoable until the
    cooling-off ends."""
    session = unit.session
    story = narrators.current(session, narrator, lock=True)
    if story.status == "withdrawn":
        raise Conflict(N_("consent is already withdrawn"))
    now = unit.now()
    before = story.status
    row = session.get(ReleasedStory, story.id)
    first = row.released_at if row is not None else None
    sealed, muted, left = gate.take_back(unit, narrators.ACTOR, story, " ".join(reason.split()) or None,
                                          "the narrator withdrew consent")
    story.status, story.cooling_until, story.updated_at = "withdrawn", now + cooling_off, now
    audit.record(session, unit.keyring.audit_key, narrators.ACTOR, Action.NARRATOR_WITHDRAW, story.id,
                 reason_sealed=sealed, status_before=before, cooling_until=story.cooling_until.isoformat())
    session.add(NarratorAction(id=stories.new_id(), story_id=story.id, kind="withdraw", state="pending",
                               text_sealed=sealed, before=before, released_at=first, until=story.cooling_until,
                               at=now))
    if left:
        gate.stamp_last(unit, story.id)
    gate.cleaned_after(unit, muted)
    return story


def undo(unit: Unit, narrator: Narrator) -> Story:
    """Within the cooling-off, the story as it was before the withdrawal (released again, with
    the date of its first release, if it was released)."""
    session = unit.session
    story = narrators.current(session, narrator, lock=True)
    now = unit.now()
    if story.status != "withdrawn" or story.cooling_until is None or now >= story.cooling_until \
            or story.wrapped_key is None:
        raise Conflict(N_("there is no withdrawal to undo"))
    item = session.scalar(select(NarratorAction).where(
        NarratorAction.story_id == story.id, NarratorAction.kind == "withdraw", NarratorAction.state == "pending")
        .order_by(NarratorAction.at.desc()).limit(1))
    before = item.before if item is not None and item.before else "sealed"
    story.cooling_until, story.updated_at = None, now
    if item is not None:
        item.state, item.closed_by, item.closed_at = "closed", narrators.ACTOR, now
    session.add(NarratorAction(id=stories.new_id(), story_id=story.id, kind="undo", state="done", before=before,
                               at=now))
    audit.record(session, unit.keyring.audit_key, narrators.ACTOR, Action.NARRATOR_UNDO, story.id,
                 status_to=before)
    if before != "released":
        story.status = before
        return story
    story.status = "sealed"  # write_release turns it released
    gate.write_release(unit, story, redact(stories.decrypt(unit.keyring, story)), narrators.ACTOR, now=now)
    gate.stamp_last(unit, story.id)
    first = item.released_at if item is not None and item.released_at is not None else now
    session.execute(update(ReleasedStory).where(ReleasedStory.id == story.id).values(released_at=first))
    row = session.get(ReleasedStory, story.id, populate_existing=True)
    assert row is not None
    doc = document(row)
    unit.search.added(unit, [doc])
    return story


def destroy_due(unit: Unit, *, now: datetime) -> int:
    """Destroy the data keys of the stories whose cooling-off has ended (and their recordings'
    files, after the commit); how many."""
    session = unit.session
    ended = list(session.scalars(select(Story).where(
        Story.status == "withdrawn", Story.cooling_until.is_not(None), Story.cooling_until <= now)
        .order_by(Story.id).with_for_update(of=Story).execution_options(populate_existing=True)))
    files = []
    for story in ended:
        shredded = recordings.shred(session, story)
        files += shredded
        gate.shred(unit, story)
        session.execute(update(NarratorAction).where(
            NarratorAction.story_id == story.id, NarratorAction.state == "pending")
            .values(state="closed", closed_by=audit.SYSTEM, closed_at=now))
        session.add(NarratorAction(id=stories.new_id(), story_id=story.id, kind="destroyed", state="done", at=now))
        found = narrators.issued(session, story.id)
        if found is not None:  # nothing is left for a codename to open
            session.delete(found)
        audit.record(session, unit.keyring.audit_key, audit.SYSTEM, Action.NARRATOR_DESTROY, story.id,
                     recordings=len(shredded))
    if ended:
        gate.cleaned_after(unit, files)
    return len(ended)
