"""The admin's bulk embargo page: the current embargoes as CSV, the difference shown first, then
applied all or nothing; a bad row named by its line, and nothing changed."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import database_rows, one
from tests.web.conftest import World, sign_in


def _token(client: FlaskClient) -> str:
    html = client.get("/admin/embargoes/bulk").get_data(as_text=True)
    return html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def _home(web_app: Flask):  # type: ignore[no-untyped-def]
    return web_app.config["ESCROW_CONFIG"].home


def test_the_current_embargoes_download_as_the_csv_the_page_reads(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])

    got = client.get("/admin/embargoes/upcoming.csv")

    assert got.status_code == 200 and got.mimetype == "text/csv"
    lines = got.get_data(as_text=True).splitlines()
    assert lines[0] == "story_id,embargo_until,reason"
    assert f"{world.sealed_id},2090-01-01T00:00:00Z," in lines


def test_the_difference_is_shown_and_nothing_changes_until_applied(client: FlaskClient, world: World,
                                                                   web_app: Flask) -> None:
    sign_in(client, world.user_ids["admin"])
    rows = f"story_id,embargo_until,reason\n{world.sealed_id},2095-01-01,the campaign goes on\n"
    before = database_rows(_home(web_app))

    shown = client.post("/admin/embargoes/bulk", data={"csrf_token": _token(client), "rows": rows, "preview": "1"})

    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert world.sealed_id in html and "extended at once" in html
    assert database_rows(_home(web_app)) == before

    applied = client.post("/admin/embargoes/bulk", data={"csrf_token": _token(client), "rows": rows, "apply": "1"})

    assert applied.status_code == 302
    assert str(one(_home(web_app), "SELECT embargo_until FROM stories WHERE id = :id",
                   id=world.sealed_id)).startswith("2095-01-01")
    assert one(_home(web_app), "SELECT count(*) FROM audit_log WHERE action = 'embargo.extend'") == 1


def test_a_bad_row_is_named_and_nothing_changes(client: FlaskClient, world: World, web_app: Flask) -> None:
    sign_in(client, world.user_ids["admin"])
    rows = (f"story_id,embargo_until,reason\n{world.sealed_id},2095-01-01,fine\n"
            f"{world.sealed_id}x,not a date,why\n")
    before = database_rows(_home(web_app))

    refused = client.post("/admin/embargoes/bulk", data={"csrf_token": _token(client), "rows": rows, "apply": "1"})

    assert refused.status_code == 400
    assert "Nothing was changed: line 3" in refused.get_data(as_text=True)
    assert database_rows(_home(web_app)) == before


def test_the_page_is_in_spanish(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])

    html = client.get("/admin/embargoes/bulk?lang=es").get_data(as_text=True)

    assert "Cambiar muchos embargos" in html


def test_an_organizer_may_not_use_it(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])

    assert client.get("/admin/embargoes/bulk").status_code == 403
    assert client.get("/admin/embargoes/upcoming.csv").status_code == 403
