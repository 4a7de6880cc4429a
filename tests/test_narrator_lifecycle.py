"""Any sequence of narrator, organizer and admin actions on one story keeps the promises of the
narrator's door: a story is never released while held or cooling off, the reading room holds it
exactly when it is released, and the narrator alone never makes it less protected (an undo
only puts back what was there before their own withdrawal)."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from archive import services
from archive.accounts import users
from archive.accounts.users import User
from archive.errors import EscrowError
from archive.reading_room.models import ReleasedStory
from archive.services import embargoes, narrators, releases
from archive.services import stories as story_service
from archive.vault.models import LEVELS, RECORDING_RELEASES, Story
from tests.helpers import story

FAR = datetime(2090, 1, 1, tzinfo=UTC)


def _protection(found: Story) -> tuple[Any, ...]:
    """How protected a story is, as comparable parts: each larger is more protected."""
    until = found.embargo_until
    return (found.status != "released", datetime.max.replace(tzinfo=UTC) if until is None else until,
            LEVELS.index(found.redaction_level), -RECORDING_RELEASES.index(found.recording_release))


def test_any_sequence_of_actions_keeps_the_narrators_promises(app: Flask, organizer: User, admin: User,
                                                               session: Any) -> None:
    second = users.add(session, "admin2@example.org", "admin", "correct horse battery staple")
    session.commit()
    people = {"organizer": organizer.id, "admin": admin.id, "admin2": second.id}

    class Lifecycle(RuleBasedStateMachine):
        """One story, its narrator, its organizer and two admins."""

        def __init__(self) -> None:
            super().__init__()
            # Whoosh names its segments with the global `random`, which Hypothesis seeds the same
            # for every example: two examples' segments in the one index would take one name.
            random.seed(os.urandom(16))
            self.archive = services.current()
            self.story_id = ""
            self.narrator: narrators.Narrator | None = None
            self.before_withdrawal: tuple[Any, ...] | None = None

        def person(self, role: str) -> User:
            found = self.archive.session.get(User, people[role])
            assert found is not None
            return found

        def story(self) -> Story:
            found = self.archive.session.get(Story, self.story_id, populate_existing=True)
            assert found is not None
            return found

        @initialize(due=st.booleans(), level=st.sampled_from(LEVELS), recording=st.sampled_from(["none", "muted"]))
        def a_story_with_a_codename(self, due: bool, level: str, recording: str) -> None:
            draft = story_service.parse(story(embargo_until="2001-01-01" if due else "2080-01-01",
                                              redaction_level=level,
                                              recording_release="none" if level == "summary" else recording))
            made = story_service.submit(self.archive, self.person("organizer"), draft)
            assert made is not None
            self.story_id = made.id
            issued = narrators.issue(self.archive, self.person("organizer"), made.id)
            self.narrator = narrators.sign_in(self.archive, issued.codename, "192.0.2.10")
            assert self.narrator is not None

        def narrator_does(self, work: Any) -> None:
            """A narrator's action alone: afterwards the story is at least as protected."""
            before = _protection(self.story())
            try:
                work()
            except EscrowError:
                pass
            after = _protection(self.story())
            assert all(a >= b for a, b in zip(after, before, strict=True)), (before, after)

        @rule(days=st.integers(-400, 40000))
        def narrator_delays(self, days: int) -> None:
            until = datetime.now(UTC) + timedelta(days=days)
            self.narrator_does(lambda: narrators.delay(self.archive, self.narrator, until, ""))

        @rule(level=st.sampled_from(LEVELS), recording=st.sampled_from(RECORDING_RELEASES))
        def narrator_protects(self, level: str, recording: str) -> None:
            self.narrator_does(lambda: narrators.protect(self.archive, self.narrator, level, recording, ""))

        @rule(kind=st.sampled_from(["object", "words"]))
        def narrator_holds(self, kind: str) -> None:
            self.narrator_does(lambda: narrators.hold(self.archive, self.narrator, kind, "not now"))

        @rule(days=st.integers(-400, 400), level=st.sampled_from(LEVELS))
        def narrator_asks(self, days: int, level: str) -> None:
            until = datetime.now(UTC) + timedelta(days=days)
            self.narrator_does(lambda: narrators.ask(self.archive, self.narrator, "earlier", until, None, ""))
            self.narrator_does(lambda: narrators.ask(self.archive, self.narrator, "looser", None, level, ""))

        @rule()
        def narrator_withdraws(self) -> None:
            before = self.story()
            state = _protection(before)
            status = before.status
            self.narrator_does(lambda: narrators.withdraw(self.archive, self.narrator, ""))
            if status != "withdrawn" and self.story().status == "withdrawn":
                self.before_withdrawal = state

        @rule()
        def narrator_undoes(self) -> None:
            try:
                narrators.undo(self.archive, self.narrator)
            except EscrowError:
                return
            # Only what was there before the narrator's own withdrawal comes back.
            assert self.before_withdrawal is not None
            assert _protection(self.story())[0] == self.before_withdrawal[0]

        @rule()
        def organizer_clears_the_words(self) -> None:
            try:
                narrators.clear(self.archive, self.person("organizer"), self.story_id)
            except EscrowError:
                pass

        @rule()
        def an_admin_clears_the_hold(self) -> None:
            try:
                narrators.clear(self.archive, self.person("admin"), self.story_id)
            except EscrowError:
                pass

        @rule()
        def two_admins_release_it_now(self) -> None:
            try:
                asked = embargoes.request(self.archive, self.person("admin"), self.story_id, None, "agreed")
                embargoes.approve(self.archive, self.person("admin2"), asked.id)
            except EscrowError:
                pass

        @rule()
        def an_admin_takes_it_down(self) -> None:
            try:
                story_service.takedown(self.archive, self.person("admin"), self.story_id, "legal")
            except EscrowError:
                pass

        @rule()
        def the_scheduled_run(self) -> None:
            releases.publish_due(self.archive)

        @invariant()
        def never_released_while_held_or_cooling_off(self) -> None:
            if not self.story_id:
                return
            found = self.story()
            in_room = self.archive.session.get(ReleasedStory, self.story_id, populate_existing=True) is not None
            assert in_room == (found.status == "released")
            if found.status == "released":
                assert found.hold is None and found.cooling_until is None
            self.archive.session.rollback()

    run_state_machine_as_test(Lifecycle, settings=settings(
        max_examples=25,
        stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)))
