"""The organizer's, researcher's and admin's pages, through HTTP as a browser sends it."""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from archive import audit
from archive.storage import database, dialect
from archive.vault.models import EmbargoRequest, Story
from archive.web import admin as admin_views
from tests.helpers import canaries, reading, sql
from tests.web.conftest import World, sign_in

TOKEN = re.compile(r'name="((?:[\w]+-)?csrf_token)" type="hidden" value="([^"]+)"')


def _token_free(body: bytes) -> bytes:
    """A page with its CSRF token values blanked: they are signed with the current second, so
    two pages differ whenever the clock ticks between them, whatever else they show. Every
    other byte must match."""
    return re.sub(rb'(csrf_token" type="hidden" value=")[^"]+"', rb'\1"', body)


def _tokens(page: str) -> dict[str, str]:
    return dict(TOKEN.findall(page))


def _form(client: FlaskClient, path: str) -> dict[str, str]:
    return _tokens(client.get(path).get_data(as_text=True))


def _stories(app: Flask) -> int:
    with app.app_context():
        return database.db.session.scalar(select(func.count(Story.id))) or 0


def _actions(app: Flask, story_id: str | None = None) -> list[tuple[str, str]]:
    with app.app_context():
        return [(e.actor, e.action) for e in audit.entries(database.db.session(), story_id=story_id)]


STORY = {"title": "Break room", "narrator": "Rosa Example",
         "transcript": "We met [[person:Maria Lopez]] at [[org:Harbor Hotel]].", "summary": "Meetings.",
         "interviewer": "J. Kim", "interview_date": "2019-05", "place": "New Haven", "language": "en",
         "tags": "hotel, strike", "notes": "", "embargo_date": "2031-01-01", "redaction_level": "pseudonymized"}


# -- organizer ----------------------------------------------------------------------------------

def test_an_organizer_submits_a_story_and_sees_it_sealed(web_app: Flask, client: FlaskClient,
                                                         world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    before = _stories(web_app)

    response = client.post("/submit", data={**STORY, **_form(client, "/submit"), "seal": "1"})

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sealed. Story" in page and "sealed" in page and "2031-01-01 00:00 UTC" in page
    assert "Break room" not in page  # content only on a deliberate, audited open
    assert _stories(web_app) == before + 1


def test_an_organizer_submits_a_timed_transcript_and_chooses_a_muted_recording(web_app: Flask, client: FlaskClient,
                                                                              world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    timed = {**STORY, "transcript": "", "recording_release": "muted", "seal": "1",
             "captions": "WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nWe met [[person:Maria Lopez]].\r\n"}

    response = client.post("/submit", data={**timed, **_form(client, "/submit")})
    refused = client.post("/submit", data={**timed, **_form(client, "/submit"),
                                            "captions": "WEBVTT\n\n00:02.000 --> 00:01.000\nWe met.\n"})

    assert response.status_code == 302, response.get_data(as_text=True)
    with web_app.app_context():
        newest = database.db.session.scalars(select(Story).order_by(Story.created_at.desc())).first()
        assert newest is not None and newest.recording_release == "muted"
        database.db.session.remove()
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'id="captions-error"' in page and "a cue must end after it starts" in page


def test_a_markup_error_is_shown_at_the_field_with_line_and_column_and_nothing_is_stored(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    before = _stories(web_app)
    broken = {**STORY, "transcript": "First line.\nThen [[person:Maria Lopez and no end", "seal": "1"}

    response = client.post("/submit", data={**broken, **_form(client, "/submit")})

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="transcript-error"' in page and "line 2, column 6" in page
    assert 'aria-invalid="true"' in page
    assert "Then [[person:Maria Lopez and no end</textarea>" in page  # the form is refilled
    assert 'value="Break room"' in page
    assert _stories(web_app) == before


@pytest.mark.parametrize("change, field, message", [
    ({"embargo_date": "2031-02-30"}, "embargo_date", "malformed date"),
    ({"embargo_date": ""}, "embargo_date", "Give the date the story may be released"),
    ({"embargo_date": "2026-01-01"}, "embargo_date", "That date has passed"),
    ({"embargo_date": "0001-01-01"}, "embargo_date", "out of range"),
    ({"redaction_level": "secret"}, "redaction_level", "Not a valid choice"),
    ({"title": ""}, "title", "Title is empty"),
    ({"interview_date": "May 2019"}, "interview_date", "Interview_date must be YYYY"),
    ({"transcript": "[[person:A]] " * 2_001}, "transcript", "at most 2,000 are allowed"),
    ({"transcript": "[[person:Maria Lopez|Maria]]"}, "transcript", "the stand-in repeats a name the story hides"),
    ({"title": "Break\x0broom"}, "title", "Title has a control character"),
    # Noncharacters: XML's writer drops U+FFFE, so "Gar\ufffecia" was matched in pieces and released whole.
    ({"transcript": "We met Gar\ufffecia."}, "transcript", "Transcript has a control character or an invalid one at "
                                                            "line 1, column 11"),
    ({"summary": "Ro\ufdd0sa"}, "summary", "Summary has a control character or an invalid one"),
])
def test_bad_fields_are_refused_at_the_field_and_nothing_is_stored(web_app: Flask, client: FlaskClient,
                                                                  world: World, change: dict[str, str],
                                                                  field: str, message: str) -> None:
    sign_in(client, world.user_ids["organizer"])
    before = _stories(web_app)

    response = client.post("/submit", data={**STORY, **change, **_form(client, "/submit"), "seal": "1"})

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page, page[:3000]
    assert _stories(web_app) == before


def test_the_preview_shows_each_level_and_stores_nothing(web_app: Flask, client: FlaskClient,
                                                         world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    before, entries = _stories(web_app), len(_actions(web_app))

    page = client.post("/submit", data={**STORY, **_form(client, "/submit"), "preview": "1"}).get_data(as_text=True)

    assert "What the reading room would show" in page
    hidden = '<mark class="hidden-word"><span class="visually-hidden">hidden: </span><del>{}</del> <ins>{}</ins></mark>'
    assert (f"We met {hidden.format('Maria Lopez', 'Person A')} at {hidden.format('Harbor Hotel', 'Employer 1')}."
            in page)  # pseudonymized, the chosen level
    assert f"We met {hidden.format('Maria Lopez', '[redacted]')} at" in page
    assert "We met Maria Lopez at Harbor Hotel." in page  # full
    assert "Not released at this level: the transcript stays sealed." in page  # summary
    assert page.count('<dd><span lang="en">Meetings.</span></dd>') == 4  # the summary, at every level, in its language
    assert _stories(web_app) == before and len(_actions(web_app)) == entries


def test_the_preview_shows_every_released_field_with_over_redaction_and_dropped_tags(
        client: FlaskClient, world: World) -> None:
    """A word that only carries a name (Rosalind, for Rosa) is hidden, and the organizer sees which
    word went, in the title and summary as in the transcript; a tag holding a name is shown dropped;
    a part hidden only in context is named."""
    sign_in(client, world.user_ids["organizer"])
    fields = {**STORY, "narrator": "Rosa Das", "title": "Rosalind and the night shift",
              "summary": "Mx. Das on Rosalind.", "tags": "rosadas, strike", "redaction_level": "redacted"}

    page = client.post("/submit", data={**fields, **_form(client, "/submit"), "preview": "1"}).get_data(as_text=True)

    hidden = '<mark class="hidden-word"><span class="visually-hidden">hidden: </span><del>{}</del> <ins>{}</ins></mark>'
    # The story's own words carry its language (the title, the summary, a dropped tag).
    assert f"<dd lang=\"en\">{hidden.format('Rosalind', '[redacted]')} and the night shift</dd>" in page
    assert (f"<dd><span lang=\"en\">Mx. {hidden.format('Das', '[redacted]')} on "
            f"{hidden.format('Rosalind', '[redacted]')}.</span></dd>") in page
    assert "dropped because they hold a hidden name: <del lang=\"en\">rosadas</del>" in page
    assert "beside the rest of the name): das." in page


def test_my_stories_lists_only_ones_own(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["other_organizer"])
    assert world.sealed_id not in client.get("/my/stories").get_data(as_text=True)
    sign_in(client, world.user_ids["organizer"])
    page = client.get("/my/stories").get_data(as_text=True)
    assert world.sealed_id in page and "Released laundry drive" in page


def test_opening_ones_sealed_story_is_a_deliberate_audited_read(web_app: Flask, client: FlaskClient,
                                                               world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    page = client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    assert "Sealed night shift" not in page

    opened = client.post(f"/my/stories/{world.sealed_id}/open", data=_tokens(page)).get_data(as_text=True)

    assert "Sealed night shift" in opened and "recorded in the audit log" in opened
    assert ("org@example.org", "story.read") in _actions(web_app, world.sealed_id)


def test_an_organizer_extends_and_a_shortening_is_refused_with_the_reason(web_app: Flask, client: FlaskClient,
                                                                          world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    path = f"/my/stories/{world.sealed_id}"
    tokens = _form(client, path)

    shorter = client.post(f"{path}/extend", data={**tokens, "extend-until": "2040-01-01", "extend-reason": "x"})
    assert shorter.status_code == 400 and "is not later: to shorten it, request it" in shorter.get_data(as_text=True)
    longer = client.post(f"{path}/extend", data={**tokens, "extend-until": "2095-01-01",
                                                 "extend-reason": "campaign"})
    assert longer.status_code == 302
    assert "2095-01-01 00:00 UTC" in client.get(path).get_data(as_text=True)
    assert ("org@example.org", "embargo.extend") in _actions(web_app, world.sealed_id)


def test_an_extension_ends_the_pending_request_shown_with_the_current_embargo(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    dashboard = client.get("/admin").get_data(as_text=True)
    assert world.sealed_id in dashboard
    assert re.search(r"Its embargo now: until <time[^>]*>2090-01-01 00:00 UTC</time>", dashboard)
    assert "Reason: “narrator agreed” Expires" in dashboard  # unsealed for the admin, quoted (never "agreed..")

    sign_in(client, world.user_ids["organizer"])
    path = f"/my/stories/{world.sealed_id}"
    extended = client.post(f"{path}/extend", data={**_form(client, path), "extend-until": "2095-01-01",
                                                   "extend-reason": "risk"})
    sign_in(client, world.user_ids["admin"])
    approve = client.post(f"/admin/requests/{world.request_id}/approve", data=_form(client, "/admin"),
                          follow_redirects=True)

    assert extended.status_code == 302
    assert world.sealed_id not in client.get("/admin").get_data(as_text=True).split("Early-release requests")[1] \
        .split("</section>")[0]
    assert "no pending request" in approve.get_data(as_text=True)
    assert ("admin@example.org", "embargo.approve") not in _actions(web_app, world.sealed_id)
    assert ("org@example.org", "embargo.cancel") in _actions(web_app, world.sealed_id)


def test_an_organizer_takes_their_own_request_back_on_the_web(web_app: Flask, client: FlaskClient,
                                                                world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    tokens = _form(client, "/submit")
    sealed = client.post("/submit", data={**tokens, **STORY})
    path = sealed.headers["Location"]
    asked = client.post(f"{path}/request", data={**_form(client, path), "early-now": "y",
                                                 "early-reason": "the campaign ended"})
    page = client.get(path).get_data(as_text=True)
    assert asked.status_code == 302 and "Take the request back" in page
    cancel = re.search(r'action="([^"]+/cancel)"', page)
    assert cancel is not None

    taken = client.post(cancel.group(1), data=_tokens(page), follow_redirects=True)

    assert "Your request is taken back" in taken.get_data(as_text=True)
    assert "Take the request back" not in taken.get_data(as_text=True)
    assert ("org@example.org", "embargo.cancel") in _actions(web_app, path.rsplit("/", 1)[1])


def test_an_empty_reading_room_says_nothing_is_released_yet(client: FlaskClient) -> None:
    for path in ("/", "/search?q=strike"):
        response = client.get(path)
        assert response.status_code == 200
        assert "No stories are released yet" in response.get_data(as_text=True)


def test_another_organizer_gets_the_unknown_id_page_for_a_story_not_theirs(client: FlaskClient,
                                                                          world: World) -> None:
    sign_in(client, world.user_ids["other_organizer"])
    theirs = client.get(f"/my/stories/{world.sealed_id}")
    unknown = client.get("/my/stories/nosuchstory00000")
    assert theirs.status_code == unknown.status_code == 404
    assert _token_free(theirs.get_data()) == _token_free(unknown.get_data())


# -- researcher ---------------------------------------------------------------------------------

def test_search_shows_highlighted_snippets_and_the_total(client: FlaskClient, world: World) -> None:
    page = client.get("/search?q=housekeeper").get_data(as_text=True)
    assert "1 story found" in page
    assert re.search(r"<mark[^>]*>housekeeper</mark>", page)
    assert f'href="/stories/{world.released_id}"' in page
    assert world.sealed_id not in page and "Sealed night shift" not in page


@pytest.mark.parametrize("query", ['"unclosed', "(((", "title:", "*", "x" * 10_000, "ab*"])
def test_a_bad_query_is_a_friendly_400(client: FlaskClient, world: World, query: str) -> None:
    response = client.get("/search", query_string={"q": query})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'role="alert"' in page and "Traceback" not in page


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(page="\u00b2")  # a digit to str.isdigit, not to int()
@given(page=st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.integers(-3, 5000).map(str))
def test_any_page_number_shows_a_page_of_results(client: FlaskClient, world: World, page: str) -> None:
    response = client.get("/search", query_string={"q": "housekeeper", "page": page})
    assert response.status_code == 200
    assert "1 story found" in response.get_data(as_text=True) or page.strip() not in ("", "1")


@pytest.mark.parametrize("filters, found", [
    ({"tag": "hotel"}, True), ({"tag": "nope"}, False), ({"language": "en"}, True), ({"language": "es"}, False),
    ({"year": "2019"}, True), ({"year": "2018"}, False), ({"level": "pseudonymized"}, True),
    ({"level": "full"}, False),
])
def test_filters_narrow_the_results(client: FlaskClient, world: World, filters: dict[str, str],
                                    found: bool) -> None:
    page = client.get("/search", query_string={"q": "housekeeper", **filters}).get_data(as_text=True)
    assert ("1 story found" in page) is found


# The world's one released story: its tags, language, interview year and level.
RELEASED_FACETS = {"tag": {"hotel", "strike"}, "language": {"en"}, "year": {"2019"}, "level": {"pseudonymized"}}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filters=st.fixed_dictionaries({}, optional={
    "tag": st.sampled_from(["hotel", "strike", "nope", ""]), "language": st.sampled_from(["en", "es", ""]),
    "year": st.sampled_from(["2019", "2018", ""]), "level": st.sampled_from(["pseudonymized", "full", ""])}))
def test_the_filters_alone_are_a_search_of_the_whole_reading_room(client: FlaskClient, world: World,
                                                                  filters: dict[str, str]) -> None:
    """With no words, the filters narrow every released story: it is found exactly when each
    filter given matches it; with no filter either, the page shows the latest releases."""
    response = client.get("/search", query_string={"q": "", **filters})
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    given_ = {name: value for name, value in filters.items() if value}
    if not given_:
        assert "Recently released" in page and "found" not in page
        return
    matches = all(value in RELEASED_FACETS[name] for name, value in given_.items())
    assert ("1 story found" in page) is matches
    assert ("No stories found" in page) is not matches
    assert world.sealed_id not in page and "Sealed night shift" not in page


@pytest.mark.parametrize("filters", [{"year": "19"}, {"level": "secret"}])
def test_bad_filters_are_a_friendly_400(client: FlaskClient, world: World, filters: dict[str, str]) -> None:
    assert client.get("/search", query_string={"q": "hotel", **filters}).status_code == 400


def test_a_released_story_page_has_its_redacted_copy_and_a_citation(client: FlaskClient, world: World) -> None:
    page = client.get(f"/stories/{world.released_id}").get_data(as_text=True)
    assert "Released laundry drive" in page and "Pseudonymous narrator" in page
    assert "the housekeeper" in page and "Maria Lopez" not in page and "Rosa" not in page
    assert "Escrow oral-history archive, released" in page and f"/stories/{world.released_id}" in page


@pytest.mark.parametrize("visitor", ["anonymous", "researcher", "other_organizer", "organizer", "admin"])
def test_a_sealed_id_is_the_same_404_as_an_unknown_one_for_everyone(client: FlaskClient, world: World,
                                                                    visitor: str) -> None:
    if visitor != "anonymous":
        sign_in(client, world.user_ids[visitor])
    sealed = client.get(f"/stories/{world.sealed_id}")
    unknown = client.get("/stories/nosuchstory00000")
    assert sealed.status_code == unknown.status_code == 404
    assert _token_free(sealed.get_data()) == _token_free(unknown.get_data())


def test_adding_a_sealed_story_changes_no_public_page(web_app: Flask, client: FlaskClient, world: World) -> None:
    word = canaries(1)[0]
    pages = ["/", "/search?q=hotel", f"/search?q={word}", "/search?q=hotel&tag=hotel", f"/stories/{world.released_id}"]
    before = [_public(client.get(p).get_data(as_text=True)) for p in pages]
    sign_in(client, world.user_ids["organizer"])
    sealed = {**STORY, "title": f"{word} hotel", "transcript": f"{word} hotel strike", "tags": f"hotel, {word}"}
    assert client.post("/submit", data={**sealed, **_form(client, "/submit"), "seal": "1"}).status_code == 302
    client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None
    anonymous = web_app.test_client()

    after = [_public(anonymous.get(p).get_data(as_text=True)) for p in pages]

    assert after == before


def _public(page: str) -> str:
    return re.sub(r'value="[^"]*"', "", page)


# -- admin -------------------------------------------------------------------------------------

def test_an_admin_approves_another_admins_request_but_never_their_own(web_app: Flask, client: FlaskClient,
                                                                      world: World) -> None:
    sign_in(client, world.user_ids["admin2"])
    own = client.get("/admin").get_data(as_text=True)
    assert "You made this request: another admin must approve it." in own
    forced = client.post(f"/admin/requests/{world.request_id}/approve", data=_tokens(own))
    assert "another admin must approve it" in client.get(forced.headers["Location"]).get_data(as_text=True)

    sign_in(client, world.user_ids["admin"])
    page = client.get("/admin").get_data(as_text=True)
    approved = client.post(f"/admin/requests/{world.request_id}/approve", data=_tokens(page))

    assert approved.status_code == 302
    with web_app.app_context():
        request = database.db.session.get(EmbargoRequest, world.request_id)
        assert request is not None and request.state == "approved"
    assert ("admin@example.org", "embargo.approve") in _actions(web_app, world.sealed_id)


def test_an_indefinitely_sealed_story_is_released_from_the_web_when_one_admin_asks_and_another_approves(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    """The submit form says an indefinite story is released when one admin asks and a second
    approves: both are buttons on the admin's pages, each audited, and neither admin alone can."""
    sign_in(client, world.user_ids["organizer"])
    form = client.get("/submit").get_data(as_text=True)
    assert "Sealed indefinitely (released only when one admin asks and a second approves)" in form
    sealed = client.post("/submit", data={**STORY, **_tokens(form), "embargo_date": "", "indefinite": "y",
                                          "seal": "1"})
    story_id = sealed.headers["Location"].rsplit("/", 1)[1]

    sign_in(client, world.user_ids["admin"])
    page = client.get(f"/admin/stories/{story_id}").get_data(as_text=True)
    assert "Ask a second admin to release it" in page
    asked = client.post(f"/admin/stories/{story_id}/request",
                        data={**_tokens(page), "early-now": "y", "early-reason": "the campaign ended"})
    shown = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Asked: a second admin approves it on the admin home page" in shown
    assert "is waiting for" in shown and "a second admin" in shown and "Ask a second admin" not in shown
    with web_app.app_context():
        [request] = database.db.session.scalars(select(EmbargoRequest).where(EmbargoRequest.story_id == story_id))
        request_id = request.id
        database.db.session.remove()
    dashboard = client.get("/admin").get_data(as_text=True)
    own = client.post(f"/admin/requests/{request_id}/approve", data=_tokens(dashboard))
    assert "another admin must approve it" in client.get(own.headers["Location"]).get_data(as_text=True)

    sign_in(client, world.user_ids["admin2"])
    approved = client.post(f"/admin/requests/{request_id}/approve",
                           data=_tokens(client.get(f"/admin/stories/{story_id}").get_data(as_text=True)))
    assert "Approved: the new embargo is in force" in client.get(approved.headers["Location"]).get_data(as_text=True)
    assert ("admin@example.org", "embargo.request") in _actions(web_app, story_id)
    assert ("admin2@example.org", "embargo.approve") in _actions(web_app, story_id)
    with web_app.app_context():
        story = database.db.session.get(Story, story_id)
        assert story is not None and story.status == "sealed" and story.embargo_until is not None
        database.db.session.remove()


def test_an_admin_takes_a_story_down_and_it_leaves_search_at_once(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    tokens = _form(client, f"/admin/stories/{world.released_id}")

    response = client.post(f"/admin/stories/{world.released_id}/takedown",
                           data={**tokens, "takedown-reason": "narrator at risk"})

    assert response.status_code == 302
    assert "No stories found" in client.get("/search?q=housekeeper").get_data(as_text=True)
    assert client.get(f"/stories/{world.released_id}").status_code == 404


def test_a_takedown_without_a_reason_changes_nothing(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    tokens = _form(client, f"/admin/stories/{world.released_id}")

    response = client.post(f"/admin/stories/{world.released_id}/takedown", data={**tokens, "takedown-reason": " "})

    assert "Nothing was changed: give a reason" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get(f"/stories/{world.released_id}").status_code == 200


def test_an_admin_adds_an_account_and_a_duplicate_is_refused(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    tokens = _form(client, "/admin/users")
    added = client.post("/admin/users", data={**tokens, "email": "new@example.org", "role": "researcher",
                                              "password": "a long enough password"})
    assert added.status_code == 302
    again = client.post("/admin/users", data={**tokens, "email": "new@example.org", "role": "researcher",
                                              "password": "another password"})
    assert again.status_code == 400 and "already exists" in again.get_data(as_text=True)


def test_the_audit_page_shows_the_chain_status_and_is_itself_audited(web_app: Flask, client: FlaskClient,
                                                                     world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "The chain verifies" in page and "story.release" in page
    assert ("admin@example.org", "audit.show") in _actions(web_app)


def test_dates_are_shown_in_the_viewers_zone_with_utc_beside(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    utc_only = client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    client.set_cookie("tz", "Pacific/Auckland")
    local = client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    client.set_cookie("tz", "Not/AZone")
    bogus = client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)

    assert '<time datetime="2090-01-01T00:00:00Z">2090-01-01 00:00 UTC</time>' in utc_only
    assert "2090-01-01 13:00 NZDT (2090-01-01 00:00 UTC)" in local
    assert '<time datetime="2090-01-01T00:00:00Z">2090-01-01 00:00 UTC</time>' in bogus


def test_an_organizer_requests_an_earlier_release_from_the_story_page(web_app: Flask, client: FlaskClient,
                                                                      world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    page = client.get("/admin").get_data(as_text=True)
    client.post(f"/admin/requests/{world.request_id}/deny", data={**_tokens(page), "deny-reason": "not yet"})
    sign_in(client, world.user_ids["organizer"])
    path = f"/my/stories/{world.sealed_id}"

    response = client.post(f"{path}/request", data={**_form(client, path), "early-now": "y",
                                                    "early-reason": "the campaign is won"})

    assert response.status_code == 302
    assert "is waiting for an admin" in client.get(path).get_data(as_text=True)
    assert ("org@example.org", "embargo.request") in _actions(web_app, world.sealed_id)


@pytest.mark.parametrize("data, message", [
    ({"extend-until": "", "extend-reason": "x"}, "Choose a date"),
    ({"extend-until": "2099-13-01", "extend-reason": "x"}, "Malformed date"),
    ({"extend-until": "2099-01-01", "extend-reason": " "}, "Give a reason"),
])
def test_a_bad_extension_on_the_story_page_says_why_and_changes_nothing(web_app: Flask, client: FlaskClient,
                                                                       world: World, data: dict[str, str],
                                                                       message: str) -> None:
    sign_in(client, world.user_ids["organizer"])
    path = f"/my/stories/{world.sealed_id}"
    before = len(_actions(web_app, world.sealed_id))

    response = client.post(f"{path}/extend", data={**_form(client, path), **data})

    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert "2090-01-01 00:00 UTC" in client.get(path).get_data(as_text=True)
    assert len(_actions(web_app, world.sealed_id)) == before


@pytest.mark.parametrize("held", [False, True], ids=["alone", "with-a-transaction-held-open"])
def test_a_withdrawal_on_the_web_says_when_an_old_copy_is_left_behind(
        web_app: Flask, client: FlaskClient, world: World, archive_home: Path, held: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved and said so; with another program's transaction open on stories (it pins SQLite's
    log, it holds off PostgreSQL's VACUUM FULL), also that the shred is not finished."""
    monkeypatch.setattr(dialect, "SHRED_WAIT_SECONDS", 0.3)
    sign_in(client, world.user_ids["admin"])
    form = _tokens(client.get(f"/admin/stories/{world.released_id}").get_data(as_text=True))
    with reading(archive_home) if held else nullcontext():
        response = client.post(f"/admin/stories/{world.released_id}/withdraw",
                               data={**form, "withdraw-reason": "consent withdrawn"}, follow_redirects=True)

    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Withdrawn: the data key is destroyed" in page
    assert "Nothing was changed" not in page
    assert ("an old copy" in page) is held
    with web_app.app_context():
        assert database.db.session.get(Story, world.released_id).status == "withdrawn"  # type: ignore[union-attr]


def test_the_audit_page_pages_by_entry_and_filters(web_app: Flask, client: FlaskClient, world: World,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_views, "AUDIT_PAGE", 3)
    sign_in(client, world.user_ids["admin"])

    first = client.get("/admin/audit").get_data(as_text=True)
    older = re.search(r'href="(/admin/audit\?before=\d+)"', first)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    numbers = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", first + second)]
    # init, two submissions, a release and its muted recording's, a request; no entry twice
    assert numbers == [6, 5, 4, 3, 2, 1]

    by_action = client.get("/admin/audit?action=story.release").get_data(as_text=True)
    assert re.findall(r"<td>(story\.[a-z_]+|user\.[a-z_]+|audit\.[a-z]+)</td>", by_action) == ["story.release"]
    by_actor = client.get("/admin/audit?actor=admin2@example.org").get_data(as_text=True)
    assert "<td>embargo.request</td>" in by_actor and "<td>story.release</td>" not in by_actor
    future = client.get("/admin/audit?since=2099-01-01").get_data(as_text=True)
    assert "<tr><td>" not in future
    bad = client.get("/admin/audit?since=yesterday")
    assert bad.status_code == 400 and "Malformed date" in bad.get_data(as_text=True)
    assert client.get("/admin/audit?before=abc").status_code == 400


def test_the_audit_page_verifies_what_was_added_since_it_last_looked(client: FlaskClient, world: World,
                                                                     archive_home: Path) -> None:
    sign_in(client, world.user_ids["admin"])
    assert "The chain verifies: 6 entries" in client.get("/admin/audit").get_data(as_text=True)
    # The page's own reading (entry 7) is edited after it was written.
    sql(archive_home, "UPDATE audit_log SET actor = 'someone@else.org' WHERE seq = 7")

    page = client.get("/admin/audit").get_data(as_text=True)

    assert "The audit log does not verify: audit entry 7 does not verify" in page
    spanish = client.get("/admin/audit?lang=es").get_data(as_text=True)
    assert "El registro de auditoría no se verifica: la entrada de auditoría 7 no se verifica" in spanish
