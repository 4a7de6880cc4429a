"""The story page's "Cite / export" menu and its downloads, through HTTP: only released copies,
the same 404 as an unknown id for anything else, and no byte of what is not released."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from werkzeug.test import TestResponse

from archive import create_app
from archive.config import Config
from archive.storage import database
from tests.helpers import canaries, escrow
from tests.prebuilt import prebuilt
from tests.test_exports import OHMS_SCHEMA, Seeded, _import, seed

FORMATS = {"bibtex": ("application/x-bibtex", ".bib"), "ris": ("application/x-research-info-systems", ".ris"),
           "csl-json": ("application/vnd.citationstyles.csl+json", ".json"),
           "ohms": ("application/xml", ".ohms.xml"), "txt": ("text/plain", ".txt")}
LINK = re.compile(r'href="(/stories/[a-z2-7]+/export/[a-z-]+)"')

# The exports' seeded archive (the same one: built once per session, copied per test).
seeded = prebuilt(name="seeded")(seed)


def _get(client: FlaskClient, path: str, **kwargs: object) -> TestResponse:
    response = client.get(path, **kwargs)
    response.close()
    return response


def _not_found_page(client: FlaskClient) -> bytes:
    response = _get(client, "/stories/nosuchstoryatall")
    assert response.status_code == 404
    return response.data


def _check(fmt: str, text: str) -> None:
    """Each format parses as what it claims to be."""
    if fmt == "csl-json":
        assert json.loads(text)[0]["type"] == "interview"
    elif fmt == "ohms":
        OHMS_SCHEMA.assertValid(etree.fromstring(text.encode("utf-8")))
    elif fmt == "ris":
        assert text.startswith("TY  - GEN\r\n") and text.endswith("ER  - \r\n")
    elif fmt == "bibtex":
        assert text.startswith("@misc{escrow-")


def test_every_export_of_every_released_story_holds_no_unreleased_word(seeded: Seeded, client: FlaskClient) -> None:
    fetched = []
    for level, story_id in seeded.released.items():
        for fmt, (mimetype, extension) in FORMATS.items():
            if fmt == "txt" and level == "summary":
                continue
            response = _get(client, f"/stories/{story_id}/export/{fmt}")
            assert response.status_code == 200, (level, fmt)
            assert response.mimetype == mimetype and response.mimetype_params.get("charset") == "utf-8"
            assert response.headers["Content-Disposition"] == f"attachment; filename=escrow-{story_id}{extension}"
            text = response.get_data(as_text=True)
            _check(fmt, text)
            fetched.append(text)

    everything = "\n".join(fetched)
    assert len(fetched) == 19
    assert not [w for w in seeded.words if w in everything]
    assert "New Haven" not in everything  # the place is in no export, even at level full
    assert "I worked at Harbor Hotel." in everything  # the full copy's transcript, as released


def test_the_citations_point_at_the_story_page_of_the_address_they_were_asked_at(seeded: Seeded,
                                                                                  client: FlaskClient) -> None:
    story_id = seeded.released["full"]

    item = json.loads(_get(client, f"/stories/{story_id}/export/csl-json").data)[0]

    assert item["URL"] == f"http://localhost/stories/{story_id}"
    assert item["author"] == [{"literal": "Rosa Example"}] and item["issued"] == {"date-parts": [[2019, 5, 1]]}


def test_the_configured_base_url_is_the_one_cited(seeded: Seeded, config: Config) -> None:
    app = create_app(dataclasses.replace(config, base_url="https://archive.example.org"))
    story_id = seeded.released["redacted"]
    try:
        client = app.test_client()
        bibtex = _get(client, f"/stories/{story_id}/export/bibtex",
                      base_url="https://archive.example.org").get_data(as_text=True)
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()

    assert f"url = {{https://archive.example.org/stories/{story_id}}}" in bibtex
    assert "author = {{Anonymous narrator}}" in bibtex and "year = {2019}" in bibtex
    assert "Interviewed by" not in bibtex  # the interviewer is not released at level redacted


@pytest.mark.parametrize("which", ["sealed", "review", "taken_down", "withdrawn", "unknown"])
def test_an_unreleased_story_is_the_same_404_as_an_unknown_id_in_every_format(seeded: Seeded, client: FlaskClient,
                                                                               which: str) -> None:
    story_id = seeded.hidden.get(which, "a" * 16)
    page = _not_found_page(client)

    for fmt in [*FORMATS, "pdf"]:
        response = _get(client, f"/stories/{story_id}/export/{fmt}")
        assert (response.status_code, response.data) == (404, page), fmt
        assert "ETag" not in response.headers and "Content-Disposition" not in response.headers
        assert not [w for w in seeded.words if w.encode() in response.data]


@pytest.mark.parametrize("fmt", ["pdf", "BIBTEX", "bibtex.bak", "..", "x" * 300])
def test_an_unknown_format_of_a_released_story_is_the_same_404(seeded: Seeded, client: FlaskClient, fmt: str) -> None:
    response = _get(client, f"/stories/{seeded.released['full']}/export/{fmt}")

    assert (response.status_code, response.data) == (404, _not_found_page(client))


def test_a_summary_only_story_has_no_transcript_to_export(seeded: Seeded, client: FlaskClient) -> None:
    response = _get(client, f"/stories/{seeded.released['summary']}/export/txt")

    assert (response.status_code, response.data) == (404, _not_found_page(client))


def test_an_unchanged_export_answers_304_to_its_etag(seeded: Seeded, client: FlaskClient) -> None:
    path = f"/stories/{seeded.released['pseudonymized']}/export/ris"
    first = _get(client, path)
    etag = first.headers["ETag"]

    again = _get(client, path, headers={"If-None-Match": etag})
    other = _get(client, path, headers={"If-None-Match": '"something-else"'})
    bibtex = _get(client, f"/stories/{seeded.released['pseudonymized']}/export/bibtex")

    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert other.status_code == 200 and other.data == first.data
    assert bibtex.headers["ETag"] != etag


def test_the_story_page_offers_only_the_exports_that_exist_without_javascript(seeded: Seeded,
                                                                             client: FlaskClient) -> None:
    full = _get(client, f"/stories/{seeded.released['full']}").get_data(as_text=True)
    summary = _get(client, f"/stories/{seeded.released['summary']}").get_data(as_text=True)

    assert "<details" in full and "<summary>Cite / export</summary>" in full
    offered = LINK.findall(full)
    assert sorted(p.rsplit("/", 1)[1] for p in offered) == sorted(FORMATS)
    assert sorted(p.rsplit("/", 1)[1] for p in LINK.findall(summary)) == sorted(set(FORMATS) - {"txt"})
    for path in offered + LINK.findall(summary):
        assert _get(client, path).status_code == 200, path


CUE_TIMING = re.compile(r"((?:\d{2,}:)?\d{2}:\d{2}\.\d{3}) --> ((?:\d{2,}:)?\d{2}:\d{2}\.\d{3})(?: [^\n]*)?")


def _webvtt_cues(text: str) -> list[tuple[str, str, str]]:
    """The (start, end, text) of each cue of a WebVTT file, once it reads as one: the WEBVTT
    line, then blocks apart by blank lines, each an optional identifier, a timing line and text
    lines holding no arrow, starts in order and each end after its start."""
    assert text.startswith("WEBVTT") and text.endswith("\n") and "\r" not in text and "\x00" not in text
    header, *blocks = text.rstrip("\n").split("\n\n")
    first = header.split("\n")[0]
    assert first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t"))
    cues, last = [], ""
    for block in blocks:
        lines = block.split("\n")
        if "-->" not in lines[0]:
            lines = lines[1:]  # a cue identifier
        timing = CUE_TIMING.fullmatch(lines[0])
        assert timing is not None, block
        start, end = timing.groups()
        assert start.zfill(12) < end.zfill(12) and start.zfill(12) >= last, block
        assert lines[1:] and all(line.strip() and "-->" not in line for line in lines[1:]), block
        cues.append((start, end, "\n".join(lines[1:])))
        last = start.zfill(12)
    return cues


@pytest.mark.parametrize("level, shown", [("redacted", "[redacted]"), ("pseudonymized", "the steward")])
def test_a_timed_storys_webvtt_keeps_its_cue_times_and_hides_what_its_level_hides(
        seeded: Seeded, client: FlaskClient, level: str, shown: str) -> None:
    [hidden, narrator] = canaries(2)
    captions = ("WEBVTT\n\n"
                "00:00:01.000 --> 00:00:04.500\nWe met at the church hall on Thursdays.\n\n"
                f"00:00:05.000 --> 00:00:09.250\n[[person:Lee {hidden}|the steward]] kept the sheets.\n")
    story_id = _import(seeded.home, title="Timed sheets", narrator=f"Ana {narrator}", transcript="",
                       captions=captions, redaction_level=level, embargo_until="2020-01-01T00:00:00Z")
    assert escrow(seeded.home, "publish-due").exit_code == 0

    vtt = _get(client, f"/stories/{story_id}/export/vtt")
    txt = _get(client, f"/stories/{story_id}/export/txt")
    page = _get(client, f"/stories/{story_id}").get_data(as_text=True)

    assert vtt.status_code == 200 and vtt.mimetype == "text/vtt" and vtt.mimetype_params["charset"] == "utf-8"
    assert vtt.headers["Content-Disposition"] == f"attachment; filename=escrow-{story_id}.vtt"
    cues = _webvtt_cues(vtt.get_data(as_text=True))
    assert [(start, end) for start, end, _ in cues] == [("00:00:01.000", "00:00:04.500"),
                                                        ("00:00:05.000", "00:00:09.250")]
    assert cues[1][2] == f"{shown} kept the sheets."
    # The transcript export of a timed story is its cues' text, plain, without times.
    assert txt.status_code == 200 and txt.mimetype == "text/plain"
    assert txt.get_data(as_text=True) == f"We met at the church hall on Thursdays.\n{shown} kept the sheets.\n"
    assert f"/stories/{story_id}/export/vtt" in page
    for response in (vtt, txt):
        assert hidden.encode() not in response.data and narrator.encode() not in response.data
    assert b"-->" not in txt.data


def test_an_untimed_story_has_a_plain_text_transcript_and_no_webvtt(seeded: Seeded, client: FlaskClient) -> None:
    story_id = seeded.released["full"]

    txt = _get(client, f"/stories/{story_id}/export/txt")
    vtt = _get(client, f"/stories/{story_id}/export/vtt")

    assert txt.status_code == 200 and txt.mimetype == "text/plain"
    assert txt.get_data(as_text=True) == "I worked at Harbor Hotel.\nWe struck in May.\n"
    assert (vtt.status_code, vtt.data) == (404, _not_found_page(client))
    assert "/export/vtt" not in _get(client, f"/stories/{story_id}").get_data(as_text=True)


@pytest.fixture
def closed_app(config: Config) -> Iterator[Flask]:
    app = create_app(dataclasses.replace(config, reading_room="signed-in"))
    yield app
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


def test_a_signed_in_reading_room_sends_anonymous_exporters_to_sign_in(seeded: Seeded, closed_app: Flask) -> None:
    response = _get(closed_app.test_client(), f"/stories/{seeded.released['full']}/export/bibtex")

    assert response.status_code == 302 and "/login" in response.headers["Location"]
