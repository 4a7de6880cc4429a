"""Redacting the reading room again, after an upgrade whose redaction finds more.

Redaction runs once, at release; a version that finds more (a name glued to digits, letters
of another keyboard) leaves every copy released before it as it was. `redact_again` reads
every released story, redacts it with this version's rules, and replaces each copy that
comes out different, one story per transaction: its row (keeping its first release date, which
citations show), its muted recording (made again ahead, outside the transaction, as the gate
makes one), its room record stamped now so OAI-PMH harvesters fetch it again, and its index
document; at the end the index is brought in step with the table and the old text purged from
its files and from the database's free pages. The publisher lock is held for one batch of
replacements at a time, so a takedown waits for a batch, not for the whole run.

A replacement may only hide more. Field by field, the words the new copy shows, less the
redaction's own (its labels and stand-ins, and the ordinal a label writes after itself), must
be words the old copy showed, in the same order: otherwise the new copy would release what was
hidden until now, whatever the rule that changed, and it is not written; the story is named.
Words are compared as redaction compares names (`names.key`: every spelling, look-alike and
invisible character folded the same way), and the check is one pass over each field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import select

from archive import audit
from archive.audit import Action
from archive.reading_room.index import document
from archive.reading_room.models import ReleasedStory
from archive.release import audio, gate, redaction
from archive.release.gate import BATCH, Progress, Stuck
from archive.release.redaction import ReleasedText, redact
from archive.storage import database
from archive.storage.units import Unit
from archive.times import format_instant
from archive.transcripts import names
from archive.vault import recordings, stories
from archive.vault.models import Story

# A released copy's fields, compared word by word between the old copy and the new.
_FIELDS = ("title", "narrator", "transcript", "summary", "interviewer", "interview_date", "place", "language",
           "tags", "captions", "redaction_level")
REVEALS = "RevealsMore"  # the cause named for a new copy that would show a word the old one hid


@dataclass
class Redone:
    """What redacting the reading room again found, or did."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)  # stories whose copy came out different
    stuck: list[Stuck] = field(default_factory=list)  # not redacted, or not replaced: its old copy stays, and why
    replaced: int = 0


def redact_again(unit: Unit, *, apply: bool, progress: Progress | None = None) -> Redone:
    """Redact every released story again; replace each copy that comes out different and
    hides at least as much when `apply`, one batch at a time under the publisher lock and the
    key ring's shared lock (a replaced copy's muted recording gets a new data key). Every story
    is read in the open (decrypted), so the run is audited (`room.redact_again`, with its
    counts and whether it was a dry run); each replacement too (`story.redact_again`), and
    when applying, each story it could not redact or would not replace (`story.release_failed`,
    its error's class or REVEALS)."""
    done = Redone()
    with unit.reading():
        ids = list(unit.session.scalars(select(ReleasedStory.id).order_by(ReleasedStory.id)))
    try:
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            with unit.reading():
                changed = _changed(unit, batch, done)
            if apply and changed:
                with unit.publishing(), unit.sealing():
                    _replace(unit, changed, done)
            if progress:
                progress(len(batch))
    except BaseException:
        unit.undo()  # what was replaced stays replaced (each story committed on its own): audited below
        _finish(unit, done, apply)
        raise
    _finish(unit, done, apply)
    return done


def _finish(unit: Unit, done: Redone, apply: bool) -> None:
    """The run's audit entries, and once copies were replaced, their old text gone from the
    database's free pages and from the index's files (the index brought in step with the table)."""
    session, audit_key = unit.session, unit.keyring.audit_key
    if apply:
        for item in done.stuck:
            audit.record(session, audit_key, audit.SYSTEM, Action.STORY_RELEASE_FAILED, item.story_id,
                         cause=item.cause, clock=format_instant(unit.now()))
    audit.record(session, audit_key, audit.SYSTEM, Action.ROOM_REDACT_AGAIN, None, dry_run=not apply,
                 checked=done.checked, changed=len(done.changed), replaced=done.replaced if apply else 0)
    if apply and done.replaced:
        unit.after_commit(lambda: database.scrub_journal(session))
    unit.checkpoint()
    if apply and done.replaced:
        with unit.publishing(), unit.reading():
            unit.search.sync(unit)


def _changed(unit: Unit, ids: Sequence[str], done: Redone) -> dict[str, ReleasedText]:
    """The batch's stories whose copy comes out different and reveals nothing new, redacted."""
    session, keyring = unit.session, unit.keyring
    found: dict[str, ReleasedText] = {}
    for story in list(session.scalars(select(Story).where(Story.id.in_(ids), Story.status == "released")
                                      .order_by(Story.id))):
        done.checked += 1
        row = session.get(ReleasedStory, story.id)
        try:
            text = redact(stories.decrypt(keyring, story))
        except Exception as error:  # noqa: BLE001 - one story must not stop the others
            done.stuck.append(Stuck(story.id, type(error).__name__))  # only the class: a message may quote it
            continue
        new = gate.released_row(story.id, text)
        if row is None or new.content_hash == row.content_hash:
            continue
        done.changed.append(story.id)
        if not hides_at_least_as_much(row, new):
            done.stuck.append(Stuck(story.id, REVEALS))
            continue
        found[story.id] = text
    return found


def hides_at_least_as_much(old: ReleasedStory, new: ReleasedStory) -> bool:
    """Whether, field by field, every word the new copy shows that is not the redaction's own
    (a label or stand-in word, or the ordinal a label writes, as in ``Person C``, ``Place 3``) is
    one the old copy showed, in order: the new copy may drop words (hide more), never add or
    move one. Linear in the fields' length (a greedy subsequence walk)."""
    own = redaction.own_words()
    for name in _FIELDS:
        before = _shown(str(getattr(old, name) or ""), own)
        after = _shown(str(getattr(new, name) or ""), own)
        remaining = iter(before)
        if not all(word in remaining for word in after):  # `in` advances the iterator: a subsequence test
            return False
    return True


def _shown(text: str, own: frozenset[str]) -> list[str]:
    """A field's words as names.key folds them, less the redaction's own: its labels and stand-ins,
    and each label's ordinal as `redaction` writes it (a capital letter repeated after Person,
    digits after Employer or Place), read from the text as written, so that ``Person Li`` keeps
    ``Li``."""
    words = names.words(text)
    labels = redaction.ordinals()
    kept: list[str] = []
    ordinal: re.Pattern[str] | None = None
    for word, written in words:
        if ordinal is not None and ordinal.fullmatch(written):
            ordinal = None
            continue
        ordinal = labels.get(word)
        if word not in own:
            kept.append(word)
    return kept


def _replace(unit: Unit, changed: dict[str, ReleasedText], done: Redone) -> None:
    """Replace each changed copy in a transaction of its own."""
    made = gate.premade(unit, changed, released=True)
    for copy in made.values():
        unit.when_closed(partial(recordings.discard, copy.written))  # unless registered
    for story_id, text in changed.items():
        if _replace_one(unit, story_id, text, made.get(story_id), done) is not None:
            done.replaced += 1


def _replace_one(unit: Unit, story_id: str, text: ReleasedText, premade: audio.Premade | None,
                 done: Redone) -> dict[str, Any] | None:
    """One story's replacement, committed on its own (a checkpoint); its new index document."""
    try:
        # A savepoint, so that a failure rolls back what the story wrote (and removes the new
        # muted copy's file, asking a database that no longer holds its row) before the next.
        with unit.savepoint():
            doc = _replaced(unit, story_id, text, premade)
        unit.checkpoint()
    except Exception as error:  # noqa: BLE001 - one story must not stop the others
        done.stuck.append(Stuck(story_id, type(error).__name__))
        return None
    return doc


def _replaced(unit: Unit, story_id: str, text: ReleasedText, premade: audio.Premade | None) -> dict[str, Any] | None:
    session = unit.session
    story = session.get(Story, story_id)
    row = session.get(ReleasedStory, story_id)
    if story is None or story.status != "released" or row is None:
        return None  # taken back meanwhile: nothing to replace
    first = row.released_at
    old = audio.take_back(session, story)
    session.delete(row)
    session.flush()
    gate.write_release(unit, story, text, audit.SYSTEM, now=unit.now(), premade=premade,
                       action=Action.STORY_REDACT_AGAIN)
    new = session.get(ReleasedStory, story_id)
    assert new is not None
    new.released_at = first  # the copy changed; the story was released when it was
    session.flush()
    gate.stamp_records(session, [story_id], unit.now())  # last, just before the commit
    root = unit.media_root
    unit.after_commit(lambda: recordings.remove(root, old))  # the replaced muted copy's file, once nothing needs it
    doc = document(new)
    unit.search.replaced(unit, [doc])  # its old text purged by the run's last sync
    return doc
