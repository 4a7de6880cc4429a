"""The JSON API, black-box through HTTP: only released copies, at their level, in the shapes its
OpenAPI document describes; every error JSON; a sealed, withdrawn or unknown id one 404.

The room is seeded as an organizer and an admin would: stories imported with the command line,
released by publish-due, some taken down or withdrawn after release, others sealed or waiting
for review, each unreleased one full of canary words, and hidden spans at the redacted level.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate as validate_spec
from werkzeug.test import TestResponse

from archive.services import reading
from archive.web import api
from tests.helpers import canaries, escrow, sql, story, write_lines
from tests.prebuilt import prebuilt
from tests.web.conftest import World, sign_in

DOCUMENT = json.loads(api.DOCUMENT.read_text(encoding="utf-8"))
OPENAPI = OpenAPI.from_dict(DOCUMENT)
ERROR = Draft202012Validator(DOCUMENT["components"]["schemas"]["Error"])
PAST = "2021-01-01T00:00:00Z"


@dataclass(frozen=True)
class Room:
    """What the room was seeded with: released ids (searchable for 'picket'), the ids that must
    never be found, and every word that must never leave the vault."""

    released: list[str]
    redacted_id: str
    summary_id: str
    hidden: dict[str, str]  # kind -> an id that is not (or no longer) in the reading room
    secrets: list[str]


def _import(home: Path, tmp_path: Path, *lines: dict[str, Any]) -> list[str]:
    """Import stories as the organizer; the ids made."""
    before = {row[0] for row in sql(home, "SELECT id FROM stories")}
    path = write_lines(tmp_path / f"{secrets.token_hex(4)}.jsonl", *lines)
    result = escrow(home, "stories", "import", str(path), "--as", "org@example.org")
    assert result.exit_code == 0, result.output
    return sorted({row[0] for row in sql(home, "SELECT id FROM stories")} - before)


def _run(home: Path, *args: str) -> None:
    result = escrow(home, *args)
    assert result.exit_code in (0,), result.output


def _secret_story(words: list[str], **overrides: Any) -> dict[str, Any]:
    """A story every field of which holds a canary (and 'picket', so a leak would be found)."""
    a, b, c, d, e, f = words
    return story(title=f"picket {a}", narrator=f"Ana {b}", summary=f"picket {c}", interviewer=f"J. {d}",
                 place=e, tags=["hotel", f], transcript=f"The picket held at [[org:{a}]] with {c} and {d}.",
                 **overrides)


@prebuilt("world")
def room(archive_home: Path, world: World) -> Room:
    """Built once per session (tests.prebuilt): each test reads, or changes, a copy."""
    tmp_path = archive_home.parent
    words = canaries(30)
    groups = [words[i:i + 6] for i in range(0, 30, 6)]
    released = _import(archive_home, tmp_path, *(
        story(title=f"Picket line {n}", narrator="Lee Open", transcript=f"On the picket line, day {n}, we sang.",
              summary="A picket.", redaction_level="full", embargo_until=PAST, tags=["strike", f"day{n}"],
              interview_date=f"201{n}")
        for n in range(4)))
    hidden_name, hidden_place, hidden_narrator = canaries(3)
    [redacted] = _import(archive_home, tmp_path, story(
        title="Redacted picket", narrator=f"Rosa {hidden_narrator}", place=hidden_place, interviewer="J. Kim",
        transcript=f"I stood on the picket with [[person:{hidden_name}]] and [[org:Harbor {hidden_name}]].",
        summary="A picket, redacted.", redaction_level="redacted", embargo_until=PAST))
    transcript_only = canaries(1)[0]
    [summary] = _import(archive_home, tmp_path, story(
        title="Summary picket", transcript=f"Only in the sealed transcript: {transcript_only}.",
        summary="A picket, summary only.", redaction_level="summary", embargo_until=PAST))
    [sealed] = _import(archive_home, tmp_path, _secret_story(groups[0], embargo_until="2090-01-01"))
    [review] = _import(archive_home, tmp_path, _secret_story(groups[1], embargo_until=PAST, release_review=True))
    [taken] = _import(archive_home, tmp_path, _secret_story(groups[2], embargo_until=PAST))
    [gone] = _import(archive_home, tmp_path, _secret_story(groups[3], embargo_until=PAST))
    [indefinite] = _import(archive_home, tmp_path, _secret_story(groups[4], embargo_until=None))
    _run(archive_home, "publish-due")
    _run(archive_home, "stories", "takedown", taken, "--reason", "narrator asked", "--as", "admin@example.org")
    _run(archive_home, "stories", "withdraw", gone, "--reason", "consent withdrawn", "--as", "admin@example.org")
    statuses = dict(sql(archive_home, "SELECT id, status FROM stories"))
    assert statuses[review] == "due_for_review" and statuses[taken] == "sealed" and statuses[gone] == "withdrawn"
    return Room(released=[*released, redacted, summary, world.released_id], redacted_id=redacted,
                summary_id=summary,
                hidden={"sealed": sealed, "due for review": review, "taken down": taken, "withdrawn": gone,
                        "indefinite": indefinite, "world's sealed": world.sealed_id},
                secrets=[*words, hidden_name, hidden_place, hidden_narrator, transcript_only, "Maria Lopez",
                         "Rosa Example", "Sealed night shift", "Harbor Hotel"])


def conforms(response: TestResponse) -> Any:
    """The response's JSON, after checking it against the OpenAPI document (status, headers, body)."""
    assert response.mimetype == "application/json", response.data[:200]
    assert response.headers["Cache-Control"] == "no-store"
    OPENAPI.validate_response(WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response))
    return response.get_json()


def get(client: FlaskClient, path: str, **kwargs: Any) -> TestResponse:
    response = client.get(path, **kwargs)
    response.close()
    return response


def _no_secret(room: Room, *responses: TestResponse) -> None:
    for response in responses:
        data = response.get_data() + str(response.headers).encode()
        found = [w for w in room.secrets if w.encode() in data or json.dumps(w).encode()[1:-1] in data]
        assert not found, f"{response.request.full_path}: {found}"


# -- the document ------------------------------------------------------------------------------

def test_the_openapi_document_is_valid_and_served_as_is(client: FlaskClient, world: World) -> None:
    validate_spec(DOCUMENT)
    response = get(client, "/api/v1/openapi.json")

    assert response.status_code == 200 and response.get_json() == DOCUMENT
    assert {"/search", "/stories/{story_id}", "/vocabularies", "/openapi.json"} == set(DOCUMENT["paths"])


# -- search ------------------------------------------------------------------------------------

def test_paging_through_search_finds_every_released_story_once_and_nothing_else(
        client: FlaskClient, room: Room) -> None:
    seen: list[str] = []
    responses = []
    page = 1
    while True:
        response = get(client, "/api/v1/search", query_string={"q": "picket", "per_page": 2, "page": page})
        body = conforms(response)
        responses.append(response)
        assert response.status_code == 200 and body["page"] == page and body["per_page"] == 2
        if not body["hits"]:
            break
        seen += [hit["id"] for hit in body["hits"]]
        for hit in body["hits"]:
            text, matches = hit["snippet"]["text"], hit["snippet"]["matches"]
            assert "<mark" not in text and matches
            assert all(text[start:end].lower().startswith("picket") for start, end in matches)
            assert hit["url"] == f"http://localhost/stories/{hit['id']}"
        page += 1

    assert sorted(seen) == sorted(room.released[:-1])  # the world's released story has no picket
    assert len(seen) == len(set(seen)) == body["total"] and page == (body["total"] + 1) // 2 + 1
    assert not set(seen) & set(room.hidden.values())
    _no_secret(room, *responses)


def test_a_hit_carries_its_released_copy_at_its_level(client: FlaskClient, room: Room) -> None:
    body = conforms(get(client, "/api/v1/search", query_string={"q": "redacted", "per_page": 100}))

    [hit] = [h for h in body["hits"] if h["id"] == room.redacted_id]
    assert hit["narrator"] == "Anonymous narrator" and hit["level"] == "redacted"
    assert hit["year"] == 2019 and hit["language"] == "en" and hit["tags"] == ["hotel", "strike"]


def test_no_search_finds_or_shows_a_word_that_is_not_released(client: FlaskClient, room: Room) -> None:
    responses = [get(client, "/api/v1/search", query_string={"q": word}) for word in room.secrets
                 if " " not in word]
    responses += [get(client, "/api/v1/search", query_string={"q": "picket", "tag": word}) for word in room.secrets[:6]]
    responses.append(get(client, "/api/v1/vocabularies"))

    for response in responses[:-1]:
        assert conforms(response)["total"] == 0
    vocabularies = conforms(responses[-1])
    assert "strike" in vocabularies["tags"] and vocabularies["levels"] == ["full", "pseudonymized", "redacted",
                                                                           "summary"]
    _no_secret(room, *responses)


@pytest.mark.parametrize("filters, found", [
    ({"tag": "day2"}, 1), ({"tag": "nope"}, 0), ({"year": "2013"}, 1), ({"level": "full"}, 4),
    ({"level": "summary"}, 1), ({"language": "en", "tag": "strike"}, 6),
])
def test_filters_narrow_the_api_search_as_they_do_the_page(client: FlaskClient, room: Room,
                                                         filters: dict[str, str], found: int) -> None:
    body = conforms(get(client, "/api/v1/search", query_string={"q": "picket", **filters}))
    assert body["total"] == found


@pytest.mark.parametrize("params, message", [
    ({}, "Type a word or phrase"), ({"q": "   "}, "Type a word or phrase"),
    ({"q": '"unclosed'}, "quotation mark"), ({"q": "((("}, "parentheses"), ({"q": "ab*"}, "wildcard"),
    ({"q": "x" * 300}, "at most 256"), ({"q": "[a TO z]"}, "interview year"),
    ({"q": "picket", "year": "19"}, "four digits"), ({"q": "picket", "year": "²⁰¹⁹"}, "four digits"),
    ({"q": "picket", "level": "secret"}, "redaction level"), ({"q": "picket", "page": "0"}, "page must be"),
    ({"q": "picket", "page": "1001"}, "page must be"), ({"q": "picket", "page": "-1"}, "page must be"),
    ({"q": "picket", "per_page": "101"}, "per_page must be"), ({"q": "picket", "per_page": "ten"}, "per_page must"),
])
def test_bad_parameters_are_a_400_in_json_that_says_what_to_change(client: FlaskClient, room: Room,
                                                                 params: dict[str, str], message: str) -> None:
    response = get(client, "/api/v1/search", query_string=params)
    body = conforms(response)

    assert response.status_code == 400 and body["error"]["status"] == 400
    assert message.lower() in body["error"]["message"].lower() and "Traceback" not in body["error"]["message"]


def test_a_bad_year_on_the_page_is_the_same_friendly_400(client: FlaskClient, room: Room) -> None:
    response = get(client, "/search", query_string={"q": "picket", "year": "²⁰¹⁹"})
    assert response.status_code == 400 and "The interview year must be four digits" in response.get_data(as_text=True)


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
QUERY = st.one_of(TEXT, st.lists(st.sampled_from(
    ["picket", "line", "AND", "OR", "NOT", "(", ")", "[", "]", "{", "}", '"', "*", "?", "~2", "^3", ":", "title:",
     "year:", "year:[2010 TO 2013]", "tags:", "pick*", "\\", "é", "日本", " TO ", "\x00", "\t", "+", "-", "!"]),
    max_size=10).map(" ".join))
NUMBER = st.one_of(st.integers(-5, 2000).map(str), TEXT)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERY, tag=st.none() | TEXT, language=st.none() | TEXT, year=st.none() | NUMBER,
       level=st.none() | st.sampled_from(["full", "summary", "Full", ""]) | TEXT,
       page=st.none() | NUMBER, per_page=st.none() | NUMBER)
def test_any_search_parameters_are_answered_in_json_that_matches_the_document_never_a_5xx(
        client: FlaskClient, room: Room, q: str, tag: str | None, language: str | None, year: str | None,
        level: str | None, page: str | None, per_page: str | None) -> None:
    given_params = {"q": q, "tag": tag, "language": language, "year": year, "level": level, "page": page,
                    "per_page": per_page}
    response = get(client, "/api/v1/search", query_string={k: v for k, v in given_params.items() if v is not None})

    assert response.status_code in (200, 400), response.data[:300]
    body = conforms(response)
    if response.status_code == 200:
        assert all(h["id"] in room.released for h in body["hits"])
    _no_secret(room, response)


def _document_accepts(response: TestResponse) -> bool:
    """Whether the OpenAPI document allows the request that was sent."""
    try:
        OPENAPI.validate_request(WerkzeugOpenAPIRequest(response.request))
    except OpenAPIError:
        return False
    return True


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.one_of(st.text(alphabet=st.sampled_from("ab \u00e9\u65e5"), max_size=300),
                   st.integers(250, 262).flatmap(lambda n: st.just("a" * n)),
                   st.integers(0, 3).map(lambda n: " " * n + "a" * 256 + " " * n)))
def test_the_document_says_which_queries_the_api_takes_and_the_api_takes_them(
        client: FlaskClient, world: World, q: str) -> None:
    """`q` is 1-256 characters, not only spaces, in the schema itself: every query the document
    allows is answered (these are plain words), and one the API refuses as too long or empty
    is one the document does not allow."""
    response = get(client, "/api/v1/search", query_string={"q": q})
    allowed = _document_accepts(response)

    assert allowed == (1 <= len(q) <= 256 and q.strip() != "")
    if allowed:
        assert response.status_code == 200, (q, response.data[:200])
    if response.status_code == 400:
        assert not allowed
    conforms(response)


# -- one story ---------------------------------------------------------------------------------

def test_a_released_story_is_its_released_copy_with_citation_release_instant_and_level(
        client: FlaskClient, room: Room) -> None:
    response = get(client, f"/api/v1/stories/{room.redacted_id}")
    body = conforms(response)

    assert body["id"] == room.redacted_id and body["redaction_level"] == "redacted"
    assert body["narrator"] == "Anonymous narrator" and "[redacted]" in body["transcript"]
    assert "place" not in body and "interviewer" not in body  # not released at this level: not sent blank
    assert body["released_at"].endswith("Z") and body["interview_date"] == "2019"
    assert body["citation"]["title"] == "Redacted picket" and body["citation"]["type"] == "interview"
    assert body["citation"]["URL"] == body["url"] == f"http://localhost/stories/{room.redacted_id}"
    assert body["citation"]["author"] == [{"literal": "Anonymous narrator"}]
    _no_secret(room, response)


def test_a_summary_story_has_no_transcript_and_a_full_one_has_place_and_interviewer(
        client: FlaskClient, room: Room) -> None:
    summary = conforms(get(client, f"/api/v1/stories/{room.summary_id}"))
    full = conforms(get(client, f"/api/v1/stories/{room.released[0]}"))

    assert summary["transcript"] is None and summary["summary"] == "A picket, summary only."
    assert full["place"] == "New Haven" and full["interviewer"] == "J. Kim" and full["redaction_level"] == "full"


def test_an_etag_answers_304_until_the_story_changes(client: FlaskClient, room: Room) -> None:
    first = get(client, f"/api/v1/stories/{room.released[0]}")
    etag = first.headers["ETag"]
    again = get(client, f"/api/v1/stories/{room.released[0]}", headers={"If-None-Match": etag})
    other = get(client, f"/api/v1/stories/{room.released[1]}", headers={"If-None-Match": etag})

    assert first.status_code == 200 and etag.startswith('"')
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    OPENAPI.validate_response(WerkzeugOpenAPIRequest(again.request), WerkzeugOpenAPIResponse(again))
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_a_story_released_again_has_a_new_etag_and_an_old_one_no_longer_answers_304(
        client: FlaskClient, room: Room, archive_home: Path) -> None:
    story_id = room.released[0]
    # Released a while ago (as the archive stores instants: naive UTC), then taken down and
    # released again now, by a second admin's approval, as an operator would.
    sql(archive_home, "UPDATE released_stories SET released_at = :at WHERE id = :id",
        at="2021-06-01 12:00:00.000000", id=story_id)
    path = f"/api/v1/stories/{story_id}"
    first = get(client, path)
    old = first.headers["ETag"]
    _run(archive_home, "stories", "takedown", story_id, "--reason", "checking consent", "--as", "admin@example.org")
    gone = get(client, path, headers={"If-None-Match": old})
    asked = escrow(archive_home, "embargo", "request", story_id, "--until", "now", "--reason", "consent confirmed",
                   "--as", "admin@example.org")
    assert asked.exit_code == 0, asked.output
    _run(archive_home, "embargo", "approve", asked.output.split()[1], "--as", "admin2@example.org")
    _run(archive_home, "publish-due")

    again = get(client, path, headers={"If-None-Match": old})
    new = again.headers["ETag"]
    unchanged = get(client, path, headers={"If-None-Match": new})

    assert first.status_code == 200 and conforms(first)["released_at"] == "2021-06-01T12:00:00Z"
    assert gone.status_code == 404 and "ETag" not in gone.headers
    assert again.status_code == 200 and new != old
    assert conforms(again)["released_at"] != "2021-06-01T12:00:00Z"
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == new
    for response in (gone, again):
        _no_secret(room, response)


def test_sealed_review_taken_down_withdrawn_and_unknown_ids_are_one_404_for_everyone(
        client: FlaskClient, room: Room, world: World) -> None:
    answers = {}
    for visitor in ("anonymous", "organizer", "admin"):
        if visitor != "anonymous":
            sign_in(client, world.user_ids[visitor])
        for kind, story_id in [*room.hidden.items(), ("unknown", "nosuchstory00000"), ("long", "x" * 300)]:
            response = get(client, f"/api/v1/stories/{story_id}")
            body = conforms(response)
            assert response.status_code == 404, (visitor, kind)
            answers[(visitor, kind)] = (response.get_data(), sorted(k for k in response.headers.keys()
                                                                     if k != "Content-Length"))
            assert body == {"error": {"status": 404, "message": "There is no such story or endpoint here."}}
            _no_secret(room, response)
    assert len({data for data, _ in answers.values()}) == 1
    assert len({tuple(headers) for _, headers in answers.values()}) == 1


# -- errors ------------------------------------------------------------------------------------

def test_every_error_under_the_api_is_json_with_a_message(client: FlaskClient, room: Room) -> None:
    wrong_method = client.post("/api/v1/search?q=picket")
    wrong_method.close()
    no_route = get(client, "/api/v1/nothing/here")
    outside = get(client, "/api/v2/search")

    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    for response in (wrong_method, no_route, outside):  # no operation of the document to check them by
        assert response.status_code in (404, 405) and response.mimetype == "application/json"
        ERROR.validate(response.get_json())
    assert get(client, "/nothing/here").mimetype == "text/html"  # pages keep their HTML


def test_an_unexpected_failure_is_a_json_500_without_a_trace(client: FlaskClient, room: Room,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"story text {room.secrets[0]}")

    monkeypatch.setattr(reading, "search", broken)
    with caplog.at_level(logging.ERROR):
        response = get(client, "/api/v1/search?q=picket")

    assert response.status_code == 500
    body = conforms(response)
    assert "Traceback" not in body["error"]["message"] and room.secrets[0] not in caplog.text
    _no_secret(room, response)


def test_a_missing_index_is_a_json_503(client: FlaskClient, room: Room, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise reading.IndexMissing("the search index is missing")

    monkeypatch.setattr(reading, "search", missing)
    response = get(client, "/api/v1/search?q=picket")

    assert response.status_code == 503 and "rebuilt" in conforms(response)["error"]["message"]


def test_a_presented_token_that_opens_nothing_is_401_even_in_a_public_room(client: FlaskClient,
                                                                           room: Room) -> None:
    bad = get(client, "/api/v1/vocabularies", headers={"Authorization": "Bearer esc_" + "A" * 43})
    basic = get(client, "/api/v1/vocabularies", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    none = get(client, "/api/v1/vocabularies")

    assert bad.status_code == basic.status_code == 401 and none.status_code == 200
    assert conforms(bad)["error"]["status"] == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert 'error="invalid_request"' in basic.headers["WWW-Authenticate"]
    conforms(basic)
