"""The narrator's own door in the vault: codenames, and what a narrator may change at once.

A codename is a diceware passphrase in the narrator's language (the EFF long list for
English, diceware's Spanish list; 7 words, 90 bits or more), shown once to the organizer who
issues it and kept nowhere: the database holds only its argon2id hash under the archive's own
random salt (`narrator_salt`). One salt for the archive, not one per row, because a sign-in has
only the codename to go by: with a salt per row it would have to verify every story's hash
(SecureDrop looks up its sources the same way). Guessing is no shortcut: 2^90 argon2 checks.

Every sign-in computes exactly one hash and reads one row by it, whatever was typed (a wrong,
a revoked and a random codename take the same path), and is counted by the site's throttle
before the hash is computed (services/narrators.py).

What a narrator changes here only ever makes their story more protected: a later embargo,
a stricter level, a hold. Anything else is a request that others decide.
"""

from __future__ import annotations

import hmac
import importlib.resources
import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2.low_level import Type, hash_secret_raw
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit, pauses
from archive.accounts import users
from archive.accounts.users import User
from archive.audit import Action
from archive.errors import Conflict, InvalidInput, NotFound
from archive.messages import N_
from archive.storage.units import Unit
from archive.times import format_instant
from archive.vault import embargo, reasons, stories
from archive.vault.keys import Keyring
from archive.vault.models import (
    LEVELS,
    RECORDING_RELEASES,
    NarratorAction,
    NarratorCodename,
    NarratorSalt,
    Story,
)

ACTOR = "narrator"  # the audit log's actor for what a narrator does: never a codename, never a name
MIN_BITS = 80
MAX_TYPED = 400  # characters of a typed codename that are hashed; a real one is about 60
LANGUAGES = ("en", "es")
_LISTS = {"en": "wordlist_en_eff.txt", "es": "wordlist_es.txt"}
# What each status lets a narrator do at once.
CHANGEABLE = ("sealed", "due_for_review")


@cache
def words(language: str) -> tuple[str, ...]:
    """The diceware list of a language (the `diceware` package's lists, without dice numbers),
    letters only: the four hyphenated words of the EFF list (t-shirt) are left out, since a
    codename typed with hyphens between its words must still read as one."""
    text = importlib.resources.files("diceware").joinpath("wordlists", _LISTS[language]).read_text("utf-8")
    found = tuple(sorted({word for line in text.splitlines()
                          if (word := line.split("\t")[-1].strip()).isascii() and word.isalpha()}))
    return found


def length(language: str) -> int:
    """How many words a codename in this language has: at least MIN_BITS of entropy."""
    return math.ceil(MIN_BITS / math.log2(len(words(language))))


def bits(language: str) -> float:
    """The entropy of a codename in this language, in bits."""
    return length(language) * math.log2(len(words(language)))


def language_of(language: str) -> str:
    """The codename's language for a story's language: Spanish for Spanish, otherwise English."""
    code = language.replace("_", "-").split("-")[0].strip().lower()
    return code if code in LANGUAGES else "en"


def generate(language: str) -> str:
    """A new codename: words drawn uniformly by the operating system's random source."""
    found = words(language)
    return " ".join(secrets.choice(found) for _ in range(length(language)))


def normalised(typed: str) -> str:
    """A codename as it is hashed: lower case, accents dropped, words split on anything that is
    not a letter (spaces, hyphens, line breaks typed from a card), one space between them."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", typed[:MAX_TYPED]) if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalpha() else " " for c in folded.casefold()).split())


def _salt(session: Session, *, make: bool = False) -> bytes:
    row = session.get(NarratorSalt, 1)
    if row is None and make:  # made by the migration; a database built otherwise gets it on first issue
        row = NarratorSalt(id=1, salt=secrets.token_bytes(16))
        session.add(row)
        session.flush()
    # Without a salt no codename was ever issued: the hash is computed all the same, on a salt
    # of zeros, so that a sign-in costs what it always costs.
    return row.salt if row is not None else bytes(16)


def digest(session: Session, typed: str, *, make: bool = False) -> str:
    """The codename's slow hash (argon2id with the parameters passwords use, which every process
    of an archive shares: `serve` refuses the test suite's cheap ones), as hex."""
    hasher = users.hasher()
    raw = hash_secret_raw(normalised(typed).encode("utf-8"), _salt(session, make=make), time_cost=hasher.time_cost,
                          memory_cost=hasher.memory_cost, parallelism=hasher.parallelism, hash_len=32,
                          type=Type.ID)
    return raw.hex()


@dataclass(frozen=True)
class Narrator:
    """A signed-in narrator: their story and their session's key (no account, no name)."""

    story_id: str
    session_key: str


def issue(unit: Unit, actor: User, story_id: str) -> tuple[Story, str, str]:
    """A new codename for the story's narrator (the organizer's own story, or an admin's),
    replacing any earlier one; the codename, to be shown once, and its language."""
    session = unit.session
    story = managed(session, actor, story_id)
    if story.status == "withdrawn" and story.cooling_until is None:
        raise Conflict(N_("story %(id)s is withdrawn: its content no longer exists", id=story.id))
    language = language_of(_story_language(unit.keyring, story))
    codename = generate(language)
    found = session.get(NarratorCodename, story.id)
    replaced = found is not None
    if found is not None:
        session.delete(found)
        session.flush()
    session.add(NarratorCodename(story_id=story.id, digest=digest(session, codename, make=True),
                                 session_key=secrets.token_hex(16), language=language,
                                 issued_by_id=actor.id, issued_at=unit.now()))
    audit.record(session, unit.keyring.audit_key, actor.email, Action.NARRATOR_ISSUE, story.id,
                 language=language, replaced=replaced)
    return story, codename, language


def revoke(unit: Unit, actor: User, story_id: str) -> Story:
    """The story's codename no longer opens anything (its sessions end with it)."""
    session = unit.session
    story = managed(session, actor, story_id)
    found = session.get(NarratorCodename, story.id)
    if found is None:
        raise NotFound(N_("story %(id)s has no narrator codename to revoke", id=story.id))
    session.delete(found)
    audit.record(session, unit.keyring.audit_key, actor.email, Action.NARRATOR_REVOKE, story.id)
    return story


def issued(session: Session, story_id: str) -> NarratorCodename | None:
    """The story's codename row (its hash, when it was issued), if it has one."""
    return session.get(NarratorCodename, story_id)


def find(session: Session, hashed: str) -> Narrator | None:
    """The narrator whose codename has this hash (`digest`), or None: one read."""
    found = session.scalar(select(NarratorCodename).where(NarratorCodename.digest == hashed))
    return None if found is None else Narrator(found.story_id, found.session_key)


def current(session: Session, narrator: Narrator, *, lock: bool = False) -> Story:
    """The signed-in narrator's story while their codename stands; NotFound once it is revoked,
    replaced or the story destroyed (the session then ends)."""
    found = session.get(NarratorCodename, narrator.story_id) if stories.can_be_id(narrator.story_id) else None
    if found is None or not hmac.compare_digest(found.session_key.encode(), narrator.session_key.encode()):
        raise NotFound("no narrator session")
    story = session.get(Story, found.story_id, with_for_update=lock, populate_existing=lock)
    if story is None or (story.wrapped_key is None and story.cooling_until is None):
        raise NotFound("no narrator session")
    return story


def managed(session: Session, actor: User, story_id: str) -> Story:
    """A story whose narrator's door the actor looks after: their own, or any for an admin."""
    return stories.get_for(session, actor, story_id)


def _story_language(keyring: Keyring, story: Story) -> str:
    return stories.decrypt(keyring, story).language


# -- what a narrator changes at once ------------------------------------------------------


def _sealed_text(keyring: Keyring, story: Story, text: str, *, required: bool = False) -> str | None:
    """Free text from a narrator, sealed under the story's key (None when none was given)."""
    cleaned = " ".join(text.split())
    if not cleaned:
        if required:
            raise InvalidInput(N_("write something first"), field="text")
        return None
    if len(cleaned) > reasons.MAX_REASON * 4:
        raise InvalidInput(N_("this is longer than the archive keeps (%(limit)s characters)",
                              limit=reasons.MAX_REASON * 4), field="text")
    return reasons.seal(keyring, story, cleaned)


def _acted(unit: Unit, story: Story, kind: str, sealed: str | None, *, state: str = "done",
           **fields: object) -> NarratorAction:
    item = NarratorAction(id=stories.new_id(), story_id=story.id, kind=kind, state=state, text_sealed=sealed,
                          at=unit.now(), **fields)
    unit.session.add(item)
    return item


def _changeable(story: Story) -> None:
    if story.status not in CHANGEABLE:
        raise Conflict(N_("this can no longer be changed here: the story is not sealed"))


def delay(unit: Unit, narrator: Narrator, until: datetime, reason: str) -> Story:
    """A later embargo, at once (a date: "indefinite" is the organizer's, after talking with them)."""
    story = current(unit.session, narrator, lock=True)
    pauses.at("narrator.delay.locked")
    _changeable(story)
    sealed = _sealed_text(unit.keyring, story, reason)
    embargo.move_later(unit, story, until, ACTOR, " ".join(reason.split()) or None)
    _acted(unit, story, "delay", sealed, until=until)
    return story


def protect(unit: Unit, narrator: Narrator, level: str, recording: str, reason: str) -> Story:
    """A stricter redaction level and recording choice, at once; never a looser one."""
    story = current(unit.session, narrator, lock=True)
    _changeable(story)
    if level not in LEVELS or recording not in RECORDING_RELEASES:
        raise InvalidInput(N_("choose one of the levels offered"), field="level")
    if LEVELS.index(level) < LEVELS.index(story.redaction_level) or \
            RECORDING_RELEASES.index(recording) > RECORDING_RELEASES.index(story.recording_release):
        raise InvalidInput(N_("that would show more than now: ask for it instead, and the organizer and two "
                              "admins decide"), field="level")
    # What a stricter level allows of the recording (drafts._recording_release): the strictest
    # of what was asked and what the level permits.
    if recording == "full" and level != "full":
        recording = "muted"
    if recording == "muted" and level == "summary":
        recording = "none"
    if (level, recording) == (story.redaction_level, story.recording_release):
        raise InvalidInput(N_("that is how the story is already kept"), field="level")
    sealed = _sealed_text(unit.keyring, story, reason)
    before = (story.redaction_level, story.recording_release)
    story.redaction_level, story.recording_release, story.updated_at = level, recording, unit.now()
    audit.record(unit.session, unit.keyring.audit_key, ACTOR, Action.NARRATOR_PROTECT, story.id,
                 level_from=before[0], level_to=level, recording_from=before[1], recording_to=recording,
                 reason_sealed=sealed)
    _acted(unit, story, "protect", sealed, level=level)
    return story


def hold(unit: Unit, narrator: Narrator, kind: str, text: str) -> Story:
    """Hold the story's release: an objection ("not yet"), which an admin clears, or words to hide,
    which the organizer marks and then clears. Either takes effect at once."""
    story = current(unit.session, narrator, lock=True)
    _changeable(story)
    sealed = _sealed_text(unit.keyring, story, text, required=kind == "words")
    story.hold, story.updated_at = ("objection" if kind == "object" else "words"), unit.now()
    audit.record(unit.session, unit.keyring.audit_key, ACTOR,
                 Action.NARRATOR_OBJECT if kind == "object" else Action.NARRATOR_WORDS, story.id,
                 reason_sealed=sealed)
    _acted(unit, story, kind, sealed, state="pending")
    return story


def clear(unit: Unit, actor: User, story_id: str) -> Story:
    """Lift a story's hold: an objection by an admin only; words to hide by its organizer (once
    marked) or an admin."""
    story = stories.get_for(unit.session, actor, story_id)
    unit.session.refresh(story, with_for_update=True)
    if story.hold is None:
        raise Conflict(N_("story %(id)s is not held", id=story.id))
    if story.hold == "objection":
        users.require_admin(actor, N_("only an admin may clear a narrator's objection"))
    kind, story.hold, story.updated_at = story.hold, None, unit.now()
    waiting = unit.session.scalars(select(NarratorAction).where(
        NarratorAction.story_id == story.id, NarratorAction.state == "pending",
        NarratorAction.kind.in_(("object", "words"))))
    for item in waiting:
        item.state, item.closed_by, item.closed_at = "closed", actor.email, unit.now()
    audit.record(unit.session, unit.keyring.audit_key, actor.email, Action.NARRATOR_HOLD_CLEAR, story.id, hold=kind)
    _acted(unit, story, "cleared", None, closed_by=actor.email, closed_at=unit.now(), level=kind)
    return story


def ask(unit: Unit, narrator: Narrator, kind: str, until: datetime | None, level: str | None, reason: str) -> Story:
    """An earlier release or a looser level, asked for: pending until the organizer takes it to
    the admins (an early-release request, approved by a second admin, as for any)."""
    story = current(unit.session, narrator, lock=True)
    _changeable(story)
    sealed = _sealed_text(unit.keyring, story, reason)
    if kind == "earlier":
        if until is None or (story.embargo_until is not None and until >= story.embargo_until):
            raise InvalidInput(N_("choose a date earlier than the one the story is sealed until"), field="until")
        if until <= unit.now():
            raise InvalidInput(N_("choose a date in the future"), field="until")
        level = None
    else:
        if level not in LEVELS or LEVELS.index(level) >= LEVELS.index(story.redaction_level):
            raise InvalidInput(N_("choose a level that shows more than now"), field="level")
        until = None
    audit.record(unit.session, unit.keyring.audit_key, ACTOR, Action.NARRATOR_ASK, story.id, kind=kind,
                 embargo_to=format_instant(until) if until else None, level_to=level, reason_sealed=sealed)
    _acted(unit, story, kind, sealed, state="pending", until=until, level=level)
    return story


def note(unit: Unit, narrator: Narrator, text: str) -> Story:
    """A note for the organizer, sealed under the story's key."""
    story = current(unit.session, narrator)
    if story.wrapped_key is None:
        raise Conflict(N_("this can no longer be changed here: the story is not sealed"))
    sealed = _sealed_text(unit.keyring, story, text, required=True)
    audit.record(unit.session, unit.keyring.audit_key, ACTOR, Action.NARRATOR_NOTE, story.id)
    _acted(unit, story, "note", sealed, state="pending")
    return story


def write_to_narrator(unit: Unit, actor: User, story_id: str, text: str) -> Story:
    """The organizer leaves a note the narrator reads on their page (sealed like theirs)."""
    story = managed(unit.session, actor, story_id)
    if story.wrapped_key is None:
        raise Conflict(N_("story %(id)s is withdrawn: its content no longer exists", id=story.id))
    sealed = _sealed_text(unit.keyring, story, text, required=True)
    audit.record(unit.session, unit.keyring.audit_key, actor.email, Action.NARRATOR_NOTE, story.id, to="narrator")
    _acted(unit, story, "to_narrator", sealed, closed_by=actor.email)
    return story


def close(unit: Unit, actor: User, story_id: str, action_id: str) -> NarratorAction:
    """The organizer (or an admin) marks a narrator's request or note as dealt with."""
    story = managed(unit.session, actor, story_id)
    item = unit.session.get(NarratorAction, action_id, with_for_update=True) if stories.can_be_id(action_id) else None
    if item is None or item.story_id != story.id or item.state != "pending" or item.kind in ("object", "words"):
        raise NotFound(f"no open narrator request {action_id[:40]}")
    item.state, item.closed_by, item.closed_at = "closed", actor.email, unit.now()
    audit.record(unit.session, unit.keyring.audit_key, actor.email, Action.NARRATOR_CLOSE, story.id,
                 request=item.id, kind=item.kind)
    return item


@dataclass(frozen=True)
class Shown:
    """One narrator action as a page shows it, its text unsealed for those who may read it."""

    id: str
    kind: str
    state: str
    text: str
    until: datetime | None
    level: str | None
    at: datetime
    closed_by: str | None


def history(session: Session, keyring: Keyring, story: Story, *, kinds: tuple[str, ...] | None = None) -> list[Shown]:
    """What the story's narrator did and was told, newest first, texts unsealed (the story's
    organizer, its admins and its narrator only)."""
    query = select(NarratorAction).where(NarratorAction.story_id == story.id)
    if kinds is not None:
        query = query.where(NarratorAction.kind.in_(kinds))
    rows = session.scalars(query.order_by(NarratorAction.at.desc(), NarratorAction.id))
    return [Shown(r.id, r.kind, r.state, reasons.read(keyring, story, r.text_sealed) if r.text_sealed else "",
                  r.until, r.level, r.at, r.closed_by) for r in rows]


def held(session: Session) -> dict[str, str]:
    """Stories their narrator holds back, with the hold's kind (objection, words)."""
    return dict(session.execute(select(Story.id, Story.hold).where(Story.hold.is_not(None)).order_by(Story.id)).all())


def cooling(session: Session) -> dict[str, datetime]:
    """Stories in a narrator's cooling-off, with its end."""
    rows = session.execute(select(Story.id, Story.cooling_until).where(Story.cooling_until.is_not(None))
                           .order_by(Story.cooling_until, Story.id)).all()
    return {story_id: until for story_id, until in rows}
