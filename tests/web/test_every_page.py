"""Every page, for every kind of visitor, with a story in every state: never a 5xx.

The pages come from `app.url_map` (every GET route), so a new page is rendered here without
anyone remembering to add it; the states come from `STATES`, one line each, so a new state of a
story (cooling-off, when it exists) is one line too. The stories are made through the service
layer, as the doors make them, owned by the organizer: the other organizer is the visitor who
does not own them. A story page is rendered with every state's story; every other page with all
of them in the archive at once (the admin's calendar lists the due and the overdue together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import services
from archive.accounts.users import User
from archive.services import Archive, embargoes, narrators, releases
from archive.services import stories as story_service
from archive.storage import database
from tests.helpers import story
from tests.web.conftest import World, sign_in
from tests.web.test_policy import _routes, _values

VISITORS = ("anonymous", "researcher", "organizer", "other_organizer", "admin")
# Released stories are released by a run as of this instant, long past: a story due later (the
# overdue one, days ago) stays sealed, whatever order the states are made in.
LONG_AGO = datetime(2001, 1, 2, tzinfo=UTC)


@dataclass(frozen=True)
class People:
    """The accounts a state is made with."""

    organizer: User
    admin: User
    admin2: User


def _sealed(archive: Archive, people: People, until: datetime | None, **fields: Any) -> str:
    draft = story_service.parse(story(title="A story in some state", embargo_until=(
        until.isoformat() if until else None), **fields))
    made = story_service.submit(archive, people.organizer, draft)
    assert made is not None
    return made.id


def _released(archive: Archive, people: People, **fields: Any) -> str:
    story_id = _sealed(archive, people, LONG_AGO - timedelta(days=1), **fields)
    releases.publish_due(archive, now=LONG_AGO)
    return story_id


def _in(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _with_request(archive: Archive, people: People) -> str:
    story_id = _sealed(archive, people, _in(400))
    embargoes.request(archive, people.admin2, story_id, None, "the narrator asked for it now")
    return story_id


def _taken_down(archive: Archive, people: People) -> str:
    story_id = _released(archive, people)
    story_service.takedown(archive, people.admin, story_id, "a takedown for the page test")
    return story_id


def _withdrawn(archive: Archive, people: People) -> str:
    story_id = _released(archive, people)
    story_service.withdraw(archive, people.admin, story_id, "consent withdrawn for the page test")
    return story_id


def _narrator_of(archive: Archive, people: People, story_id: str) -> narrators.Narrator:
    issued = narrators.issue(archive, people.organizer, story_id)
    found = narrators.sign_in(archive, issued.codename, "192.0.2.1")
    assert found is not None
    return found


def _cooling_off(archive: Archive, people: People) -> str:
    story_id = _released(archive, people)
    narrators.withdraw(archive, _narrator_of(archive, people, story_id), "a narrator's withdrawal for the page test")
    return story_id


def _held(archive: Archive, people: People) -> str:
    story_id = _sealed(archive, people, _in(-2))
    narrators.hold(archive, _narrator_of(archive, people, story_id), "object", "not yet, for the page test")
    return story_id


# A story's states: each makes one story in it (through the services) and returns its id.
STATES: dict[str, Callable[[Archive, People], str]] = {
    "sealed": lambda archive, people: _sealed(archive, people, _in(3650)),
    "sealed indefinitely": lambda archive, people: _sealed(archive, people, None),
    "due soon": lambda archive, people: _sealed(archive, people, _in(10)),
    "overdue": lambda archive, people: _sealed(archive, people, _in(-3)),
    "held for review": lambda archive, people: _released(archive, people, release_review=True),
    "pending request": _with_request,
    "released": lambda archive, people: _released(archive, people),
    "taken down": _taken_down,
    "withdrawn": _withdrawn,
    "cooling off": _cooling_off,
    "held by its narrator": _held,
}

# Pages worth rendering with a query too: (endpoint, query string).
QUERIES = (("reading.search", "q=story"), ("reading.search", "q=story&page=2"), ("api.search", "q=story"),
           ("admin.audit_log", "action=story.withdraw"),
           ("oai.endpoint", "verb=ListRecords&metadataPrefix=oai_dc"),
           ("oai.endpoint", "verb=ListIdentifiers&metadataPrefix=oai_dc"))


@pytest.fixture
def states(web_app: Flask, world: World) -> dict[str, str]:
    """One story in each state, the organizer's; their ids by state."""
    with web_app.app_context():
        archive = services.current()
        session = archive.session

        def user(role: str) -> User:
            found = session.get(User, world.user_ids[role])
            assert found is not None
            return found

        people = People(user("organizer"), user("admin"), user("admin2"))
        made = {state: make(archive, people) for state, make in STATES.items()}
        database.db.session.remove()
    return made


def _pages(app: Flask, world: World, states: dict[str, str]) -> list[str]:
    """Every GET route's path: a route about a story once for each state's story."""
    adapter = app.url_map.bind("localhost")
    paths = []
    for endpoint, method, rule in _routes(app):
        if method != "GET":
            continue
        arguments = next(r.arguments for r in app.url_map.iter_rules(endpoint) if r.rule == rule)
        ids = states.values() if "story_id" in arguments else [None]
        for story_id in ids:
            values = {a: story_id if a == "story_id" else _values(endpoint, a, world) for a in arguments}
            paths.append(adapter.build(endpoint, values, method="GET"))
    paths += [adapter.build(endpoint, {}, method="GET") + "?" + query for endpoint, query in QUERIES]
    return paths


def test_the_states_are_the_states_they_are_named_for(web_app: Flask, states: dict[str, str]) -> None:
    with web_app.app_context():
        archive = services.current()
        status = {story.id: story.status for story in story_service.listing(archive)}
        upcoming = {story.id for story in embargoes.upcoming(archive, 30)}
        requested = {item.story_id for item in embargoes.pending(archive)}
        database.db.session.remove()
    assert status[states["sealed"]] == "sealed" and states["sealed"] not in upcoming
    assert status[states["due soon"]] == "sealed" and states["due soon"] in upcoming
    assert status[states["overdue"]] == "sealed" and states["overdue"] in upcoming
    assert status[states["held for review"]] == "due_for_review"
    assert states["pending request"] in requested
    assert status[states["released"]] == "released"
    assert status[states["taken down"]] == "sealed"
    assert status[states["withdrawn"]] == "withdrawn"
    assert status[states["cooling off"]] == "withdrawn" and states["cooling off"] not in upcoming
    assert status[states["held by its narrator"]] == "sealed" and states["held by its narrator"] in upcoming


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_page_renders_for_every_visitor_in_every_state(web_app: Flask, client: FlaskClient, world: World,
                                                             states: dict[str, str], visitor: str) -> None:
    faults = []
    pages = _pages(web_app, world, states)
    for path in pages:
        if visitor != "anonymous":
            sign_in(client, world.user_ids[visitor])
        response = client.get(path)
        response.close()
        if response.status_code >= 500:
            state = next((name for name, story_id in states.items() if f"/{story_id}" in path), "all states")
            faults.append(f"GET {path} ({state}) as {visitor}: {response.status_code}")
    assert faults == []
    assert len(pages) > 3 * len(STATES)  # the walk found the story pages and the rest


def test_the_admin_calendar_marks_the_overdue_story_and_only_it(web_app: Flask, client: FlaskClient,
                                                                 world: World, states: dict[str, str]) -> None:
    sign_in(client, world.user_ids["admin"])
    page = client.get("/admin").get_data(as_text=True)
    rows = {story_id: row for row in page.split("<tr>") for story_id in states.values() if story_id in row}
    assert "overdue" in rows[states["overdue"]]
    assert "overdue" not in rows[states["due soon"]]
    # Not overdue: its narrator holds it, and the calendar says so.
    held = rows[states["held by its narrator"]]
    assert "overdue" not in held and "said not yet" in held


def test_the_admin_dashboard_lists_what_narrators_hold_back_and_nothing_else(
        web_app: Flask, client: FlaskClient, world: World, states: dict[str, str]) -> None:
    sign_in(client, world.user_ids["admin"])
    page = client.get("/admin").get_data(as_text=True)
    section = page.split('id="narrators-heading"', 1)[1].split("</section>", 1)[0]
    listed = {name for name, story_id in states.items() if story_id in section}
    assert listed == {"held by its narrator", "cooling off"}
    assert "Held back by their narrators (2)" in section
    assert "said not yet" in section and "can undo it until" in section
