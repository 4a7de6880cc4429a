"""Each redaction level's released copy holds no hidden span and never the narrator's name."""

from __future__ import annotations

import pytest

from archive.release.redaction import REDACTED, redact
from archive.vault import drafts
from tests.helpers import story

TRANSCRIPT = (
    "I am Rosa. I worked at [[org:Harbor Hotel]] with [[person:Maria Lopez|the housekeeper]]\n"
    "and [[person:Tom Baker]] and [[person:Ann Lee]]. Later [[person:tom baker]] left for "
    "[[place:Fair Haven]]. Everyone at Harbor Hotel knew Maria Lopez. Mrs. Example agreed."
)
HIDDEN = ("Harbor Hotel", "Maria Lopez", "Tom Baker", "tom baker", "Ann Lee", "Fair Haven")


def _copy(level: str, **overrides: object):  # type: ignore[no-untyped-def]
    data = story(**{"narrator": "Rosa Example", "transcript": TRANSCRIPT, "redaction_level": level,
                    "title": "Rosa Example at the hotel", "summary": "Rosa Example on the strike at Harbor Hotel.",
                    "place": "New Haven", "interviewer": "J. Kim", "notes": "private note", **overrides})
    return redact(drafts.parse(data))


def _all_text(copy) -> str:  # type: ignore[no-untyped-def]
    return " ".join([copy.title, copy.narrator, copy.transcript or "", copy.summary,
                     copy.interviewer, copy.place, " ".join(copy.tags)])


def test_full_shows_everything_with_spans_as_their_names() -> None:
    copy = _copy("full")

    assert copy.narrator == "Rosa Example"
    assert "worked at Harbor Hotel with Maria Lopez" in copy.transcript
    assert "[[" not in copy.transcript and "the housekeeper" not in copy.transcript
    assert (copy.place, copy.interviewer, copy.interview_date) == ("New Haven", "J. Kim", "2019-05-01")


def test_pseudonymized_gives_each_name_a_stable_stand_in() -> None:
    copy = _copy("pseudonymized")

    assert copy.transcript == (
        "I am the narrator. I worked at Employer 1 with the housekeeper\n"
        "and Person A and Person B. Later Person A left for Place 1. "
        "Everyone at Employer 1 knew the housekeeper. Mrs. the narrator agreed."
    )
    assert copy.narrator == "Pseudonymous narrator"


def test_redacted_replaces_every_span_and_hides_the_narrator() -> None:
    copy = _copy("redacted")

    assert copy.transcript.count(REDACTED) == 10
    assert copy.narrator == "Anonymous narrator"


def test_summary_releases_no_transcript() -> None:
    copy = _copy("summary")

    assert copy.transcript is None
    assert copy.summary == "[redacted] on the strike at [redacted]."


@pytest.mark.parametrize("level", ["pseudonymized", "redacted", "summary"])
def test_no_hidden_span_or_narrator_name_survives(level: str) -> None:
    text = _copy(level).__dict__
    everything = " ".join(str(v) for v in text.values())

    for name in (*HIDDEN, "Rosa", "Example", "New Haven", "J. Kim", "private note"):
        assert name.lower() not in everything.lower(), name
    assert "the housekeeper" not in everything or level == "pseudonymized"


def test_non_full_levels_keep_only_the_interview_year() -> None:
    assert _copy("redacted").interview_date == "2019"


def test_spans_marked_in_the_title_and_summary_are_redacted_there_and_plain_at_full() -> None:
    marked = {"title": "[[person:Kwame Mensah|the driver]] at work",
              "summary": "How [[org:Bluewater Foods]] fired Kwame."}

    assert (_copy("full", **marked).title, _copy("full", **marked).summary) == (
        "Kwame Mensah at work", "How Bluewater Foods fired Kwame.")
    pseudonymized = _copy("pseudonymized", **marked)
    assert (pseudonymized.title, pseudonymized.summary) == ("the driver at work", "How Employer 2 fired the driver.")
    assert _copy("summary", **marked).title == "[redacted] at work"


@pytest.mark.parametrize("level", ["full", "pseudonymized", "redacted", "summary"])
def test_a_story_sealed_before_titles_took_spans_still_releases(level: str) -> None:
    """Titles and summaries were free text: one with stray brackets is plain text to the gate."""
    old = drafts.from_content({**story(title="Notes [[draft", summary="Rosa Example ]] said"), "tags": []},
                              {"embargo_until": None, "redaction_level": level, "release_review": False})

    copy = redact(old)

    assert copy.title == "Notes [[draft"
    assert "Rosa" not in copy.summary or level == "full"


@pytest.mark.parametrize("level", ["pseudonymized", "redacted", "summary"])
@pytest.mark.parametrize("written", ["rosaexample2019", "Rosa2", "lopez2019", "rosa_example99",
                                     "maria.lopez@example.org", "@Maria_Lopez", "MariaLopez1"])
def test_a_name_written_as_a_handle_is_hidden_too(level: str, written: str) -> None:
    """Account names and addresses glue a name to digits, join it with underscores or run it
    together: each is the name, hidden at every level."""
    text = f"Write to {written} about it. [[person:Maria Lopez]] knows."
    draft = drafts.parse(story(narrator="Rosa Example", title=f"From {written}", summary=text, transcript=text,
                               redaction_level=level))
    released = " ".join([redact(draft).title, redact(draft).summary, redact(draft).transcript or ""]).lower()
    for part in ("rosa", "example", "maria", "lopez"):
        assert part not in released.replace("example.org", ""), (part, released)


def test_a_word_that_carries_a_name_is_hidden_whole() -> None:
    """When in doubt, hide: a part of five letters or more anywhere in a word, one of three or
    four at a word's start or end. A short part inside a longer word is the word's own."""
    text = ("Rosalind gave Examples at Local 226 and Lopezville. The Garcias' van. [[person:Maria Lopez]] came. "
            "Planning the annual vote; Ann's plan.")
    draft = drafts.parse(story(narrator="Rosa Example", interviewer="Ann Garcia", summary=text, transcript=text,
                               redaction_level="redacted"))
    assert redact(draft).summary == (f"{REDACTED} gave {REDACTED} at Local 226 and {REDACTED}. The {REDACTED}' van. "
                                     f"{REDACTED} came. Planning the {REDACTED} vote; {REDACTED}'s plan.")


@pytest.mark.parametrize("written", ["R\u043esa", "L\u03bfpez", "\u041cARIA", "\u041c\u0430ria L\u043ep\u0435z"])
def test_a_name_typed_with_look_alike_letters_of_another_keyboard_is_hidden(written: str) -> None:
    """A writer switching between Cyrillic (or Greek) and Latin layouts mixes letters drawn alike."""
    text = f"{written} was there. [[person:Maria Lopez]] knows."
    draft = drafts.parse(story(narrator="Rosa Example", summary=text, transcript=text, redaction_level="redacted"))
    assert redact(draft).summary == f"{REDACTED} was there. {REDACTED} knows."


def test_a_name_part_made_of_letters_and_digits_is_hidden_wherever_it_stands() -> None:
    text = "The 32BJ contract expired; SEIULocal32BJ and seiu_local_32bj said so. [[org:SEIU Local 32BJ]] won."
    draft = drafts.parse(story(summary=text, transcript=text, redaction_level="redacted"))
    assert redact(draft).summary == (f"The {REDACTED} contract expired; {REDACTED} and {REDACTED} said so. "
                                     f"{REDACTED} won.")


@pytest.mark.parametrize("people, text, kept", [
    ("Emily Lin|Daniel Lai|Tara Sen|Alice Ward|Amy Long|Carl Ash|Sam Tate|Paul Rice",
     "On the picket line we were sent home, given an award along with cash; the state paid the price.",
     "On the picket [redacted] we were [redacted] home, given an [redacted] [redacted] with [redacted]; "
     "the [redacted] paid the [redacted]."),
    ("Li Na|Bo Ng", "Li told Na and Ng left. A li is a unit; na means no.",
     "Li told [redacted] and [redacted] left. A li is a unit; na means no."),
])
def test_ordinary_words_that_carry_a_short_name_are_hidden_and_shorter_parts_only_in_context(
        people: str, text: str, kept: str) -> None:
    """A name of three or four letters at a word's start or end hides the word (Lin: line, Ward:
    award): over-redaction the preview shows, never a leak. A part of one or two letters alone is
    hidden only where it is written as a name: with a capital inside a sentence, after a title,
    beside or glued to another part of its name."""
    spans = " ".join(f"[[person:{person}]]" for person in people.split("|"))
    draft = drafts.parse(story(summary=f"{text} {spans}", transcript=text, redaction_level="redacted"))
    assert redact(draft).summary.startswith(kept + " ")


@pytest.mark.parametrize("narrator, tag", [("Мария Петрова", "МарияLopez"), ("Νίκος Παππάς", "#ΠαππάςFamily"),
                                           ("Rosa Example", "RоsaFamily")])  # the last with a Cyrillic о
def test_a_tag_gluing_a_hidden_name_to_words_of_another_script_is_dropped(narrator: str, tag: str) -> None:
    draft = drafts.parse(story(narrator=narrator, tags=[tag, "strike"], redaction_level="redacted"))
    assert redact(draft).tags == ("strike",)


def test_a_name_word_gluing_letters_to_digits_hides_only_the_whole_word() -> None:
    """Studio54 and Pier39 are names only whole: a studio and a pier stay what they are."""
    text = "We rented a studio near the pier; Studio54 and PIER39 closed. [[org:Studio54]] [[place:Pier39]]"
    draft = drafts.parse(story(summary=text, redaction_level="redacted"))
    assert redact(draft).summary == (f"We rented a studio near the pier; {REDACTED} and {REDACTED} closed. "
                                     f"{REDACTED} {REDACTED}")
