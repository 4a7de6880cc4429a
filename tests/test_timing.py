"""Timed transcripts: WebVTT with span markup, read strictly; released redacted, times kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.transcripts import webvtt
from archive.transcripts.webvtt import Cue, TimingError
from tests.helpers import add_users, assert_no_canary, canaries, escrow, one, story, write_lines

ORG = "org@example.org"
PAST = "2020-01-01T00:00:00Z"
VTT = """WEBVTT - an interview

NOTE recorded in the union hall

1
00:00:01.000 --> 00:00:04.500 align:start
I worked at [[org:Harbor Hotel]] for six years.

00:05.000 --> 00:07.250
We struck in May.
[[person:Ana Reyes]] spoke first.

01:00:00.000 --> 01:00:02.000
That was the day.
"""


def test_a_timed_transcript_gives_cues_with_times_and_the_transcript_its_text() -> None:
    cues = webvtt.parse(VTT)

    assert [(c.start, c.end) for c in cues] == [(1000, 4500), (5000, 7250), (3_600_000, 3_602_000)]
    assert webvtt.plain(cues) == ("I worked at [[org:Harbor Hotel]] for six years.\nWe struck in May.\n"
                                  "[[person:Ana Reyes]] spoke first.\nThat was the day.")
    assert webvtt.render([Cue(61_001, 3_725_500, "a & <b> --> c")]) == (
        "WEBVTT\n\n00:01:01.001 --> 01:02:05.500\na &amp; &lt;b&gt; --&gt; c\n")


@pytest.mark.parametrize("text, where, reason", [
    ("00:01.000 --> 00:02.000\nhi\n", (1, 1), "starts with the line WEBVTT"),
    ("WEBVTT\n\n00:01.000 -> 00:02.000\nhi\n", (3, 1), "needs a timing line"),
    ("WEBVTT\n\n00:01.00 --> 00:02.000\nhi\n", (3, 1), "a time is written like"),
    ("WEBVTT\n\n00:01.000 --> 00:61.000\nhi\n", (3, 15), "a time is written like"),
    ("WEBVTT\n\n00:02.000 --> 00:01.000\nhi\n", (3, 1), "must end after it starts"),
    ("WEBVTT\n\n00:05.000 --> 00:06.000\nhi\n\n00:01.000 --> 00:02.000\nho\n", (6, 1), "in order"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n", (3, 1), "needs its text"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\nhi\nthere --> here\n", (5, 7), "cannot hold '-->'"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\nhi\nsaid [[person:Ana\n", (5, 6), "unclosed '[['"),
    ("WEBVTT\n\nNOTE nothing timed\n", (4, 1), "has no cue"),
])
def test_a_bad_timed_transcript_is_refused_naming_line_and_column(text: str, where: tuple[int, int],
                                                                  reason: str) -> None:
    with pytest.raises(TimingError) as refused:
        webvtt.parse(text)

    assert (refused.value.line, refused.value.column) == where and reason in refused.value.reason


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="&<>-[]|"), min_size=1,
                max_size=40).filter(lambda s: s.strip() == s and s != "")


@given(st.lists(st.tuples(st.integers(0, 10_000_000), st.integers(1, 100_000), st.lists(_TEXT, min_size=1,
                                                                                        max_size=3)),
                min_size=1, max_size=20))
def test_any_cues_written_are_read_back_the_same(raw: list[tuple[int, int, list[str]]]) -> None:
    starts = sorted(start for start, _, _ in raw)
    cues = [Cue(start, start + length, "\n".join(lines)) for start, (_, length, lines) in zip(starts, raw,
                                                                                              strict=True)]
    assert webvtt.parse(webvtt.render(cues)) == cues


@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_with_a_line_and_column_never_an_other_error(text: str) -> None:
    for candidate in (text, "WEBVTT\n\n" + text):
        try:
            webvtt.parse(candidate)
        except TimingError as error:
            assert error.line >= 1 and error.column >= 1


def _import(home: Path, tmp_path: Path, **fields: object) -> tuple[int, str]:
    file = write_lines(tmp_path / "s.jsonl", story(**fields))
    result = escrow(home, "stories", "import", str(file), "--as", ORG)
    return result.exit_code, result.output


@pytest.mark.parametrize("level", ["full", "pseudonymized", "redacted", "summary"])
def test_a_timed_transcript_is_released_redacted_with_its_times(archive_home: Path, tmp_path: Path,
                                                                 level: str) -> None:
    add_users(archive_home, (ORG, "organizer"))
    hidden, narrator = canaries(2)
    vtt = (f"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nMy name is {narrator} Lopez.\n\n"
           f"00:00:03.500 --> 00:00:06.000\n[[person:Rosa {hidden}]] organised the <b>night</b> shift.\n")
    fields = {"transcript": None, "captions": vtt, "narrator": f"{narrator} Lopez", "redaction_level": level,
              "summary": "A strike.", "embargo_until": PAST}
    data = story(**fields)
    del data["transcript"]
    file = write_lines(tmp_path / "s.jsonl", data)
    imported = escrow(archive_home, "stories", "import", str(file), "--as", ORG)
    assert imported.exit_code == 0, imported.output
    assert escrow(archive_home, "publish-due").exit_code == 0

    captions = one(archive_home, "SELECT captions FROM released_stories")
    transcript = one(archive_home, "SELECT transcript FROM released_stories")

    if level == "summary":
        assert captions is None and transcript is None
        return
    cues = webvtt.parse(captions)
    assert [(c.start, c.end) for c in cues] == [(1000, 3000), (3500, 6000)]
    assert "the night shift" in captions and "b&gt;" not in captions  # WebVTT's bold, rendered
    if level == "full":
        assert f"Rosa {hidden}" in captions and f"Rosa {hidden}" in transcript
    else:
        assert hidden not in captions and narrator not in captions
        assert "[redacted]" in captions or "Person A" in captions
        assert_no_canary(archive_home, hidden, narrator)


@pytest.mark.parametrize("cue, rendered", [
    ("Gar<00:00:01.500>cia left", "Garcia left"),  # an inline timestamp inside a name
    ("Garc&#105;a and Gar&#x63;ia", "Garcia and Garcia"),  # character references
    ("<v Maria Lopez>We struck</v>", "We struck"),  # a voice's name is an annotation, not shown
    ("<c.loud>Ro</c><i>sa</i> &amp; <b>Ana</b>", "Rosa & Ana"),
    ("<ruby>Ana<rt>Garcia</rt></ruby> came", "Ana came"),  # ruby text is not read into the line
    ("Gar&#xFFFE;cia and Ro&#12;sa", "Garcia and Rosa"),  # what the archive refuses, dropped
    ("<lang es>Rosa</lang> &lt;3", "Rosa <3"),
])
def test_cue_text_is_read_as_a_player_renders_it(cue: str, rendered: str) -> None:
    [parsed] = webvtt.parse(f"WEBVTT\n\n00:01.000 --> 00:02.000\n{cue}\n")
    assert parsed.text == rendered
    assert webvtt.parse(webvtt.render([parsed])) == [parsed]  # released as it renders


@pytest.mark.parametrize("cue, column", [("a < b", 3), ("a <span>b</span>", 3), ("ok\nthen <i", 6)])
def test_a_lone_or_unknown_tag_in_cue_text_is_refused_at_submission_and_read_as_a_player_would_later(
        cue: str, column: int) -> None:
    text = f"WEBVTT\n\n00:01.000 --> 00:02.000\n{cue}\n"
    with pytest.raises(TimingError) as refused:
        webvtt.parse(text)
    assert refused.value.column == column and "write &lt;" in refused.value.reason
    assert webvtt.parse(text, strict=False)[0].text in ("a ", "a b", "ok\nthen ")


def test_a_transcript_that_differs_from_the_captions_or_bad_captions_are_refused(archive_home: Path,
                                                                                 tmp_path: Path) -> None:
    add_users(archive_home, (ORG, "organizer"))
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nWe struck.\n"

    same = _import(archive_home, tmp_path, transcript="We struck.", captions=vtt)
    different = _import(archive_home, tmp_path, transcript="We won.", captions=vtt)
    broken = _import(archive_home, tmp_path, captions="WEBVTT\n\n00:01.000 --> 00:00.500\nWe struck.\n")

    assert same[0] == 0, same[1]
    assert different[0] == 1 and "not two different texts" in different[1]
    assert broken[0] == 1 and "captions, line 3, column 1: a cue must end after it starts" in broken[1]
    assert json.loads(json.dumps(one(archive_home, "SELECT count(*) FROM stories"))) == 1
