"""Releasing due stories, and taking released ones back: the only path out of the vault.

Order of writes, so that a crash at any moment is safe and the promise holds:
releasing commits the vault status and the reading-room row in one transaction, then
writes the index (which a later run repairs from the table); taking back deletes the
index document first (a commit of its own: gone from search at once), then the row and
the status in one transaction (gone from the story page), then purges the segment that
held it so its text leaves the index files (bounded by one segment's size; a crash before
it leaves the purge to `index sync`, and `index verify` reports it meanwhile).
Unreleased text is therefore never in the index, not even for an instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.orm import Session, selectinload

from archive import audit, db
from archive.errors import Conflict, Forbidden
from archive.messages import N_, STATUS_NAMES
from archive.reading_room import room
from archive.reading_room.index import Index, document
from archive.reading_room.models import ReleasedStory, RoomRecord
from archive.release import audio
from archive.release.redaction import ReleasedText, redact
from archive.times import format_instant, utcnow
from archive.users import User
from archive.vault import embargo, reasons, recordings, stories
from archive.vault.keys import Keyring
from archive.vault.models import EmbargoRequest, Recording, Story

BATCH = 500
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
        return text


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(Story.status == "sealed", Story.embargo_until.is_not(None), Story.embargo_until <= now)


def due(session: Session, now: datetime) -> list[Story]:
    """Sealed stories whose embargo instant has come (now >= embargo_until); never indefinite ones."""
    return list(session.scalars(select(Story).where(_due(now)).order_by(Story.embargo_until, Story.id)))


def due_count(session: Session, now: datetime) -> int:
    """How many stories are due (for a progress bar)."""
    return session.scalar(select(func.count(Story.id)).where(_due(now))) or 0


def _already(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count(Story.id)).where(
        Story.status == "released", Story.embargo_until <= now)) or 0


def publish_due(session: Session, keyring: Keyring, index: Index, *, now: datetime, media_root: Path,
                progress: Progress | None = None) -> Summary:
    """Release every due story once (the caller holds the publisher lock).

    Each story is released in a savepoint of its own: one that fails (its key, its
    redaction, a value the database refuses) stays sealed with an audit entry naming the
    failure's class, and every other due story is released all the same.
    """
    summary = Summary()
    report = room.sync(session, index)
    summary.repaired = report.added + report.removed
    candidates = list(session.scalars(select(Story.id).where(_due(now))
                                      .order_by(Story.embargo_until, Story.id)))
    summary.already = _already(session, now)
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        made = premade(session, keyring, batch, media_root)
        try:
            with recordings.removed_unless_committed(session):
                # Index documents are built before the commit expires the rows they come from.
                released_rows = _release_batch(session, keyring, batch, summary, now, media_root, made)
                session.commit()
        finally:
            audio.discard(made.values())  # what the batch did not register
        # Each batch is searchable as soon as it is committed: this node's searches leave the
        # index to the run while it holds the publisher lock, and a run killed later has lost
        # at most its last batch's documents (every node's next search adds them back).
        if released_rows:
            index.write(add=released_rows, delete=())
        if progress:
            progress(len(batch))
    return summary


def premade(session: Session, keyring: Keyring, ids: Sequence[str], media_root: Path, *,
            released: bool = False) -> dict[str, audio.Premade]:
    """The muted copies of the batch's stories (due ones; or, `released`, released ones being
    redacted again), made ahead, outside any transaction: a copy takes seconds for an hour of
    audio, and the batch's transaction holds its stories' rows (on SQLite, the database's write
    lock) from its claim to its commit. Any failure here is left for the batch, which meets it
    again in the story's savepoint and records it."""
    plans = {}
    which = Story.status == "released" if released else and_(Story.status == "sealed",
                                                             Story.release_review.is_(False))
    for story in session.scalars(select(Story).where(
            Story.id.in_(ids), which, Story.recording_release == "muted").options(selectinload(Story.versions))):
        try:
            plan = audio.plan(session, keyring, story, redact(stories.decrypt(keyring, story)), media_root)
        except Exception:  # noqa: BLE001, S112 - the batch records it (its class only)
            continue
        if plan is not None:
            plans[story.id] = plan
    session.commit()  # nothing is held while the copies are made
    found: dict[str, audio.Premade] = {}
    try:
        for story_id, make in plans.items():
            try:
                made = make()
            except Exception:  # noqa: BLE001, S112 - likewise
                continue
            if made is not None:
                found[story_id] = made
    except BaseException:
        audio.discard(found.values())
        raise
    return found


def _release_batch(session: Session, keyring: Keyring, ids: Sequence[str], summary: Summary, now: datetime,
                   media_root: Path, premade: dict[str, audio.Premade]) -> list[dict[str, Any]]:
    rows = []
    for story in list(session.scalars(_claim(ids, now))):
        try:
            with recordings.removed_unless_committed(session), session.begin_nested():
                doc = _release_one(session, keyring, story, summary, now, media_root, premade.get(story.id))
                session.flush()  # inside the savepoint: a value the database refuses fails here
        except Exception as error:  # noqa: BLE001 - any failure of one story must not stop the others
            # Only the class: a message may quote the story's text or a SQL parameter.
            cause = type(error).__name__
            summary.stuck.append(Stuck(story.id, cause))
            audit.record(session, keyring.audit_key, audit.SYSTEM, "story.release_failed", story.id,
                         cause=cause, clock=format_instant(now))
            continue
        if doc is not None:
            rows.append(doc)
    if rows:
        # One release instant for the batch, taken just before its commit: a harvester that
        # asks for "everything since" an instant must not miss a story stamped earlier than
        # a harvest that ran while this batch was still being written.
        _stamp(session, [doc["id"] for doc in rows], utcnow())
    return rows


def _stamp(session: Session, ids: Sequence[str], at: datetime) -> None:
    session.execute(update(ReleasedStory).where(ReleasedStory.id.in_(ids)).values(released_at=at))
    stamp_records(session, ids, at)


def stamp_records(session: Session, ids: Sequence[str], at: datetime) -> None:
    """The stories' room records changed at `at`: what OAI-PMH harvesters ask after."""
    session.execute(update(RoomRecord).where(RoomRecord.story_id.in_(ids)).values(datestamp=at))


def _stamp_last(session: Session, story_id: str) -> None:
    """Stamp a single release or departure once every write of its transaction is flushed (the
    database's write lock and the audit head are held from there to the commit): a stamp taken
    earlier could wait behind another writer for longer than harvesters allow for
    (oai.SETTLE), and an incremental harvest would miss the change for good."""
    session.flush()
    _stamp(session, [story_id], utcnow())


def _record(session: Session, story_id: str, present: bool, at: datetime) -> None:
    """The story's room record: released now (present), or gone from the room."""
    record = session.get(RoomRecord, story_id)
    if record is None:
        session.add(RoomRecord(story_id=story_id, present=present, datestamp=at))
    else:
        record.present, record.datestamp = present, at


def _release_one(session: Session, keyring: Keyring, story: Story, summary: Summary,
                 now: datetime, media_root: Path, premade: audio.Premade | None) -> dict[str, Any] | None:
    draft = stories.decrypt(keyring, story)
    if story.release_review:
        story.status = "due_for_review"
        audit.record(session, keyring.audit_key, audit.SYSTEM, "story.due_for_review", story.id,
                     clock=format_instant(now))
        summary.review += 1
        return None
    doc, refusal = write_release(session, keyring, story, redact(draft), audit.SYSTEM, now=now,
                                 media_root=media_root, premade=premade)
    summary.released += 1
    if refusal is not None:
        summary.recordings_refused.append(Stuck(story.id, refusal))
    return doc


def stuck(session: Session, ids: Sequence[str]) -> dict[str, str]:
    """Why each of these stories last failed to release (its error's class), if it did."""
    found: dict[str, str] = {}
    for entry in session.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "story.release_failed", audit.AuditEntry.story_id.in_(ids))
            .order_by(audit.AuditEntry.seq)):
        assert entry.story_id is not None
        found[entry.story_id] = json.loads(entry.detail).get("cause", "unknown")
    return found


def _claim(ids: Sequence[str], now: datetime) -> Select[Story]:
    """The batch's stories that are still sealed and due, row-locked until this batch commits
    (an embargo extended since the run listed them holds: the muted copies made ahead of the
    claim may take minutes, and an extension takes effect at once).

    The publisher lock keeps publishers apart; the row locks (FOR UPDATE, which SQLite
    leaves out: its writer lock serialises anyway) make a story claimed twice impossible
    even for a path that skipped it: a second claimant waits, then sees the story released
    and leaves it out. They wait rather than skip (SKIP LOCKED), so a row still locked by a
    publisher that just died is released by this run, not left for the next one.
    """
    return (select(Story).where(Story.id.in_(ids), _due(now)).order_by(Story.id)
            .options(selectinload(Story.versions)).with_for_update(of=Story)
            .execution_options(populate_existing=True))


def write_release(session: Session, keyring: Keyring, story: Story, text: ReleasedText, actor: str, *,
                  now: datetime, media_root: Path, premade: audio.Premade | None = None,
                  action: str = "story.release") -> tuple[dict[str, Any], str | None]:
    """Write the released copy and flip the status (uncommitted); return its index document, and
    why its recording stays sealed if the narrator's choice could not be honoured."""
    row = released_row(story.id, text)
    released_recording = audio.release(session, keyring, story, text, media_root, actor, premade)
    row.recording_id = released_recording.id if isinstance(released_recording, Recording) else None
    session.add(row)
    _record(session, story.id, True, row.released_at)
    story.status = "released"
    story.updated_at = utcnow()
    # The clock the release went by: the real one, or an operator's --now in the past.
    audit.record(session, keyring.audit_key, actor, action, story.id,
                 level=story.redaction_level, clock=format_instant(now))
    embargo.end_requests(session, keyring, story, "the story was released", actor, now=now)
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


def release_reviewed(session: Session, keyring: Keyring, index: Index, actor: User,
                     story_id: str, media_root: Path) -> Story:
    """An admin releases a story that waits for review."""
    _require_admin(actor)
    story = stories.get_for(session, actor, story_id)
    if story.status != "due_for_review":
        raise Conflict(N_("story %(id)s is %(status)s, not due for review", id=story.id,
                          status=STATUS_NAMES[story.status]))
    doc, _ = write_release(session, keyring, story, redact(stories.decrypt(keyring, story)), actor.email,
                           now=utcnow(), media_root=media_root)
    _stamp_last(session, story.id)
    session.commit()
    index.write(add=[doc], delete=())
    return story


def _taken(session: Session, actor: User, story_id: str, reason: str, *statuses: str) -> tuple[Story, str]:
    """The story an admin takes back, if its status allows it, and the reason given."""
    _require_admin(actor)
    reason = reasons.clean(reason)
    story = stories.get_for(session, actor, story_id)
    if story.status == "withdrawn":
        raise Conflict(N_("story %(id)s is already withdrawn", id=story.id))
    if story.status not in statuses:
        raise Conflict(N_("story %(id)s is %(status)s, not %(wanted)s", id=story.id, status=STATUS_NAMES[story.status],
                          wanted=" / ".join(STATUS_NAMES[s] for s in statuses)))
    return story, reason


def _take_back(session: Session, keyring: Keyring, index: Index, actor: User, story: Story,
               reason: str, why: str) -> tuple[str, list[Recording], bool]:
    """The story out of search and the reading room, its requests ended, its muted recording
    deleted (its file is the caller's to remove after the commit); its reason, sealed; and
    whether it left the room now (the caller then stamps it, last). A story that was not in
    it (never released, or taken down before) keeps its record as it was, so a harvester
    cannot tell a later withdrawal from nothing."""
    sealed = reasons.seal(keyring, story, reason)
    embargo.end_requests(session, keyring, story, why, actor.email, now=utcnow())
    # The index first, so no search can find it from here on.
    index.ensure()
    index.write(add=(), delete=[story.id])
    row = session.get(ReleasedStory, story.id)
    if row is not None:
        session.delete(row)
        _record(session, story.id, False, utcnow())  # harvesters see it leave, for ever
    return sealed, audio.take_back(session, story), row is not None


def takedown(session: Session, keyring: Keyring, index: Index, actor: User, story_id: str,
             reason: str, media_root: Path) -> Story:
    """Take a released story back into the vault, sealed with an indefinite embargo."""
    story, reason = _taken(session, actor, story_id, reason, "released")
    sealed, muted, _ = _take_back(session, keyring, index, actor, story, reason, "the story was taken down")
    now = utcnow()
    story.status, story.embargo_until, story.updated_at, story.embargo_changed_at = "sealed", None, now, now
    audit.record(session, keyring.audit_key, actor.email, "story.takedown", story.id,
                 reason_sealed=sealed, embargo_until=None)
    _stamp_last(session, story.id)
    session.commit()
    try:
        db.scrub_journal(session)
    finally:
        recordings.remove(media_root, muted)
        index.purge_apart()  # the index forgets the story even when the journal keeps an old page
    return story


def withdraw(session: Session, keyring: Keyring, index: Index, actor: User, story_id: str,
             reason: str, media_root: Path) -> Story:
    """Consent withdrawn: remove any released copy and destroy the data key (crypto-shredding).

    Every reason sealed under that key (this one too) becomes unreadable with it, and the
    plain reasons of requests made before reasons were sealed are cleared. The keys of the
    story's recordings are destroyed in the same commit, and their files removed after it.
    """
    story, reason = _taken(session, actor, story_id, reason, "sealed", "due_for_review", "released")
    sealed, muted, left = _take_back(session, keyring, index, actor, story, reason, "the story was withdrawn")
    story.status, story.updated_at, story.embargo_changed_at = "withdrawn", utcnow(), utcnow()
    shredded = recordings.shred(session, story)
    audit.record(session, keyring.audit_key, actor.email, "story.withdraw", story.id, reason_sealed=sealed,
                 recordings=len(shredded))
    session.execute(update(EmbargoRequest).where(EmbargoRequest.story_id == story.id)
                    .values(reason=None))
    stories.shred(story)
    if left:
        _stamp_last(session, story.id)
    session.commit()
    try:
        db.scrub_journal(session)
    finally:
        recordings.remove(media_root, [*muted, *shredded])  # unreadable since the commit; this frees the space
        index.purge_apart()  # the index forgets the story even when the journal keeps an old page
    return story


def _require_admin(actor: User) -> None:
    if actor.role != "admin":
        raise Forbidden(N_("only an admin may do this"))


def released_count(session: Session) -> int:
    """How many released copies the reading room holds."""
    return session.scalar(select(func.count()).select_from(ReleasedStory)) or 0


def released_any(session: Session) -> bool:
    """Whether any story is released or sits in the reading room."""
    # Two probes that stop at the first row, not counts: the search page asks on every view.
    return session.scalar(select(ReleasedStory.id).limit(1)) is not None or \
        session.scalar(select(Story.id).where(Story.status == "released").limit(1)) is not None


def verify(session: Session, index: Index, media_root: Path) -> list[str]:
    """Index equals reading room, the reading room holds only released stories, and released
    recordings are there exactly for released stories."""
    problems = room.differences(session, index)
    released = set(session.scalars(select(Story.id).where(Story.status == "released")))
    in_room = set(session.scalars(select(ReleasedStory.id)))
    problems += [f"reading room holds {i}, which is not released" for i in sorted(in_room - released)]
    problems += [f"released story {i} is missing from the reading room" for i in sorted(released - in_room)]
    listed = set(session.scalars(select(RoomRecord.story_id).where(RoomRecord.present)))
    problems += [f"story {i} is in the reading room but harvesters are not told" for i in sorted(in_room - listed)]
    problems += [f"harvesters are told story {i} is in the reading room; it is not" for i in sorted(listed - in_room)]
    return problems + _released_recordings(session, media_root)


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
