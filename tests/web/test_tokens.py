"""Personal API tokens in a reading room for signed-in researchers: made on the account page and
shown once, stored only as a digest, used with Bearer, refused once revoked (by their owner, or
for good when their account is disabled or given a new password), opening the API and nothing
else, audited, and throttled like passwords."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from archive import create_app, services
from archive.accounts import users
from archive.accounts.users import User
from archive.config import Config
from archive.services import accounts, authentication
from archive.storage import database
from tests.helpers import assert_no_canary, sql
from tests.web.conftest import PASSWORD, World, sign_in
from tests.web.test_api import conforms

CSRF = re.compile(r'name="((?:\w+-)?csrf_token)" type="hidden" value="([^"]+)"')
SECRET = re.compile(r"esc_[A-Za-z0-9_-]{43}")


@pytest.fixture
def web_app(config: Config) -> Iterator[Flask]:
    """The app of an archive whose reading room is for signed-in accounts only."""
    app = create_app(dataclasses.replace(config, reading_room="signed-in"))
    yield app
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


def _page(response: TestResponse) -> str:
    text = response.get_data(as_text=True)
    response.close()
    return text


def _create(client: FlaskClient, name: str = "thesis scripts", password: str = PASSWORD) -> tuple[TestResponse, str]:
    """Make a token on the account page as its owner would; the response and the page's text."""
    fields = dict(CSRF.findall(_page(client.get("/account"))))
    response = client.post("/account/tokens", data={"token-csrf_token": fields["token-csrf_token"],
                                                    "token-name": name, "token-password": password})
    return response, _page(response)


def _revoke(client: FlaskClient, token_id: int) -> TestResponse:
    fields = dict(CSRF.findall(_page(client.get("/account"))))
    response = client.post(f"/account/tokens/{token_id}/revoke",
                           data={"revoke-csrf_token": fields.get("revoke-csrf_token") or fields["logout-csrf_token"]})
    response.close()
    return response


def _api(client: FlaskClient, secret: str | None, path: str = "/api/v1/search?q=housekeeper") -> TestResponse:
    client.delete_cookie("escrow_session")  # the token alone, no session beside it
    response = client.get(path, headers={"Authorization": f"Bearer {secret}"} if secret else {})
    response.close()
    return response


def _token_ids(home: Path) -> list[int]:
    return [int(row[0]) for row in sql(home, "SELECT id FROM api_tokens ORDER BY id")]


def test_a_token_is_shown_once_and_only_its_digest_is_stored(web_app: Flask, client: FlaskClient, world: World,
                                                             archive_home: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    sign_in(client, world.user_ids["researcher"])
    with caplog.at_level(logging.DEBUG):
        response, page = _create(client)
        [secret] = set(SECRET.findall(page))
        later = _page(client.get("/account"))

    assert response.status_code == 200 and "shown only this once" in page
    assert secret not in later and secret[:12] in later and "thesis scripts" in later
    assert secret not in response.headers.get("Set-Cookie", "")  # not in a flash riding in the cookie
    [(prefix, digest)] = sql(archive_home, "SELECT prefix, digest FROM api_tokens")
    assert secret.startswith(prefix) and len(prefix) == 12 and len(digest) == 64 and secret not in digest
    assert secret not in caplog.text
    with web_app.app_context():
        database.db.engine.dispose()  # SQLite folds its write-ahead log in
    web_app.extensions["escrow.index"].close()
    assert_no_canary(archive_home, secret, secret[12:])


def test_a_token_opens_the_signed_in_api_until_it_is_revoked(client: FlaskClient, world: World,
                                                             archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))

    anonymous = _api(client, None)
    used = _api(client, secret)
    story = _api(client, secret, f"/api/v1/stories/{world.released_id}")
    sign_in(client, world.user_ids["researcher"])
    [token_id] = _token_ids(archive_home)
    revoked = _revoke(client, token_id)
    after = _api(client, secret)

    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    conforms(anonymous)
    assert used.status_code == 200 and conforms(used)["total"] == 1
    assert story.status_code == 200 and conforms(story)["id"] == world.released_id
    assert revoked.status_code == 302 and revoked.headers["Location"] == "/account"
    assert after.status_code == 401 and 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    assert conforms(after)["error"]["status"] == 401
    assert sql(archive_home, "SELECT last_used_at IS NOT NULL, revoked_at IS NOT NULL FROM api_tokens") == [(1, 1)]


def test_creating_and_revoking_are_audited_with_id_and_prefix_never_the_token(client: FlaskClient, world: World,
                                                                              archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))
    [token_id] = _token_ids(archive_home)
    _revoke(client, token_id)

    entries = sql(archive_home, "SELECT actor, action, detail FROM audit_log WHERE action LIKE 'token.%' ORDER BY seq")
    assert [(actor, action) for actor, action, _ in entries] == [("reader@example.org", "token.create"),
                                                                 ("reader@example.org", "token.revoke")]
    for _, _, detail in entries:
        assert json.loads(detail) == {"token": token_id, "prefix": secret[:12]}
    assert_no_secret_in_audit(archive_home, secret)


def assert_no_secret_in_audit(home: Path, secret: str) -> None:
    rows = sql(home, "SELECT detail FROM audit_log")
    assert not any(secret[12:20] in str(row[0]) for row in rows)


def test_a_disabled_accounts_token_is_refused(web_app: Flask, client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))
    assert _api(client, secret).status_code == 200

    with web_app.app_context():
        archive = services.current()
        admin = archive.session.get(User, world.user_ids["admin"])
        assert admin is not None
        accounts.set_active(archive, admin, world.user_ids["researcher"], False)
        database.db.session.remove()

    assert _api(client, secret).status_code == 401


def _admin_sets(client: FlaskClient, world: World, action: str) -> str:
    """An admin disables or enables the researcher's account on the users page; the page after."""
    sign_in(client, world.user_ids["admin"])
    fields = dict(CSRF.findall(_page(client.get("/admin/users"))))
    response = client.post(f"/admin/users/{world.user_ids['researcher']}/{action}", data=fields,
                           follow_redirects=True)
    return _page(response)


def _revocations(home: Path) -> list[tuple[str, dict[str, object]]]:
    return [(actor, json.loads(detail)) for actor, detail in
            sql(home, "SELECT actor, detail FROM audit_log WHERE action = 'token.revoke' ORDER BY seq")]


def test_disabling_an_account_revokes_its_tokens_for_good(client: FlaskClient, world: World,
                                                          archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    secrets_ = []
    for name in ("thesis scripts", "harvester"):
        _, page = _create(client, name)
        secrets_ += set(SECRET.findall(page))
    first, second = _token_ids(archive_home)
    sign_in(client, world.user_ids["researcher"])
    _revoke(client, first)  # revoked by its owner before: not revoked twice
    assert _api(client, secrets_[1]).status_code == 200

    disabled = _admin_sets(client, world, "disable")
    refused = _api(client, secrets_[1])
    enabled = _admin_sets(client, world, "enable")
    still = _api(client, secrets_[1])

    assert "its API tokens are revoked" in disabled
    assert refused.status_code == still.status_code == 401 and "Done." in enabled
    assert sql(archive_home, "SELECT active FROM users WHERE id = :id", id=world.user_ids["researcher"]) == [(1,)]
    assert _revocations(archive_home) == [
        ("reader@example.org", {"token": first, "prefix": secrets_[0][:12]}),
        ("admin@example.org", {"token": second, "prefix": secrets_[1][:12], "why": "account disabled"})]
    # The owner sees both as revoked on the account page, and may make a new one.
    sign_in(client, world.user_ids["researcher"])
    account = _page(client.get("/account"))
    assert account.count("revoked ") >= 2
    _, page = _create(client, "after")
    [fresh] = set(SECRET.findall(page))
    assert _api(client, fresh).status_code == 200
    assert_no_secret_in_audit(archive_home, secrets_[1])


def test_a_new_password_revokes_the_accounts_tokens(web_app: Flask, client: FlaskClient, world: World,
                                                    archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))
    [token_id] = _token_ids(archive_home)
    assert _api(client, secret).status_code == 200

    with web_app.app_context():
        archive = services.current()
        user = archive.session.get(User, world.user_ids["researcher"])
        assert user is not None
        users.set_password(archive.session, archive.keyring.audit_key, user, "a brand new password",
                           actor="command line")
        archive.session.commit()
        database.db.session.remove()

    assert _api(client, secret).status_code == 401
    assert _revocations(archive_home) == [
        ("command line", {"token": token_id, "prefix": secret[:12], "why": "password changed"})]
    assert sql(archive_home, "SELECT revoked_at IS NOT NULL FROM api_tokens") == [(1,)]


def test_signing_out_or_in_again_keeps_the_tokens(web_app: Flask, client: FlaskClient, world: World,
                                                  archive_home: Path) -> None:
    """Signing out ends sessions only (tokens are on the account page, each with its revoke
    button), and a sign-in that re-hashes the password with other parameters sets no new one."""
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))
    with web_app.app_context():
        session = database.db.session()
        user = session.get(User, world.user_ids["researcher"])
        assert user is not None
        user.password_hash = users.HASHERS["standard"].hash(PASSWORD)  # made under other parameters
        session.commit()
        database.db.session.remove()

    sign_in(client, world.user_ids["researcher"])
    fields = dict(CSRF.findall(_page(client.get("/account"))))
    client.post("/logout", data={"logout-csrf_token": fields["logout-csrf_token"]}).close()
    fields = dict(CSRF.findall(_page(client.get("/login"))))
    signed_in = client.post("/login", data={**fields, "email": "reader@example.org", "password": PASSWORD})
    signed_in.close()

    assert signed_in.status_code == 302
    [(rehashed,)] = sql(archive_home, "SELECT password_hash FROM users WHERE id = :id", id=world.user_ids["researcher"])
    assert "$m=8,t=1,p=1$" in rehashed  # re-hashed at sign-in with the suite's parameters
    assert _api(client, secret).status_code == 200
    assert _revocations(archive_home) == []


def test_a_token_opens_the_api_and_no_page_or_form(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))
    client.delete_cookie("escrow_session")
    bearer = {"Authorization": f"Bearer {secret}"}

    for response in (client.get("/account", headers=bearer), client.get("/search?q=housekeeper", headers=bearer),
                     client.get(f"/stories/{world.released_id}", headers=bearer),
                     client.post("/account/tokens", data={"token-name": "more"}, headers=bearer)):
        response.close()
        assert response.status_code in (302, 400) and "/login" in response.headers.get("Location", "/login")


def test_revoking_someone_elses_or_an_unknown_token_changes_nothing_and_says_the_same(
        client: FlaskClient, world: World, archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    _create(client)
    [theirs] = _token_ids(archive_home)
    sign_in(client, world.user_ids["other_organizer"])

    others = _revoke(client, theirs)
    message_others = _page(client.get("/account"))
    unknown = _revoke(client, theirs + 1000)
    message_unknown = _page(client.get("/account"))
    huge = _revoke(client, 10**23)  # past any database integer: the same answer, not an error
    message_huge = _page(client.get("/account"))

    assert others.status_code == unknown.status_code == huge.status_code == 302
    assert "Nothing was changed: there is no such token on your account." in message_huge
    assert "Nothing was changed: there is no such token on your account." in message_others
    assert "Nothing was changed: there is no such token on your account." in message_unknown
    assert sql(archive_home, "SELECT revoked_at FROM api_tokens") == [(None,)]


@pytest.mark.parametrize("name, message", [("", "This field is required"), ("   ", "Give the token a name"),
                                           ("x" * 101, "Field cannot be longer than 100 characters"),
                                           ("scripts\x00", "has a control character")])  # PostgreSQL refuses NUL
def test_a_token_needs_a_name_and_nothing_is_made_without_one(client: FlaskClient, world: World,
                                                              archive_home: Path, name: str, message: str) -> None:
    sign_in(client, world.user_ids["researcher"])
    response, page = _create(client, name)

    assert response.status_code == 400 and message in page and not SECRET.search(page)
    assert _token_ids(archive_home) == []


def test_a_token_is_made_only_with_the_accounts_password_and_guesses_are_throttled(
        client: FlaskClient, world: World, archive_home: Path) -> None:
    """A stolen session alone cannot mint a token that would outlive it."""
    sign_in(client, world.user_ids["researcher"])

    wrong = [_create(client, password=f"guess {n}") for n in range(5)]
    throttled, _ = _create(client)  # even the right password, past the sign-in window

    assert all(r.status_code == 400 and "That is not your password." in page and not SECRET.search(page)
               for r, page in wrong)
    assert throttled.status_code == 429
    assert _token_ids(archive_home) == []
    assert sql(archive_home, "SELECT count(*) FROM sign_in_failures") == [(5,)]


def test_a_form_without_its_csrf_token_makes_nothing(client: FlaskClient, world: World, archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    response = client.post("/account/tokens", data={"token-name": "forged"})
    response.close()

    assert response.status_code == 400 and _token_ids(archive_home) == []


def test_a_session_still_reads_the_signed_in_api(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["researcher"])
    response = client.get("/api/v1/vocabularies")
    response.close()

    assert response.status_code == 200 and "hotel" in conforms(response)["tags"]


def test_wrong_tokens_are_slowed_but_a_good_one_from_the_same_address_still_opens_the_api(
        client: FlaskClient, world: World, archive_home: Path) -> None:
    sign_in(client, world.user_ids["researcher"])
    _, page = _create(client)
    [secret] = set(SECRET.findall(page))

    refused = [_api(client, "esc_" + "B" * 43).status_code for _ in range(authentication.TOKENS.free)]
    throttled = _api(client, "esc_" + "C" * 43)
    good = _api(client, secret)

    assert refused == [401] * authentication.TOKENS.free
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert conforms(throttled)["error"]["status"] == 429
    assert good.status_code == 200  # a token no one can guess is never refused for others' wrong ones
    failures = sql(archive_home, "SELECT COUNT(*) FROM sign_in_failures WHERE address = '127.0.0.1'")
    assert failures == [(authentication.TOKENS.free,)]
    assert sql(archive_home, "SELECT COUNT(*) FROM audit_log WHERE action = 'token.refused'") == [(1,)]