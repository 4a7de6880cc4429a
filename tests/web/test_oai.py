"""The OAI-PMH provider (/oai), black-box: harvested by an independent client (Sickle) over a
real socket, and asked every question the protocol allows and many it does not.

A world with canary words: released stories at every level (a hidden span at `redacted`),
sealed, due-for-review, taken-down and withdrawn ones. Harvests see the released copies and
the deleted headers of the taken-back, nothing of the rest, and every response validates
against the OAI-PMH schema, and every `oai_dc:dc` in it against the oai_dc schema.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server

from archive import create_app, services
from archive.accounts.users import User
from archive.config import Config
from archive.errors import InvalidInput
from archive.reading_room.models import ReleasedStory, RoomRecord
from archive.services import authentication, tokens
from archive.storage import database
from archive.web.oai.protocol import SETTLE
from archive.web.oai.resumption import TOKEN_SALT
from tests.helpers import add_users, archive_app, canaries, escrow, one, sql, story, write_lines
from tests.prebuilt import prebuilt
from tests.web.conftest import sign_in

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
NS = {"o": OAI, "oai_dc": OAI_DC, "dc": DC}
SCHEMAS = Path(__file__).parent.parent / "schemas" / "oai"
ENVELOPE = etree.XMLSchema(etree.parse(str(SCHEMAS / "OAI-PMH.xsd")))
DUBLIN_CORE = etree.XMLSchema(etree.parse(str(SCHEMAS / "oai_dc.xsd")))
ORG, ADMIN, READER = "org@example.org", "admin@example.org", "reader@example.org"
PAST, FUTURE = "2020-01-01T00:00:00Z", "2090-01-01T00:00:00Z"
VERBS = ("Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers", "ListRecords")
ARGUMENTS = ("verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?")
RESPONSE_DATE = re.compile(rb"<responseDate>[^<]*</responseDate>")


# -- the world ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Seeded:
    """An archive with released stories at every level and others that must never show."""

    home: Path
    released: dict[str, str]  # level -> story id
    hidden: dict[str, str]  # sealed, review -> story id (never released)
    gone: dict[str, str]  # taken_down, withdrawn -> story id (released once)
    words: list[str]  # canaries: in the unreleased stories and in spans hidden at each level

    @property
    def harvestable(self) -> set[str]:
        return {*self.released.values(), *self.gone.values()}


def _import(home: Path, *lines: dict[str, Any]) -> list[str]:
    """Import story lines through the command line; their ids, in order."""
    before = one(home, "SELECT count(*) FROM audit_log WHERE action = 'story.import'")
    file = write_lines(home.parent / f"stories-{secrets.token_hex(4)}.jsonl", *lines)
    result = escrow(home, "stories", "import", str(file), "--as", ORG)
    assert result.exit_code == 0, result.output
    rows = sql(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq")
    return [row[0] for row in rows[before:]]


def seed(home: Path) -> Seeded:
    """Import, publish and take back stories through the command line, as an operator would."""
    add_users(home, (ORG, "organizer"), (ADMIN, "admin"), (READER, "researcher"))
    w = canaries(15)
    levels = ("full", "pseudonymized", "redacted", "summary", "sealed", "review", "taken_down", "withdrawn")
    ids = dict(zip(levels, _import(
        home,
        story(title="Harbor strike", narrator="Rosa Example", place="New Haven", redaction_level="full",
              transcript="I worked at [[org:Harbor Hotel]].", tags=["hotel", "strike"], embargo_until=PAST),
        story(title="Night shift", narrator=f"Ana {w[0]}", interviewer=f"Jo {w[1]}", place=w[2],
              transcript=f"At [[org:{w[3]}]] with [[person:Lee {w[4]}]].", redaction_level="pseudonymized",
              embargo_until=PAST),
        story(title="Laundry drive", narrator=f"Bo {w[5]}", interviewer=f"Kim {w[6]}", place=w[7],
              transcript=f"[[person:Canaryname7]] and [[person:Ray {w[8]}]] told [[place:{w[9]}]] to wait.",
              summary="[[person:Canaryname7]] organised the laundry.", redaction_level="redacted",
              embargo_until=PAST),
        story(title="Picket line", narrator=f"Cy {w[10]}", transcript=f"Only {w[11]} here.",
              summary="A picket in winter.", redaction_level="summary", embargo_until=PAST),
        story(title=f"Sealed {w[12]}", narrator=w[12], transcript=w[12], summary=w[12], embargo_until=FUTURE),
        story(title=f"Review {w[13]}", transcript=w[13], release_review=True, embargo_until=PAST),
        story(title="Down", transcript="Taken back later.", embargo_until=PAST),
        story(title=f"Gone {w[14]}", transcript=w[14], embargo_until=PAST),
    ), strict=True))
    published = escrow(home, "publish-due")
    assert published.exit_code == 0, published.output
    for name, command in (("taken_down", "takedown"), ("withdrawn", "withdraw")):
        done = escrow(home, "stories", command, ids[name], "--reason", "consent", "--as", ADMIN)
        assert done.exit_code == 0, done.output
    return Seeded(home, {k: ids[k] for k in levels[:4]}, {k: ids[k] for k in ("sealed", "review")},
                  {k: ids[k] for k in ("taken_down", "withdrawn")}, [*w, "Canaryname7"])


def restamp(app: Flask, stamps: Callable[[str, datetime], datetime]) -> None:
    """Move room records' datestamps (and the released copies' instants) as if released then."""
    with app.app_context():
        session = database.db.session()
        for record in session.scalars(select(RoomRecord)):
            record.datestamp = stamps(record.story_id, record.datestamp)
            copy_ = session.get(ReleasedStory, record.story_id)
            if copy_ is not None:
                copy_.released_at = record.datestamp
        session.commit()
        database.db.session.remove()


@pytest.fixture
def oai_app(web_app: Flask) -> Flask:
    web_app.config["ESCROW_OAI_PAGE_SIZE"] = 2
    return web_app


@prebuilt()
def seeded(home: Path) -> Seeded:
    """The world, released an hour ago: every record is older than any harvest's bound. Built
    once per session (tests.prebuilt): each test reads, or changes, a copy."""
    world = seed(home)
    with archive_app(home) as app:
        restamp(app, lambda _, stamp: stamp - timedelta(hours=1))
    return world


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app behind a real WSGI server on a free port of 127.0.0.1; its /oai address."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/oai"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class RecordingSickle(Sickle):
    """Sickle, keeping every response body it received."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, timeout=60, **kwargs)
        self.bodies: list[bytes] = []

    def harvest(self, **kwargs: Any) -> Any:
        response = super().harvest(**kwargs)
        self.bodies.append(response.http_response.content)
        return response


def identifier(story_id: str, host: str = "localhost") -> str:
    return f"oai:{host}:{story_id}"


def story_id(oai_identifier: str) -> str:
    return oai_identifier.rsplit(":", 1)[1]


# -- what every response must be ---------------------------------------------------------

def valid(body: bytes) -> etree._Element:
    """The parsed response, once the envelope validates and every oai_dc:dc in it does too."""
    document = etree.fromstring(body)
    ENVELOPE.assertValid(document)
    for metadata in document.iter(f"{{{OAI}}}metadata"):
        assert [child.tag for child in metadata] == [f"{{{OAI_DC}}}dc"]
        DUBLIN_CORE.assertValid(etree.ElementTree(copy.deepcopy(metadata[0])))
    return document


def ask(client: FlaskClient, method: str = "GET", **arguments: str) -> tuple[bytes, etree._Element]:
    """One request; its body (checked: 200, XML, valid) and its parsed document."""
    if method == "GET":
        response = client.get("/oai", query_string=arguments)
    else:
        response = client.post("/oai", data=arguments)
    with response:
        assert response.status_code == 200, response.status_code
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        body = response.get_data()
    return body, valid(body)


def error_of(document: etree._Element) -> str | None:
    found = document.find("o:error", NS)
    return None if found is None else found.get("code")


def request_of(document: etree._Element) -> dict[str, str]:
    found = document.find("o:request", NS)
    assert found is not None
    return dict(found.attrib)


def headers_of(document: etree._Element) -> list[tuple[str, str, bool]]:
    return [(h.findtext("o:identifier", namespaces=NS) or "", h.findtext("o:datestamp", namespaces=NS) or "",
             h.get("status") == "deleted") for h in document.iter(f"{{{OAI}}}header")]


def token_of(document: etree._Element) -> etree._Element | None:
    return document.find(".//o:resumptionToken", NS)


def without_response_date(body: bytes) -> bytes:
    assert len(RESPONSE_DATE.findall(body)) == 1
    return RESPONSE_DATE.sub(b"", body)


def harvest_all(client: FlaskClient, verb: str = "ListIdentifiers",
                **arguments: str) -> tuple[list[bytes], list[etree._Element]]:
    """A whole list by its tokens, page by page (the test client); bodies and documents."""
    bodies, documents = [], []
    body, document = ask(client, verb=verb, metadataPrefix="oai_dc", **arguments)
    while True:
        bodies.append(body)
        documents.append(document)
        token = token_of(document)
        if token is None or not token.text:
            return bodies, documents
        body, document = ask(client, verb=verb, resumptionToken=token.text)


# -- harvesting ----------------------------------------------------------------------------

def test_a_full_harvest_in_pages_of_two_holds_released_copies_and_deleted_headers_only(
        oai_app: Flask, seeded: Seeded) -> None:
    with serving(oai_app) as endpoint:
        harvester = RecordingSickle(endpoint)
        records = list(harvester.ListRecords(metadataPrefix="oai_dc"))
        identifiers = list(harvester.ListIdentifiers(metadataPrefix="oai_dc"))
        formats = list(harvester.ListMetadataFormats())
        identify = harvester.Identify()

    assert [story_id(r.header.identifier) for r in records] == [story_id(h.identifier) for h in identifiers]
    assert sorted(story_id(r.header.identifier) for r in records) == sorted(seeded.harvestable)
    deleted = {story_id(r.header.identifier) for r in records if r.header.deleted}
    assert deleted == set(seeded.gone.values())
    assert all((r.xml.find(f".//{{{OAI}}}metadata") is None) == r.header.deleted for r in records)
    assert [f.metadataPrefix for f in formats] == ["oai_dc"]
    assert identify.deletedRecord == "persistent" and identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    # Six records in pages of two: three pages for each list, the last with the empty token.
    assert len(harvester.bodies) == 3 + 3 + 2
    for body in harvester.bodies:
        valid(body)
        for word in [*seeded.words, *seeded.hidden.values(), "New Haven"]:
            assert word.encode() not in body, word
    pages = [etree.fromstring(body) for body in harvester.bodies[:3]]
    tokens = [token_of(page) for page in pages]
    assert all(t is not None for t in tokens)
    assert [(t.get("cursor"), t.get("completeListSize")) for t in tokens if t is not None] == [
        ("0", "6"), ("2", "6"), ("4", "6")]
    last = tokens[-1]
    assert last is not None and last.text is None and last.get("expirationDate") is None and len(last) == 0
    assert all(t is not None and t.text and t.get("expirationDate") for t in tokens[:2])
    # Every page of one harvest answers as of the instant the harvest was pinned to.
    assert len({page.findtext("o:responseDate", namespaces=NS) for page in pages}) == 1


def test_records_carry_only_the_released_copy_in_dublin_core(oai_app: Flask, client: FlaskClient,
                                                            seeded: Seeded) -> None:
    fields = {}
    for level, found in seeded.released.items():
        _, document = ask(client, verb="GetRecord", identifier=identifier(found), metadataPrefix="oai_dc")
        dc = document.find(".//oai_dc:dc", NS)
        assert dc is not None
        fields[level] = {child.tag.split("}")[1]: [c.text for c in dc if c.tag == child.tag] for child in dc}

    assert fields["full"]["creator"] == ["Rosa Example"]
    assert fields["full"]["contributor"] == ["J. Kim"]
    assert fields["full"]["date"] == ["2019-05-01"]
    assert fields["full"]["subject"] == ["hotel", "strike"]
    assert fields["full"]["identifier"] == [f"http://localhost/stories/{seeded.released['full']}"]
    for level in ("pseudonymized", "redacted", "summary"):
        assert fields[level]["date"] == ["2019"], level
        assert "contributor" not in fields[level], level
    assert fields["redacted"]["creator"] == ["Anonymous narrator"]
    assert fields["redacted"]["description"] == ["[redacted] organised the laundry."]
    assert fields["redacted"]["type"] == ["Text", "oral history"]
    assert all(fields[level]["language"] == ["en"] for level in fields)
    assert all(len(fields[level]["rights"]) == 1 for level in fields)


def test_a_story_never_released_is_the_same_idDoesNotExist_as_a_random_id(client: FlaskClient,
                                                                        seeded: Seeded) -> None:
    def answer(oai_identifier: str, verb: str = "GetRecord") -> bytes:
        extra = {"metadataPrefix": "oai_dc"} if verb == "GetRecord" else {}
        body, document = ask(client, verb=verb, identifier=oai_identifier, **extra)
        assert error_of(document) == "idDoesNotExist"
        return without_response_date(body)

    for verb in ("GetRecord", "ListMetadataFormats"):
        unknown = answer(identifier(secrets.token_hex(8)), verb)
        for name, hidden in seeded.hidden.items():
            assert answer(identifier(hidden), verb) == unknown, name
        for malformed in ("oai:elsewhere.org:abc", "abc", f"oai:localhost:{'a' * 33}", "oai:localhost:",
                          f"oai:localhost:{seeded.released['full']}/x", "oai:localhost:é", "<x>"):
            assert answer(malformed, verb) == unknown, malformed
    # Never released: in no list either.
    bodies, _ = harvest_all(client, "ListRecords")
    assert not any(hidden.encode() in body for hidden in seeded.hidden.values() for body in bodies)


def test_text_xml_cannot_carry_is_left_out_and_a_record_without_its_copy_is_a_deletion(
        oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    with oai_app.app_context():
        session = database.db.session()
        shown = session.get(ReleasedStory, seeded.released["full"])
        lost = session.get(ReleasedStory, seeded.released["summary"])
        assert shown is not None and lost is not None
        # NUL only where the database takes it (PostgreSQL's text cannot hold one).
        nul = "\x00" if session.get_bind().dialect.name == "sqlite" else ""
        shown.title, shown.summary, shown.tags = f"Night{nul} shift\x0b\ufffe", "\x1f", '["\\u0001", "ok"]'
        session.delete(lost)  # never committed by the gate without its record; shown safely if it were
        session.commit()
        database.db.session.remove()

    _, record = ask(client, verb="GetRecord", identifier=identifier(seeded.released["full"]), metadataPrefix="oai_dc")
    _, orphan = ask(client, verb="GetRecord", identifier=identifier(seeded.released["summary"]),
                    metadataPrefix="oai_dc")

    assert record.findtext(".//dc:title", namespaces=NS) == "Night shift"
    assert record.find(".//dc:description", NS) is None
    assert [s.text for s in record.iterfind(".//dc:subject", NS)] == ["ok"]
    header = orphan.find(".//o:header", NS)
    assert header is not None and header.get("status") == "deleted" and orphan.find(".//o:metadata", NS) is None


def test_withdrawing_a_story_taken_down_before_changes_nothing_a_harvester_sees(client: FlaskClient,
                                                                                 seeded: Seeded) -> None:
    """The story left the reading room at its takedown; a later withdrawal (consent, a sealed
    story's business) must not move its deleted header's datestamp, or an incremental harvest
    would show that, and when, something happened to it."""
    gone = identifier(seeded.gone["taken_down"])
    _, before = ask(client, verb="GetRecord", identifier=gone, metadataPrefix="oai_dc")
    [(_, stamped, _)] = headers_of(before)
    _, listed = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")

    withdrawn = escrow(seeded.home, "stories", "withdraw", seeded.gone["taken_down"], "--reason", "consent",
                       "--as", ADMIN)

    assert withdrawn.exit_code == 0, withdrawn.output
    _, after = ask(client, verb="GetRecord", identifier=gone, metadataPrefix="oai_dc")
    assert headers_of(after) == headers_of(before) and headers_of(after)[0][1] == stamped
    _, again = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert headers_of(again) == headers_of(listed)


def test_a_deleted_record_is_a_header_for_ever_and_has_no_metadata_format(client: FlaskClient,
                                                                      seeded: Seeded) -> None:
    for name, gone in seeded.gone.items():
        body, document = ask(client, verb="GetRecord", identifier=identifier(gone), metadataPrefix="oai_dc")
        header = document.find(".//o:record/o:header", NS)
        assert header is not None and header.get("status") == "deleted", name
        assert [child.tag.split("}")[1] for child in header] == ["identifier", "datestamp"]
        assert document.find(".//o:metadata", NS) is None
        _, formats = ask(client, verb="ListMetadataFormats", identifier=identifier(gone))
        assert error_of(formats) == "noMetadataFormats"
        assert request_of(formats) == {"verb": "ListMetadataFormats", "identifier": identifier(gone)}
        for word in seeded.words:
            assert word.encode() not in body


def test_a_story_released_between_two_pages_waits_for_the_next_incremental_harvest(
        oai_app: Flask, seeded: Seeded) -> None:
    with serving(oai_app) as endpoint:
        harvester = RecordingSickle(endpoint)
        first = iter(harvester.ListIdentifiers(metadataPrefix="oai_dc"))  # the first page is fetched
        seen = [next(first), next(first)]
        # Between the first and the second page: a new release, and a takedown of a record
        # the harvest has not reached yet.
        [late] = _import(seeded.home, story(title="Late release", embargo_until=PAST))
        assert escrow(seeded.home, "publish-due").output.startswith("released 1,")
        unreached = next(s for s in seeded.released.values()
                         if s not in {story_id(h.identifier) for h in seen})
        taken = escrow(seeded.home, "stories", "takedown", unreached, "--reason", "legal", "--as", ADMIN)
        assert taken.exit_code == 0, taken.output
        seen += list(first)
        harvested = [story_id(h.identifier) for h in seen]
        response_date = etree.fromstring(harvester.bodies[0]).findtext("o:responseDate", namespaces=NS)
        assert response_date is not None

        # Nothing twice; neither the late release nor the takedown (both stamped after the
        # harvest's bound) in this harvest: they are the next one's.
        assert sorted(harvested) == sorted(seeded.harvestable - {unreached})
        assert len(harvested) == len(set(harvested)) and late not in harvested

        # The next incremental harvest, a little later, from the first one's responseDate.
        later = datetime.now(UTC) + SETTLE + timedelta(seconds=2)
        oai_app.config["ESCROW_OAI_CLOCK"] = lambda: later
        second = [(story_id(h.identifier), h.deleted)
                  for h in harvester.ListIdentifiers(metadataPrefix="oai_dc", **{"from": response_date})]
        third_from = etree.fromstring(harvester.bodies[-1]).findtext("o:responseDate", namespaces=NS)
        assert third_from is not None
        oai_app.config["ESCROW_OAI_CLOCK"] = lambda: later + timedelta(minutes=5)
        with pytest.raises(NoRecordsMatch):
            list(harvester.ListIdentifiers(metadataPrefix="oai_dc", **{"from": third_from}))

    assert sorted(second) == sorted([(late, False), (unreached, True)])
    for body in harvester.bodies:
        valid(body)


def test_the_complete_list_size_follows_a_takedown_of_a_record_not_yet_sent(
        oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    """A record taken down between two pages leaves the list (its datestamp passes the
    harvest's bound): the pages after say so in completeListSize, and the harvester receives
    exactly that many records. One taken down after it was sent stays counted: it was sent."""
    _, first = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    size = int(token.get("completeListSize") or 0)
    assert size == len(seeded.harvestable)
    sent = [story_id(found) for found, _, _ in headers_of(first)]
    unreached = next(s for s in seeded.released.values() if s not in sent)
    reached = next(s for s in seeded.released.values() if s in sent)
    for taken in (unreached, reached):
        done = escrow(seeded.home, "stories", "takedown", taken, "--reason", "legal", "--as", ADMIN)
        assert done.exit_code == 0, done.output

    pages = []
    while token is not None and token.text:
        _, document = ask(client, verb="ListIdentifiers", resumptionToken=token.text)
        pages.append(document)
        token = token_of(document)
    received = sent + [story_id(found) for page in pages for found, _, _ in headers_of(page)]

    tokens_ = [token_of(page) for page in pages]
    assert all(t is not None for t in tokens_)  # the last page ends the list with the empty token
    assert {int(t.get("completeListSize") or -1) for t in tokens_ if t is not None} == {size - 1}
    assert len(received) == size - 1 and unreached not in received and reached in received


def test_a_list_that_fits_one_page_has_no_token(oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    oai_app.config["ESCROW_OAI_PAGE_SIZE"] = 6
    _, document = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert len(headers_of(document)) == 6 and token_of(document) is None
    oai_app.config["ESCROW_OAI_PAGE_SIZE"] = 5
    bodies, documents = harvest_all(client)
    assert [len(headers_of(d)) for d in documents] == [5, 1]
    last = token_of(documents[-1])
    assert last is not None and last.text is None
    assert (last.get("cursor"), last.get("completeListSize")) == ("5", "6")


def test_a_page_carries_a_token_only_when_a_record_follows_it(oai_app: Flask, client: FlaskClient,
                                                              seeded: Seeded) -> None:
    for size, pages in ((3, [3, 3]), (6, [6]), (2, [2, 2, 2])):
        oai_app.config["ESCROW_OAI_PAGE_SIZE"] = size
        for verb in ("ListIdentifiers", "ListRecords"):
            _, documents = harvest_all(client, verb)
            assert [len(headers_of(d)) for d in documents] == pages, (size, verb)
            assert all(error_of(d) is None for d in documents)
            tokens_ = [token_of(d) for d in documents]
            assert all(t is not None and t.text for t in tokens_[:-1])
            last = tokens_[-1]
            # One page: no token at all; several: the last one ends the list with the empty token.
            assert (last is None) if len(pages) == 1 else (last is not None and last.text is None), (size, verb)


def test_a_list_whose_remaining_records_changed_meanwhile_says_to_harvest_again(
        oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    """Page 1 holds A..E and a token; F is taken down before the token comes back. Its datestamp
    is now past the harvest's bound, so nothing of the list is left: the answer is not
    noRecordsMatch (which ends the list without its empty token) but badResumptionToken, saying
    to harvest again from the first response's responseDate, where F is a deleted header."""
    last = seeded.released["full"]
    restamp(oai_app, lambda story, stamp: stamp + timedelta(minutes=30) if story == last else stamp)
    oai_app.config["ESCROW_OAI_PAGE_SIZE"] = 5
    for verb in ("ListIdentifiers", "ListRecords"):
        _, first = ask(client, verb=verb, metadataPrefix="oai_dc")
        token = token_of(first)
        assert token is not None and token.text
        assert last not in {story_id(found) for found, _, _ in headers_of(first)}
        assert first.findtext("o:responseDate", namespaces=NS) is not None
    # The ListRecords harvest's first page and token, kept across the takedown.
    response_date = first.findtext("o:responseDate", namespaces=NS) or ""
    taken = escrow(seeded.home, "stories", "takedown", last, "--reason", "legal", "--as", ADMIN)
    assert taken.exit_code == 0, taken.output

    _, resumed = ask(client, verb="ListRecords", resumptionToken=token.text)

    assert error_of(resumed) == "badResumptionToken"
    message = resumed.findtext("o:error", namespaces=NS) or ""
    assert "changed after the harvest began" in message and f"from={response_date}" in message
    assert request_of(resumed) == {"verb": "ListRecords"}
    assert resumed.findtext("o:responseDate", namespaces=NS) == response_date
    # Harvesting again from that responseDate (a little later, past the takedown's stamp) finds
    # the record taken down as a deleted header with its new datestamp, and the list ends.
    later = datetime.now(UTC) + SETTLE + timedelta(seconds=2)
    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: later
    _, documents = harvest_all(client, "ListRecords", **{"from": response_date})
    assert [(story_id(found), deleted) for d in documents for found, _, deleted in headers_of(d)] == [(last, True)]
    assert all(stamp >= response_date for d in documents for _, stamp, _ in headers_of(d))


# -- errors --------------------------------------------------------------------------------

BAD_DATES = ("2020-13-01", "2020-02-30", "0000-01-01", "2020-1-1", "20200101", "2020-01-01T00:00:00",
             "2020-01-01T00:00Z", "2020-01-01T24:00:00Z", "2020-01-01 00:00:00Z", "2020-01-01T00:00:00+00:00",
             "2020-01-01t00:00:00z", "２０２０-01-01", " 2020-01-01")
FINER = ("2020-01-01T00:00:00.5Z", "2020-01-01T00:00:00.000Z")


def _error_cases(seeded: Seeded, token: str) -> list[tuple[list[tuple[str, str]], str, dict[str, str]]]:
    """(arguments, error code, the request element's attributes) for every error code."""
    gone, shown = identifier(seeded.gone["withdrawn"]), identifier(seeded.released["full"])
    lr = [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")]
    cases: list[tuple[list[tuple[str, str]], str, dict[str, str]]] = [
        ([], "badVerb", {}),
        ([("verb", "Nonsense")], "badVerb", {}),
        ([("verb", "identify")], "badVerb", {}),
        ([("verb", "Identify"), ("verb", "Identify")], "badVerb", {}),
        ([("verb", "")], "badVerb", {}),
        ([("verb", "Identify"), ("metadataPrefix", "oai_dc")], "badArgument", {}),
        ([("verb", "Identify"), ("foo", "bar")], "badArgument", {}),
        ([("verb", "ListRecords")], "badArgument", {}),
        ([("verb", "ListIdentifiers"), ("from", "2020-01-01")], "badArgument", {}),
        ([*lr, ("metadataPrefix", "oai_dc")], "badArgument", {}),
        ([*lr, ("from", "2020-01-01"), ("from", "2020-01-01")], "badArgument", {}),
        ([*lr, ("from", "2020-01-02"), ("until", "2020-01-01")], "badArgument", {}),
        ([*lr, ("from", "2020-01-01T00:00:01Z"), ("until", "2020-01-01T00:00:00Z")], "badArgument", {}),
        ([*lr, ("from", "2020-01-01"), ("until", "2020-01-02T00:00:00Z")], "badArgument", {}),
        ([*lr, ("identifier", shown)], "badArgument", {}),
        ([*lr, ("from", "")], "badArgument", {}),
        ([("verb", "GetRecord"), ("identifier", shown)], "badArgument", {}),
        ([("verb", "GetRecord"), ("metadataPrefix", "oai_dc")], "badArgument", {}),
        ([("verb", "GetRecord"), ("identifier", shown), ("metadataPrefix", "oai_dc"), ("from", "2020-01-01")],
         "badArgument", {}),
        ([("verb", "ListMetadataFormats"), ("metadataPrefix", "oai_dc")], "badArgument", {}),
        ([("verb", "ListRecords"), ("resumptionToken", token), ("metadataPrefix", "oai_dc")], "badArgument", {}),
        ([("verb", "ListRecords"), ("resumptionToken", token), ("resumptionToken", token)], "badArgument", {}),
        ([("verb", "ListSets"), ("resumptionToken", "x"), ("set", "a")], "badArgument", {}),
        ([("verb", "ListRecords"), ("resumptionToken", "not-a-token")], "badResumptionToken",
         {"verb": "ListRecords"}),
        ([("verb", "ListRecords"), ("resumptionToken", token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"))],
         "badResumptionToken", {"verb": "ListRecords"}),
        ([("verb", "ListRecords"), ("resumptionToken", token + "x")], "badResumptionToken", {"verb": "ListRecords"}),
        ([("verb", "ListIdentifiers"), ("resumptionToken", token)], "badResumptionToken",
         {"verb": "ListIdentifiers"}),
        ([("verb", "ListRecords"), ("resumptionToken", "é" * 3000)], "badResumptionToken", {"verb": "ListRecords"}),
        ([("verb", "ListSets"), ("resumptionToken", token)], "badResumptionToken", {"verb": "ListSets"}),
        ([("verb", "ListRecords"), ("metadataPrefix", "marc21")], "cannotDisseminateFormat", {"verb": "ListRecords"}),
        ([("verb", "ListIdentifiers"), ("metadataPrefix", "<b>"), ("from", "2020-01-01")],
         "cannotDisseminateFormat", {"verb": "ListIdentifiers", "from": "2020-01-01"}),
        ([("verb", "GetRecord"), ("identifier", shown), ("metadataPrefix", "oai_DC")], "cannotDisseminateFormat",
         {"verb": "GetRecord"}),
        ([("verb", "GetRecord"), ("identifier", identifier("zzzzzzzzzzzzzzzz")), ("metadataPrefix", "oai_dc")],
         "idDoesNotExist", {"verb": "GetRecord", "metadataPrefix": "oai_dc"}),
        ([("verb", "ListMetadataFormats"), ("identifier", identifier(seeded.hidden["sealed"]))], "idDoesNotExist",
         {"verb": "ListMetadataFormats"}),
        ([*lr, ("until", "2000-01-01")], "noRecordsMatch",
         {"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "2000-01-01"}),
        ([("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("from", "2999-01-01T00:00:00Z")],
         "noRecordsMatch", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2999-01-01T00:00:00Z"}),
        ([("verb", "ListMetadataFormats"), ("identifier", gone)], "noMetadataFormats",
         {"verb": "ListMetadataFormats", "identifier": gone}),
        ([("verb", "ListSets")], "noSetHierarchy", {"verb": "ListSets"}),
        ([*lr, ("set", "hotel")], "noSetHierarchy", {"verb": "ListRecords", "metadataPrefix": "oai_dc"}),
        ([*lr[:1], ("metadataPrefix", "oai_dc"), ("set", "<script>")], "noSetHierarchy",
         {"verb": "ListRecords", "metadataPrefix": "oai_dc"}),
    ]
    cases += [([*lr, ("from", date)], "badArgument", {}) for date in BAD_DATES + FINER]
    cases += [([*lr, ("until", date)], "badArgument", {}) for date in BAD_DATES + FINER]
    return cases


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_error_code_from_a_request_that_causes_it(oai_app: Flask, client: FlaskClient, seeded: Seeded,
                                                        method: str) -> None:
    _, first = ask(client, verb="ListRecords", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    codes = set()
    for arguments, code, echoed in _error_cases(seeded, token.text):
        if method == "GET":
            response = client.get("/oai", query_string=MultiDict(arguments))
        else:
            response = client.post("/oai", data=MultiDict(arguments))
        with response:
            body = response.get_data()
        assert response.status_code == 200, arguments
        document = valid(body)
        assert error_of(document) == code, (arguments, body)
        assert request_of(document) == echoed, arguments
        assert document.findtext("o:request", namespaces=NS) == "http://localhost/oai"
        codes.add(code)
    assert codes == {"badVerb", "badArgument", "badResumptionToken", "cannotDisseminateFormat", "idDoesNotExist",
                     "noRecordsMatch", "noMetadataFormats", "noSetHierarchy"}


def test_a_token_signed_with_another_key_or_holding_a_wrong_payload_is_refused(oai_app: Flask, client: FlaskClient,
                                                                              seeded: Seeded) -> None:
    _, first = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    payload = URLSafeTimedSerializer(oai_app.secret_key, salt=TOKEN_SALT).loads(token.text)
    assert set(payload) == {"v", "s", "b", "r", "d", "i", "c", "n"}  # bounds and keyset, no content
    ours = URLSafeTimedSerializer(oai_app.secret_key, salt=TOKEN_SALT)
    forged = [URLSafeTimedSerializer(b"another archive's key", salt=TOKEN_SALT).dumps(payload),
              URLSafeTimedSerializer(oai_app.secret_key, salt="another salt").dumps(payload),
              ours.dumps({**payload, "i": "../../etc"}), ours.dumps({**payload, "c": -1}),
              ours.dumps({**payload, "c": True}), ours.dumps({**payload, "d": "yesterday"}),
              ours.dumps({**payload, "b": "2020-01-01T00:00:00"}), ours.dumps({k: payload[k] for k in "vsbr"}),
              ours.dumps([1, 2]), ours.dumps("ListIdentifiers")]
    for bad in forged:
        _, document = ask(client, verb="ListIdentifiers", resumptionToken=bad)
        assert error_of(document) == "badResumptionToken", bad
        assert request_of(document) == {"verb": "ListIdentifiers"}
    # The payload as issued still continues the list.
    _, document = ask(client, verb="ListIdentifiers", resumptionToken=ours.dumps(payload))
    assert error_of(document) is None


def test_an_expired_token_is_refused_and_says_so(oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    oai_app.config["ESCROW_OAI_TOKEN_SECONDS"] = 60
    start = datetime.now(UTC).replace(microsecond=0)
    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: start
    _, first = ask(client, verb="ListRecords", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    assert token.get("expirationDate") == (start + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")

    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: start + timedelta(seconds=60)
    _, still = ask(client, verb="ListRecords", resumptionToken=token.text)
    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: start + timedelta(seconds=61)
    _, expired = ask(client, verb="ListRecords", resumptionToken=token.text)

    assert error_of(still) is None
    assert error_of(expired) == "badResumptionToken"
    assert "expired" in (expired.findtext("o:error", namespaces=NS) or "")
    assert request_of(expired) == {"verb": "ListRecords"}


def test_post_answers_exactly_as_get(oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    fixed = datetime.now(UTC) + timedelta(minutes=1)
    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: fixed
    _, first = ask(client, verb="ListRecords", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    questions: list[dict[str, str]] = [
        {"verb": "Identify"}, {"verb": "ListMetadataFormats"}, {"verb": "ListSets"},
        {"verb": "ListRecords", "metadataPrefix": "oai_dc"}, {"verb": "ListRecords", "resumptionToken": token.text},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2000-01-01", "until": "2999-12-31"},
        {"verb": "GetRecord", "identifier": identifier(seeded.released["redacted"]), "metadataPrefix": "oai_dc"},
        {"verb": "GetRecord", "identifier": identifier(seeded.gone["taken_down"]), "metadataPrefix": "oai_dc"},
        {"verb": "GetRecord", "identifier": identifier(seeded.hidden["sealed"]), "metadataPrefix": "oai_dc"},
        {"verb": "Bogus"}, {"verb": "ListRecords"},
    ]
    for question in questions:
        assert ask(client, "GET", **question)[0] == ask(client, "POST", **question)[0], question


def test_from_and_until_count_whole_seconds_and_days(oai_app: Flask, client: FlaskClient, seeded: Seeded) -> None:
    oai_app.config["ESCROW_OAI_PAGE_SIZE"] = 100
    at = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    stamps = [at - timedelta(microseconds=1), at, at + timedelta(microseconds=900_000), at + timedelta(seconds=1),
              datetime(2021, 3, 4, 23, 59, 59, 500_000, tzinfo=UTC), datetime(2021, 3, 5, tzinfo=UTC)]
    order = sorted(seeded.harvestable)
    restamp(oai_app, lambda story, _: stamps[order.index(story)])

    def listed(**dates: str) -> list[int] | str:
        _, document = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **dates)
        if error_of(document):
            return str(error_of(document))
        return [order.index(story_id(found)) for found, _, _ in headers_of(document)]

    _, everything = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert [stamp for _, stamp, _ in headers_of(everything)] == [
        "2021-03-04T05:06:06Z", "2021-03-04T05:06:07Z", "2021-03-04T05:06:07Z", "2021-03-04T05:06:08Z",
        "2021-03-04T23:59:59Z", "2021-03-05T00:00:00Z"]
    assert listed(**{"from": "2021-03-04T05:06:07Z", "until": "2021-03-04T05:06:07Z"}) == [1, 2]
    assert listed(**{"from": "2021-03-04T05:06:07Z"}) == [1, 2, 3, 4, 5]
    assert listed(until="2021-03-04T05:06:07Z") == [0, 1, 2]
    assert listed(until="2021-03-04T05:06:06Z") == [0]
    assert listed(**{"from": "2021-03-04T05:06:08Z", "until": "2021-03-04T05:06:08Z"}) == [3]
    assert listed(**{"from": "2021-03-04", "until": "2021-03-04"}) == [0, 1, 2, 3, 4]
    assert listed(**{"from": "2021-03-05"}) == [5]
    assert listed(until="2021-03-04T23:59:59Z") == [0, 1, 2, 3, 4]
    assert listed(until="2021-03-03") == "noRecordsMatch"
    assert listed(**{"from": "2021-03-05T00:00:01Z"}) == "noRecordsMatch"
    assert listed(until="9999-12-31") == [0, 1, 2, 3, 4, 5]
    assert listed(**{"from": "0001-01-01", "until": "9999-12-31"}) == [0, 1, 2, 3, 4, 5]
    assert listed(**{"from": "9999-12-31", "until": "9999-12-31"}) == "noRecordsMatch"
    assert listed(**{"from": "2021-03-04T05:06:07Z", "until": "2021-03-04T05:06:06Z"}) == "badArgument"
    _, identify = ask(client, verb="Identify")
    assert identify.findtext(".//o:earliestDatestamp", namespaces=NS) == "2021-03-04T05:06:06Z"


def test_a_record_stamped_in_the_last_seconds_waits_for_the_bound_to_pass(oai_app: Flask, client: FlaskClient,
                                                                         seeded: Seeded) -> None:
    oai_app.config["ESCROW_OAI_PAGE_SIZE"] = 100
    now = datetime.now(UTC).replace(microsecond=0)
    newest = sorted(seeded.harvestable)[0]
    restamp(oai_app, lambda story, stamp: now - SETTLE if story == newest else stamp)
    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: now + timedelta(microseconds=999_999)
    _, before = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    oai_app.config["ESCROW_OAI_CLOCK"] = lambda: now + timedelta(seconds=1)
    _, after = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                   **{"from": before.findtext("o:responseDate", namespaces=NS) or ""})

    assert before.findtext("o:responseDate", namespaces=NS) == (now - SETTLE).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert newest not in {story_id(found) for found, _, _ in headers_of(before)}
    assert [story_id(found) for found, _, _ in headers_of(after)] == [newest]


def test_identify_describes_the_repository_without_naming_anyone(oai_app: Flask, client: FlaskClient) -> None:
    _, document = ask(client, verb="Identify")
    identify = document.find("o:Identify", NS)
    assert identify is not None
    assert {child.tag.split("}")[1]: child.text for child in identify} == {
        "repositoryName": "Escrow oral-history archive", "baseURL": "http://localhost/oai",
        "protocolVersion": "2.0", "adminEmail": "archive@localhost.invalid",
        "earliestDatestamp": "1970-01-01T00:00:00Z", "deletedRecord": "persistent",
        "granularity": "YYYY-MM-DDThh:mm:ssZ"}
    assert request_of(document) == {"verb": "Identify"}
    _, listing = ask(client, verb="ListRecords", metadataPrefix="oai_dc")
    assert error_of(listing) == "noRecordsMatch"


def test_identifiers_and_links_use_the_public_address(config: Config, seeded: Seeded) -> None:
    app = create_app(dataclasses.replace(config, base_url="https://archive.example.org"))
    try:
        client = app.test_client()
        host = {"base_url": "https://archive.example.org"}
        with client.get("/oai", query_string={"verb": "Identify"}, **host) as response:
            identify = valid(response.get_data())
        full = identifier(seeded.released["full"], "archive.example.org")
        with client.get("/oai", query_string={"verb": "GetRecord", "identifier": full,
                                              "metadataPrefix": "oai_dc"}, **host) as response:
            record = valid(response.get_data())
        with client.get("/oai", query_string={"verb": "GetRecord", "identifier": identifier(seeded.released["full"]),
                                              "metadataPrefix": "oai_dc"}, **host) as response:
            local = valid(response.get_data())
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()

    assert identify.findtext(".//o:baseURL", namespaces=NS) == "https://archive.example.org/oai"
    assert identify.findtext(".//o:adminEmail", namespaces=NS) == "archive@archive.example.org"
    assert record.findtext(".//o:header/o:identifier", namespaces=NS) == full
    assert record.findtext(".//dc:identifier", namespaces=NS) == (
        f"https://archive.example.org/stories/{seeded.released['full']}")
    assert error_of(local) == "idDoesNotExist"


def test_harvesters_are_given_the_configured_contact_address_and_a_bad_one_is_refused(config: Config) -> None:
    app = create_app(dataclasses.replace(config, contact_email="records@archive.example.org"))
    try:
        with app.test_client().get("/oai", query_string={"verb": "Identify"}) as response:
            identify = valid(response.get_data())
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()

    assert identify.findtext(".//o:adminEmail", namespaces=NS) == "records@archive.example.org"
    with pytest.raises(InvalidInput, match="ESCROW_CONTACT_EMAIL must be an email address"):
        Config.from_env({"ESCROW_CONTACT_EMAIL": "Ada Lovelace"})


def test_a_signed_in_reading_room_refuses_anonymous_harvesters(config: Config, seeded: Seeded) -> None:
    app = create_app(dataclasses.replace(config, reading_room="signed-in"))
    try:
        client = app.test_client()
        for method in ("GET", "POST"):
            with client.open("/oai", method=method, query_string={"verb": "Identify"}) as response:
                assert response.status_code == 401
                assert response.mimetype == "text/plain"
                assert b"<" not in response.get_data()
        sign_in(client, int(one(seeded.home, "SELECT id FROM users WHERE email = :e", e=READER)))
        with client.get("/oai", query_string={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}) as response:
            assert response.status_code == 200
            assert len(headers_of(valid(response.get_data()))) == 6
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()


def test_a_signed_in_reading_room_is_harvested_with_a_personal_token(config: Config, seeded: Seeded) -> None:
    app = create_app(dataclasses.replace(config, reading_room="signed-in"))
    try:
        with app.test_request_context():
            archive = services.current()
            reader = archive.session.scalar(select(User).where(User.email == READER))
            assert reader is not None
            secret = tokens.create(archive, reader, "harvester", "a long enough password", "127.0.0.1").secret
        client = app.test_client()
        listing = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}
        with client.get("/oai", query_string=listing, headers={"Authorization": f"Bearer {secret}"}) as good:
            assert good.status_code == 200 and len(headers_of(valid(good.get_data()))) == 6
        for header in (f"Bearer {secret}x", "Basic cmVhZGVyOng=", "Bearer "):
            with client.get("/oai", query_string=listing, headers={"Authorization": header}) as refused:
                assert refused.status_code == 401 and b"<" not in refused.get_data()
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()


def _plain(response: Any, status: int) -> str:
    """A refusal at the HTTP level: the status, and one line of plain text, no page to parse."""
    with response:
        text = response.get_data(as_text=True)
    assert response.status_code == status, text[:200]
    assert response.mimetype == "text/plain" and "<" not in text and text.count("\n") == 1, text[:200]
    return text


def test_a_throttled_harvester_is_told_so_in_plain_text(config: Config, seeded: Seeded) -> None:
    app = create_app(dataclasses.replace(config, reading_room="signed-in"))
    try:
        client = app.test_client()
        listing = {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}
        wrong = {"Authorization": "Bearer esc_" + "B" * 43}
        for _ in range(authentication.TOKENS.free):
            _plain(client.get("/oai", query_string=listing, headers=wrong), 401)
        throttled = client.get("/oai", query_string=listing, headers=wrong)
        retry = throttled.headers.get("Retry-After", "")

        assert "Too many failed sign-ins" in _plain(throttled, 429)
        assert int(retry) > 0
    finally:
        with app.app_context():
            database.db.engine.dispose()
        app.extensions["escrow.index"].close()


def test_a_request_too_large_or_of_another_method_is_refused_in_plain_text(client: FlaskClient) -> None:
    big = {"verb": "Identify", "padding": "x" * (2 * 1024 * 1024 + 1)}

    too_large = _plain(client.post("/oai", data=big), 413)
    other = client.put("/oai", query_string={"verb": "Identify"})
    allowed = other.headers.get("Allow", "")

    assert "larger than the archive accepts" in too_large
    assert _plain(other, 405) and {"GET", "POST"} <= set(allowed.replace(" ", "").split(","))


def test_responses_carry_the_security_headers(client: FlaskClient) -> None:
    with client.get("/oai", query_string={"verb": "Identify"}) as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"


# -- generated requests ------------------------------------------------------------------------

VALUES = [*VERBS, "oai_dc", "marc21", "", "2020-01-01", "2020-01-01T00:00:00Z", "2999-12-31", "9999-12-31",
          "0001-01-01", "2020-02-30", "2020-01-01T00:00:00.5Z", "oai:localhost:", "\x00", "\ud7ff\ue000", "<&>\"'"]


@pytest.fixture
def known(oai_app: Flask, client: FlaskClient, seeded: Seeded) -> dict[str, list[str]]:
    """Values a generated request may reuse: real identifiers and a real token."""
    _, first = ask(client, verb="ListRecords", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    ids = [identifier(s) for s in [*seeded.harvestable, *seeded.hidden.values()]]
    return {"identifiers": ids, "tokens": [token.text], "words": seeded.words}


def _check_anything(client: FlaskClient, known: dict[str, list[str]], response: Any) -> None:
    with response:
        status, body = response.status_code, response.get_data()
    assert status == 200, status
    document = valid(body)
    for word in known["words"]:
        assert word.encode() not in body
    echoed = request_of(document)
    assert set(echoed) <= set(ARGUMENTS)
    assert echoed.get("verb", "Identify") in VERBS
    assert echoed.get("metadataPrefix", "oai_dc") == "oai_dc"
    assert echoed.get("identifier", known["identifiers"][0]) in known["identifiers"]
    assert echoed.get("resumptionToken", known["tokens"][0]) in known["tokens"]
    assert "set" not in echoed
    assert all(DATE.fullmatch(echoed[name]) for name in ("from", "until") if name in echoed)
    if error_of(document) in ("badVerb", "badArgument"):
        assert echoed == {}


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arguments_get_a_valid_oai_answer_and_never_a_server_error(
        client: FlaskClient, known: dict[str, list[str]], data: st.DataObject) -> None:
    names = st.one_of(st.sampled_from(ARGUMENTS), st.text(max_size=12))
    values = st.one_of(st.sampled_from(VALUES + known["identifiers"] + known["tokens"]), st.text(max_size=40))
    pairs = data.draw(st.lists(st.tuples(names, values), max_size=6))
    if data.draw(st.booleans()):
        response = client.get("/oai", query_string=MultiDict(pairs))
    else:
        response = client.post("/oai", data=MultiDict(pairs))
    _check_anything(client, known, response)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120))
def test_any_raw_query_string_gets_a_valid_oai_answer(client: FlaskClient, known: dict[str, list[str]],
                                                     raw: str) -> None:
    _check_anything(client, known, client.get("/oai", query_string="verb=ListRecords&" + raw))
