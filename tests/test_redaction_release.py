"""Each class of redaction failure the review found, through import, publish-due, the story
page, `escrow search`, the reading-room table and the index's term dictionary."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from archive import create_app
from archive.config import Config
from archive.storage import database
from tests.helpers import escrow, indexed_words, sql, story, write_lines

PAST = "2020-01-01T00:00:00Z"
NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731

# (what went wrong, the story, the words that must not be released at its level)
CASES = [
    ("ß and its capital spelling", dict(
        narrator="Anna Straße", transcript="I am ANNA STRASSE. Mrs Strasse said no. Straße signed.",
        title="Straße on the night shift"), ["strasse", "straße", "anna"]),
    ("Turkish dotted and dotless i", dict(
        narrator="İpek Işık", transcript="İPEK IŞIK spoke; ipek isik and Işık’s sister came.",
        title="Notes by IŞIK"), ["ipek", "işık", "isik", "ışık"]),
    ("decomposed text, composed narrator", dict(
        narrator="José Müller", transcript=NFD("José Müller told us; later Müller left.")),
     ["jose", "josé", "muller", "müller"]),
    ("accent-stripped and full-width spellings", dict(
        narrator="José Müller", transcript="Jose and Muller and MUELLER? no: ＭＵＬＬＥＲ and Jos\u00e9."),
     ["jose", "muller", "ｍｕｌｌｅｒ"]),
    ("hyphenated surname, en dash, curly apostrophe", dict(
        narrator="Ann Lopez-Garcia", interviewer="Sean O’Brien",
        transcript="Lopez said hi; Garcia too; Lopez–Garcia agreed; O’Brien asked; Brien’s notes."),
     ["lopez", "garcia", "brien", "sean"]),
    ("marked names later unmarked, in part", dict(
        transcript="[[person:Rosa Parks]] came. Later Rosa spoke, and Parks's car broke down."),
     ["rosa", "parks"]),
    ("hidden fields inside released fields", dict(
        interviewer="Jane Okafor", place="Fair Haven", title="Okafor in Fair Haven",
        transcript="INTERVIEWER (Jane Okafor): Were you in Haven?", tags=["okafor", "fairhaven", "strike"]),
     ["okafor", "jane", "haven", "fairhaven"]),
    ("spans marked in the title and summary", dict(
        title="[[person:Kwame Mensah]] at work", summary="How [[org:Bluewater Foods]] fired Kwame."),
     ["kwame", "mensah", "bluewater"]),
    ("glued names in tags", dict(
        transcript="[[person:Maria Lopez]] was there.", tags=["marialopez", "#MariaLopez", "lopez2019", "strike"]),
     ["marialopez", "lopez", "maria"]),
]


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


def _words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    plain = "".join(c for c in unicodedata.normalize("NFKD", folded) if unicodedata.category(c) != "Mn")
    return set(re.findall(r"[^\W_]+", folded)) | set(re.findall(r"[^\W_]+", plain))


def _release(home: Path, tmp_path: Path, lines: list[dict[str, object]]) -> list[str]:
    result = escrow(home, "stories", "import", str(write_lines(tmp_path / "in.jsonl", *lines)),
                    "--as", "org@example.org")
    assert result.exit_code == 0, result.output
    published = escrow(home, "publish-due")
    assert published.exit_code == 0 and f"released {len(lines)}," in published.output, published.output
    return [row[0] for row in sql(home, "SELECT id FROM released_stories")]


@pytest.mark.parametrize("level", ["pseudonymized", "redacted", "summary"])
def test_no_spelling_of_a_hidden_name_is_released_anywhere(home: Path, tmp_path: Path, reader: FlaskClient,
                                                           level: str) -> None:
    lines = [story(**{"summary": "On the strike.", **fields, "embargo_until": PAST, "redaction_level": level})  # type: ignore[arg-type]
             for _, fields, _ in CASES]
    ids = _release(home, tmp_path, lines)
    forbidden = {w for _, _, words in CASES for w in words}
    assert len(ids) == len(CASES)

    table = " ".join(str(v) for row in sql(home, "SELECT * FROM released_stories") for v in row)
    assert not (_words(table) & forbidden)
    for story_id in ids:
        page = reader.get(f"/stories/{story_id}")
        assert page.status_code == 200
        assert not (_words(page.get_data(as_text=True)) & forbidden), story_id
    for word in sorted(forbidden):
        found = escrow(home, "search", word, "--json")
        assert found.exit_code == 0 and json.loads(found.output) == [], word
    for field in ("title", "body", "summary", "tags"):
        assert not (_words(" ".join(indexed_words(home, field))) & forbidden), field


def test_pseudonymized_keeps_one_stand_in_per_person(home: Path, tmp_path: Path, reader: FlaskClient) -> None:
    [story_id] = _release(home, tmp_path, [story(
        narrator="Rosa Example", embargo_until=PAST, title="Rosa at the hotel",
        transcript="[[person:Rosa Example]] spoke. [[person:Maria Lopez|the housekeeper]] too; "
                   "later Maria and Lopez's sister. [[person:Tom Baker]] and Baker.")])

    transcript = sql(home, "SELECT transcript, title FROM released_stories")[0]
    assert transcript == ("the narrator spoke. the housekeeper too; later the housekeeper and the housekeeper's "
                          "sister. Person A and Person A.", "the narrator at the hotel")
    page = reader.get(f"/stories/{story_id}").get_data(as_text=True)
    assert "Person B" not in page and "Rosa" not in page


def test_a_story_that_once_crashed_redaction_releases_and_others_follow(home: Path, tmp_path: Path) -> None:
    """The dotted İ raised KeyError inside redact(), which stopped every publish run."""
    ids = _release(home, tmp_path, [
        story(narrator="Ayşe Yılmaz", transcript="İSTANBUL'da [[person:İbrahim Tatlıses]] ve İbrahim.",
              embargo_until=PAST),
        story(title="The next one", embargo_until=PAST)])

    assert len(ids) == 2
    [text] = [r[0] for r in sql(home, "SELECT transcript FROM released_stories WHERE title = 'Night shift'")]
    assert "İbrahim" not in text and "Person A ve Person A" in text


@pytest.mark.parametrize("transcript, message", [
    ("x " * 3 + "[[person:A]] " * 2_001, "the story marks 2,001 spans; at most 2,000 are allowed"),
    ("[[person:Maria Lopez|Maria]] said", "line 1, column 1: the stand-in repeats a name"),
    ("a NUL \x00 here", "control character"),
    ("a lone \ud800 surrogate", "control character or an invalid one at line 1, column 8"),
    ("Gar\ufffecia and Gar\U0010ffffcia", "transcript has a control character or an invalid one at line 1, column 4"),
    ("a\nRo\ufdefsa", "transcript has a control character or an invalid one at line 2, column 3"),
])
def test_what_the_gate_could_not_redact_is_refused_at_import(home: Path, tmp_path: Path, transcript: str,
                                                            message: str) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text(json.dumps(story(transcript=transcript)) + "\n", encoding="utf-8", errors="surrogatepass")
    before = sql(home, "SELECT COUNT(*) FROM stories")

    result = escrow(home, "stories", "import", str(file), "--as", "org@example.org")

    assert result.exit_code == 1 and message in result.output, result.output
    assert "Maria" not in result.output
    assert sql(home, "SELECT COUNT(*) FROM stories") == before


SPANISH_STORY = dict(
    language="es-MX", narrator="Rosa Example", interviewer="Ana Pérez", place="Tijuana", embargo_until=PAST,
    title="[[person:Rosa Example]] en el hotel", summary="Cómo [[org:Harbor Hotel]] despidió a Rosa.",
    transcript="Trabajé en [[org:Harbor Hotel]] con [[person:Maria Lopez]] en [[place:Harbor City]]. "
               "Rosa habló con Ana en Tijuana.")
SPANISH_COPIES = {
    "pseudonymized": ("Persona narradora con seudónimo", "la persona narradora en el hotel",
                      "Trabajé en Empleador 1 con Persona A en Lugar 1. la persona narradora habló con "
                      "la persona entrevistadora en Lugar 2."),
    "redacted": ("Persona narradora anónima", "[suprimido] en el hotel",
                 "Trabajé en [suprimido] con [suprimido] en [suprimido]. [suprimido] habló con [suprimido] "
                 "en [suprimido]."),
    "summary": ("Persona narradora anónima", "[suprimido] en el hotel", None),
}


@pytest.mark.parametrize("level", sorted(SPANISH_COPIES))
def test_a_spanish_story_is_released_with_spanish_stand_ins_whatever_the_reader_speaks(
        home: Path, tmp_path: Path, reader: FlaskClient, level: str) -> None:
    [story_id] = _release(home, tmp_path, [story(**{**SPANISH_STORY, "redaction_level": level})])

    narrator, title, transcript = SPANISH_COPIES[level]
    assert sql(home, "SELECT narrator, title, transcript FROM released_stories") == [(narrator, title, transcript)]
    for language in ("en", "es"):
        page = reader.get(f"/stories/{story_id}?lang={language}").get_data(as_text=True)
        assert narrator in page and "Person A" not in page and "[redacted]" not in page
        assert "the narrator" not in page and "Rosa" not in page and "Harbor" not in page
