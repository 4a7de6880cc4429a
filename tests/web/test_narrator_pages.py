"""The narrator's door through HTTP: the organizer issues a codename on their story's page, the
narrator signs in with one posted field, sees their story's state and its preview, and acts on
it; the organizer and the admins see what they did. Wrong, revoked and random codenames get
the same answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import audit, services
from archive.accounts.users import User
from archive.services import stories as story_service
from archive.storage import database
from archive.vault.models import Story
from tests.helpers import story as story_line
from tests.web.conftest import World, sign_in

TOKEN = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
CODENAME = re.compile(r'<p class="codename"><code>([a-z ]+)</code></p>')


def _token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = TOKEN.search(page.get_data(as_text=True))
    assert match, f"no form token on {path} ({page.status_code})"
    return match.group(1)


def _issue(client: FlaskClient, world: World, story_id: str) -> str:
    """The organizer issues a codename on their story's page; the codename the card shows."""
    sign_in(client, world.user_ids["organizer"])
    token = _token(client, f"/my/stories/{story_id}")
    card = client.post(f"/my/stories/{story_id}/narrator/issue", data={"csrf_token": token})
    assert card.status_code == 200
    assert "no-store" in card.headers.get("Cache-Control", "")
    found = CODENAME.search(card.get_data(as_text=True))
    assert found, "the card shows no codename"
    client.post("/logout", data={"logout-csrf_token": _token(client, "/account")})
    return found.group(1)


def _enter(client: FlaskClient, codename: str) -> tuple[int, str]:
    response = client.post("/n", data={"codename": codename, "csrf_token": _token(client, "/n")})
    return response.status_code, response.headers.get("Location", "")


def _act(client: FlaskClient, path: str, prefix: str, **fields: str) -> tuple[int, str]:
    token = _token(client, "/n/story")
    data = {f"{prefix}-csrf_token" if prefix else "csrf_token": token,
            **{f"{prefix}-{k}" if prefix else k: v for k, v in fields.items()}}
    response = client.post(path, data=data)
    return response.status_code, response.get_data(as_text=True)


def _story(app: Flask, story_id: str) -> Story:
    with app.app_context():
        found = database.db.session.get(Story, story_id)
        assert found is not None
        database.db.session.expunge(found)
        database.db.session.remove()
        return found


def test_the_narrator_signs_in_with_the_card_and_sees_the_state_and_the_preview(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    codename = _issue(client, world, world.sealed_id)
    status, location = _enter(client, codename.upper())

    assert status == 302 and location.endswith("/n/story")
    page = client.get("/n/story")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Your story is sealed until" in text and "What the reading room would show" in text
    assert "Sealed night shift" in text  # the title, as the preview releases it
    cookie = page.headers.get("Set-Cookie", "")
    assert "Expires" not in cookie and "Max-Age" not in cookie  # ends when the browser closes
    with client.session_transaction() as session:
        assert "_user_id" not in session  # no account
        assert codename not in repr(dict(session))


def test_a_codename_in_the_address_opens_nothing(client: FlaskClient, world: World) -> None:
    codename = _issue(client, world, world.sealed_id)
    page = client.get("/n", query_string={"codename": codename})
    assert page.status_code == 200 and "Open my story" in page.get_data(as_text=True)
    assert client.get("/n/story").status_code == 302


def _strip_tokens(page: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', page)


def test_wrong_revoked_and_random_codenames_get_the_same_answer(web_app: Flask, world: World) -> None:
    answers = set()
    issuer = web_app.test_client()
    revoked = _issue(issuer, world, world.sealed_id)
    sign_in(issuer, world.user_ids["organizer"])
    issuer.post(f"/my/stories/{world.sealed_id}/narrator/revoke",
                data={"csrf_token": _token(issuer, f"/my/stories/{world.sealed_id}")})
    for typed in (revoked, "abacus abdomen abide abiding ability ablaze able", "zz9 plural z alpha"):
        client = web_app.test_client()
        response = client.post("/n", data={"codename": typed, "csrf_token": _token(client, "/n")})
        answers.add((response.status_code, _strip_tokens(response.get_data(as_text=True))))
    assert len(answers) == 1
    status, body = answers.pop()
    assert status == 200 and "Those words do not open a story here" in body


def test_a_guesser_is_slowed_and_told_when_to_retry(web_app: Flask, world: World) -> None:
    client = web_app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    statuses = []
    for _ in range(7):
        response = client.post("/n", data={"codename": "not it", "csrf_token": _token(client, "/n")})
        statuses.append(response.status_code)
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429
    assert int(response.headers["Retry-After"]) > 0


def test_the_narrator_delays_hides_more_and_objects(web_app: Flask, client: FlaskClient, world: World) -> None:
    codename = _issue(client, world, world.sealed_id)
    _enter(client, codename)

    later = (datetime.now(UTC) + timedelta(days=365 * 80)).date().isoformat()
    assert _act(client, "/n/delay", "delay", until=later, reason="a new job")[0] == 302
    assert _story(web_app, world.sealed_id).embargo_until.date().isoformat() == later  # type: ignore[union-attr]

    assert _act(client, "/n/protect", "protect", level="redacted", recording="none")[0] == 302
    assert _story(web_app, world.sealed_id).redaction_level == "redacted"
    status, body = _act(client, "/n/protect", "protect", level="full", recording="none")
    assert status == 400 and "would show more than now" in body.lower()
    assert _story(web_app, world.sealed_id).redaction_level == "redacted"

    status, body = _act(client, "/n/delay", "delay", until="2001-01-01")
    assert status == 400 and _story(web_app, world.sealed_id).embargo_until.date().isoformat() == later  # type: ignore[union-attr]

    assert _act(client, "/n/object", "hold", text="my visa hearing")[0] == 302
    assert _story(web_app, world.sealed_id).hold == "objection"
    with web_app.app_context():
        actions = [(e.actor, e.action) for e in audit.entries(database.db.session(), story_id=world.sealed_id)]
        details = [e.detail for e in audit.entries(database.db.session(), story_id=world.sealed_id)]
        database.db.session.remove()
    assert ("narrator", "embargo.extend") in actions and ("narrator", "narrator.protect") in actions
    assert ("narrator", "narrator.object") in actions
    assert not any("visa" in d or "new job" in d for d in details)  # reasons are sealed

    # The organizer sees it, the reasons unsealed for them; an organizer cannot clear an objection.
    sign_in(client, world.user_ids["organizer"])
    mine = client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    assert "my visa hearing" in mine and "said not yet" in mine
    # An admin clears it.
    sign_in(client, world.user_ids["admin"])
    token = _token(client, f"/admin/stories/{world.sealed_id}")
    client.post(f"/admin/stories/{world.sealed_id}/clear-hold", data={"csrf_token": token})
    assert _story(web_app, world.sealed_id).hold is None


def test_a_narrator_page_never_shows_another_story(web_app: Flask, client: FlaskClient, world: World) -> None:
    with web_app.app_context():
        archive = services.current()
        organizer = archive.session.get(User, world.user_ids["organizer"])
        assert organizer is not None
        other = story_service.submit(archive, organizer, story_service.parse(story_line(
            title="Canaryqzx other title", transcript="Canaryqzx words of another narrator.")))
        assert other is not None
        other_id = other.id
        database.db.session.remove()
    _issue(client, world, other_id)
    codename = _issue(client, world, world.sealed_id)
    _enter(client, codename)

    page = client.get("/n/story").get_data(as_text=True)
    assert "Canaryqzx" not in page and other_id not in page


def test_withdrawal_leaves_every_surface_at_once_and_undo_brings_it_back(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    released = world.released_id
    first = client.get(f"/stories/{released}")
    assert first.status_code == 200
    with web_app.app_context():
        from archive.reading_room.models import ReleasedStory

        first_date = database.db.session.get(ReleasedStory, released).released_at  # type: ignore[union-attr]
        database.db.session.remove()
    codename = _issue(client, world, released)
    _enter(client, codename)

    status, _ = _act(client, "/n/withdraw", "withdraw", sure="y", reason="my employer found out")
    assert status == 302
    reader = web_app.test_client()
    assert reader.get(f"/stories/{released}").status_code == 404
    assert reader.get(f"/api/v1/stories/{released}").status_code == 404
    assert released not in reader.get("/api/v1/search", query_string={"q": "laundry"}).get_data(as_text=True)
    oai = reader.get("/oai", query_string={"verb": "GetRecord", "identifier": f"oai:localhost:{released}",
                                           "metadataPrefix": "oai_dc"})
    assert 'status="deleted"' in oai.get_data(as_text=True)
    page = client.get("/n/story").get_data(as_text=True)
    assert "You withdrew your consent" in page and "Undo" in page

    assert _act(client, "/n/undo", "")[0] == 302
    assert reader.get(f"/stories/{released}").status_code == 200
    with web_app.app_context():
        from archive.reading_room.models import ReleasedStory

        again = database.db.session.get(ReleasedStory, released)
        assert again is not None and again.released_at == first_date
        database.db.session.remove()


def test_withdrawal_needs_the_box_ticked(web_app: Flask, client: FlaskClient, world: World) -> None:
    codename = _issue(client, world, world.sealed_id)
    _enter(client, codename)
    status, body = _act(client, "/n/withdraw", "withdraw", reason="")
    assert status == 400 and "tick the box" in body.lower()
    assert _story(web_app, world.sealed_id).status == "sealed"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_narrator_page_is_in_the_chosen_language(web_app: Flask, client: FlaskClient, world: World,
                                                       lang: str) -> None:
    codename = _issue(client, world, world.sealed_id)
    client.get("/n", query_string={"lang": lang})
    sign_in_page = client.get("/n").get_data(as_text=True)
    _enter(client, codename)
    page = client.get("/n/story").get_data(as_text=True)
    if lang == "es":
        assert "Su relato" in sign_in_page and "Su relato" in page
    else:
        assert "Your story" in sign_in_page and "Your story" in page


def test_every_failed_codename_costs_one_hash(web_app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong, revoked and random: one argon2 hash each, like a right one (counted, not timed:
    the suite's hashes are cheap; scripts/bench_narrator_sign_in.py times them)."""
    from archive.vault import narrators as vault_narrators

    hashes: list[bytes] = []
    real = vault_narrators.hash_secret_raw
    monkeypatch.setattr(vault_narrators, "hash_secret_raw", lambda secret, *a, **k: hashes.append(secret) or
                        real(secret, *a, **k))
    issuer = web_app.test_client()
    revoked = _issue(issuer, world, world.sealed_id)
    sign_in(issuer, world.user_ids["organizer"])
    issuer.post(f"/my/stories/{world.sealed_id}/narrator/revoke",
                data={"csrf_token": _token(issuer, f"/my/stories/{world.sealed_id}")})
    right = _issue(issuer, world, world.sealed_id)
    for typed, expect in ((revoked, 200), ("abacus abdomen abide abiding ability ablaze able", 200), ("\x00", 200),
                          ("", 200), (right, 302)):
        client = web_app.test_client()
        token = _token(client, "/n")
        before = len(hashes)
        response = client.post("/n", data={"codename": typed, "csrf_token": token})
        assert response.status_code == expect and len(hashes) - before == 1, typed


def test_words_requests_and_notes_reach_the_organizer_who_answers(web_app: Flask, client: FlaskClient,
                                                                  world: World) -> None:
    codename = _issue(client, world, world.sealed_id)
    _enter(client, codename)
    assert _act(client, "/n/words", "words", text="my sister Ana")[0] == 302
    assert _story(web_app, world.sealed_id).hold == "words"
    assert _act(client, "/n/ask", "ask", until="2070-01-01", reason="I am ready sooner")[0] == 302
    status, body = _act(client, "/n/ask", "ask", until="2095-01-01")
    assert status == 400 and "earlier" in body.lower()
    assert _act(client, "/n/note", "note", text="call me after May")[0] == 302
    assert _act(client, "/n/note", "note", text="   ")[0] == 400
    assert _story(web_app, world.sealed_id).embargo_until.year == 2090  # type: ignore[union-attr]  # a request changes nothing

    organizer = web_app.test_client()
    sign_in(organizer, world.user_ids["organizer"])
    page = organizer.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    assert "my sister Ana" in page and "I am ready sooner" in page and "call me after May" in page
    ids = re.findall(rf"/my/stories/{world.sealed_id}/narrator/([a-z2-7]{{16}})/close", page)
    assert len(ids) == 2  # the request and the note; the hold is lifted on its own button
    token = _token(organizer, f"/my/stories/{world.sealed_id}")
    for action_id in ids:
        assert organizer.post(f"/my/stories/{world.sealed_id}/narrator/{action_id}/close",
                              data={"csrf_token": token}).status_code == 302
    assert organizer.post(f"/my/stories/{world.sealed_id}/narrator/note",
                          data={"to-narrator-csrf_token": token, "to-narrator-text": "I will call you"}
                          ).status_code == 302
    assert organizer.post(f"/my/stories/{world.sealed_id}/narrator/clear",
                          data={"csrf_token": token}).status_code == 302
    assert _story(web_app, world.sealed_id).hold is None
    page = organizer.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    assert "/close" not in page

    narrator_page = client.get("/n/story").get_data(as_text=True)
    assert "I will call you" in narrator_page and "From the organizer" in narrator_page
    other = web_app.test_client()
    sign_in(other, world.user_ids["other_organizer"])
    assert other.post(f"/my/stories/{world.sealed_id}/narrator/note",
                      data={"to-narrator-csrf_token": _token(other, "/my/stories"), "to-narrator-text": "x"}
                      ).status_code == 404
