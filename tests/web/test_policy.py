"""Who may do what: every route of the app, every method, for every kind of visitor.

One declarative table; the test walks `app.url_map`, so a route missing from the
table fails it. Expectations: allowed means the page answers (not a sign-in redirect,
403 or 404); denied means a sign-in redirect for anonymous visitors, 403 for a signed-in
role the page is not for, and 404 (the same page as an unknown id) for someone who may
not know the story exists.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import create_app
from archive.config import Config
from archive.storage import database
from tests.web.conftest import World, sign_in

VISITORS = ("anonymous", "organizer", "other_organizer", "researcher", "admin")
EVERYONE = frozenset(VISITORS)
SUBMITTERS = frozenset({"organizer", "other_organizer", "admin"})
OWNER = frozenset({"organizer"})
ADMINS = frozenset({"admin"})
SIGNED_IN = EVERYONE - {"anonymous"}

# endpoint -> method -> who may
POLICY: dict[str, dict[str, frozenset[str]]] = {
    "static": {"GET": EVERYONE},
    "auth.login": {"GET": EVERYONE, "POST": EVERYONE},
    "auth.logout": {"POST": EVERYONE},
    "auth.account": {"GET": SIGNED_IN},
    "reading.home": {"GET": EVERYONE},
    "reading.search": {"GET": EVERYONE},
    "reading.story": {"GET": EVERYONE},
    "reading.export": {"GET": EVERYONE},
    "reading.recording": {"GET": EVERYONE},
    "reading.captions": {"GET": EVERYONE},
    "oai.endpoint": {"GET": EVERYONE, "POST": EVERYONE},
    "api.search": {"GET": EVERYONE},
    "api.story": {"GET": EVERYONE},
    "api.vocabularies": {"GET": EVERYONE},
    "api.openapi": {"GET": EVERYONE},
    "auth.create_token": {"POST": SIGNED_IN},
    "auth.revoke_token": {"POST": SIGNED_IN},
    "organizer.submit": {"GET": SUBMITTERS, "POST": SUBMITTERS},
    "organizer.my_stories": {"GET": SUBMITTERS},
    "organizer.my_story": {"GET": OWNER},
    "organizer.open_story": {"POST": OWNER},
    "organizer.extend": {"POST": OWNER},
    "organizer.request_release": {"POST": OWNER},
    "organizer.cancel_request": {"POST": OWNER},
    "organizer.attach_recording": {"POST": OWNER},
    "organizer.recording": {"GET": OWNER},
    "admin.dashboard": {"GET": ADMINS},
    "admin.approve": {"POST": ADMINS},
    "admin.deny": {"POST": ADMINS},
    "admin.story": {"GET": ADMINS},
    "admin.release": {"POST": ADMINS},
    "admin.request_release": {"POST": ADMINS},
    "admin.extend": {"POST": ADMINS},
    "admin.takedown": {"POST": ADMINS},
    "admin.withdraw": {"POST": ADMINS},
    "admin.users_page": {"GET": ADMINS, "POST": ADMINS},
    "admin.disable": {"POST": ADMINS},
    "admin.enable": {"POST": ADMINS},
    "admin.audit_log": {"GET": ADMINS},
    "admin.approve_grant": {"POST": ADMINS},
    "admin.deny_grant": {"POST": ADMINS},
    "notices.listing": {"GET": SUBMITTERS},
    "notices.seen": {"POST": SUBMITTERS},
    "bulk.bulk": {"GET": ADMINS, "POST": ADMINS},
    "bulk.upcoming": {"GET": ADMINS},
    "admin.clear_hold": {"POST": ADMINS},
    # The narrator's door: no account; without a narrator's session every page leads to its sign-in.
    "narrator.sign_in": {"GET": EVERYONE, "POST": EVERYONE},
    "narrator.story": {"GET": EVERYONE},
    "narrator.leave": {"POST": EVERYONE},
    "narrator.delay": {"POST": EVERYONE},
    "narrator.protect": {"POST": EVERYONE},
    "narrator.object_": {"POST": EVERYONE},
    "narrator.words": {"POST": EVERYONE},
    "narrator.ask": {"POST": EVERYONE},
    "narrator.note": {"POST": EVERYONE},
    "narrator.withdraw": {"POST": EVERYONE},
    "narrator.undo": {"POST": EVERYONE},
    "organizer.issue_codename": {"POST": OWNER},
    "organizer.revoke_codename": {"POST": OWNER},
    "organizer.note_to_narrator": {"POST": OWNER},
    "organizer.clear_hold": {"POST": OWNER},
    "organizer.close_narrator_request": {"POST": OWNER},
}
# What an archive with access agreements (ESCROW_READING_ROOM=signed-in) closes to anonymous visitors.
READING = ("reading.home", "reading.search", "reading.story", "reading.export", "reading.recording",
           "reading.captions", "oai.endpoint", "api.search",
           "api.story", "api.vocabularies", "api.openapi")


@pytest.fixture(params=["public", "signed-in"])
def web_app(request: pytest.FixtureRequest, config: Config) -> Iterator[Flask]:
    """The app with each reading-room setting (this module's own: the policy covers both)."""
    app = create_app(dataclasses.replace(config, reading_room=request.param))
    yield app
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


def _may(app: Flask, endpoint: str, method: str) -> frozenset[str]:
    allowed = POLICY[endpoint][method]
    if endpoint in READING and app.config["ESCROW_CONFIG"].reading_room == "signed-in":
        return allowed & SIGNED_IN
    return allowed


# Story pages an owner-only route would reveal: others get the unknown-id 404, not a 403.
OWNER_SCOPED = {"organizer.my_story", "organizer.open_story", "organizer.extend", "organizer.request_release",
                "organizer.cancel_request", "organizer.attach_recording", "organizer.recording",
                "organizer.issue_codename", "organizer.revoke_codename", "organizer.note_to_narrator",
                "organizer.clear_hold", "organizer.close_narrator_request"}
# Run last, in this order: they change what later requests would see.
LAST = ("admin.takedown", "admin.withdraw", "admin.disable", "auth.logout")


def _values(endpoint: str, argument: str, world: World) -> Any:
    if argument == "story_id":
        return world.released_id if endpoint in ("reading.story", "reading.export", "reading.recording",
                                                 "reading.captions", "api.story", "admin.takedown") \
            else world.sealed_id
    if argument == "fmt":
        return "bibtex"
    if argument == "request_id":
        return world.request_id
    if argument == "grant_id":
        return 1
    if argument == "token_id":  # the first token made (by whoever ran create_token first); others' change nothing
        return 1
    if argument == "user_id":
        return world.user_ids["researcher"]
    if argument == "filename":
        return "style.css"
    if argument == "recording_id":
        return world.recording_id
    if argument == "action_id":  # no such narrator request: the owner is told so, others get the 404
        return "nosuchrequest"
    raise AssertionError(f"no test value for <{argument}> of {endpoint}: add one")


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule))
    return sorted(found, key=lambda r: (r[1] == "POST", r[0] in LAST and LAST.index(r[0]), r[0]))


def test_every_route_is_in_the_policy_table(web_app: Flask) -> None:
    routes = {(endpoint, method) for endpoint, method, _ in _routes(web_app)}
    table = {(endpoint, method) for endpoint, methods in POLICY.items() for method in methods}

    assert routes - table == set(), "routes missing from POLICY: add them with who may use them"
    assert table - routes == set(), "POLICY names routes the app does not have"


@pytest.mark.parametrize("visitor", VISITORS)
def test_each_visitor_reaches_exactly_what_the_policy_allows(web_app: Flask, client: FlaskClient,
                                                             world: World, visitor: str) -> None:
    web_app.config["WTF_CSRF_ENABLED"] = False  # this test is about roles; CSRF has its own
    wrong = []
    for endpoint, method, rule in _routes(web_app):
        if visitor != "anonymous":
            sign_in(client, world.user_ids[visitor])
        adapter = web_app.url_map.bind("localhost")
        arguments = next(r.arguments for r in web_app.url_map.iter_rules(endpoint) if r.rule == rule)
        path = adapter.build(endpoint, {a: _values(endpoint, a, world) for a in arguments}, method=method)
        response = client.open(path, method=method, data={"reason": "policy test", "deny-reason": "no",
                                                           "extend-reason": "r", "extend-until": "2099-01-01",
                                                           "takedown-reason": "r", "withdraw-reason": "r"})
        response.close()
        allowed = visitor in _may(web_app, endpoint, method)
        outcome = _outcome(response.status_code, response.headers.get("Location", ""))
        expected = "allowed" if allowed else _denial(visitor, endpoint)
        if outcome != expected:
            wrong.append(f"{method} {path} as {visitor}: {outcome} ({response.status_code}), expected {expected}")
    assert wrong == []


# Ids as a URL may carry them: NUL (which PostgreSQL refuses in text), longer than any id, not
# ASCII, blank, or a path's dots; a story's id in place of a recording's and back.
ODD_IDS = ("\x00", "a\x00b", "x" * 33, "\u00fc" * 16, " ", "..", "%00")
TEXT_ARGUMENTS = ("story_id", "recording_id", "fmt", "filename")


@pytest.mark.parametrize("visitor", ["organizer", "researcher", "admin"])
def test_an_odd_id_in_any_route_finds_nothing_and_faults_nothing(web_app: Flask, client: FlaskClient,
                                                                  world: World, visitor: str) -> None:
    web_app.config["WTF_CSRF_ENABLED"] = False
    sign_in(client, world.user_ids[visitor])
    adapter = web_app.url_map.bind("localhost")
    wrong = []
    for endpoint, method, rule in _routes(web_app):
        arguments = next(r.arguments for r in web_app.url_map.iter_rules(endpoint) if r.rule == rule)
        for odd in (ODD_IDS if set(arguments) & set(TEXT_ARGUMENTS) else ()):
            values = {a: odd if a in TEXT_ARGUMENTS else _values(endpoint, a, world) for a in arguments}
            path = adapter.build(endpoint, values, method=method)
            response = client.open(path, method=method, data={"reason": "odd id", "takedown-reason": "r",
                                                               "withdraw-reason": "r"})
            response.close()
            if response.status_code not in (403, 404):
                wrong.append(f"{method} {path} as {visitor}: {response.status_code}")
    assert wrong == []


@pytest.mark.parametrize("visitor", ["organizer", "researcher", "admin"])
def test_a_nul_in_any_field_of_any_form_is_refused_never_a_fault(web_app: Flask, client: FlaskClient,
                                                                   world: World, visitor: str) -> None:
    """Every field any page renders, sent with a NUL (which PostgreSQL refuses in text) and with
    stray control characters, to every route that takes a form: an answer, never a 5xx."""
    web_app.config["WTF_CSRF_ENABLED"] = False
    sign_in(client, world.user_ids["admin"])
    adapter = web_app.url_map.bind("localhost")
    fields: set[str] = set()
    for endpoint, method, rule in _routes(web_app):
        arguments = next(r.arguments for r in web_app.url_map.iter_rules(endpoint) if r.rule == rule)
        if method == "GET" and endpoint not in LAST:
            page = client.get(adapter.build(endpoint, {a: _values(endpoint, a, world) for a in arguments}))
            fields.update(re.findall(r'name="([\w-]+)"', page.get_data().decode("utf-8", "replace")))
            page.close()
    fields -= {"csrf_token", "viewport", "recording"}
    assert {"email", "token-name", "extend-reason", "title", "transcript"} <= fields  # the walk found the forms
    sign_in(client, world.user_ids[visitor])
    faults = []
    for endpoint, method, rule in _routes(web_app):
        if method != "POST" or endpoint in LAST:
            continue
        arguments = next(r.arguments for r in web_app.url_map.iter_rules(endpoint) if r.rule == rule)
        path = adapter.build(endpoint, {a: _values(endpoint, a, world) for a in arguments}, method=method)
        for value in ("a\x00b", "\x00", "x\x01\x1f\x7f"):
            response = client.post(path, data=dict.fromkeys(fields, value))
            response.close()
            if response.status_code >= 500:
                faults.append(f"POST {path} as {visitor} with {value!r}: {response.status_code}")
    assert faults == []


def _outcome(status: int, location: str) -> str:
    if (status == 302 and "/login" in location) or status == 401:  # 401: the API's and OAI's sign-in
        return "sign-in"
    if status in (403, 404, 405) or status >= 500:
        return str(status)
    return "allowed"


def _denial(visitor: str, endpoint: str) -> str:
    if visitor == "anonymous":
        return "sign-in"
    if endpoint in OWNER_SCOPED and POLICY[endpoint] and visitor in SUBMITTERS:
        return "404"
    return "403"
