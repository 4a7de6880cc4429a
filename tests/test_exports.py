"""Exports of released stories: the citation and OHMS formats as pure functions, and
`escrow export bag`, through the command line, with canaries in everything not released."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bagit
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from archive.reading_room import exports
from archive.reading_room.models import ReleasedStory
from archive.services import exports as services_exports
from archive.services.harvest import SETTLE
from tests.helpers import add_users, canaries, escrow, find_canaries, one, sql, story, write_lines
from tests.prebuilt import prebuilt

ORG, ADMIN = "org@example.org", "admin@example.org"
PAST, FUTURE = "2020-01-01T00:00:00Z", "2090-01-01T00:00:00Z"
OHMS_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "schemas" / "ohms" / "ohms.xsd")))
TRICKY_TITLE = r'Wages & "tips" {50%} #1 _under_ ~$^\ the {boss'


@dataclass(frozen=True)
class Seeded:
    """An archive with released stories at every level and others that must never show."""

    home: Path
    released: dict[str, str]  # level -> id
    hidden: dict[str, str]  # sealed, review, taken_down, withdrawn -> id
    words: list[str]  # canaries: in sealed stories and in spans hidden at each story's level


def _import(home: Path, **fields: object) -> str:
    file = write_lines(home.parent / f"s{len(list(home.parent.glob('s*.jsonl')))}.jsonl", story(**fields))
    result = escrow(home, "stories", "import", str(file), "--as", ORG)
    assert result.exit_code == 0, result.output
    return str(one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT 1"))


def seed(home: Path) -> Seeded:
    """Import and publish stories through the command line, as an operator would."""
    add_users(home, (ORG, "organizer"), (ADMIN, "admin"))
    w = canaries(16)
    released = {
        "full": _import(home, title=TRICKY_TITLE, narrator="Rosa Example", place="New Haven",
                        transcript="I worked at [[org:Harbor Hotel]].\nWe struck in May.",
                        redaction_level="full", embargo_until=PAST),
        "pseudonymized": _import(home, title="Night shift", narrator=f"Ana {w[0]}", interviewer=f"Jo {w[1]}",
                                 place=w[2], transcript=f"At [[org:{w[3]}]] with [[person:Lee {w[4]}]].",
                                 redaction_level="pseudonymized", embargo_until=PAST),
        "redacted": _import(home, title="Laundry drive", narrator=f"Bo {w[5]}", interviewer=f"Kim {w[6]}",
                            place=w[7], interview_date="2019-05-01",
                            transcript=f"[[person:Canaryname7 {w[8]}]] told [[place:{w[9]}]] to wait.",
                            redaction_level="redacted", embargo_until=PAST),
        "summary": _import(home, title="Picket line", narrator=f"Cy {w[10]}", transcript=f"Only {w[11]} here.",
                           summary="A picket in winter.", redaction_level="summary", embargo_until=PAST),
    }
    hidden = {
        "sealed": _import(home, title=f"Sealed {w[12]}", narrator=w[12], transcript=w[12], summary=w[12],
                          embargo_until=FUTURE),
        "review": _import(home, title=f"Review {w[13]}", transcript=w[13], release_review=True, embargo_until=PAST),
        "taken_down": _import(home, title=f"Down {w[14]}", transcript=w[14], embargo_until=PAST),
        "withdrawn": _import(home, title=f"Gone {w[15]}", transcript=w[15], embargo_until=PAST),
    }
    published = escrow(home, "publish-due")
    assert published.exit_code == 0, published.output
    for name, command in (("taken_down", "takedown"), ("withdrawn", "withdraw")):
        done = escrow(home, "stories", command, hidden[name], "--reason", "consent", "--as", ADMIN)
        assert done.exit_code == 0, done.output
    return Seeded(home, released, hidden, [*w, "Canaryname7"])


# Built once per session (tests.prebuilt): each test reads, or changes, a copy.
seeded = prebuilt(name="seeded")(seed)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder to write bags in (tmp_path holds the instance and the import files)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _fails(result: object, message: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert output.count("\n") == 1 and output.startswith("escrow: "), output
    assert message in output, output


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- the bag ---------------------------------------------------------------------------

def test_a_bag_of_the_released_stories_validates_and_holds_no_unreleased_byte(seeded: Seeded, out: Path) -> None:
    target = out / "bag"
    before = datetime.now(UTC).replace(microsecond=0)

    result = escrow(seeded.home, "export", "bag", str(target))

    assert result.exit_code == 0, result.output
    assert result.output == f"bag written: {target} (4 released stories)\n"
    made = bagit.Bag(str(target))
    made.validate()
    assert {"sha256", "sha512"} <= set(made.algorithms)
    for label in ("Source-Organization", "External-Description", "Bagging-Date", "Payload-Oxum"):
        assert made.info.get(label), label
    # The instant the bag was taken from, for a partner to apply OAI-PMH records from (deletions
    # included): read before the stories, and SETTLE earlier, as an OAI-PMH list's bound.
    taken = datetime.strptime(made.info["Escrow-Taken-At"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before - SETTLE - timedelta(seconds=1) <= taken <= datetime.now(UTC) - SETTLE
    # Nothing outside the released copies: not the sealed, review, taken-down nor withdrawn
    # stories, not a span hidden at a released story's level. Every byte of the folder.
    assert find_canaries(target, *seeded.words) == []
    assert _siblings(target.parent) == ["bag"]  # the temporary folder was renamed, none left over


def test_the_bags_metadata_csv_names_each_story_file_as_archivematica_reads_it(seeded: Seeded, out: Path) -> None:
    target = out / "bag"
    assert escrow(seeded.home, "export", "bag", str(target)).exit_code == 0

    with (target / "data" / "metadata" / "metadata.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    header = list(rows[0])
    assert header[0] == "filename" and all(h.startswith("dc.") for h in header[1:])
    assert header.count("dc.title") == 1  # (DictReader keeps one value of a repeated column)
    assert sorted(r["filename"] for r in rows) == sorted(f"data/stories/{i}.json" for i in seeded.released.values())
    for row in rows:
        record = json.loads((target / row["filename"]).read_text(encoding="utf-8"))
        assert record["title"] == row["dc.title"] and record["narrator"] == row["dc.creator"]
        assert record["citation"]["type"] == "interview"
    redacted = json.loads((target / f"data/stories/{seeded.released['redacted']}.json").read_text(encoding="utf-8"))
    assert redacted["narrator"] == "Anonymous narrator" and redacted["interviewer"] == "" and redacted["place"] == ""
    assert redacted["interview_date"] == "2019" and redacted["citation"]["issued"] == {"date-parts": [[2019]]}
    summary = json.loads((target / f"data/stories/{seeded.released['summary']}.json").read_text(encoding="utf-8"))
    assert summary["transcript"] is None


def _columns(path: Path) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """metadata.csv's header, and each file's values by column name, repeated columns in order."""
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    found: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        assert len(row) == len(header)
        values: dict[str, list[str]] = {}
        for name, value in zip(header[1:], row[1:], strict=True):
            values.setdefault(name, []).append(value)
        found[row[0]] = values
    return header, found


def test_a_repeated_element_takes_a_column_of_its_name_for_each_value(archive_home: Path, out: Path) -> None:
    """Archivematica reads dc.subject, dc.subject, ... as the element repeated: a story's tags
    are one column each, as many as the most tagged story needs, blank cells for the others."""
    add_users(archive_home, (ORG, "organizer"))
    tags = {"three": ["hotel", "strike; 1989", "laundry"], "one": ["picket"], "none": []}
    ids = {name: _import(archive_home, title=f"Story {name}", tags=value, redaction_level="full",
                         embargo_until=PAST) for name, value in tags.items()}
    assert escrow(archive_home, "publish-due").exit_code == 0
    target = out / "bag"
    assert escrow(archive_home, "export", "bag", str(target)).exit_code == 0

    header, rows = _columns(target / "data" / "metadata" / "metadata.csv")

    assert header[0] == "filename"
    assert header.count("dc.subject") == 3 and header.count("dc.type") == 2 and header.count("dc.title") == 1
    # Columns of one name stand together, in the order of DC_COLUMNS.
    names = list(dict.fromkeys(header[1:]))
    assert names == list(services_exports.DC_COLUMNS)
    assert header[1:] == [n for n in names for _ in range(header.count(n))]
    for name, value in tags.items():
        row = rows[f"data/stories/{ids[name]}.json"]
        assert row["dc.subject"] == value + [""] * (3 - len(value)), name
        assert row["dc.type"] == ["Text", "oral history"] and row["dc.title"] == [f"Story {name}"]
        assert row["dc.format"] == ["application/json"]
    assert bagit.Bag(str(target)).is_valid()


def test_since_limits_the_bag_to_stories_released_at_or_after_it(seeded: Seeded, out: Path) -> None:
    old = seeded.released["full"]
    # Written as the archive stores instants (naive UTC, microseconds), so SQLite compares it alike.
    sql(seeded.home, "UPDATE released_stories SET released_at = :at WHERE id = :id",
        at="2021-06-01 12:00:00.000000", id=old)
    sql(seeded.home, "UPDATE room_records SET datestamp = :at WHERE story_id = :id",
        at="2021-06-01 12:00:00.000000", id=old)

    later = escrow(seeded.home, "export", "bag", str(out / "later"), "--since", "2021-06-01T12:00:01Z")
    exact = escrow(seeded.home, "export", "bag", str(out / "exact"), "--since", "2021-06-01T14:00:00+02:00")

    assert later.exit_code == 0 and "(3 released stories)" in later.output, later.output
    assert not (out / "later" / "data" / "stories" / f"{old}.json").exists()
    assert exact.exit_code == 0 and "(4 released stories)" in exact.output, exact.output
    assert (out / "exact" / "data" / "stories" / f"{old}.json").is_file()
    assert bagit.Bag(str(out / "later")).is_valid()


def test_a_bag_fills_an_empty_folder(seeded: Seeded, out: Path) -> None:
    target = out / "empty"
    target.mkdir()

    result = escrow(seeded.home, "export", "bag", str(target))

    assert result.exit_code == 0, result.output
    assert bagit.Bag(str(target)).is_valid()


@pytest.mark.parametrize("kind", ["folder with a file", "file"])
def test_a_bag_never_writes_into_a_path_that_holds_something(seeded: Seeded, out: Path, kind: str) -> None:
    target = out / "taken"
    if kind == "file":
        target.write_text("keep me\n")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("keep me\n")
    entries = int(str(one(seeded.home, "SELECT count(*) FROM audit_log")))

    result = escrow(seeded.home, "export", "bag", str(target))

    _fails(result, "already exists and is not an empty folder")
    assert (target.read_text() if kind == "file" else (target / "notes.txt").read_text()) == "keep me\n"
    if kind != "file":
        assert _siblings(target) == ["notes.txt"]
    assert _siblings(out) == ["taken"]  # no partial folder beside it
    assert int(str(one(seeded.home, "SELECT count(*) FROM audit_log"))) == entries


def test_a_bag_needs_its_parent_folder(seeded: Seeded, out: Path) -> None:
    _fails(escrow(seeded.home, "export", "bag", str(out / "no" / "such" / "bag")), "no folder")
    assert _siblings(out) == []


@pytest.mark.parametrize("since", ["yesterday", "2021-13-01", "2021-06-01T12:00:00", ""])
def test_a_malformed_since_is_one_line_and_writes_nothing(seeded: Seeded, out: Path, since: str) -> None:
    result = escrow(seeded.home, "export", "bag", str(out / "bag"), "--since", since)

    _fails(result, "date")
    assert _siblings(out) == []


def test_a_failure_while_bagging_leaves_no_half_bag_and_no_audit_entry(seeded: Seeded, out: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(bagit, "make_bag", broken)
    entries = int(str(one(seeded.home, "SELECT count(*) FROM audit_log")))

    result = escrow(seeded.home, "export", "bag", str(out / "bag"))

    _fails(result, "internal error (OSError); nothing was changed")
    assert _siblings(out) == []
    assert int(str(one(seeded.home, "SELECT count(*) FROM audit_log"))) == entries


def test_a_bag_is_recorded_in_the_audit_log_with_its_count(seeded: Seeded, out: Path) -> None:
    assert escrow(seeded.home, "export", "bag", str(out / "bag"), "--since", "2000-01-01").exit_code == 0

    shown = escrow(seeded.home, "audit", "show", "--json")
    entries = [e for e in json.loads(shown.output) if e["action"] == "export.bag"]

    assert len(entries) == 1, entries
    assert "4" in json.dumps(entries[0]) and "2000-01-01T00:00:00Z" in json.dumps(entries[0])
    assert escrow(seeded.home, "audit", "verify").exit_code == 0


def test_an_empty_reading_room_makes_an_empty_valid_bag(archive_home: Path, out: Path) -> None:
    result = escrow(archive_home, "export", "bag", str(out / "bag"))

    assert result.exit_code == 0 and "(0 released stories)" in result.output, result.output
    assert bagit.Bag(str(out / "bag")).is_valid()


# -- the formats, as pure functions of a released copy ------------------------------------

def _released(**fields: object) -> ReleasedStory:
    values: dict[str, object] = dict(
        id="abcdefghijklmnop", title="Night shift", narrator="Rosa Example", transcript="We struck.\nWe won.",
        summary="A strike.", interviewer="J. Kim", interview_date="2019-05-01", place="New Haven", language="en",
        tags=json.dumps(["hotel", "strike"]), redaction_level="full",
        released_at=datetime(2024, 3, 2, 10, 0, tzinfo=UTC), content_hash="0" * 64)
    values.update(fields)
    return ReleasedStory(**values)


URL = "https://archive.example.org/stories/abcdefghijklmnop"
ESCAPES = re.compile(r"\\(?:textbackslash|textasciitilde|textasciicircum|textbraceleft|textbraceright)\{\}|\\[%&#_$]")
UNESCAPE = {r"\textbackslash{}": "\\", r"\textasciitilde{}": "~", r"\textasciicircum{}": "^",
            r"\textbraceleft{}": "{", r"\textbraceright{}": "}"}


def _balanced(text: str) -> bool:
    """Every brace of the entry, escaped or not (BibTeX counts them all), closes one it opened."""
    depth = 0
    for c in text:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


@given(st.text())
def test_bibtex_escapes_every_special_character_of_any_title(title: str) -> None:
    escaped = exports.bibtex_escape(title)
    entry = exports.bibtex(_released(title=title, narrator=title), URL)

    assert not any(c in ESCAPES.sub("", escaped) for c in "\\{}%&#_~^$")
    assert ESCAPES.sub(lambda m: UNESCAPE.get(m.group(), m.group()[-1:]), escaped) == exports.one_line(title)
    assert _balanced(entry) and "\n" not in escaped and "\r" not in escaped
    assert entry.startswith("@misc{escrow-abcdefghijklmnop,\n") and entry.endswith("\n}\n")


def test_bibtex_keeps_names_whole_and_gives_the_year_only() -> None:
    entry = exports.bibtex(_released(title=TRICKY_TITLE, narrator="Anonymous narrator", interviewer=""), URL)

    assert r"title = {{Wages \& " in entry and r"\textbraceleft{}50\%\textbraceright{} \#1 \_under\_" in entry
    assert r"\textasciitilde{}\$\textasciicircum{}\textbackslash{}" in entry
    assert "author = {{Anonymous narrator}}" in entry and "year = {2019}" in entry
    assert "New Haven" not in entry and "Interviewed by" not in entry


URL_FIELD = re.compile(r"^  url = \{(.*)\}$", re.MULTILINE)


def test_bibtex_writes_the_url_as_it_is_for_the_url_package() -> None:
    url = services_exports.story_url("https://ex.org/~arch/a_b%20c", "abcdefghijklmnop")
    entry = exports.bibtex(_released(), url)

    assert URL_FIELD.findall(entry) == ["https://ex.org/~arch/a_b%20c/stories/abcdefghijklmnop"]
    assert "textasciitilde" not in entry and r"\_" not in entry


def _breaks_an_entry(c: str) -> bool:
    return c in "{}" or c.isspace() or unicodedata.category(c) == "Cc"


@given(st.text())
def test_bibtex_keeps_any_base_url_verbatim_but_for_what_would_break_the_entry(base: str) -> None:
    url = services_exports.story_url(base, "abcdefghijklmnop")
    entry = exports.bibtex(_released(), url)

    [field] = URL_FIELD.findall(entry)
    assert field == "".join(c for c in url if not _breaks_an_entry(c))
    assert not any(_breaks_an_entry(c) for c in field)
    depth = 0
    for c in entry:  # BibTeX counts every brace, escaped or not: none may be left open or closed early
        depth += {"{": 1, "}": -1}.get(c, 0)
        assert depth >= 0
    assert depth == 0 and entry.endswith("\n}\n")


@given(st.text(), st.text(), st.lists(st.text(), max_size=3))
def test_ris_values_never_span_lines(title: str, summary: str, tags: list[str]) -> None:
    record = exports.ris(_released(title=title, summary=summary, tags=json.dumps(tags)), URL)

    lines = record.split("\r\n")
    assert lines[0] == "TY  - GEN" and lines[-2:] == ["ER  - ", ""]
    for line in lines[:-1]:
        assert re.fullmatch(r"[A-Z][A-Z0-9]  - [^\x00-\x1f\x7f-\x9f\u2028\u2029]*", line), repr(line)


def test_ris_has_the_fields_a_reference_manager_reads() -> None:
    record = exports.ris(_released(title="Night\nshift"), URL)

    for line in ("TI  - Night shift", "AU  - Rosa Example", "A2  - J. Kim", "PY  - 2019", "DA  - 2019/05/01/",
                 "KW  - hotel", "KW  - strike", f"UR  - {URL}", "LA  - en"):
        assert line in record.split("\r\n"), line
    assert "New Haven" not in record


def test_csl_json_is_one_interview_with_what_is_released() -> None:
    full = json.loads(exports.csl_json(_released(), URL))
    hidden = json.loads(exports.csl_json(_released(narrator="Anonymous narrator", interviewer="",
                                                   interview_date="2019", place=""), URL))

    assert isinstance(full, list) and len(full) == 1 and full[0]["type"] == "interview"
    assert full[0]["author"] == [{"literal": "Rosa Example"}] and full[0]["interviewer"] == [{"literal": "J. Kim"}]
    assert full[0]["issued"] == {"date-parts": [[2019, 5, 1]]} and full[0]["URL"] == URL
    assert "interviewer" not in hidden[0] and hidden[0]["issued"] == {"date-parts": [[2019]]}
    assert "New Haven" not in exports.csl_json(_released(), URL)


@given(st.text(), st.text(), st.sampled_from(["", "2019", "2019-05", "2019-05-01"]))
def test_ohms_validates_against_the_5_4_schema_for_any_text(title: str, transcript: str, date: str) -> None:
    document = etree.fromstring(exports.ohms(_released(title=title, transcript=transcript, interview_date=date),
                                             URL))

    OHMS_SCHEMA.assertValid(document)


def test_ohms_carries_the_story_id_and_never_a_place() -> None:
    data = exports.ohms(_released(), URL)
    document = etree.fromstring(data)
    ns = {"o": exports.OHMS_NAMESPACE}

    assert document.findtext("o:record/o:version", namespaces=ns) == "5.4"
    assert document.find("o:record", ns).get("id") == "0"
    assert document.findtext("o:record/o:cms_record_id", namespaces=ns) == "abcdefghijklmnop"
    assert document.findtext("o:record/o:transcript", namespaces=ns) == "We struck.\nWe won."
    assert b"New Haven" not in data
    assert not [e.tag for e in document.iter() if re.search(r"gps|location|place", str(e.tag), re.I)]
    summary = etree.fromstring(exports.ohms(_released(transcript=None), URL))
    assert summary.find("o:record/o:transcript", ns) is None
    OHMS_SCHEMA.assertValid(summary)


def test_the_transcript_is_plain_text_and_none_at_level_summary() -> None:
    plain = exports.transcript(_released())

    assert plain is not None and plain.body == "We struck.\nWe won.\n" and plain.extension == "txt"
    assert exports.transcript(_released(transcript=None)) is None


def test_no_cell_of_the_bags_csv_is_a_spreadsheet_formula(archive_home: Path, out: Path) -> None:
    """A released title or summary written as a formula stays text when an archivist opens the CSV."""
    add_users(archive_home, (ORG, "organizer"))
    _import(archive_home, title='=HYPERLINK("http://example.invalid","x")', summary="+cmd|' /C calc'!A0",
            tags=["@sum(1)"], redaction_level="full", embargo_until=PAST)
    assert escrow(archive_home, "publish-due").exit_code == 0
    target = out / "bag"
    assert escrow(archive_home, "export", "bag", str(target)).exit_code == 0

    with (target / "data" / "metadata" / "metadata.csv").open(encoding="utf-8", newline="") as handle:
        [cells] = list(csv.reader(handle))[1:]
        handle.seek(0)
        [row] = list(csv.DictReader(handle))

    assert not any(value.startswith(("=", "+", "-", "@")) for value in cells)
    assert row["dc.title"] == "'=HYPERLINK(\"http://example.invalid\",\"x\")"
    assert row["dc.description"] == "'+cmd|' /C calc'!A0" and row["dc.subject"] == "'@sum(1)"
    assert bagit.Bag(str(target)).is_valid()
