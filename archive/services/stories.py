"""Stories in the vault: submit and import, open and list one's own, and an admin's release,
takedown and withdrawal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select

from archive.errors import Forbidden, InvalidInput, NotFound
from archive.reading_room.models import ReleasedStory
from archive.release import gate
from archive.release.redaction import Preview, preview
from archive.services import recordings
from archive.services.context import Archive
from archive.users import User
from archive.vault import drafts, imports, stories
from archive.vault import recordings as vault_recordings
from archive.vault.drafts import Draft
from archive.vault.models import LEVELS, RECORDING_RELEASES, Story

__all__ = ["LEVELS", "RECORDING_RELEASES", "Draft", "Story", "due_for_review", "import_file", "listing", "managed",
           "mine", "open_sealed", "own", "parse", "previews", "release_reviewed", "submit", "takedown", "withdraw"]
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
    with recordings.sending(archive, actor):
        with archive.transaction():
            recordings.room(archive, actor.id, None, max(0, (expected or 0) - framing))
        written = recordings.write(archive, story_id, draft, recording, expected=expected)
        with recordings.forgotten_unless_committed(archive, written):
            if not still_wanted():
                vault_recordings.discard(written)
                return None
            with archive.sealing() as ring:
                story = stories.submit(archive.session, ring, actor, draft, story_id=story_id)
                recordings.register(archive, ring, actor, story, written)
                return story


def import_file(archive: Archive, actor: User, path: Path) -> list[Story]:
    """Seal every story of a JSON Lines file, or none: every line is checked first."""
    lines = imports.read_lines(path, limit=MAX_IMPORT_BYTES)
    with archive.transaction():  # (it reads accounts: no transaction stays open while recordings are read)
        submissions = imports.parse_lines(archive.session, actor, lines, str(path), path.parent)
    # Recordings are read and sealed first, outside any transaction (each under its story's id,
    # known in advance), so no lock is held while they are read; then stories and recordings
    # are added in one sealing transaction.
    written: list[vault_recordings.Written] = []
    try:
        for number, item in enumerate(submissions, start=1):
            if item.recording is not None:
                try:
                    written.append(recordings.write(archive, item.id, item.draft,
                                                    recordings.read_file(item.recording),
                                                    expected=item.recording.stat().st_size))
                except InvalidInput as error:
                    raise InvalidInput(f"{path}: the recording of story {number}: {error}") from None
        with vault_recordings.removed_unless_committed(archive.session), archive.sealing() as ring:
            made = stories.submit_many(archive.session, ring, actor, submissions)
            by_id = {story.id: story for story in made}
            for one in written:
                recordings.register(archive, ring, actor, by_id[one.recording.story_id], one)
            return made
    except BaseException:
        for one in written:  # files never registered (a registered one's went with its block)
            vault_recordings.discard(one)
        raise


def open_sealed(archive: Archive, actor: User, story_id: str) -> Draft:
    """The organizer reads their own sealed story; the read is audited."""
    with archive.transaction():
        return stories.open_sealed(archive.session, archive.keyring, actor, story_id)


def own(archive: Archive, actor: User, story_id: str) -> Story:
    """One of the actor's own stories (control columns only); NotFound for anyone else's."""
    story = stories.get_for(archive.session, actor, story_id)
    if story.owner_id != actor.id:
        raise NotFound(f"no story {story_id[:40]}")
    return story


def managed(archive: Archive, actor: User, story_id: str) -> Story:
    """A story an admin manages (control columns only)."""
    if actor.role != "admin":
        raise Forbidden("only an admin may do this")
    return stories.get_for(archive.session, actor, story_id)


class Titled(NamedTuple):
    """A released story's title and the language it is written in."""

    title: str
    language: str


def mine(archive: Archive, actor: User) -> tuple[list[Story], dict[str, Titled]]:
    """The actor's stories, and the released title (with its language) of each released one."""
    found = stories.listing(archive.session, owner=actor)
    released = [s.id for s in found if s.status == "released"]
    titles = {row.id: Titled(row.title, row.language) for row in archive.session.execute(
        select(ReleasedStory.id, ReleasedStory.title, ReleasedStory.language).where(ReleasedStory.id.in_(released)))}
    return found, titles


def listing(archive: Archive, status: str | None = None) -> list[Story]:
    """Stories' control columns, never content; one status's if given."""
    return stories.listing(archive.session, status)


def release_reviewed(archive: Archive, actor: User, story_id: str) -> Story:
    """An admin releases a story that waits for review."""
    # A muted recording's new key: see releases.publish_due. Its file goes if the release fails.
    with vault_recordings.removed_unless_committed(archive.session), archive.publishing(), archive.sealing():
        return gate.release_reviewed(archive.session, archive.keyring, archive.index, actor, story_id,
                                     archive.config.media_root)


def takedown(archive: Archive, actor: User, story_id: str, reason: str) -> Story:
    """Take a released story back into the vault (sealed, indefinite), out of search at once."""
    with archive.publishing(), archive.transaction():
        return gate.takedown(archive.session, archive.keyring, archive.index, actor, story_id, reason,
                             archive.config.media_root)


def withdraw(archive: Archive, actor: User, story_id: str, reason: str) -> Story:
    """Consent withdrawn: any released copy removed, the data key destroyed."""
    with archive.publishing(), archive.transaction():
        return gate.withdraw(archive.session, archive.keyring, archive.index, actor, story_id, reason,
                             archive.config.media_root)


def due_for_review(archive: Archive) -> Sequence[Story]:
    """Stories waiting for an admin's review."""
    return stories.listing(archive.session, "due_for_review")

