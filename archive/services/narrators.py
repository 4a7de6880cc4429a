"""The narrator's own door: codenames issued and revoked by the organizer, a narrator's sign-in
(counted by the site's throttle before the codename's hash is computed), their page, and what
they may do on it. Each is one operation with its own unit of work and audit entries; every
reason and note is sealed under the story's key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from archive import audit
from archive.accounts.users import User
from archive.audit import Action
from archive.release import withdrawals
from archive.release.redaction import Preview, preview
from archive.services import authentication
from archive.services.context import Archive
from archive.times import utcnow
from archive.vault import narrators, stories
from archive.vault.models import LEVELS, RECORDING_RELEASES, Story
from archive.vault.narrators import Narrator, Shown

__all__ = ["LEVELS", "RECORDING_RELEASES", "Issued", "Narrator", "Page", "Shown", "ask", "clear", "close", "delay",
           "hold", "issue", "issued_at", "note", "page", "protect", "record", "revoke", "sign_in", "undo",
           "withdraw", "write_to"]

# What the narrator reads of the organizer's words, and what the organizer reads of theirs.
TO_NARRATOR = ("to_narrator",)


@dataclass(frozen=True)
class Issued:
    """A codename just issued: shown once, kept nowhere."""

    story_id: str
    codename: str
    language: str
    bits: int


def issue(archive: Archive, actor: User, story_id: str) -> Issued:
    """A new codename for the story's narrator (the old one, if any, stops working)."""
    with archive.unit() as unit:
        story, codename, language = narrators.issue(unit, actor, story_id)
    return Issued(story.id, codename, language, int(narrators.bits(language)))


def revoke(archive: Archive, actor: User, story_id: str) -> Story:
    """The story's codename stops working; its narrator's sessions end."""
    with archive.unit() as unit:
        return narrators.revoke(unit, actor, story_id)


def issued_at(archive: Archive, story_id: str) -> datetime | None:
    """When the story's current codename was issued, if it has one (never the codename)."""
    found = narrators.issued(archive.session, story_id)
    return found.issued_at if found is not None else None


def sign_in(archive: Archive, typed: str, address: str, *, now: datetime | None = None) -> Narrator | None:
    """The narrator a codename signs in, or None; Throttled while this address (or every address
    together) must wait. A wrong, a revoked and a random codename take the same path: one
    attempt counted, one hash computed, one row read, one failure recorded."""
    now = now or utcnow()
    claimed = authentication.claim_narrator(archive, address, now)
    # The slow hash outside any transaction: on SQLite a writing one would hold the database's
    # write lock for as long as argon2 takes.
    hashed = narrators.digest(archive.session, typed)
    archive.session.rollback()
    with archive.unit() as unit:
        found = narrators.find(unit.session, hashed)
        authentication.settle_narrator(archive, address, now, claimed, found is not None)
        if found is not None:
            audit.record(unit.session, unit.keyring.audit_key, narrators.ACTOR, Action.NARRATOR_SIGN_IN,
                         found.story_id)
    return found


@dataclass(frozen=True)
class Page:
    """What the narrator's page shows: the story's state, the preview of what would be released
    (None once withdrawn), the organizer's notes for them and what they did."""

    story: Story
    preview: Preview | None
    notes: list[Shown]
    done: list[Shown]
    can_undo: bool


def page(archive: Archive, narrator: Narrator) -> Page:
    """The narrator's page; reading the sealed story for its preview is audited. The story is
    decrypted and redacted outside the write lock (a long interview takes a moment), then the
    read is recorded."""
    with archive.unit() as unit:
        with unit.reading():
            story = narrators.current(unit.session, narrator)
            shown: Preview | None = None
            if story.status != "withdrawn":
                shown = preview(stories.decrypt(unit.keyring, story))
            every = narrators.history(unit.session, unit.keyring, story)
            unit.session.expunge(story)  # what the page shows is what was read
        if shown is not None:
            audit.record(unit.session, unit.keyring.audit_key, narrators.ACTOR, Action.STORY_READ, story.id,
                         by="narrator")
        can_undo = story.status == "withdrawn" and story.cooling_until is not None and \
            unit.now() < story.cooling_until and story.wrapped_key is not None
        return Page(story, shown, [s for s in every if s.kind in TO_NARRATOR],
                    [s for s in every if s.kind not in TO_NARRATOR], can_undo)


def delay(archive: Archive, narrator: Narrator, until: datetime, reason: str) -> Story:
    """A later embargo, at once."""
    with archive.unit() as unit:
        return narrators.delay(unit, narrator, until, reason)


def protect(archive: Archive, narrator: Narrator, level: str, recording: str, reason: str) -> Story:
    """A stricter level (and recording choice), at once."""
    with archive.unit() as unit:
        return narrators.protect(unit, narrator, level, recording, reason)


def hold(archive: Archive, narrator: Narrator, kind: str, text: str) -> Story:
    """'object' (not yet: an admin clears it) or 'words' (more words to hide: the organizer
    marks them and clears it); the release is held at once."""
    with archive.unit() as unit:
        return narrators.hold(unit, narrator, kind, text)


def ask(archive: Archive, narrator: Narrator, kind: str, until: datetime | None, level: str | None,
        reason: str) -> Story:
    """'earlier' or 'looser': a request the organizer takes to the admins."""
    with archive.unit() as unit:
        return narrators.ask(unit, narrator, kind, until, level, reason)


def note(archive: Archive, narrator: Narrator, text: str) -> Story:
    """A sealed note for the organizer."""
    with archive.unit() as unit:
        return narrators.note(unit, narrator, text)


def withdraw(archive: Archive, narrator: Narrator, reason: str) -> Story:
    """Consent withdrawn: out of every released surface at once, undoable for the cooling-off."""
    with archive.unit() as unit, unit.publishing():
        return withdrawals.withdraw(unit, narrator, reason, cooling_off=archive.config.cooling_off)


def undo(archive: Archive, narrator: Narrator) -> Story:
    """Within the cooling-off, the story back as it was (released again if it was)."""
    # sealing(): a muted recording made again at its release gets a new data key, as at any release.
    with archive.unit() as unit, unit.publishing(), unit.sealing():
        return withdrawals.undo(unit, narrator)


def clear(archive: Archive, actor: User, story_id: str) -> Story:
    """Lift a narrator's hold (an objection: admins only)."""
    with archive.unit() as unit:
        return narrators.clear(unit, actor, story_id)


def close(archive: Archive, actor: User, story_id: str, action_id: str) -> None:
    """Mark a narrator's request or note as dealt with."""
    with archive.unit() as unit:
        narrators.close(unit, actor, story_id, action_id)


def write_to(archive: Archive, actor: User, story_id: str, text: str) -> Story:
    """The organizer leaves a note for the narrator, sealed."""
    with archive.unit() as unit:
        return narrators.write_to_narrator(unit, actor, story_id, text)


def record(archive: Archive, actor: User, story_id: str) -> list[Shown]:
    """What the story's narrator did and was told, for its organizer or an admin (texts
    unsealed: reading them is audited, as any read of sealed text)."""
    with archive.unit() as unit:
        story = narrators.managed(unit.session, actor, story_id)
        found = narrators.history(unit.session, unit.keyring, story)
        if any(item.text for item in found):
            audit.record(unit.session, unit.keyring.audit_key, actor.email, Action.STORY_READ, story.id,
                         what="narrator record")
        return found


@dataclass(frozen=True)
class Waiting:
    """What narrators hold back, for the admins' dashboard: each held story's kind of hold, and
    each story cooling off after its narrator's withdrawal, with the end of the cooling-off."""

    held: dict[str, str]
    cooling: dict[str, datetime]


def waiting(archive: Archive) -> Waiting:
    """Stories held by their narrators and stories cooling off (control columns only)."""
    return Waiting(narrators.held(archive.session), narrators.cooling(archive.session))
