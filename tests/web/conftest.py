"""Web fixtures: the real app on a migrated database, people of every role, and their stories.

The app is not kept inside an application context, so each request opens and closes
its own database session, as under gunicorn.
"""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import create_app
from archive.accounts import users
from archive.config import Config
from archive.release import gate
from archive.storage import database
from archive.vault import drafts, embargo, keys, recordings, stories
from archive.web import auth
from tests.helpers import archive_app, story, unit
from tests.prebuilt import prebuilt

PASSWORD = "correct horse battery staple"
ROLES = {"organizer": ("org@example.org", "organizer"), "other_organizer": ("other@example.org", "organizer"),
         "researcher": ("reader@example.org", "researcher"), "admin": ("admin@example.org", "admin"),
         "admin2": ("admin2@example.org", "admin")}


@dataclass(frozen=True)
class World:
    """Ids of what the fixtures made: user ids by role, a sealed and a released story, a request,
    and a recording of the sealed story."""

    user_ids: dict[str, int]
    sealed_id: str
    released_id: str
    request_id: str
    recording_id: str


# The released story's transcript, timed: its text is tests.helpers.story()'s transcript.
CAPTIONS = ("WEBVTT\n\n00:00:00.000 --> 00:00:00.050\n"
            "I worked at [[org:Harbor Hotel]] with [[person:Maria Lopez|the housekeeper]].\n")


def tiny_wav(frames: int = 800, rate: int = 8000) -> bytes:
    """A tenth of a second of 16-bit mono WAV (a sawtooth): the smallest recording worth sealing."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"".join(((i * 97) % 65536 - 32768).to_bytes(2, "little", signed=True)
                                  for i in range(frames)))
    return out.getvalue()


@pytest.fixture
def web_app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    yield app
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


@prebuilt()
def world(home: Path) -> World:
    """Five accounts; the organizer's sealed story (with a recording), a released one (timed, with
    a muted copy of its recording released), and admin2's pending request."""
    with archive_app(home) as app, app.app_context():
        session = database.db.session()
        ring = keys.unlock(session, app.config["ESCROW_CONFIG"])
        ids = {}
        for role, (email, kind) in ROLES.items():
            ids[role] = users.add(session, email, kind, PASSWORD).id
        organizer = session.get(users.User, ids["organizer"])
        assert organizer is not None
        sealed = stories.submit(session, keyring=ring, actor=organizer,
                                draft=drafts.parse(story(title="Sealed night shift", embargo_until="2090-01-01")))
        timed = {**story(title="Released laundry drive", embargo_until="2020-01-01", recording_release="muted",
                         captions=CAPTIONS)}
        del timed["transcript"]
        released = stories.submit(session, keyring=ring, actor=organizer, draft=drafts.parse(timed))
        config = app.config["ESCROW_CONFIG"]
        with unit() as sealing:
            recordings.seal(sealing, released, [tiny_wav()], config.max_recording)
        with unit() as publishing:
            gate.publish_due(publishing, now=datetime.now(UTC))
        admin2 = session.get(users.User, ids["admin2"])
        assert admin2 is not None
        with unit() as asking:
            request = embargo.request(asking, admin2, sealed.id, None, "narrator agreed")
            recording = recordings.seal(asking, sealed, [tiny_wav()], config.max_recording)
        world = World(ids, sealed.id, released.id, request.id, recording.id)
        database.db.session.remove()
    return world


def sign_in(client: FlaskClient, user_id: int) -> None:
    """Put a signed-in session in the client's cookie, as signing in would (of the account's
    current session generation, just signed in)."""
    with client.application.app_context():
        user = database.db.session.get(users.User, user_id)
        assert user is not None
        generation = user.session_generation
        database.db.session.remove()
    now = int(time.time())
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session[auth.GENERATION], session[auth.SINCE], session[auth.SEEN] = generation, now, now


@pytest.fixture
def client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()
