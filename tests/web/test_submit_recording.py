"""A recording chosen on the submit page: read after the story's fields, sealed as it arrives,
and added with the story in one transaction (both or neither); never spooled to a temporary
file; a preview sends none; a refusal keeps nothing and gives the form back with its text."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archive import audit
from archive.storage import database
from archive.vault.models import Recording, Story
from tests.web.conftest import World, sign_in
from tests.web.test_recording_pages import NOT_AUDIO, Spool, _media, _multipart, _tone, spool  # noqa: F401

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FIELDS = {"title": "Night shift canary7", "narrator": "Rosa Example",
          "transcript": "We met [[person:Maria Lopez]] at [[org:Harbor Hotel]].", "summary": "Meetings.",
          "interviewer": "", "interview_date": "2019-05", "place": "", "language": "en", "tags": "hotel",
          "notes": "", "embargo_date": "2031-01-01", "redaction_level": "pseudonymized",
          "recording_release": "none"}


@pytest.fixture
def organizer(client: FlaskClient, world: World) -> FlaskClient:
    sign_in(client, world.user_ids["organizer"])
    return client


def _token(client: FlaskClient) -> str:
    match = TOKEN.search(client.get("/submit").get_data(as_text=True))
    assert match is not None
    return match.group(1)


def _submit(client: FlaskClient, recording: bytes | None, *, before: dict[str, str] | None = None,
            after: dict[str, str] | None = None, filename: str = "interview.wav", **changed: str) -> Any:
    """POST the submit form as a browser sends it: token, fields, the file, then the button."""
    fields = {"csrf_token": _token(client), **FIELDS, **changed, **(before or {})}
    parts = [(name, value.encode(), None) for name, value in fields.items()]
    parts.append(("recording", recording or b"", filename if recording is not None else ""))
    parts += [(name, value.encode(), None) for name, value in (after or {"seal": "1"}).items()]
    body, content_type = _multipart(*parts)
    return client.post("/submit", data=body, content_type=content_type)


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        session = database.db.session()
        found = (session.scalar(select(func.count(Story.id))) or 0,
                 session.scalar(select(func.count(Recording.id))) or 0)
        database.db.session.remove()
    return found


def _sealed_recording(app: Flask, story_id: str) -> Recording | None:
    with app.app_context():
        found = database.db.session.scalars(select(Recording).where(Recording.story_id == story_id)).one_or_none()
        database.db.session.remove()
    return found


@pytest.mark.parametrize("kind", ["WAV", "FLAC"])
def test_a_story_and_its_recording_are_sealed_together_and_nothing_is_spooled(
        web_app: Flask, organizer: FlaskClient, spool: Spool, kind: str) -> None:  # noqa: F811 (the fixture)
    audio = _tone(kind, 2.0)

    response = _submit(organizer, audio, filename=f"interview.{kind.lower()}")

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    story_id = response.headers["Location"].rsplit("/", 1)[1]
    recording = _sealed_recording(web_app, story_id)
    assert recording is not None and recording.size == len(audio)
    assert recording.media_type == {"WAV": "audio/wav", "FLAC": "audio/flac"}[kind]
    heard = organizer.get(f"/my/stories/{story_id}/recordings/{recording.id}")
    assert heard.status_code == 200 and heard.get_data() == audio
    with web_app.app_context():
        actions = [e.action for e in audit.entries(database.db.session(), story_id=story_id)]
        database.db.session.remove()
    assert actions[:2] == ["story.submit", "recording.attach"]
    assert spool.made == [] and list(spool.folder.iterdir()) == []
    for sealed in _media(web_app).values():
        assert audio[44:2044] not in sealed and b"canary7" not in sealed


def test_the_submit_page_sends_the_recording_last_and_previews_without_it(organizer: FlaskClient) -> None:
    page = organizer.get("/submit").get_data(as_text=True)
    start = page.index('<form method="post" action="/submit"')
    form = page[start:page.index("</form>", start)]

    assert 'enctype="multipart/form-data"' in form
    names = re.findall(r'<(?:input|textarea)[^>]*\bname="([^"]+)"', form)
    assert names[0] == "csrf_token" and names[-1] == "recording"  # the buttons come after it
    assert re.search(r'name="preview"[^>]*formenctype="application/x-www-form-urlencoded"', form)


def test_a_story_without_a_recording_is_sealed_from_the_multipart_form(web_app: Flask,
                                                                       organizer: FlaskClient) -> None:
    stories, recorded = _counts(web_app)

    response = _submit(organizer, None)

    assert response.status_code == 302
    assert _counts(web_app) == (stories + 1, recorded)


def test_what_is_not_audio_keeps_nothing_of_the_story_either(web_app: Flask, organizer: FlaskClient,
                                                               spool: Spool) -> None:  # noqa: F811 (the fixture)
    counts, media = _counts(web_app), _media(web_app)

    response = _submit(organizer, NOT_AUDIO, filename="notes.wav")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "not sealed: its recording was refused" in page and "is not a recording in WAV" in page
    assert "Night shift canary7" in page  # the form comes back with what was typed
    assert _counts(web_app) == counts and _media(web_app) == media
    assert spool.made == []


def test_a_recording_over_the_limit_keeps_nothing(web_app: Flask, organizer: FlaskClient) -> None:
    config = web_app.config["ESCROW_CONFIG"]
    web_app.config["ESCROW_CONFIG"] = dataclasses.replace(config, max_recording=1000)
    counts, media = _counts(web_app), _media(web_app)

    response = _submit(organizer, _tone("WAV", 1.0))

    assert response.status_code == 413
    assert "larger than the archive accepts" in response.get_data(as_text=True)
    assert _counts(web_app) == counts and _media(web_app) == media


@pytest.mark.parametrize("changed", [{"title": ""}, {"embargo_date": "2001-01-01"}, {"redaction_level": "secret"},
                                     {"recording_release": "full"}])
def test_a_story_refused_reads_no_recording_and_keeps_nothing(web_app: Flask, organizer: FlaskClient,
                                                               changed: dict[str, str]) -> None:
    counts, media = _counts(web_app), _media(web_app)

    response = _submit(organizer, _tone("WAV", 1.0), **changed)

    assert response.status_code == 400
    assert "not sealed" in response.get_data(as_text=True) or "invalid" in response.get_data(as_text=True)
    assert _counts(web_app) == counts and _media(web_app) == media


def test_a_preview_with_a_file_keeps_nothing(web_app: Flask, organizer: FlaskClient) -> None:
    counts, media = _counts(web_app), _media(web_app)

    response = _submit(organizer, _tone("WAV", 1.0), before={"preview": "1"}, after={})

    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "What the reading room would show" in page
    assert _counts(web_app) == counts and _media(web_app) == media


@pytest.mark.parametrize("chosen", [True, False])
def test_a_preview_asked_for_after_the_file_keeps_nothing(web_app: Flask, organizer: FlaskClient,
                                                          chosen: bool) -> None:
    """A browser sends the pressed button after the file: one that ignored the preview button's
    formenctype would send a preview that way, with a file chosen or with the empty file part of
    none, and nothing may be sealed."""
    counts, media = _counts(web_app), _media(web_app)

    response = _submit(organizer, _tone("WAV", 1.0) if chosen else None, after={"preview": "1"})

    assert response.status_code == 200 and "What the reading room would show" in response.get_data(as_text=True)
    assert _counts(web_app) == counts and _media(web_app) == media


def test_a_second_file_after_the_recording_keeps_nothing(web_app: Flask, organizer: FlaskClient) -> None:
    counts, media = _counts(web_app), _media(web_app)
    fields = {"csrf_token": _token(organizer), **FIELDS}
    body, content_type = _multipart(*[(name, value.encode(), None) for name, value in fields.items()],
                                    ("recording", _tone("WAV", 1.0), "a.wav"),
                                    ("recording", _tone("WAV", 1.0), "b.wav"), ("seal", b"1", None))

    response = organizer.post("/submit", data=body, content_type=content_type)

    assert response.status_code == 400 and "could not be read" in response.get_data(as_text=True)
    assert _counts(web_app) == counts and _media(web_app) == media


def test_a_form_without_its_token_reads_no_recording(web_app: Flask, organizer: FlaskClient) -> None:
    counts, media = _counts(web_app), _media(web_app)

    response = _submit(organizer, _tone("WAV", 1.0), before={"csrf_token": "forged"})
    encoded = organizer.post("/submit", data={**FIELDS, "seal": "1"})  # as the form sends a preview

    for refused in (response, encoded):
        assert refused.status_code == 400
        assert "The form had expired or came from elsewhere" in refused.get_data(as_text=True)
        assert "Night shift canary7" not in refused.get_data(as_text=True)  # nothing of it offered to seal
    assert _counts(web_app) == counts and _media(web_app) == media


@pytest.mark.parametrize("body", [b"--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\xff\xfe\r\n--x--\r\n",
                                  b"--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nunfinished",
                                  b"not multipart at all"])
def test_a_body_that_cannot_be_read_is_refused_and_keeps_nothing(web_app: Flask, organizer: FlaskClient,
                                                                  body: bytes) -> None:
    counts = _counts(web_app)

    response = organizer.post("/submit", data=body, content_type="multipart/form-data; boundary=x")

    assert response.status_code == 400
    assert "nothing was kept" in response.get_data(as_text=True) or "not sealed" in response.get_data(as_text=True)
    assert _counts(web_app) == counts
