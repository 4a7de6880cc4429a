"""How people write names, through every door: each class the review found (affixes and particles
of several languages, glued and CamelCase forms, hashtags and addresses, particle surnames apart and
together, spelled-out and line-broken names, short names in any order, function-word surnames,
look-alike capitals and symbol letters, Arabic-script keyboard variants, invisible characters,
WebVTT markup in captions) imported, released by `publish-due`, then read from the reading-room
table, the story page, the JSON API, OAI-PMH, every export, `escrow search` and the index's term
dictionary. Each check reads the door's text folded as redaction folds names (`names.fold`)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from archive import create_app
from archive.config import Config
from archive.storage import database
from archive.transcripts import names
from tests.helpers import escrow, indexed_words, sql, story, write_lines

PAST = "2020-01-01T00:00:00Z"
EXPORTS = ("bibtex", "ris", "csl-json", "ohms", "txt", "vtt")

# (class, the story's fields, what no door may show: regular expressions over the folded text, or
# "joined:" a name no run of the door's letters may hold once separators are taken out)
CASES = [
    ("endings and particles of other languages", dict(
        narrator="Marisol Quintero", transcript="The Quinteros came; the Quinteros' car. Marisolen kanssa. "
                                                "Quinterowie i Quinterom. Quinteronak."),
     [r"quintero", r"marisol"]),
    ("Korean, Arabic and Hebrew particles written onto the name", dict(
        narrator="김민수", interviewer="يوسف", place="דודאי",
        transcript="민수가 왔다. 민수는 웃었다. 민수씨! وليوسف واليوسف قال. לדודאי ומדודאי."),
     [r"\u1106\u1175\u11ab\u1109\u116e", r"\u064a\u0648\u0633\u0641", r"\u05d3\u05d5\u05d3\u05d0\u05d9"]),
    ("glued: hashtags, addresses, handles, CamelCase", dict(
        narrator="Yolanda Ferreira", title="#JusticeForYolanda",
        transcript="Write yferreira@example.org or ferreiray; #FerreiraStrike, FerreiraYolanda, "
                   "YolandaFerreira2019."),
     [r"yolanda", r"ferreira"]),
    ("particle surnames apart and together", dict(
        transcript="[[person:Ana DeJesus]] and [[person:Ray Dela Cruz]] spoke. De Jesus left; "
                   "Delacruz stayed; dejesus and DelaCruz wrote."),
     [r"jesus", r"cruz\b", r"\bdela\b"]),
    ("spelled out and broken across a line", dict(
        narrator="Rosa Quintana", transcript="Her name is Q-U-I-N-T-A-N-A, or Q U I N T A N A, said Quin-\n"
                                             "tana herself. Quintana."),
     ["joined:quintana"]),
    ("short names in any order", dict(
        transcript="[[person:Li Na]] spoke. Later Na Li came, and Na, Li signed; NaLi and LiNa wrote."),
     [r"\bli\W{1,3}na\b", r"\bna\W{1,3}li\b", r"\bnali\b", r"\blina\b"]),
    ("surnames that are also common words", dict(
        transcript="[[person:Priya Das]] spoke. Mx. Das told me; then Das left, and Das, Priya stayed."),
     [r"\bdas\b", r"priya"]),
    ("look-alike capitals and symbol letters", dict(
        narrator="Nina Yusufova", title="\u039dina's night",  # Greek capital Nu
        transcript="\u0274\u026a\u0274\u1d00 spoke, then \U0001f17d\U0001f178\U0001f17d\U0001f170 and "
                   "\u04aeUSUFOVA (a Cyrillic straight U)."),
     [r"nina", r"yusufova"]),
    ("Arabic-script keyboard variants", dict(
        narrator="\u0643\u0631\u064a\u0645 \u0639\u0644\u064a",
        transcript="\u06a9\u0631\u06cc\u0645 \u0639\u0644\u06cc came; \u0643\u0640\u0631\u064a\u0640\u0645 too."),
     [r"\u06a9\u0631\u0649\u0645", r"\u0639\u0644\u0649"]),
    ("invisible and unassigned code points", dict(
        narrator="Marisol Quiroga", transcript="Qui\u2065roga, Qui\U000e0080roga, Qui\u3164roga, Qui\u200droga."),
     [r"quiroga"]),
]

CAPTIONS = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAsk Quiro<00:00:01.500>ga about it.\n\n"
            "00:00:03.000 --> 00:00:04.000\nQui&#114;oga and <c.loud>Quir</c>oga.\n")


@pytest.fixture
def home(archive_home: Path) -> Path:
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer", "--password-stdin",
           input="a long enough password\n")
    return archive_home


@pytest.fixture
def reader(home: Path, config: Config) -> Iterator[FlaskClient]:
    app = create_app(config)
    yield app.test_client()
    with app.app_context():
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()


def _shown(raw: str, checks: list[str]) -> list[str]:
    """The checks a door's text fails."""
    folded = names.fold(html.unescape(raw))
    joined = "".join(re.findall(r"[^\W\d_]+", folded))
    return [check for check in checks if (check.removeprefix("joined:") in joined if check.startswith("joined:")
                                          else re.search(check, folded))]


def _doors(home: Path, reader: FlaskClient, story_id: str) -> dict[str, str]:
    """Every door's text of one released story."""
    found = {"table": " ".join(str(v) for row in sql(home, "SELECT * FROM released_stories WHERE id = :id",
                                                     id=story_id) for v in row)}
    for door, url in [("page", f"/stories/{story_id}"), ("api", f"/api/v1/stories/{story_id}"),
                      ("oai", f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:localhost:{story_id}"),
                      *((f"export {fmt}", f"/stories/{story_id}/export/{fmt}") for fmt in EXPORTS)]:
        response = reader.get(url)
        assert response.status_code in (200, 404), (door, response.status_code)
        if response.status_code == 200:
            found[door] = response.get_data(as_text=True)
    assert "oai" in found and "<dc:title>" in found["oai"]
    found["api"] = json.dumps(json.loads(found["api"]), ensure_ascii=False)
    return found


@pytest.mark.parametrize("level", ["pseudonymized", "redacted", "summary"])
def test_no_door_shows_a_name_however_it_is_written(home: Path, tmp_path: Path, reader: FlaskClient,
                                                    level: str) -> None:
    lines = [story(**{"summary": "On the strike.", **fields, "title": fields.get("title", label)[:300],  # type: ignore[arg-type]
                      "embargo_until": PAST, "redaction_level": level}) for label, fields, _ in CASES]
    timed = story(title="Captions", summary="On the strike.", narrator="Marisol Quiroga", captions=CAPTIONS,
                  embargo_until=PAST, redaction_level=level)
    del timed["transcript"]
    file = write_lines(tmp_path / "in.jsonl", *lines, timed)
    imported = escrow(home, "stories", "import", str(file), "--as", "org@example.org")
    assert imported.exit_code == 0, imported.output
    published = escrow(home, "publish-due")
    assert published.exit_code == 0 and f"released {len(CASES) + 1}," in published.output, published.output
    ids = dict(sql(home, "SELECT title, id FROM released_stories"))
    assert len(ids) == len(CASES) + 1

    # Every check against every story: a name of one case is in no other story either.
    every_check = sorted({check for _, _, checks in CASES for check in checks} | {r"quiroga", r"quir\b"})
    for story_id in ids.values():
        for door, text in _doors(home, reader, story_id).items():
            assert not _shown(text, every_check), (level, door, _shown(text, every_check))
    for word in ("quintero", "yolanda", "ferreira", "jesus", "quintana", "priya", "nina", "yusufova", "quiroga"):
        found = escrow(home, "search", word, "--json")
        assert found.exit_code == 0 and json.loads(found.output) == [], word
    for field in ("title", "body", "summary", "tags"):
        assert not _shown(" ".join(sorted(indexed_words(home, field))), every_check), field
