"""Web fixtures: the real app on a migrated database, people of every role, and their stories.

The app is not kept inside an application context, so each request opens and closes
its own database session, as under gunicorn.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import create_app, db, reading_room, users
from archive.config import Config
from archive.release import gate
from archive.vault import drafts, embargo, keys, stories
from archive.web import auth
from tests.helpers import story

PASSWORD = "correct horse battery staple"
ROLES = {"organizer": ("org@example.org", "organizer"), "other_organizer": ("other@example.org", "organizer"),
         "researcher": ("reader@example.org", "researcher"), "admin": ("admin@example.org", "admin"),
         "admin2": ("admin2@example.org", "admin")}


@dataclass(frozen=True)
class World:
    """Ids of what the fixtures made: user ids by role, a sealed and a released story, a request."""

    user_ids: dict[str, int]
    sealed_id: str
    released_id: str
    request_id: str


@pytest.fixture
def web_app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    yield app
    with app.app_context():
        db.db.engine.dispose()
    app.extensions["escrow.index"].close()


@pytest.fixture
def world(web_app: Flask) -> World:
    """Five accounts; the organizer's sealed story, a released one, and admin2's pending request."""
    with web_app.app_context():
        session = db.db.session()
        ring = keys.unlock(session, web_app.config["ESCROW_CONFIG"])
        ids = {}
        for role, (email, kind) in ROLES.items():
            ids[role] = users.add(session, email, kind, PASSWORD).id
        organizer = session.get(users.User, ids["organizer"])
        assert organizer is not None
        sealed = stories.submit(session, keyring=ring, actor=organizer,
                                draft=drafts.parse(story(title="Sealed night shift", embargo_until="2090-01-01")))
        released = stories.submit(session, keyring=ring, actor=organizer,
                                  draft=drafts.parse(story(title="Released laundry drive",
                                                           embargo_until="2020-01-01")))
        session.commit()
        gate.publish_due(session, ring, reading_room.index(),
                         now=datetime.now(UTC))
        admin2 = session.get(users.User, ids["admin2"])
        assert admin2 is not None
        request = embargo.request(session, ring, admin2, sealed.id, None, "narrator agreed",
                                  now=datetime.now(UTC))
        session.commit()
        world = World(ids, sealed.id, released.id, request.id)
        db.db.session.remove()
    return world


def sign_in(client: FlaskClient, user_id: int) -> None:
    """Put a signed-in session in the client's cookie, as signing in would (of the account's
    current session generation, just signed in)."""
    with client.application.app_context():
        user = db.db.session.get(users.User, user_id)
        assert user is not None
        epoch = user.session_epoch
        db.db.session.remove()
    now = int(time.time())
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session[auth.EPOCH], session[auth.SINCE], session[auth.SEEN] = epoch, now, now


@pytest.fixture
def client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()
