"""Releasing due stories, and taking released ones back: the only path out of the vault.

Every function here works in its caller's unit of work (archive/storage/units.py) and never commits:
what must follow a commit is registered on the unit, which runs it once the commit is done.

Order of writes, so that a crash at any moment is safe and the promise holds:

- Releasing commits the vault status, the reading-room row, its room record and the audit
  entries in one transaction per batch (`unit.checkpoint()`), and tells the search backend
  (`unit.search.added`): PostgreSQL's vectors are written in that transaction; Whoosh's index
  documents after the commit, and a later run (or `index sync`) repairs the index from the
  table if a crash comes between the two. A muted recording is made ahead, outside
  any transaction, and registered in the batch's transaction; a copy the batch did not take
  is removed when the transaction ends, and one it took goes if it rolls back.
- Taking back deletes the index document first (with Whoosh, a commit of its own, before
  the database's: gone from search at once; with PostgreSQL, the vector goes with the row),
  then commits the row's deletion and the status in
  one transaction (gone from the story page); after that commit, in this order: the
  database's journal is scrubbed of the destroyed key, the files of the recordings it
  released or destroyed are removed, and the segment (or partition) that held the text is
  purged from the search files (bounded by one segment's or partition's size; a crash before
  it leaves the purge to `index sync`, and `index verify` reports it meanwhile).

Unreleased text is therefore never in the index, not even for an instant.

On SQLite each batch's transaction holds the database's write lock from its claim to its
commit (BEGIN IMMEDIATE); on PostgreSQL its claim locks the batch's rows. Either way an
embargo extension confirmed before a batch's claim is seen by it, and one that comes after
waits for the batch's commit and then finds the story released.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.orm import Session, selectinload

from archive import audit, pauses
from archive.accounts import users
from archive.accounts.users import User
from archive.audit import Action
from archive.errors import Conflict
from archive.messages import N_, STATUS_NAMES
from archive.notices import outbox
from archive.reading_room.index import document
from archive.reading_room.models import ReleasedStory, RoomRecord
from archive.release import audio
from archive.release.redaction import ReleasedText, redact
from archive.storage import database
from archive.storage.units import Unit
from archive.times import format_instant, utcnow
from archive.vault import embargo, reasons, recordings, stories
from archive.vault.models import EmbargoRequest, Recording, Story

# Stories per transaction. On SQLite a batch's transaction holds the database's write lock
# from its claim to its commit, so a sign-in or an extension meanwhile waits for the batch's
# writes (its stories are decrypted and redacted before it begins): well inside SQLite's
# busy timeout, and a waiting writer gets in between two batches.
BATCH = 100
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Stuck:
    """A due story whose release failed: it stays sealed; `cause` is the error's class only."""

    story_id: str
    cause: str


@dataclass
class Summary:
    """What a publish-due run did."""

    released: int = 0
    already: int = 0
    review: int = 0
    repaired: int = 0
    stuck: list[Stuck] = field(default_factory=list)
    # Released, but their recording stays sealed: the narrator's choice could not be honoured
    # safely (`cause` is a key of audio.REFUSALS).
    recordings_refused: list[Stuck] = field(default_factory=list)
    # Stories whose narrator's cooling-off ended: their data keys destroyed by this run.
    destroyed: int = 0

    @property
    def failed(self) -> int:
        """How many due stories stayed sealed because their release failed."""
        return len(self.stuck)

    def line(self) -> str:
        """The one summary line for logs."""
        text = f"released {self.released}, already released {self.already}, failed {self.failed}"
        if self.review:
            text += f", due for review {self.review}"
        if self.repaired:
            text += f", index repaired {self.repaired}"
        if self.recordings_refused:
            text += f", recordings kept sealed {len(self.recordings_refused)}"
        if self.destroyed:
            text += f", destroyed after cooling-off {self.destroyed}"
        return text


def _due(now: datetime) -> ColumnElement[bool]:
    # A story its narrator holds back (an objection, words to hide) is not due until it is cleared.
    return and_(Story.status == "sealed", Story.embargo_until.is_not(None), Story.embargo_until <= now,
                Story.hold.is_(None))


def due(session: Session, now: datetime) -> list[Story]:
    """Sealed stories whose embargo instant has come (now >= embargo_until); never indefinite ones."""
    return list(session.scalars(select(Story).where(_due(now)).order_by(Story.embargo_until, Story.id)))


def due_count(session: Session, now: datetime) -> int:
    """How many stories are due (for a progress bar)."""
    return session.scalar(select(func.count(Story.id)).where(_due(now))) or 0


def _already(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count(Story.id)).where(
        Story.status == "released", Story.embargo_until <= now)) or 0


def publish_due(unit: Unit, *, now: datetime, progress: Progress | None = None) -> Summary:
    """Release every due story once (the unit holds the publisher lock).

    Each story is released in a savepoint of its own: one that fails (its key, its
    redaction, a value the database refuses) stays sealed with an audit entry naming the
    failure's class, and every other due story is released all the same.

    A batch's stories are decrypted and redacted ahead (`_prepared`), and their muted copies
    made (`premade`), outside its transaction; the transaction claims them (re-reading each),
    writes what was made ahead for a story that has not changed since, and commits. So it
    holds the database (SQLite's write lock) for the writes alone, and a sign-in or an
    extension waiting meanwhile gets in between two batches.
    """
    summary = Summary()
    session = unit.session
    with unit.reading():  # listed outside the write lock: each batch's claim reads its stories again
        report = unit.search.sync(unit)
        summary.repaired = report.added + report.removed
        candidates = list(session.scalars(select(Story.id).where(_due(now)).order_by(Story.embargo_until, Story.id)))
        summary.already = _already(session, now)
    pauses.at("publish.listed")
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        prepared = _prepared(unit, batch)
        made = premade(unit, {story_id: ready.text for story_id, ready in prepared.items() if ready.text})
        pauses.at("publish.premade")
        # Index documents are built before the commit expires the rows they come from.
        released_rows = _release_batch(unit, batch, summary, now, prepared, made)
        pauses.at("publish.claimed")
        # Each batch is searchable as soon as it is committed: this node's searches leave the
        # index to the run while it holds the publisher lock, and a run killed later has lost
        # at most its last batch's documents (every node's next search adds them back).
        unit.search.added(unit, released_rows)
        unit.checkpoint()
        pauses.at("publish.committed")
        if progress:
            progress(len(batch))
    return summary


@dataclass(frozen=True)
class _Ready:
    """A due story decrypted and redacted ahead of its claim, and what that was made from."""

    made_from: tuple[int, str, bool]  # the story's version, redaction level and review flag
    text: ReleasedText | None  # None for a story that waits for review


def _made_from(story: Story) -> tuple[int, str, bool]:
    return story.version, story.redaction_level, story.release_review


def _prepared(unit: Unit, ids: Sequence[str]) -> dict[str, _Ready]:
    """The batch's sealed stories decrypted and redacted, outside the write lock (a second of work
    for a hundred interviews). A story this fails for is left for its claim, which meets the
    failure again in the story's savepoint and records it; a story changed before its claim is
    made again there."""
    found: dict[str, _Ready] = {}
    with unit.reading():
        for story in unit.session.scalars(select(Story).where(Story.id.in_(ids), Story.status == "sealed")
                                          .options(selectinload(Story.versions))):
            try:
                draft = stories.decrypt(unit.keyring, story)
                found[story.id] = _Ready(_made_from(story), None if story.release_review else redact(draft))
            except Exception:  # noqa: BLE001, S112 - the claim records it (its class only)
                continue
    return found


def premade(unit: Unit, texts: Mapping[str, ReleasedText], *, released: bool = False) -> dict[str, audio.Premade]:
    """The muted copies of these stories' recordings, from their redacted `texts` (due stories;
    or, `released`, released ones being redacted again), made ahead, outside any transaction: a
    copy takes seconds for an hour of audio, and the batch's transaction holds its stories'
    rows (on SQLite, the database's write lock) from its claim to its commit. Any failure here
    is left for the batch, which meets it again in the story's savepoint and records it. Each
    copy's file goes when the unit's next transaction ends, unless that transaction took it."""
    plans = {}
    which = Story.status == "released" if released else and_(Story.status == "sealed",
                                                             Story.release_review.is_(False))
    with unit.reading():  # nothing is held while the copies are made
        for story in unit.session.scalars(select(Story).where(
                Story.id.in_(list(texts)), which, Story.recording_release == "muted")):
            try:
                plan = audio.plan(unit, story, texts[story.id])
            except Exception:  # noqa: BLE001, S112 - the batch records it (its class only)
                continue
            if plan is not None:
                plans[story.id] = plan
    found: dict[str, audio.Premade] = {}
    for story_id, make in plans.items():
        try:
            made = make()
        except Exception:  # noqa: BLE001, S112 - likewise
            continue
        if made is not None:
            found[story_id] = made
            unit.at_end(partial(recordings.discard, made.written))
    return found


def _release_batch(unit: Unit, ids: Sequence[str], summary: Summary, now: datetime, prepared: dict[str, _Ready],
                   premade: dict[str, audio.Premade]) -> list[dict[str, Any]]:
    session = unit.session
    rows = []
    for story in list(session.scalars(_claim(ids, now))):
        try:
            with unit.savepoint():
                doc = _release_one(unit, story, summary, now, prepared.get(story.id), premade.get(story.id))
                session.flush()  # inside the savepoint: a value the database refuses fails here
        except Exception as error:  # noqa: BLE001 - any failure of one story must not stop the others
            # Only the class: a message may quote the story's text or a SQL parameter.
            cause = type(error).__name__
            summary.stuck.append(Stuck(story.id, cause))
            audit.record(session, unit.keyring.audit_key, audit.SYSTEM, Action.STORY_RELEASE_FAILED, story.id,
                         cause=cause, clock=format_instant(now))
            continue
        if doc is not None:
            rows.append(doc)
    if rows:
        # One release instant for the batch, taken just before its commit: a harvester that
        # asks for "everything since" an instant must not miss a story stamped earlier than
        # a harvest that ran while this batch was still being written.
        _stamp(session, [doc["id"] for doc in rows], unit.now())
    return rows


def _stamp(session: Session, ids: Sequence[str], at: datetime) -> None:
    session.execute(update(ReleasedStory).where(ReleasedStory.id.in_(ids)).values(released_at=at))
    stamp_records(session, ids, at)


def stamp_records(session: Session, ids: Sequence[str], at: datetime) -> None:
    """The stories' room records changed at `at`: what OAI-PMH harvesters ask after."""
    session.execute(update(RoomRecord).where(RoomRecord.story_id.in_(ids)).values(datestamp=at))


def stamp_last(unit: Unit, story_id: str) -> None:
    """Stamp a single release or departure once every write of its transaction is flushed (the
    database's write lock and the audit head are held from there to the commit): a stamp taken
    earlier could wait behind another writer for longer than harvesters allow for
    (oai.SETTLE), and an incremental harvest would miss the change for good."""
    unit.session.flush()
    _stamp(unit.session, [story_id], unit.now())


def _record(session: Session, story_id: str, present: bool, at: datetime) -> None:
    """The story's room record: released now (present), or gone from the room."""
    record = session.get(RoomRecord, story_id)
    if record is None:
        session.add(RoomRecord(story_id=story_id, present=present, datestamp=at))
    else:
        record.present, record.datestamp = present, at


def _release_one(unit: Unit, story: Story, summary: Summary, now: datetime, ready: _Ready | None,
                 premade: audio.Premade | None) -> dict[str, Any] | None:
    if ready is None or ready.made_from != _made_from(story):  # failed ahead, or changed since
        draft = stories.decrypt(unit.keyring, story)
        ready = _Ready(_made_from(story), None if story.release_review else redact(draft))
    if ready.text is None:
        story.status = "due_for_review"
        audit.record(unit.session, unit.keyring.audit_key, audit.SYSTEM, Action.STORY_DUE_FOR_REVIEW, story.id,
                     clock=format_instant(now))
        # A request is about the embargo it was made against, which has now come: approving it
        # would be refused ("deny it"), and nothing else would end it.
        embargo.end_requests(unit, story, "the story is due and waits for review", audit.SYSTEM, now=now)
        outbox.arm(unit, story, "held", story.embargo_until or now)
        summary.review += 1
        return None
    doc, refusal = write_release(unit, story, ready.text, audit.SYSTEM, now=now, premade=premade)
    summary.released += 1
    if refusal is not None:
        summary.recordings_refused.append(Stuck(story.id, refusal))
    return doc


def stuck(session: Session, ids: Sequence[str]) -> dict[str, str]:
    """Why each of these stories last failed to release (its error's class), if it did."""
    return audit.last_detail(session, Action.STORY_RELEASE_FAILED, "cause", story_ids=ids)


def _claim(ids: Sequence[str], now: datetime) -> Select[Story]:
    """The batch's stories that are still sealed and due, row-locked until this batch commits
    (an embargo extended since the run listed them holds: the muted copies made ahead of the
    claim may take minutes, and an extension takes effect at once).

    The publisher lock keeps publishers apart; the row locks (FOR UPDATE, which SQLite
    leaves out: its writer lock serialises anyway) make a story claimed twice impossible
    even for a path that skipped it: a second claimant waits, then sees the story released
    and leaves it out. They wait rather than skip (SKIP LOCKED), so a row still locked by a
    publisher that just died is released by this run, not left for the next one.

    The ciphertext is not read again: a story decrypted ahead and unchanged since (its version,
    level and review flag, read here) is released from what was made then; only one that
    changed loads its versions, to be made again.
    """
    return (select(Story).where(Story.id.in_(ids), _due(now)).order_by(Story.id)
            .with_for_update(of=Story).execution_options(populate_existing=True))


def write_release(unit: Unit, story: Story, text: ReleasedText, actor: str, *, now: datetime,
                  premade: audio.Premade | None = None,
                  action: Action = Action.STORY_RELEASE) -> tuple[dict[str, Any], str | None]:
    """Write the released copy and flip the status (uncommitted); return its index document, and
    why its recording stays sealed if the narrator's choice could not be honoured."""
    session = unit.session
    row = released_row(story.id, text)
    released_recording = audio.release(unit, story, text, actor, premade)
    row.recording_id = released_recording.id if isinstance(released_recording, Recording) else None
    session.add(row)
    _record(session, story.id, True, row.released_at)
    story.status = "released"
    story.updated_at = unit.now()
    # The clock the release went by: the real one, or an operator's --now in the past.
    audit.record(session, unit.keyring.audit_key, actor, action, story.id,
                 level=story.redaction_level, clock=format_instant(now))
    embargo.end_requests(unit, story, "the story was released", actor, now=now)
    outbox.arm(unit, story, "released", story.embargo_until or now)
    return document(row), released_recording if isinstance(released_recording, str) else None


def released_row(story_id: str, text: ReleasedText) -> ReleasedStory:
    """The reading-room row of a released text (not added to the session), its hash computed."""
    row = ReleasedStory(
        id=story_id, title=text.title, narrator=text.narrator, transcript=text.transcript,
        summary=text.summary, interviewer=text.interviewer, interview_date=text.interview_date,
        place=text.place, language=text.language, tags=json.dumps(list(text.tags), ensure_ascii=False),
        redaction_level=text.redaction_level, released_at=utcnow(), content_hash="", captions=text.captions,
    )
    row.content_hash = row.compute_hash()
    return row


def release_reviewed(unit: Unit, actor: User, story_id: str) -> Story:
    """An admin releases a story that waits for review."""
    users.require_admin(actor)
    story = stories.get_for(unit.session, actor, story_id)
    unit.session.refresh(story, with_for_update=True)  # the status decided on is the one written over
    if story.status != "due_for_review":
        raise Conflict(N_("story %(id)s is %(status)s, not due for review", id=story.id,
                          status=STATUS_NAMES[story.status]))
    if story.hold is not None:
        raise Conflict(N_("story %(id)s is held by its narrator: clear the hold first", id=story.id))
    doc, _ = write_release(unit, story, redact(stories.decrypt(unit.keyring, story)), actor.email, now=unit.now())
    stamp_last(unit, story.id)
    unit.search.added(unit, [doc])
    return story


def _taken(session: Session, actor: User, story_id: str, reason: str, *statuses: str) -> tuple[Story, str]:
    """The story an admin takes back, if its status allows it, and the reason given."""
    users.require_admin(actor)
    reason = reasons.clean(reason)
    story = stories.get_for(session, actor, story_id)
    session.refresh(story, with_for_update=True)  # the status decided on is the one written over
    if story.status == "withdrawn":
        raise Conflict(N_("story %(id)s is already withdrawn", id=story.id))
    if story.status not in statuses:
        raise Conflict(N_("story %(id)s is %(status)s, not %(wanted)s", id=story.id, status=STATUS_NAMES[story.status],
                          wanted=" / ".join(STATUS_NAMES[s] for s in statuses)))
    return story, reason


def take_back(unit: Unit, actor: str, story: Story, reason: str | None,
               why: str) -> tuple[str | None, list[Recording], bool]:
    """The story out of search and the reading room, its requests ended, its muted recording
    deleted (its file is removed once that is committed); its reason, sealed; and whether it
    left the room now (the caller then stamps it, last). A story that was not in it (never
    released, or taken down before) keeps its record as it was, so a harvester cannot tell a
    later withdrawal from nothing."""
    session, keyring = unit.session, unit.keyring
    sealed = reasons.seal(keyring, story, reason) if reason else None
    embargo.end_requests(unit, story, why, actor, now=unit.now())
    # Out of search first (Whoosh: at once; PostgreSQL: with the row, at the commit).
    unit.search.removed(unit, [story.id])
    row = session.get(ReleasedStory, story.id)
    if row is not None:
        session.delete(row)
        _record(session, story.id, False, unit.now())  # harvesters see it leave, for ever
    return sealed, audio.take_back(session, story), row is not None


def cleaned_after(unit: Unit, files: list[Recording]) -> None:
    """What follows a takeback's commit, in order: the journal scrubbed, the files no row
    needs removed, the index's old text purged. Each runs even if one before it fails."""
    session, root = unit.session, unit.media_root
    unit.after_commit(lambda: database.scrub_journal(session))
    unit.after_commit(lambda: recordings.remove(root, files))  # unreadable since the commit; this frees the space
    unit.search.purge_after(unit)  # search forgets the story even when the journal keeps an old page


def takedown(unit: Unit, actor: User, story_id: str, reason: str) -> Story:
    """Take a released story back into the vault, sealed with an indefinite embargo."""
    story, reason = _taken(unit.session, actor, story_id, reason, "released")
    sealed, muted, _ = take_back(unit, actor.email, story, reason, "the story was taken down")
    now = unit.now()
    story.status, story.embargo_until, story.updated_at, story.embargo_changed_at = "sealed", None, now, now
    audit.record(unit.session, unit.keyring.audit_key, actor.email, Action.STORY_TAKEDOWN, story.id,
                 reason_sealed=sealed, embargo_until=None)
    outbox.arm(unit, story, "taken_down", now)
    stamp_last(unit, story.id)
    cleaned_after(unit, muted)
    return story


def withdraw(unit: Unit, actor: User, story_id: str, reason: str) -> Story:
    """Consent withdrawn: remove any released copy and destroy the data key (crypto-shredding).

    Every reason sealed under that key (this one too) becomes unreadable with it, and the
    plain reasons of requests made before reasons were sealed are cleared. The keys of the
    story's recordings are destroyed in the same commit, and their files removed after it.
    """
    session = unit.session
    story, reason = _taken(session, actor, story_id, reason, "sealed", "due_for_review", "released")

    sealed, muted, left = take_back(unit, actor.email, story, reason, "the story was withdrawn")
    story.status, story.updated_at, story.embargo_changed_at = "withdrawn", unit.now(), unit.now()
    shredded = recordings.shred(session, story)
    audit.record(session, unit.keyring.audit_key, actor.email, Action.STORY_WITHDRAW, story.id, reason_sealed=sealed,
                 recordings=len(shredded))
    shred(unit, story)
    if left:
        stamp_last(unit, story.id)
    cleaned_after(unit, [*muted, *shredded])
    return story


def shred(unit: Unit, story: Story) -> None:
    """Destroy a withdrawn story's data key (its recordings' keys are the caller's): the plain
    reasons of requests made before reasons were sealed are cleared with it, and a narrator's
    cooling-off, if one was running, ends."""
    unit.session.execute(update(EmbargoRequest).where(EmbargoRequest.story_id == story.id).values(reason=None))
    stories.shred(story)
    story.cooling_until = None


def released_any(session: Session) -> bool:
    """Whether any story is released or sits in the reading room."""
    # Two probes that stop at the first row, not counts: the search page asks on every view.
    return session.scalar(select(ReleasedStory.id).limit(1)) is not None or \
        session.scalar(select(Story.id).where(Story.status == "released").limit(1)) is not None


def verify(unit: Unit) -> list[str]:
    """Index equals reading room, the reading room holds only released stories, and released
    recordings are there exactly for released stories."""
    session = unit.session
    problems = unit.search.differences(session)
    released = set(session.scalars(select(Story.id).where(Story.status == "released")))
    in_room = set(session.scalars(select(ReleasedStory.id)))
    problems += [f"reading room holds {i}, which is not released" for i in sorted(in_room - released)]
    problems += [f"released story {i} is missing from the reading room" for i in sorted(released - in_room)]
    listed = set(session.scalars(select(RoomRecord.story_id).where(RoomRecord.present)))
    problems += [f"story {i} is in the reading room but harvesters are not told" for i in sorted(in_room - listed)]
    problems += [f"harvesters are told story {i} is in the reading room; it is not" for i in sorted(listed - in_room)]
    return problems + _released_recordings(session, unit.media_root)


def _released_recordings(session: Session, media_root: Path) -> list[str]:
    """Every released rendition exists, readable, with its file; every muted one is released."""
    problems = []
    chosen = dict(session.execute(select(ReleasedStory.id, ReleasedStory.recording_id)
                                  .where(ReleasedStory.recording_id.is_not(None))).all())
    wanted = [recording_id for recording_id in chosen.values() if recording_id]
    found = {r.id: r for r in session.scalars(select(Recording).where(Recording.id.in_(wanted)))} if wanted else {}
    for story_id, recording_id in sorted(chosen.items()):
        recording = found.get(recording_id or "")
        if recording is None or recording.story_id != story_id or recording.wrapped_key is None:
            problems.append(f"released story {story_id} names a recording the vault does not hold")
        elif not recordings.path(media_root, recording).is_file():
            problems.append(f"the released recording of story {story_id} is missing from {media_root}")
    for muted in session.scalars(select(Recording).where(Recording.rendition == "muted")):
        if chosen.get(muted.story_id) != muted.id:
            problems.append(f"a muted recording of story {muted.story_id} is kept but not released")
    return problems
