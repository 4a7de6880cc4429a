"""Notices in the archive: each organizer's and admin's own list, its count in the header, in
the reader's language, and the language remembered for their e-mails."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import one
from tests.web.conftest import World, sign_in


def _token(client: FlaskClient, page: str) -> str:
    html = client.get(page).get_data(as_text=True)
    return html.split('name="seen-csrf_token" type="hidden" value="')[1].split('"')[0]


def test_an_organizer_sees_their_own_notices_and_their_count(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])

    page = client.get("/notices")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert f"Story {world.released_id} was released into the reading room" in html
    assert "Notices (1 new)" in html
    assert "Released laundry drive" not in html  # a notice never names a story by its title


def test_another_organizer_sees_none_of_them(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["other_organizer"])

    html = client.get("/notices").get_data(as_text=True)

    assert world.released_id not in html and "No notices yet." in html
    assert "new)" not in html


def test_marking_notices_seen_empties_the_count(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    token = _token(client, "/notices")

    done = client.post("/notices/seen", data={"seen-csrf_token": token})

    assert done.status_code == 302
    html = client.get("/notices").get_data(as_text=True)
    assert "new)" not in html and world.released_id in html


def test_marking_seen_without_the_form_changes_nothing(client: FlaskClient, world: World, web_app: Flask) -> None:
    sign_in(client, world.user_ids["organizer"])

    refused = client.post("/notices/seen", data={})

    assert refused.status_code == 400
    assert "Notices (1 new)" in client.get("/notices").get_data(as_text=True)


def test_a_researcher_has_no_notices(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["researcher"])

    assert client.get("/notices").status_code == 403
    assert "Notices" not in client.get("/search").get_data(as_text=True)


def test_notices_read_in_spanish_and_the_choice_is_kept_for_e_mail(client: FlaskClient, world: World,
                                                                   web_app: Flask) -> None:
    sign_in(client, world.user_ids["organizer"])

    html = client.get("/notices?lang=es").get_data(as_text=True)

    assert f"El relato {world.released_id} se publicó en la sala de lectura" in html
    assert "Avisos (1 nuevo)" in html
    home = web_app.config["ESCROW_CONFIG"].home
    assert one(home, "SELECT language FROM users WHERE id = :id", id=world.user_ids["organizer"]) == "es"
