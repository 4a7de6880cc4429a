"""A story submitted, previewed, opened and extended through the web leaves nothing readable at rest."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive.storage import database
from tests.helpers import assert_no_canary, canaries
from tests.web.conftest import World, sign_in

TOKEN = re.compile(r'name="((?:\w+-)?csrf_token)" type="hidden" value="([^"]+)"')


def test_the_web_writes_no_sealed_word_to_the_instance_or_the_log(web_app: Flask, client: FlaskClient,
                                                                  world: World, archive_home: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    words = canaries(8)
    story = {"title": words[0], "narrator": f"Ana {words[1]}", "summary": words[2], "interviewer": words[3],
             "place": words[4], "notes": words[5], "tags": words[6], "language": "en", "interview_date": "2019",
             "transcript": f"At [[org:{words[7]}]] we met.", "embargo_date": "2090-01-01",
             "redaction_level": "pseudonymized"}
    sign_in(client, world.user_ids["organizer"])
    with caplog.at_level(logging.DEBUG):
        tokens = dict(TOKEN.findall(client.get("/submit").get_data(as_text=True)))
        client.post("/submit", data={**story, **tokens, "preview": "1"})
        sealed = client.post("/submit", data={**story, **tokens, "seal": "1"})
        path = sealed.headers["Location"]
        page = client.get(path).get_data(as_text=True)
        opened = client.post(f"{path}/open", data=dict(TOKEN.findall(page))).get_data(as_text=True)
        client.post(f"{path}/extend", data={**dict(TOKEN.findall(page)), "extend-until": "2095-01-01",
                                             "extend-reason": "still organizing"})
        client.post("/submit", data={**story, **tokens, "transcript": "[[org:broken", "seal": "1"})
        client.get(f"/search?q={words[0]}")

    assert words[0] in opened  # the owner did read it
    with web_app.app_context():
        database.db.engine.dispose()  # close connections so SQLite folds its write-ahead log in
    web_app.extensions["escrow.index"].close()
    assert_no_canary(archive_home, *words)
    assert not any(w in caplog.text for w in words)
