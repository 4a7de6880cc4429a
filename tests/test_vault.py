"""The vault's services: sealing, and opening one's own story (audited)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import audit
from archive.accounts.users import User
from archive.errors import Forbidden, KeyProblem, NotFound
from archive.vault import drafts, stories
from archive.vault.keys import Keyring
from archive.vault.models import Story, StoryVersion
from tests.helpers import story


@pytest.fixture
def sealed(session: Session, keyring: Keyring, organizer: User) -> Story:
    result = stories.submit(session, keyring, organizer, drafts.parse(story()))
    session.commit()
    return result


def _actions(session: Session, story_id: str) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in audit.entries(session, story_id=story_id)]


def test_a_sealed_story_is_one_ciphertext_with_nothing_readable(session: Session, sealed: Story) -> None:
    version = session.scalars(select(StoryVersion).where(StoryVersion.story_id == sealed.id)).one()

    assert len(version.nonce) == 12
    assert b"Rosa" not in version.ciphertext and b"Harbor" not in version.ciphertext
    assert sealed.wrapped_key is not None and len(sealed.wrapped_key) == 12 + 32 + 16
    assert sealed.status == "sealed" and sealed.kek_version == 1


def test_the_owner_opens_their_story_and_the_read_is_audited(session: Session, keyring: Keyring,
                                                             organizer: User, sealed: Story) -> None:
    draft = stories.open_sealed(session, keyring, organizer, sealed.id)
    session.commit()

    assert draft.narrator == "Rosa Example"
    assert "[[person:Maria Lopez|the housekeeper]]" in draft.transcript
    assert _actions(session, sealed.id) == [("org@example.org", "story.submit"),
                                            ("org@example.org", "story.read")]


def test_sealed_story_is_not_found_for_another_organizer(session: Session, keyring: Keyring,
                                                         other_organizer: User, sealed: Story) -> None:
    with pytest.raises(NotFound):
        stories.open_sealed(session, keyring, other_organizer, sealed.id)


def test_sealed_story_is_not_found_for_a_researcher(session: Session, keyring: Keyring,
                                                    researcher: User, sealed: Story) -> None:
    with pytest.raises(NotFound) as raised:
        stories.open_sealed(session, keyring, researcher, sealed.id)
    assert str(raised.value) == f"no story {sealed.id}"
    with pytest.raises(NotFound) as unknown:
        stories.open_sealed(session, keyring, researcher, "doesnotexist0000")
    assert str(unknown.value) == "no story doesnotexist0000"


def test_an_admin_manages_but_cannot_read_sealed_content(session: Session, keyring: Keyring,
                                                         admin: User, sealed: Story) -> None:
    assert stories.get_for(session, admin, sealed.id).id == sealed.id
    with pytest.raises(Forbidden):
        stories.open_sealed(session, keyring, admin, sealed.id)


def test_researchers_cannot_submit(session: Session, keyring: Keyring, researcher: User) -> None:
    with pytest.raises(Forbidden):
        stories.submit(session, keyring, researcher, drafts.parse(story()))


def test_a_ciphertext_moved_to_another_story_does_not_open(session: Session, keyring: Keyring,
                                                           organizer: User, sealed: Story) -> None:
    other = stories.submit(session, keyring, organizer, drafts.parse(story(title="Other")))
    session.commit()
    mine = sealed.versions[0]
    theirs = other.versions[0]
    theirs.nonce, theirs.ciphertext = mine.nonce, mine.ciphertext
    other.wrapped_key = sealed.wrapped_key
    session.commit()

    with pytest.raises(KeyProblem):
        stories.open_sealed(session, keyring, organizer, other.id)


def test_a_withdrawn_story_has_no_key_and_cannot_be_opened(session: Session, keyring: Keyring,
                                                           organizer: User, sealed: Story) -> None:
    sealed.wrapped_key, sealed.kek_version, sealed.status = None, None, "withdrawn"
    session.commit()

    with pytest.raises(NotFound, match="withdrawn"):
        stories.open_sealed(session, keyring, organizer, sealed.id)
