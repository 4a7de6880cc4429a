"""Accounts and sessions over HTTP: the two-person rule cannot be met by one admin alone, a
session ends everywhere when it should, and what the site answers depends on nothing a
visitor can forge (the Host header) or a cache can keep (pages rendered with a session)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import create_app, services
from archive.accounts import users
from archive.config import Config
from archive.storage import database
from archive.web import auth
from archive.web.hosts import REFUSED, name
from tests.web.conftest import PASSWORD, World, sign_in

TOKEN = re.compile(r'name="([a-z-]*csrf_token)" type="hidden" value="([^"]+)"')


def _tokens(client: FlaskClient, path: str) -> dict[str, str]:
    return dict(TOKEN.findall(client.get(path).get_data(as_text=True)))


def _login(client: FlaskClient, email: str, password: str = PASSWORD) -> int:
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": _tokens(client, "/login")["csrf_token"]})
    return response.status_code


def _user(app: Flask, email: str) -> users.User:
    with app.app_context():
        found = database.db.session.scalar(database.db.select(users.User).where(users.User.email == email))
        assert found is not None
        database.db.session.expunge(found)
        database.db.session.remove()
        return found


def _post(client: FlaskClient, path: str, data: dict[str, str] | None = None, page: str = "/admin/users") -> str:
    response = client.post(path, data={**_tokens(client, page), **(data or {})}, follow_redirects=True)
    return response.get_data(as_text=True)


# -- two admins, really two ------------------------------------------------------------------

def test_an_admin_cannot_make_a_second_admin_alone(web_app: Flask, client: FlaskClient, world: World) -> None:
    """The sockpuppet sequence: add an admin, approve it oneself, approve one's own request with it."""
    sign_in(client, world.user_ids["admin"])
    added = _post(client, "/admin/users", {"email": "puppet@example.org", "role": "admin", "password": PASSWORD})
    assert "disabled until a second admin approves" in added
    [grant] = re.findall(r'/admin/grants/(\d+)/approve', client.get("/admin/users").get_data(as_text=True)) or ["?"]
    assert grant == "?"  # the one who asked is shown no approve button ...
    grant_id = _grant_id(web_app)
    own = _post(client, f"/admin/grants/{grant_id}/approve")  # ... and refused if they post anyway
    assert "you made this request" in own
    assert not _user(web_app, "puppet@example.org").active

    puppet = web_app.test_client()
    assert _login(puppet, "puppet@example.org") == 200  # disabled: sign-in fails like a wrong password

    sign_in(client, world.user_ids["admin2"])
    approved = _post(client, f"/admin/grants/{grant_id}/approve")
    assert "the account is an admin now" in approved
    assert _login(puppet, "puppet@example.org") == 302

    # The new admin cannot approve what was asked before they became one (admin2's request).
    before = _post(puppet, f"/admin/requests/{world.request_id}/approve", page="/admin")
    assert "admin role is newer than this request" in before
    sign_in(client, world.user_ids["admin"])
    assert world.sealed_id in client.get("/admin").get_data(as_text=True)  # still pending


def test_enabling_a_disabled_admin_waits_for_a_second_admin(web_app: Flask, client: FlaskClient,
                                                            world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    _post(client, f"/admin/users/{world.user_ids['admin2']}/disable")
    assert not _user(web_app, "admin2@example.org").active

    asked = _post(client, f"/admin/users/{world.user_ids['admin2']}/enable")

    assert "waits for a second admin" in asked
    assert not _user(web_app, "admin2@example.org").active
    assert "you made this request" in _post(client, f"/admin/grants/{_grant_id(web_app)}/approve")


def test_the_command_line_bootstraps_admins_and_says_so(web_app: Flask, archive_home: object) -> None:
    from tests.helpers import add_users, sql
    add_users(archive_home, ("first@example.org", "admin"))  # type: ignore[arg-type]

    assert _user(web_app, "first@example.org").active
    assert sql(archive_home, "SELECT actor FROM audit_log WHERE action = 'user.add'") == [  # type: ignore[arg-type]
        ("command line",)]


def _grant_id(app: Flask) -> int:
    with app.app_context():
        pending = database.db.select(users.AdminGrant.id).where(users.AdminGrant.state == "pending")
        found = database.db.session.scalar(pending)
        database.db.session.remove()
    assert found is not None
    return int(found)


# -- sessions that end -------------------------------------------------------------------------

def _captured(client: FlaskClient) -> str:
    cookie = client.get_cookie("escrow_session")
    assert cookie is not None
    return cookie.value


def _replayed(app: Flask, value: str) -> int:
    """A request from another user agent carrying a captured session cookie."""
    other = app.test_client()
    other.set_cookie("escrow_session", value, domain="localhost")
    return other.get("/my/stories").status_code


def test_a_cookie_captured_before_sign_out_opens_nothing_afterwards(web_app: Flask, client: FlaskClient,
                                                                    world: World) -> None:
    assert _login(client, "org@example.org") == 302
    phone = web_app.test_client()
    assert _login(phone, "org@example.org") == 302
    stolen = _captured(client)
    assert _replayed(web_app, stolen) == 200

    signed_out = client.post("/logout", data=_tokens(client, "/account"))

    assert signed_out.status_code == 302
    assert _replayed(web_app, stolen) == 302  # to the sign-in page
    assert phone.get("/my/stories").status_code == 302  # every session of the account ended


@pytest.mark.parametrize("change", ["disable", "new password"])
def test_a_cookie_captured_before_a_disable_or_a_new_password_opens_nothing(
        web_app: Flask, client: FlaskClient, world: World, change: str) -> None:
    assert _login(client, "org@example.org") == 302
    stolen = _captured(client)
    with web_app.app_context():
        session = database.db.session()
        user = session.get(users.User, world.user_ids["organizer"])
        assert user is not None
        if change == "disable":
            admin = session.get(users.User, world.user_ids["admin"])
            assert admin is not None
            users.set_active(session, admin, user.id, False)
            users.set_active(session, admin, user.id, True)  # enabled again: old sessions stay ended
        else:
            ring = services.current().keyring
            users.set_password(session, ring.audit_key, user, "a brand new password", actor="command line")
        session.commit()
        database.db.session.remove()

    assert _replayed(web_app, stolen) == 302


@pytest.mark.parametrize("age, idle, alive", [
    (7 * 3600, 60, True), (8 * 3600 + 1, 60, False),  # absolute lifetime from sign-in
    (600, 29 * 60, True), (3600, 30 * 60 + 1, False),  # idle timeout
])
def test_a_session_ends_eight_hours_after_sign_in_and_after_half_an_hour_unused(
        client: FlaskClient, world: World, age: int, idle: int, alive: bool) -> None:
    sign_in(client, world.user_ids["organizer"])
    now = int(time.time())
    with client.session_transaction() as session:
        session[auth.SINCE], session[auth.SEEN] = now - age, now - idle

    assert client.get("/my/stories").status_code == (200 if alive else 302)


def test_the_idle_clock_is_the_last_request_to_the_second(client: FlaskClient, world: World) -> None:
    """A request 59 seconds after the last moves the idle clock to now (it used to wait for a
    whole minute, ending a session up to a minute early); it is sent on every response anyway."""
    sign_in(client, world.user_ids["organizer"])
    now = time.time()
    with client.session_transaction() as session:
        session[auth.SEEN] = now - 59

    response = client.get("/my/stories")

    assert response.status_code == 200 and "escrow_session=" in response.headers["Set-Cookie"]
    with client.session_transaction() as session:
        assert now <= session[auth.SEEN] <= time.time()


def test_the_account_page_signs_out_everywhere(client: FlaskClient, world: World) -> None:
    assert client.get("/account").status_code == 302
    sign_in(client, world.user_ids["researcher"])
    page = client.get("/account").get_data(as_text=True)
    assert "reader@example.org" in page and "Sign out everywhere" in page


# -- hosts and caches --------------------------------------------------------------------------

def test_an_unknown_host_is_refused(client: FlaskClient, world: World) -> None:
    evil = client.get(f"/stories/{world.released_id}", headers={"Host": "evil.example"})
    local = client.get(f"/stories/{world.released_id}")

    assert evil.status_code == 400 and "evil.example" not in evil.get_data(as_text=True)
    assert local.status_code == 200


LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


def _any_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(text, upper, strict=True)))


def _with_port(host: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(host, st.none() | st.integers(1, 65535)).map(
        lambda pair: pair[0] if pair[1] is None else f"{pair[0]}:{pair[1]}")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=_with_port(st.sampled_from(LOCAL_NAMES).flatmap(_any_case)
                       | st.sampled_from(["[0:0:0:0:0:0:0:1]", "[::0001]", "localhost."])))
def test_this_machines_names_are_answered_in_any_case_with_any_port(client: FlaskClient, host: str) -> None:
    response = client.get("/login", headers={"Host": host})
    response.close()
    assert response.status_code == 200, host


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=st.one_of(st.text(max_size=40), _with_port(st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True)),
                      st.ip_addresses(v=6).map(lambda a: f"[{a}]"), st.ip_addresses(v=4).map(str)))
def test_every_other_host_is_a_plain_400_that_repeats_nothing(client: FlaskClient, host: str) -> None:
    if name(host) in {name(n) for n in LOCAL_NAMES}:
        return  # one of ours, in another spelling: the test above
    try:
        response = client.get("/login", headers={"Host": host})
    except (ValueError, UnicodeEncodeError):
        return  # not a header a client can send (a newline, a character outside Latin-1)
    response.close()
    assert response.status_code == 400, host
    assert response.mimetype == "text/plain" and response.get_data(as_text=True) == REFUSED  # nothing of the host


@pytest.fixture
def public_app(config: Config) -> Iterator[Flask]:
    app = create_app(dataclasses.replace(config, base_url="https://archive.example.org"))
    yield app
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


def test_citations_use_the_configured_address_and_only_its_host_is_served(public_app: Flask,
                                                                           world: World) -> None:
    client = public_app.test_client()
    page = client.get(f"/stories/{world.released_id}", headers={"Host": "archive.example.org"})
    other = client.get(f"/stories/{world.released_id}", headers={"Host": "localhost"})

    shouted = client.get(f"/stories/{world.released_id}", headers={"Host": "ARCHIVE.Example.ORG:443"})

    assert page.status_code == 200 and shouted.status_code == 200
    assert f"https://archive.example.org/stories/{world.released_id}" in page.get_data(as_text=True)
    assert other.status_code == 400


def test_no_page_rendered_with_a_session_is_cached_and_static_files_are(client: FlaskClient,
                                                                         world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    missing = client.get("/static/no-such-file.css")
    style = client.get("/static/style.css")

    assert missing.status_code == 404 and "org@example.org" in missing.get_data(as_text=True)
    assert missing.headers["Cache-Control"] == "no-store"
    style.close()  # a file response: close it, or its file handle outlives the test
    assert style.status_code == 200 and "no-store" not in style.headers.get("Cache-Control", "")
    for path in ("/", "/my/stories", f"/my/stories/{world.sealed_id}", "/account", "/nowhere"):
        headers = client.get(path).headers
        assert headers["Cache-Control"] == "no-store", path
        # Nor spooled to a temporary file, in the clear, by a proxy in front (nginx does so
        # for a client slower than the archive unless told not to).
        assert headers["X-Accel-Buffering"] == "no", path
