"""Organizers find their stories: their own list shows each story's title (a sealed one's
decrypted in memory for its owner, and that read audited), and no one else's."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import sql
from tests.web.conftest import World, sign_in


def _title_reads(web_app: Flask) -> list[tuple[str, dict[str, object]]]:
    home = web_app.config["ESCROW_CONFIG"].home
    return [(actor, json.loads(detail)) for actor, detail in
            sql(home, "SELECT actor, detail FROM audit_log WHERE action = 'story.titles' ORDER BY seq")]


def test_an_organizer_sees_their_sealed_and_released_titles(client: FlaskClient, world: World,
                                                            web_app: Flask) -> None:
    sign_in(client, world.user_ids["organizer"])

    html = client.get("/my/stories").get_data(as_text=True)

    assert "Sealed night shift" in html and "Released laundry drive" in html
    assert world.sealed_id in html and world.released_id in html
    assert "an earlier release is requested" in html  # admin2's pending request on the sealed story
    assert _title_reads(web_app) == [("org@example.org", {"stories": 1})]


def test_another_organizer_sees_no_title_of_theirs(client: FlaskClient, world: World, web_app: Flask) -> None:
    sign_in(client, world.user_ids["other_organizer"])

    html = client.get("/my/stories").get_data(as_text=True)

    assert "Sealed night shift" not in html and "Released laundry drive" not in html
    assert world.sealed_id not in html
    assert _title_reads(web_app) == []  # nothing of theirs was read


def test_an_admin_sees_titles_only_of_stories_they_own(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])

    assert "Sealed night shift" not in client.get("/my/stories").get_data(as_text=True)
    assert "Sealed night shift" not in client.get(f"/admin/stories/{world.sealed_id}").get_data(as_text=True)


def test_every_view_of_the_list_is_audited(client: FlaskClient, world: World, web_app: Flask) -> None:
    sign_in(client, world.user_ids["organizer"])

    for _ in range(3):
        assert client.get("/my/stories").status_code == 200

    assert len(_title_reads(web_app)) == 3
