"""A key file taken before `escrow keys rotate` signs no one in and opens no form or harvest.

The attacker here holds a copy of master.key from before the rotation and a copy of the
database (from before, or from after: the strongest case reads the session generations as
they are now). With them they forge what the web accepts from a key: a session cookie, a
CSRF token, an OAI-PMH resumption token. Each forgery is first shown to work with the key
file as it is (so the test would see a forgery accepted), then refused after the rotation;
and a person signed in before the rotation signs in again as usual.
"""

from __future__ import annotations

import http.client
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from lxml import etree

from archive.vault import keys
from archive.web.auth import GENERATION, SEEN, SINCE
from archive.web.oai.resumption import TOKEN_SALT
from tests.helpers import add_users, escrow, one, story, write_lines
from tests.processes import finish, serving, started
from tests.web.conftest import PASSWORD, ROLES, World

OAI = {"o": "http://www.openarchives.org/OAI/2.0/"}
ADMIN = ROLES["admin"][0]


def secret_of(key_file: Path) -> bytes:
    """The web signing key anyone holding this copy of the key file derives."""
    return keys.signing_secret(keys.parse(key_file.read_text(encoding="ascii"), "a copy"))


def forged_cookie(secret: bytes, data: dict[str, Any]) -> str:
    """A session cookie signed as Flask signs one, with the given key."""
    forger = Flask("forger")
    forger.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert serializer is not None
    return str(serializer.dumps(data))


def signed_in_as(user_id: int, generation: str, **extra: Any) -> dict[str, Any]:
    """What a signed-in session holds."""
    now = datetime.now(UTC).timestamp()
    return {"_user_id": str(user_id), "_fresh": True, GENERATION: generation, SINCE: now, SEEN: now, **extra}


def generation_of(home: Path, email: str) -> str:
    """An account's session generation, as a copy of the database shows it."""
    found = one(home, "SELECT session_generation FROM users WHERE email = :email", email=email)
    assert isinstance(found, str) and found
    return found


def rotate(home: Path) -> None:
    rotated = escrow(home, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert "every web session has ended" in rotated.output


def admin_page(client: FlaskClient, cookie: str) -> int:
    client.set_cookie("escrow_session", cookie, domain="localhost")
    response = client.get("/admin")
    response.close()
    return response.status_code


def test_a_session_forged_with_the_key_file_from_before_a_rotation_is_refused(
        web_app: Flask, client: FlaskClient, world: World, archive_home: Path, tmp_path: Path) -> None:
    old_key = Path(shutil.copyfile(archive_home / "master.key", tmp_path / "stolen.key"))
    admin_id = world.user_ids["admin"]
    before = generation_of(archive_home, ADMIN)
    assert admin_page(client, forged_cookie(secret_of(old_key), signed_in_as(admin_id, before))) == 200

    rotate(archive_home)

    after = generation_of(archive_home, ADMIN)
    assert after != before  # the rotation ended every session
    for generation in (before, after):  # a backup from before the rotation, and one from after
        assert admin_page(client, forged_cookie(secret_of(old_key), signed_in_as(admin_id, generation))) == 302
    # The new key with an old generation is refused too: sessions from before the rotation ended.
    new_key = archive_home / "master.key"
    assert admin_page(client, forged_cookie(secret_of(new_key), signed_in_as(admin_id, before))) == 302
    assert admin_page(client, forged_cookie(secret_of(new_key), signed_in_as(admin_id, after))) == 200


def test_a_counter_is_no_session_generation(web_app: Flask, client: FlaskClient, world: World,
                                            archive_home: Path) -> None:
    """With only the key file (no database), the generations a counter would have had open nothing."""
    secret = secret_of(archive_home / "master.key")
    for generation in (0, 1, 2, "0", "1", "", None):
        assert admin_page(client, forged_cookie(secret, signed_in_as(world.user_ids["admin"], generation))) == 302
    generations = {generation_of(archive_home, email) for email, _ in ROLES.values()}
    assert len(generations) == len(ROLES) and all(len(g) >= 22 for g in generations)


def _login_with(client: FlaskClient, secret: bytes) -> int:
    """POST /login with a CSRF token and session forged with `secret`: 400 if the token is refused."""
    raw = "f" * 40
    client.set_cookie("escrow_session", forged_cookie(secret, {"csrf_token": raw}), domain="localhost")
    token = URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)
    response = client.post("/login", data={"csrf_token": token, "email": ADMIN, "password": PASSWORD})
    response.close()
    return response.status_code


def test_a_csrf_token_forged_with_the_key_file_from_before_a_rotation_is_refused(
        web_app: Flask, client: FlaskClient, world: World, archive_home: Path, tmp_path: Path) -> None:
    old_key = Path(shutil.copyfile(archive_home / "master.key", tmp_path / "stolen.key"))
    assert _login_with(client, secret_of(old_key)) == 302  # accepted (and signed in) before

    rotate(archive_home)

    assert _login_with(client, secret_of(old_key)) == 400
    assert _login_with(client, secret_of(archive_home / "master.key")) == 302


def _released(home: Path, count: int) -> None:
    lines = write_lines(home.parent / "released.jsonl",
                        *(story(title=f"Released {n}", embargo_until="2020-01-01") for n in range(count)))
    assert escrow(home, "stories", "import", str(lines), "--as", ROLES["organizer"][0]).exit_code == 0
    published = escrow(home, "publish-due")
    assert published.exit_code == 0, published.output


def _resume(client: FlaskClient, token: str) -> str | None:
    """The error a resumptionToken gets (its message), or None if a page came back."""
    document = etree.fromstring(client.get("/oai", query_string={
        "verb": "ListIdentifiers", "resumptionToken": token}).get_data())
    error = document.find("o:error", OAI)
    return None if error is None else f"{error.get('code')}: {error.text}"


def test_a_resumption_token_from_before_a_rotation_or_forged_with_its_key_is_refused(
        web_app: Flask, client: FlaskClient, world: World, archive_home: Path, tmp_path: Path) -> None:
    web_app.config["ESCROW_OAI_PAGE_SIZE"] = 1
    web_app.config["ESCROW_OAI_CLOCK"] = lambda: datetime.now(UTC) + timedelta(minutes=5)  # past the settling
    _released(archive_home, 2)
    first = etree.fromstring(client.get("/oai", query_string={
        "verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}).get_data())
    issued = first.findtext("o:ListIdentifiers/o:resumptionToken", namespaces=OAI)
    assert issued
    old_key = Path(shutil.copyfile(archive_home / "master.key", tmp_path / "stolen.key"))
    payload = URLSafeTimedSerializer(secret_of(old_key), salt=TOKEN_SALT).loads(issued)
    forged = URLSafeTimedSerializer(secret_of(old_key), salt=TOKEN_SALT).dumps({**payload, "n": 99})
    assert _resume(client, issued) is None and _resume(client, forged) is None

    rotate(archive_home)

    refused = "badResumptionToken: This resumption token is not valid here."
    assert _resume(client, issued) == refused
    assert _resume(client, forged) == refused
    ours = URLSafeTimedSerializer(secret_of(archive_home / "master.key"), salt=TOKEN_SALT).dumps(payload)
    assert _resume(client, ours) is None


# -- a running server, a rotation in another process -------------------------------------

def _http(site: str, method: str, path: str, cookie: str | None = None,
          form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    address = urlsplit(site)
    assert address.hostname and address.port
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    headers = {"Cookie": f"escrow_session={cookie}"} if cookie else {}
    body = None
    if form is not None:
        body, headers["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        found = {k.lower(): v for k, v in response.getheaders()}
        return response.status, found, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _cookie(headers: dict[str, str]) -> str:
    match = re.search(r"escrow_session=([^;]+)", headers.get("set-cookie", ""))
    assert match, headers
    return match.group(1)


def _sign_in(site: str, email: str, password: str) -> str:
    """Sign in over HTTP as a browser does; the signed-in session cookie."""
    status, headers, page = _http(site, "GET", "/login")
    assert status == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, page
    status, headers, _ = _http(site, "POST", "/login", _cookie(headers),
                               {"csrf_token": token.group(1), "email": email, "password": password})
    assert status == 302, status
    return _cookie(headers)


def test_a_running_server_refuses_the_old_key_after_a_rotation_in_another_process(
        archive_home: Path, tmp_path: Path) -> None:
    add_users(archive_home, (ADMIN, "admin"))
    password = "a long enough password"
    old_key = Path(shutil.copyfile(archive_home / "master.key", tmp_path / "stolen.key"))
    admin_id = one(archive_home, "SELECT id FROM users WHERE email = :email", email=ADMIN)
    with serving(archive_home, workers=1) as site:
        session = _sign_in(site, ADMIN, password)
        assert _http(site, "GET", "/admin", session)[0] == 200
        assert _http(site, "GET", "/admin", forged_cookie(secret_of(old_key), signed_in_as(
            admin_id, generation_of(archive_home, ADMIN))))[0] == 200  # the forgery works before

        with started(archive_home, "keys", "rotate") as rotation:
            code, output = finish(rotation)
        assert code == 0, output

        forged = forged_cookie(secret_of(old_key), signed_in_as(admin_id, generation_of(archive_home, ADMIN)))
        status, headers, _ = _http(site, "GET", "/admin", forged)
        assert status == 302 and "/login" in headers["location"]
        status, headers, _ = _http(site, "GET", "/admin", session)  # the session from before has ended
        assert status == 302 and "/login" in headers["location"]
        again = _sign_in(site, ADMIN, password)  # and the admin signs in as usual
        assert _http(site, "GET", "/admin", again)[0] == 200
