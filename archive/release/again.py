"""Redacting the reading room again, after an upgrade whose redaction finds more.

Redaction runs once, at release; a version that finds more (a name glued to digits, letters
of another keyboard) leaves every copy released before it as it was. `redact_again` reads
every released story, redacts it with this version's rules, and replaces each copy that
comes out different, one story per transaction: its row (keeping its first release date, which
citations show), its muted recording (made again ahead, outside the transaction, as the gate
makes one), its room record stamped now so OAI-PMH harvesters fetch it again, and its index
document, the old text purged from the index files and the database's free pages at the end.

A replacement may only hide more. A new copy holding a word that the old copy nowhere showed
(other than the redaction's own words and ordinals) would release something that was hidden
until now, whatever the rule that changed: such a copy is not written, and the story is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit, db, names
from archive.reading_room.index import Index, document
from archive.reading_room.models import ReleasedStory
from archive.release import audio, gate, redaction
from archive.release.gate import BATCH, Progress, Stuck
from archive.release.redaction import ReleasedText, redact
from archive.times import format_instant, utcnow
from archive.vault import recordings, stories
from archive.vault.keys import Keyring
from archive.vault.models import Recording, Story

# A released copy's fields, compared word by word between the old copy and the new.
_FIELDS = ("title", "narrator", "transcript", "summary", "interviewer", "interview_date", "place", "language",
           "tags", "captions", "redaction_level")
REVEALS = "RevealsMore"  # the cause named for a new copy that would show a word the old one hid


@dataclass
class Redone:
    """What redacting the reading room again found, or did."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)  # stories whose copy came out different (and may hide more)
    stuck: list[Stuck] = field(default_factory=list)  # not replaced: its old copy stays, and why

    @property
    def replaced(self) -> int:
        return len(self.changed) - sum(s.story_id in self.changed for s in self.stuck)


def redact_again(session: Session, keyring: Keyring, index: Index, *, media_root: Path, apply: bool,
                 progress: Progress | None = None) -> Redone:
    """Redact every released story again (the caller holds the publisher lock); replace each
    copy that comes out different and hides at least as much when `apply`. Every story is read
    in the open (decrypted), so the run is audited (`room.redact_again`, with its counts); each
    replacement too (`story.redact_again`), and each story it could not redact or would not
    replace (`story.release_failed`, its cause's class or REVEALS)."""
    done = Redone()
    ids = list(session.scalars(select(ReleasedStory.id).order_by(ReleasedStory.id)))
    session.commit()
    try:
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            changed = _changed(session, keyring, batch, done)
            session.commit()
            if apply and changed:
                docs = _replace(session, keyring, changed, media_root, done)
                if docs:
                    index.ensure()
                    index.write(add=docs, delete=[doc["id"] for doc in docs])
            if progress:
                progress(len(batch))
    finally:
        # What was replaced stays replaced (each story committed on its own): audited, and the
        # old copies' text purged, even when a later step failed.
        audit.record(session, keyring.audit_key, audit.SYSTEM, "room.redact_again", None,
                     checked=done.checked, changed=len(done.changed), replaced=done.replaced if apply else 0)
        session.commit()
        if apply and done.replaced:
            db.scrub_journal(session)
            index.purge_apart()
    return done


def _changed(session: Session, keyring: Keyring, ids: Sequence[str], done: Redone) -> dict[str, ReleasedText]:
    """The batch's stories whose copy comes out different and reveals nothing new, redacted."""
    found: dict[str, ReleasedText] = {}
    for story in list(session.scalars(select(Story).where(Story.id.in_(ids), Story.status == "released")
                                      .order_by(Story.id))):
        done.checked += 1
        row = session.get(ReleasedStory, story.id)
        try:
            text = redact(stories.decrypt(keyring, story))
        except Exception as error:  # noqa: BLE001 - one story must not stop the others
            _stuck(session, keyring, done, story.id, type(error).__name__)  # only the class: a message may quote it
            continue
        new = gate.released_row(story.id, text)
        if row is None or new.content_hash == row.content_hash:
            continue
        done.changed.append(story.id)
        if not hides_at_least_as_much(row, new):
            _stuck(session, keyring, done, story.id, REVEALS)
            continue
        found[story.id] = text
    return found


def hides_at_least_as_much(old: ReleasedStory, new: ReleasedStory) -> bool:
    """Whether every word of the new copy is one the old copy shows somewhere, a word of the
    redaction's own (its labels, stand-ins, ordinals) or a number."""
    shown = {word for name in _FIELDS for word in names.key(getattr(old, name) or "")}
    allowed = shown | redaction.own_words()
    return all(word in allowed or word.isdigit() or len(word) <= 2
               for name in _FIELDS for word in names.key(getattr(new, name) or ""))


def _replace(session: Session, keyring: Keyring, changed: dict[str, ReleasedText], media_root: Path,
             done: Redone) -> list[dict[str, Any]]:
    """Replace each changed copy in a transaction of its own; the new index documents."""
    made = gate.premade(session, keyring, list(changed), media_root, released=True)
    docs = []
    try:
        for story_id, text in changed.items():
            doc, old = _replace_one(session, keyring, story_id, text, media_root, made.get(story_id), done)
            recordings.remove(media_root, old)  # the replaced muted copy's file, once nothing refers to it
            if doc is not None:
                docs.append(doc)
    finally:
        audio.discard(made.values())  # the copies made ahead that were not registered
    return docs


def _replace_one(session: Session, keyring: Keyring, story_id: str, text: ReleasedText, media_root: Path,
                 premade: audio.Premade | None, done: Redone) -> tuple[dict[str, Any] | None, list[Recording]]:
    try:
        # Rolled back inside the block, so that it asks a database that no longer holds the
        # new muted copy's row before it removes that file.
        with recordings.removed_unless_committed(session):
            try:
                return _replaced(session, keyring, story_id, text, media_root, premade)
            except BaseException:
                session.rollback()
                raise
    except Exception as error:  # noqa: BLE001 - one story must not stop the others
        _stuck(session, keyring, done, story_id, type(error).__name__)
        return None, []


def _replaced(session: Session, keyring: Keyring, story_id: str, text: ReleasedText, media_root: Path,
              premade: audio.Premade | None) -> tuple[dict[str, Any] | None, list[Recording]]:
    story = session.get(Story, story_id)
    row = session.get(ReleasedStory, story_id)
    if story is None or story.status != "released" or row is None:
        return None, []  # taken back meanwhile: nothing to replace
    first = row.released_at
    old = audio.take_back(session, story)
    session.delete(row)
    session.flush()
    gate.write_release(session, keyring, story, text, audit.SYSTEM, now=utcnow(), media_root=media_root,
                       premade=premade, action="story.redact_again")
    new = session.get(ReleasedStory, story_id)
    assert new is not None
    new.released_at = first  # the copy changed; the story was released when it was
    session.flush()
    gate.stamp_records(session, [story_id], utcnow())  # last, just before the commit
    doc = document(new)
    session.commit()
    return doc, old


def _stuck(session: Session, keyring: Keyring, done: Redone, story_id: str, cause: str) -> None:
    done.stuck.append(Stuck(story_id, cause))
    audit.record(session, keyring.audit_key, audit.SYSTEM, "story.release_failed", story_id, cause=cause,
                 clock=format_instant(utcnow()))
    session.commit()
