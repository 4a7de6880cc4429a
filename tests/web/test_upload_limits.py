"""What bounds an organizer's recordings: two uploads at once per account, ten recordings a
story, a share of the media folder per account, and a free margin on its disk. Each refusal
is a clear message before the file is read (or as soon as it is known), and leaves nothing:
no file in the media folder, no row in the database."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from archive.accounts import users
from archive.errors import NoRoom
from archive.services import recordings as service
from archive.services import stories as stories_service
from archive.services.context import current
from archive.storage import database
from archive.vault import recordings, stories
from archive.vault.models import Recording
from tests import helpers
from tests.helpers import unit
from tests.processes import poll
from tests.web.conftest import World, sign_in, tiny_wav
from tests.web.test_recording_pages import WORLD_RECORDINGS, _media, _multipart, _post, _recordings, _token

FREE_REFUSAL = "has too little room for this recording"


@pytest.fixture
def organizer(client: FlaskClient, world: World) -> FlaskClient:
    sign_in(client, world.user_ids["organizer"])
    return client


def configure(web_app: Flask, **changes: Any) -> None:
    """The app's Config with `changes` (the app reads it per request)."""
    web_app.config["ESCROW_CONFIG"] = dataclasses.replace(web_app.config["ESCROW_CONFIG"], **changes)


def kept(web_app: Flask) -> int:
    """Bytes of the world's organizer's recordings as attached (what their share counts)."""
    with web_app.app_context():
        used = database.db.session.scalar(select(func.sum(Recording.size)).where(
            Recording.rendition == "original", Recording.wrapped_key.is_not(None))) or 0
        database.db.session.remove()
    return int(used)


def fresh_story(web_app: Flask, world: World) -> str:
    """A new sealed story of the world's organizer, without recordings."""
    with web_app.test_request_context():
        archive = current()
        organizer = archive.session.get(users.User, world.user_ids["organizer"])
        assert organizer is not None
        story = stories_service.submit(archive, organizer, stories_service.parse(
            helpers.story(title="Another night shift", embargo_until="2090-01-01")))
        assert story is not None
        story_id = story.id
        database.db.session.remove()
    return story_id


def upload(client: FlaskClient, story_id: str, wav: bytes) -> Any:
    return _post(client, story_id, ("csrf_token", _token(client, story_id).encode(), None), ("recording", wav, "a.wav"))


def assert_refused(web_app: Flask, response: Any, before: dict[str, bytes], status: int, *said: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    page = response.get_data(as_text=True)
    assert all(words in page for words in said), page[:4000]
    assert "nothing was kept" in page
    assert _media(web_app) == before and _recordings(web_app) == WORLD_RECORDINGS


def test_a_story_holding_ten_recordings_refuses_an_eleventh_before_reading_it(
        web_app: Flask, organizer: FlaskClient, world: World) -> None:
    with web_app.app_context():
        session = database.db.session()
        story = stories.get_for(session, session.get(users.User, world.user_ids["organizer"]), world.sealed_id)
        config = web_app.config["ESCROW_CONFIG"]
        with unit() as sealing:
            for _ in range(service.PER_STORY - 1):  # the world's sealed story has one already
                recordings.seal(sealing, story, [tiny_wav()], config.max_recording)
        database.db.session.remove()
    before, count = _media(web_app), _recordings(web_app)

    response = upload(organizer, world.sealed_id, tiny_wav())

    assert response.status_code == 413
    assert "This story already holds 10 recordings, as many as a story may: nothing was kept" in \
        response.get_data(as_text=True).replace("\n", " ")
    assert _media(web_app) == before and _recordings(web_app) == count


def test_a_recording_past_the_accounts_share_is_refused_and_nothing_is_kept(
        web_app: Flask, organizer: FlaskClient, world: World) -> None:
    configure(web_app, account_recordings=2**20)
    wav = tiny_wav(frames=600_000)  # 1.2 MB: past a 1 MiB share with what the account keeps
    before = _media(web_app)

    response = upload(organizer, world.sealed_id, wav)

    assert_refused(web_app, response, before, 413, "would pass the 1 MiB an account may keep")


def test_a_recording_that_would_leave_the_disk_short_of_its_margin_is_refused(
        web_app: Flask, organizer: FlaskClient, world: World) -> None:
    media = web_app.config["ESCROW_CONFIG"].media_root
    configure(web_app, media_free=recordings.free_space(media) + 2**40)  # a terabyte more than it has
    before = _media(web_app)

    response = upload(organizer, world.sealed_id, tiny_wav())

    assert_refused(web_app, response, before, 413, FREE_REFUSAL, "tell an admin")


def test_a_recording_of_unknown_length_is_stopped_when_the_disk_reaches_its_margin(
        web_app: Flask, world: World) -> None:
    """No length declared (nothing is taken ahead): the margin is watched as the file grows, and
    this file's own growth crosses it (the margin is set 64 MiB below what is free now)."""
    media = web_app.config["ESCROW_CONFIG"].media_root
    configure(web_app, media_free=recordings.free_space(media) - 64 * 2**20,
              max_recording=2048 * 2**20)
    before = _media(web_app)

    def pieces() -> Iterator[bytes]:
        yield tiny_wav()[:44]
        for _ in range(2000):  # 2,000 MiB if nothing stopped it: far past the margin, whatever else writes
            yield bytes(2**20)

    with web_app.test_request_context():
        archive = current()
        organizer = archive.session.get(users.User, world.user_ids["organizer"])
        assert organizer is not None
        with pytest.raises(NoRoom, match=FREE_REFUSAL):
            service.attach(archive, organizer, world.sealed_id, pieces())
        database.db.session.remove()
    assert _media(web_app) == before and _recordings(web_app) == WORLD_RECORDINGS


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.integers(min_value=0, max_value=60_000), slack=st.integers(min_value=-70_000, max_value=70_000))
def test_a_recording_is_sealed_exactly_when_it_fits_the_accounts_share(
        web_app: Flask, organizer: FlaskClient, world: World, frames: int, slack: int) -> None:
    """For any recording and any share around what the account keeps with it: sealed when the
    two together fit the share, else refused with nothing kept. Each example sends to a story of
    its own, so that what is measured is the share, never the story's own limit of recordings."""
    story_id = fresh_story(web_app, world)
    wav = tiny_wav(frames=frames)
    used = kept(web_app)
    share = used + 44 + 2 * frames + slack  # the recording's own size is its 44-byte header and samples
    configure(web_app, account_recordings=max(0, share))
    before, count = _media(web_app), _recordings(web_app)

    response = upload(organizer, story_id, wav)

    if used + len(wav) <= share:
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        assert _recordings(web_app) == count + 1
    else:
        assert response.status_code == 413
        assert "an account may keep" in response.get_data(as_text=True)
        assert _media(web_app) == before and _recordings(web_app) == count


class _Held:
    """An upload's body that stops after its first bytes until `go` is set, as a slow client's."""

    def __init__(self, body: bytes, first: int) -> None:
        self.body, self.first, self.at = body, first, 0
        self.go = threading.Event()
        self.waiting = threading.Event()  # set once the server has read all it gets and waits for more

    def tell(self) -> int:
        return self.at

    def seek(self, offset: int, whence: int = 0) -> int:  # (the test client measures the body so)
        self.at = {0: offset, 1: self.at + offset, 2: len(self.body) + offset}[whence]
        return self.at

    def read(self, size: int = -1) -> bytes:
        if self.at >= self.first:
            self.waiting.set()
            if not self.go.wait(timeout=120):
                raise TimeoutError("the test never let the upload go on")
        end = len(self.body) if size < 0 else self.at + size
        if self.at < self.first:
            end = min(end, self.first)
        piece, self.at = self.body[self.at:end], min(end, len(self.body))
        return piece


def test_an_account_sends_two_recordings_at_once_and_a_third_is_refused_until_one_ends(
        web_app: Flask, world: World) -> None:
    clients = [web_app.test_client() for _ in range(3)]
    for client in clients:
        sign_in(client, world.user_ids["organizer"])
    wav = tiny_wav(frames=40_000)
    held, answers, threads = [], [], []
    for client in clients[:2]:
        body, kind = _multipart(("csrf_token", _token(client, world.sealed_id).encode(), None),
                                ("recording", wav, "a.wav"))
        stream = _Held(body, first=len(body) // 2)
        held.append(stream)

        def send(client: FlaskClient = client, stream: _Held = stream, kind: str = kind) -> None:
            answers.append(client.post(f"/my/stories/{world.sealed_id}/recording", input_stream=stream,
                                       content_type=kind))

        threads.append(threading.Thread(target=send))
        threads[-1].start()
    media = web_app.config["ESCROW_CONFIG"].media_root
    try:
        poll("two uploads under way", lambda: len(list(media.glob(".*.partial"))) == 2)
        # Both have written what they were sent and wait for more: their files stand still.
        poll("both uploads waiting", lambda: all(stream.waiting.is_set() for stream in held))
        before = _media(web_app)

        third = upload(clients[2], world.sealed_id, wav)

        assert third.status_code == 429 and third.headers["Retry-After"] == "60"
        assert "You are already sending 2 recordings: wait for one to finish" in third.get_data(as_text=True)
        assert _media(web_app) == before
    finally:
        for stream in held:
            stream.go.set()
        for thread in threads:
            thread.join(timeout=120)
    assert [answer.status_code for answer in answers] == [302, 302]
    assert _recordings(web_app) == WORLD_RECORDINGS + 2
    assert upload(clients[2], world.sealed_id, wav).status_code == 302  # a slot is free again
