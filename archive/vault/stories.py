"""Sealed stories: submit, import and open, each one audited.

Every payload is one AES-256-GCM ciphertext per version under the story's own data
key; only this module encrypts or decrypts story content.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit
from archive.accounts import users
from archive.accounts.users import User
from archive.audit import Action
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.messages import N_, ROLE_NAMES
from archive.times import utcnow
from archive.vault import crypto, drafts
from archive.vault.drafts import Draft
from archive.vault.keys import Keyring
from archive.vault.models import STATUSES, Story, StoryVersion

SUBMITTERS = ("organizer", "admin")


# The statuses whose content only the vault holds (not released, not withdrawn).
SEALED_STATUSES = ("sealed", "due_for_review")


MAX_ID = 32  # longer than any id the archive makes (new_id: 16 characters)


def new_id() -> str:
    """A random, unguessable story id (80 bits, lower-case base32)."""
    return base64.b32encode(os.urandom(10)).decode("ascii").lower()


@dataclass(frozen=True)
class Submission:
    """A validated draft and the organizer who will own it."""

    draft: Draft
    owner: User
    recording: Path | None = None  # an import line's recording file, sealed with the story
    id: str = field(default_factory=new_id)  # known before sealing: a recording binds it


def submit(session: Session, keyring: Keyring, actor: User, draft: Draft, story_id: str | None = None) -> Story:
    """Seal one story owned by the acting organizer (under `story_id` if given: one a recording
    was already sealed to)."""
    submission = Submission(draft, actor) if story_id is None else Submission(draft, actor, id=story_id)
    return submit_many(session, keyring, actor, [submission], action=Action.STORY_SUBMIT)[0]


def submit_many(session: Session, keyring: Keyring, actor: User,
                submissions: Sequence[Submission], *, action: Action = Action.STORY_IMPORT) -> list[Story]:
    """Seal many stories in the caller's transaction (all or nothing when it commits)."""
    _require_submitter(actor)
    for item in submissions:
        if item.owner.id != actor.id:
            users.require_admin(actor, N_("only an admin may submit stories for another organizer"))
        if item.owner.role not in SUBMITTERS:
            raise InvalidInput(N_("%(email)s is a %(role)s and cannot own stories", email=item.owner.email,
                                  role=ROLE_NAMES.get(item.owner.role, item.owner.role)))
    now = utcnow()
    stories = []
    for item in submissions:
        story_id, dek_id, dek = item.id, new_id(), crypto.new_key()
        kek = keyring.current_version
        story = Story(
            id=story_id, owner_id=item.owner.id, status="sealed",
            embargo_until=item.draft.embargo_until, redaction_level=item.draft.redaction_level,
            release_review=item.draft.release_review, recording_release=item.draft.recording_release,
            version=1, dek_id=dek_id,
            wrapped_key=crypto.wrap(keyring.kek(kek), dek, crypto.wrap_aad(story_id, dek_id, kek)),
            kek_version=kek, created_at=now, updated_at=now,
        )
        story.versions.append(_encrypt(story, dek, 1, item.draft))
        stories.append(story)
        audit.record(session, keyring.audit_key, actor.email, action, story_id,
                     owner=item.owner.email)
    session.add_all(stories)
    session.flush()
    return stories


def _encrypt(story: Story, dek: bytes, version: int, draft: Draft) -> StoryVersion:
    plaintext = json.dumps(draft.content(), ensure_ascii=False, separators=(",", ":")).encode()
    nonce, ciphertext = crypto.seal(dek, plaintext, crypto.payload_aad(story.id, version, story.dek_id))
    return StoryVersion(story_id=story.id, version=version, nonce=nonce,
                        ciphertext=ciphertext, created_at=utcnow())


def data_key(keyring: Keyring, story: Story) -> bytes:
    """The story's own data key, unwrapped; NotFound once it is withdrawn (destroyed)."""
    if story.wrapped_key is None or story.kek_version is None:
        raise NotFound(f"story {story.id} was withdrawn; its content no longer exists")
    aad = crypto.wrap_aad(story.id, story.dek_id, story.kek_version)
    return crypto.unwrap(keyring.kek(story.kek_version), story.wrapped_key, aad)


def decrypt(keyring: Keyring, story: Story) -> Draft:
    """The current version's content; for the vault and the release gate only (not audited here)."""
    current = next(v for v in story.versions if v.version == story.version)
    dek = data_key(keyring, story)
    aad = crypto.payload_aad(story.id, current.version, story.dek_id)
    content = json.loads(crypto.unseal(dek, current.nonce, current.ciphertext, aad))
    control = {"embargo_until": story.embargo_until, "redaction_level": story.redaction_level,
               "release_review": story.release_review, "recording_release": story.recording_release}
    return drafts.from_content(content, control)


def can_be_id(value: object) -> bool:
    """Whether an id as given (in a URL, a form) could name a row at all: a string of at most
    MAX_ID characters without NUL, which PostgreSQL refuses in text. Any other is answered as
    an unknown id is, without asking the database."""
    return isinstance(value, str) and len(value) <= MAX_ID and "\x00" not in value


def get_for(session: Session, actor: User, story_id: str) -> Story:
    """A story the actor may manage: their own, or any for an admin; NotFound otherwise."""
    story = session.get(Story, story_id) if can_be_id(story_id) else None
    if story is None or not (actor.role == "admin" or story.owner_id == actor.id):
        raise NotFound(f"no story {story_id[:40]}")
    return story


def open_sealed(session: Session, keyring: Keyring, actor: User, story_id: str) -> Draft:
    """The organizer reads their own story's sealed content; the read is audited."""
    story = get_for(session, actor, story_id)
    if story.owner_id != actor.id:
        raise Forbidden(N_("only the story's own organizer may open its sealed content"))
    if story.status == "withdrawn" and story.cooling_until is not None:
        # Its narrator withdrew consent: kept only so that they can undo it, not to be read.
        raise Conflict(N_("story %(id)s is withdrawn by its narrator: it is kept only until the cooling-off ends",
                          id=story.id))
    draft = decrypt(keyring, story)
    audit.record(session, keyring.audit_key, actor.email, Action.STORY_READ, story.id)
    return draft


def listing(session: Session, status: str | None = None, *, owner: User | None = None) -> list[Story]:
    """Stories' control columns (never content), soonest embargo first; one organizer's if given."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status[:30]!r}: use {', '.join(STATUSES)}")
    query = select(Story).order_by(Story.embargo_until.is_(None), Story.embargo_until, Story.id)
    if status is not None:
        query = query.where(Story.status == status)
    if owner is not None:
        query = query.where(Story.owner_id == owner.id)
    return list(session.scalars(query))


def own_titles(session: Session, keyring: Keyring, actor: User) -> dict[str, tuple[str, str]]:
    """The title and language of each of the actor's own sealed stories (not withdrawn, not
    released: a released one's title is the reading room's), decrypted in memory for them
    alone. The caller records the read (`titles_read`) in the transaction that follows."""
    rows = session.execute(
        select(Story, StoryVersion).join(StoryVersion, (StoryVersion.story_id == Story.id)
                                         & (StoryVersion.version == Story.version))
        .where(Story.owner_id == actor.id, Story.status.in_(SEALED_STATUSES), Story.wrapped_key.is_not(None))).all()
    found = {}
    for story, current in rows:
        dek = data_key(keyring, story)
        content = json.loads(crypto.unseal(dek, current.nonce, current.ciphertext,
                                           crypto.payload_aad(story.id, current.version, story.dek_id)))
        found[story.id] = (str(content.get("title") or ""), str(content.get("language") or ""))
    return found


def titles_read(session: Session, keyring: Keyring, actor: User, count: int) -> None:
    """Record that the actor read the titles of their own sealed stories: one entry ("story.titles",
    with how many), since a read is always of every such story the actor owns at that instant."""
    if count:
        audit.record(session, keyring.audit_key, actor.email, Action.STORY_TITLES_READ, None, stories=count)


def _require_submitter(actor: User) -> None:
    if actor.role not in SUBMITTERS:
        raise Forbidden(N_("a %(role)s cannot submit stories", role=ROLE_NAMES.get(actor.role, actor.role)))


def shred(story: Story) -> None:
    """Destroy the story's data key: every version's ciphertext becomes unreadable forever."""
    story.wrapped_key = None
    story.kek_version = None
