"""Stories in the vault: submit and import, open and list one's own, and an admin's release,
takedown and withdrawal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.accounts import users
from archive.accounts.users import User
from archive.errors import InvalidInput, NotFound
from archive.release import gate
from archive.release.redaction import Preview, preview
from archive.services import reading, recordings
from archive.services.context import Archive
from archive.times import utcnow
from archive.vault import drafts, embargo, imports, stories
from archive.vault import recordings as vault_recordings
from archive.vault.drafts import Draft
from archive.vault.models import LEVELS, RECORDING_RELEASES, Story

__all__ = ["LEVELS", "RECORDING_RELEASES", "Draft", "Story", "due_for_review", "import_file", "listing", "managed",
           "Mine", "mine", "open_sealed", "own", "parse", "previews", "release_reviewed", "submit", "takedown",
           "withdraw"]
MAX_IMPORT_BYTES = 512 * 1024 * 1024


def parse(data: dict[str, object]) -> Draft:
    """A story typed into a form, validated (InvalidInput naming the field)."""
    return drafts.parse(data)


def previews(draft: Draft) -> dict[str, Preview]:
    """What each redaction level would release of a draft, every hidden word marked (shown to its
    organizer only)."""
    return {level: preview(draft.changed(redaction_level=level)) for level in LEVELS}


def submit(archive: Archive, actor: User, draft: Draft, recording: Iterable[bytes] | None = None,
           still_wanted: Callable[[], bool] = lambda: True, expected: int | None = None,
           framing: int = 0) -> Story | None:
    """Seal one story owned by the acting organizer (web form), with its recording if one is
    given: both or neither. The recording is read and sealed first, outside any transaction
    (InvalidInput, and nothing kept, if it is not audio or too large; Throttled or NoRoom
    before a byte of it is read, as for `recordings.attach`, with `expected` and `framing`);
    then, if `still_wanted()` (a form's button comes after its file, and may have asked for a
    preview instead: None is answered then, and nothing kept), the story and the recording are
    added in one sealing transaction."""
    if recording is None:
        with archive.sealing() as ring:
            return stories.submit(archive.session, ring, actor, draft)
    story_id = stories.new_id()
    with recordings.sending(archive, actor), archive.unit() as unit:
        with unit.reading():
            recordings.room(archive, actor.id, None, max(0, (expected or 0) - framing))
        # The file goes at the end of the unit unless registered.
        written = recordings.write(archive, unit, story_id, draft, recording, expected=expected)
        if not still_wanted():
            return None
        with archive.sealing() as ring:
            story = stories.submit(unit.session, ring, actor, draft, story_id=story_id)
            recordings.register(archive, unit, actor, story, written)
            return story


def import_file(archive: Archive, actor: User, path: Path) -> list[Story]:
    """Seal every story of a JSON Lines file, or none: every line is checked first."""
    lines = imports.read_lines(path, limit=MAX_IMPORT_BYTES)
    with archive.unit() as unit:
        with unit.reading():  # (it reads accounts: no transaction stays open while recordings are read)
            submissions = imports.parse_lines(unit.session, actor, lines, str(path), path.parent)
        # Recordings are read and sealed first, outside any transaction (each under its story's
        # id, known in advance), so no lock is held while they are read; then stories and
        # recordings are added in one sealing transaction. A file not registered by it goes.
        written: list[vault_recordings.Written] = []
        for number, item in enumerate(submissions, start=1):
            if item.recording is not None:
                try:
                    written.append(recordings.write(archive, unit, item.id, item.draft,
                                                    recordings.read_file(item.recording),
                                                    expected=item.recording.stat().st_size))
                except InvalidInput as error:
                    raise InvalidInput(f"{path}: the recording of story {number}: {error}") from None
        with archive.sealing() as ring:
            made = stories.submit_many(unit.session, ring, actor, submissions)
            by_id = {story.id: story for story in made}
            for one in written:
                recordings.register(archive, unit, actor, by_id[one.recording.story_id], one)
            return made


def open_sealed(archive: Archive, actor: User, story_id: str) -> Draft:
    """The organizer reads their own sealed story; the read is audited."""
    with archive.unit() as unit:
        return stories.open_sealed(unit.session, unit.keyring, actor, story_id)


def own(archive: Archive, actor: User, story_id: str) -> Story:
    """One of the actor's own stories (control columns only); NotFound for anyone else's."""
    story = stories.get_for(archive.session, actor, story_id)
    if story.owner_id != actor.id:
        raise NotFound(f"no story {story_id[:40]}")
    return story


def managed(archive: Archive, actor: User, story_id: str) -> Story:
    """A story an admin manages (control columns only)."""
    users.require_admin(actor)
    return stories.get_for(archive.session, actor, story_id)


@dataclass(frozen=True)
class Mine:
    """An organizer's own stories as their list shows them: control columns; the title (and its
    language) of each released one, from the reading room, and of each sealed one, decrypted in
    memory for its owner; and which have a pending request."""

    stories: list[Story]
    titles: dict[str, tuple[str, str]]
    pending: set[str]


def mine(archive: Archive, actor: User) -> Mine:
    """The actor's own stories, with their titles (the sealed ones' read is audited)."""
    with archive.unit() as unit:
        with unit.reading():  # decrypted outside the write lock (SQLite's), then the read is recorded
            titles = stories.own_titles(unit.session, unit.keyring, actor)
        stories.titles_read(unit.session, unit.keyring, actor, len(titles))
    found = stories.listing(archive.session, owner=actor)
    released = reading.titles(archive, [s.id for s in found if s.status == "released"])
    titles.update({story_id: (item.title, item.language) for story_id, item in released.items()})
    waiting = embargo.pending(archive.session, archive.keyring, now=utcnow(), unseal=False)
    owned = {s.id for s in found}
    return Mine(found, titles, {item.story_id for item in waiting if item.story_id in owned})


def listing(archive: Archive, status: str | None = None) -> list[Story]:
    """Stories' control columns, never content; one status's if given."""
    return stories.listing(archive.session, status)


def release_reviewed(archive: Archive, actor: User, story_id: str) -> Story:
    """An admin releases a story that waits for review."""
    # A muted recording's new key: see releases.publish_due. Its file goes if the release fails.
    with archive.unit() as unit, unit.publishing(), unit.sealing():
        return gate.release_reviewed(unit, actor, story_id)


def takedown(archive: Archive, actor: User, story_id: str, reason: str) -> Story:
    """Take a released story back into the vault (sealed, indefinite), out of search at once."""
    with archive.unit() as unit, unit.publishing():
        return gate.takedown(unit, actor, story_id, reason)


def withdraw(archive: Archive, actor: User, story_id: str, reason: str) -> Story:
    """Consent withdrawn: any released copy removed, the data key destroyed."""
    with archive.unit() as unit, unit.publishing():
        return gate.withdraw(unit, actor, story_id, reason)


def due_for_review(archive: Archive) -> Sequence[Story]:
    """Stories waiting for an admin's review."""
    return stories.listing(archive.session, "due_for_review")

