"""Generated names in every spelling: no hidden part reaches a released field or the index.

Names come from several scripts (Latin with diacritics, German ß, Turkish dotted and
dotless i, Greek with its final sigma, Cyrillic), are written in NFC, NFD and compatibility
forms (full-width letters), in upper, lower and title case, joined by hyphens, dashes and
apostrophes, and stand in generated text with punctuation and possessives, as narrator,
marked spans (with and without chosen stand-ins), interviewer and place. The check is
independent of `archive.transcripts.names`: NFKC, full case folding, marks and format characters
dropped, then whole words compared.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archive.reading_room.index import Index, document
from archive.reading_room.models import ReleasedStory
from archive.release.redaction import STAND_INS, ReleasedText, redact
from archive.transcripts import names
from archive.vault import drafts
from archive.vault.drafts import Draft
from tests import test_redaction_captions as captions
from tests import test_redaction_classes as classes
from tests.helpers import story

ALPHABETS = {
    "latin": "abcdefghijklmnopqrstuvwxyzáéíóúàèñüöäçåãõ",
    "german": "abcdefghiklmnoprstuwzäöüß",
    "turkish": "abcçdefgğhıijklmnoöprsştuüvyz",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюяё",
}
FILLER = ("and then we went to the meeting after our shift because nobody else would talk about "
          "pay or the schedule so I said it out loud").split()
# The words a handle's address template writes around a name (handle below): a name part that is
# one of them is hidden there too, rightly, and the counts below would see one stand-in more.
HANDLE_WORDS = {"example", "org"}
CHOSEN = ("the cook", "the steward", "a coworker", "the tall one")
SEPARATORS = (" ", "-", "\u2013", "\u2014", "'", "\u2019")
LEVELS = ("pseudonymized", "redacted", "summary")
LANGUAGES = ("en", "es")  # each with its own stand-ins (redaction.STAND_INS), chosen by the story's language
# Words the released copy writes itself (stand-ins, labels, in every language; the redaction
# level's code, which the index stores): a generated name may not be one.
OWN_WORDS = {w for phrase in (*CHOSEN, *(p for words in STAND_INS.values() for p in (
    words.redacted.strip("[]"), words.narrator, words.interviewer, *words.narrator_by_level.values(),
    *words.labels.values()))) for w in phrase.lower().split()} | {"full", *LEVELS}  # and the level's code, stored


# Cyrillic letters drawn like Latin ones, as a writer switching keyboard layouts mixes them in.
LOOKALIKES = {"a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "x": "х", "y": "у"}
_AS_LATIN = str.maketrans({cyrillic: latin for latin, cyrillic in LOOKALIKES.items()})


def _norm(text: str) -> str:
    """NFKC, full case folding, marks and format characters dropped, look-alike Cyrillic read
    as Latin: the check's own folding."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c for c in unicodedata.normalize("NFKD", folded)
                   if unicodedata.category(c) not in ("Mn", "Mc", "Me", "Cf"))
    return kept.replace("ı", "i").translate(_AS_LATIN)


def _words(text: str) -> set[str]:
    """Runs of letters: a name glued to digits or underscores is still a word of its own."""
    return set(re.findall(r"[^\W\d_]+", _norm(text)))


@st.composite
def name_parts(draw: st.DrawFn) -> list[str]:
    """One to three parts of three to eight letters, all from one script."""
    alphabet = ALPHABETS[draw(st.sampled_from(sorted(ALPHABETS)))]
    parts = draw(st.lists(st.text(alphabet, min_size=3, max_size=8), min_size=1, max_size=3))
    folded = [_norm(p) for p in parts]
    assume(all(len(p) >= 3 and p not in OWN_WORDS and p not in FILLER and p not in HANDLE_WORDS for p in folded))
    assume(all(p not in names.FUNCTION_WORDS and p not in names.COMMON_NOUNS for p in folded))
    # Nor as redaction reads letters drawn alike (Greek θνέ is "one", a stand-in's word: the door
    # refuses that stand-in, as tests/test_redaction_release.py shows).
    read = set(names.key(" ".join(parts)))
    assume(not read & (OWN_WORDS | set(FILLER) | HANDLE_WORDS | names.FUNCTION_WORDS | names.COMMON_NOUNS))
    return parts


def _one_lookalike(text: str) -> str:
    """The first letter that has a Cyrillic look-alike typed as it, as a slip between layouts does."""
    at = next((i for i, c in enumerate(text) if c in LOOKALIKES), None)
    return text if at is None else text[:at] + LOOKALIKES[text[at]] + text[at + 1 :]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


SPELLINGS = {
    "as given": lambda s: s, "upper": str.upper, "lower": str.lower, "title": str.title,
    "NFC": lambda s: unicodedata.normalize("NFC", s), "NFD": lambda s: unicodedata.normalize("NFD", s),
    "full-width": _fullwidth, "NFD upper": lambda s: unicodedata.normalize("NFD", s.upper()),
    "mixed keyboards": lambda s: _one_lookalike(s),
}


@st.composite
def spelled(draw: st.DrawFn, text: str) -> str:
    """The same name or part as a person would read it, in another spelling."""
    return SPELLINGS[draw(st.sampled_from(sorted(SPELLINGS)))](text)


@st.composite
def handle(draw: st.DrawFn, parts: list[str]) -> str:
    """A name as an account name or an email address writes it: glued to digits, joined by
    underscores or dots, or run together."""
    digits = draw(st.sampled_from(["", "2", "99", "2019"]))
    forms = [draw(st.sampled_from(parts)) + digits, "_".join(parts) + digits, "".join(parts) + digits,
             ".".join(parts) + "@example.org"]
    return draw(st.sampled_from(forms))


@st.composite
def mention(draw: st.DrawFn, parts: list[str]) -> str:
    """A mention of a name: whole (any joiner), one part, or a handle; with a possessive or
    punctuation."""
    choice = draw(st.integers(0, 3))
    if choice == 0 and len(parts) > 1:
        said = draw(st.sampled_from(SEPARATORS)).join(parts)
    elif choice == 1:
        said = draw(handle(parts))
    else:
        said = draw(st.sampled_from(parts)) if draw(st.booleans()) else " ".join(parts)
    said = draw(spelled(said))
    return said + draw(st.sampled_from(["", "'s", "\u2019s", ",", ".", "!", ":", ")", "\u2019"]))


@st.composite
def stories(draw: st.DrawFn) -> tuple[Draft, dict[str, list[str]]]:
    """A valid story whose hidden names are mentioned everywhere; with each name's kind."""
    people = draw(st.lists(name_parts(), min_size=4, max_size=7))
    narrator, interviewer, place, *marked = people
    kinds = [draw(st.sampled_from(["person", "org", "place"])) for _ in marked]
    joined = [draw(st.sampled_from(SEPARATORS[:2])).join(p) for p in people]
    words: list[str] = []
    for i in range(len(marked)):
        stand_in = draw(st.sampled_from(["", *CHOSEN])) if kinds[i] == "person" else ""
        words.append(f"[[{kinds[i]}:{joined[3 + i]}{'|' + stand_in if stand_in else ''}]]")
    for parts in people:
        for _ in range(draw(st.integers(1, 3))):
            words.append(draw(mention(parts)))
    words += draw(st.lists(st.sampled_from(FILLER), min_size=3, max_size=20))
    words = draw(st.permutations(words))
    transcript = " ".join(words)
    title = f"{draw(mention(narrator))} at {draw(mention(place))} with {draw(mention(interviewer))}"
    summary = f"{draw(mention(narrator))} on {draw(mention(draw(st.sampled_from(people))))}."
    if draw(st.booleans()):  # spans may be marked in the title and summary too
        title = f"[[{kinds[0]}:{joined[3]}]] and {title}"
        summary = f"{summary} With [[person:{joined[0]}]]."
    tags = [draw(st.sampled_from(["", "#"])) + "".join(draw(st.sampled_from(people))).title(), "strike"]
    data = story(narrator=joined[0], interviewer=joined[1], place=joined[2], title=title[:300],
                 summary=summary, transcript=transcript, tags=tags, language=draw(st.sampled_from(LANGUAGES)))
    hidden = {"person": [joined[0], joined[1]], "place": [joined[2]], "org": []}
    for i, kind in enumerate(kinds):
        hidden[kind].append(joined[3 + i])
    return drafts.parse(data), hidden


def _forbidden(hidden: dict[str, list[str]]) -> tuple[set[str], set[str]]:
    """Words no released text may hold: every part of a hidden name (three letters or more)
    and every name run together; and every name run together, which no tag may hold anywhere."""
    parts, glued = set(), set()
    for name in (n for kind_names in hidden.values() for n in kind_names):
        words = re.findall(r"[^\W_]+", _norm(name))
        parts.update(w for w in words if len(w) >= 3)
        glued.add("".join(words))
        if len(words) > 1:
            parts.add("".join(words))
    return parts, glued


def _released_fields(copy: ReleasedText) -> dict[str, str]:
    return {"title": copy.title, "narrator": copy.narrator, "transcript": copy.transcript or "",
            "summary": copy.summary, "interviewer": copy.interviewer, "place": copy.place,
            **{f"tag {i}": t for i, t in enumerate(copy.tags)}}


def _leaks(text: str, parts: set[str], glued: set[str]) -> set[str]:
    found = _words(text) & parts
    squashed = "".join(re.findall(r"[^\W_]+", _norm(text)))
    return found | {g for g in glued if len(g) >= 3 and g in squashed and " " not in text.strip()}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(stories())
def test_no_part_of_a_hidden_name_is_released_in_any_spelling(case: tuple[Draft, dict[str, list[str]]]) -> None:
    draft, hidden = case
    parts, glued = _forbidden(hidden)
    for level in LEVELS:
        copy = redact(draft.changed(redaction_level=level))
        for field, value in _released_fields(copy).items():
            assert not _leaks(value, parts, glued), (level, field)
        assert all(not (_words(t) & parts) and not any(g in _norm(t) for g in glued) for t in copy.tags), level


@settings(max_examples=150)
@given(st.data(), name_parts(), st.sampled_from(["", *CHOSEN]), st.sampled_from(LANGUAGES))
def test_a_marked_person_keeps_one_stand_in_for_every_mention(data: st.DataObject, parts: list[str],
                                                            chosen: str, language: str) -> None:
    """The narrator marked as a span is "the narrator" ("la persona narradora") everywhere; a
    marked person with a chosen stand-in keeps it for every later mention, marked or not,
    whole or in part."""
    as_narrator = not chosen
    name = " ".join(parts)
    mentions = data.draw(st.lists(mention(parts), min_size=1, max_size=6))
    marked = f"[[person:{data.draw(spelled(name))}{'|' + chosen if chosen else ''}]]"
    transcript = " ".join([marked, "said", *(f"{m} and" for m in mentions)])
    draft = drafts.parse(story(narrator=name if as_narrator else "Rosa Example", transcript=transcript,
                               title=f"{mentions[0]} at work", redaction_level="pseudonymized", language=language))
    copy = redact(draft)
    words = STAND_INS[language]
    expected = words.narrator if as_narrator else chosen
    assert copy.transcript is not None
    assert copy.transcript.count(expected) == len(mentions) + 1
    assert words.labels["person"] not in copy.transcript and words.redacted not in copy.transcript
    assert copy.title.startswith(expected) and copy.title.endswith(" at work")


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(stories())
def test_no_part_of_a_hidden_name_reaches_the_index_stored_fields_or_term_dictionary(
        case: tuple[Draft, dict[str, list[str]]]) -> None:
    draft, hidden = case
    parts, _ = _forbidden(hidden)
    with tempfile.TemporaryDirectory() as folder:
        index = Index(Path(folder) / "index")
        index.ensure()
        index.write(add=[document(_row(f"story{n}", redact(draft.changed(redaction_level=level))))
                         for n, level in enumerate(LEVELS)], delete=())
        with index.searcher() as searcher:
            for stored in searcher.all_stored_fields():
                for field, value in stored.items():
                    if field != "content_hash":  # hexadecimal: its runs of a-f are no one's name
                        assert not (_words(str(value)) & parts), field
            for field in ("title", "body", "summary", "tags", "title_es", "body_es", "summary_es"):
                terms = {_norm(t.decode("utf-8")) for t in searcher.lexicon(field)}
                stems = {_norm(tok.text) for p in parts for tok in searcher.schema[field].analyzer(p)}
                assert not (terms & (parts | stems)), field
        index.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(classes.stories(), classes.keyboard_stories(), captions.captioned_stories()))
def test_no_term_of_the_index_carries_a_hidden_name_part_of_any_class(case: tuple[Draft, list[list[str]]]) -> None:
    """Every class of `tests/test_redaction_classes.py` and `tests/test_redaction_captions.py`
    (affixes, glued and CamelCase forms, addresses, particles, spelled-out and line-broken names,
    short names, function-word surnames, look-alike and symbol letters, invisible characters,
    keyboard variants, WebVTT markup), released at every level and indexed: by the issue's
    rules, no term of the index's dictionary, folded and read through Unicode's confusables as
    names are, carries a hidden part (five letters anywhere, three or four at an end, two short
    ones together)."""
    draft, people = case
    with tempfile.TemporaryDirectory() as folder:
        index = Index(Path(folder) / "index")
        index.ensure()
        index.write(add=[document(_row(f"story{n}", redact(draft.changed(redaction_level=level))))
                         for n, level in enumerate(LEVELS)], delete=())
        with index.searcher() as searcher:
            for field in ("title", "body", "summary", "tags"):
                # One term a line, lines apart: two terms are never read as two parts side by side.
                terms = "\n\n\n\n".join(t.decode("utf-8") for t in searcher.lexicon(field))
                assert not classes.leaks(terms, people), (field, classes.leaks(terms, people))
        index.close()


def _row(story_id: str, copy: ReleasedText) -> ReleasedStory:
    row = ReleasedStory(id=story_id, title=copy.title, narrator=copy.narrator, transcript=copy.transcript,
                        summary=copy.summary, interviewer=copy.interviewer, interview_date=copy.interview_date,
                        place=copy.place, language=copy.language, tags=json.dumps(list(copy.tags)),
                        redaction_level=copy.redaction_level, released_at=datetime.now(UTC), content_hash="")
    row.content_hash = row.compute_hash()
    return row


ANY_TEXT = st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\t")  # what the vault takes
IN_A_SPAN = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="[]|")


@st.composite
def any_accepted_story(draw: st.DrawFn) -> Draft:
    """Any text the vault accepts (every code point but controls), with span markup mixed in."""
    chunk = st.one_of(st.text(ANY_TEXT, max_size=30), st.builds(
        lambda kind, name, stand_in: f"[[{kind}:{name}{stand_in}]]",
        st.sampled_from(["person", "org", "place"]), st.text(IN_A_SPAN, min_size=1, max_size=20),
        st.sampled_from(["", "|x y", "|[redacted"])))
    transcript = "".join(draw(st.lists(chunk, min_size=1, max_size=12)))
    data = story(transcript=transcript, narrator=draw(st.text(ANY_TEXT, min_size=1, max_size=40)),
                 interviewer=draw(st.text(ANY_TEXT, max_size=40)), place=draw(st.text(ANY_TEXT, max_size=40)),
                 title=draw(st.text(ANY_TEXT, min_size=1, max_size=60)),
                 tags=draw(st.lists(st.text(ANY_TEXT, max_size=20), max_size=4)))
    try:
        return drafts.parse(data)
    except drafts.InvalidInput:
        assume(False)
        raise


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(any_accepted_story(), st.sampled_from(["full", *LEVELS]))
def test_redact_raises_on_nothing_the_vault_accepts(draft: Draft, level: str) -> None:
    copy = redact(draft.changed(redaction_level=level))
    assert copy.redaction_level == level


@settings(max_examples=300)
@given(name_parts(), st.sampled_from(sorted(SPELLINGS)), st.sampled_from(SEPARATORS))
def test_every_spelling_of_a_name_folds_to_the_same_key(parts: list[str], spelling: str, joiner: str) -> None:
    name = " ".join(parts)
    assert names.key(SPELLINGS[spelling](joiner.join(parts))) == names.key(name)


@given(st.text(max_size=100), st.data(), name_parts(), st.text(max_size=100))
def test_folding_is_idempotent_and_matches_map_back_inside_the_text(before: str, data: st.DataObject,
                                                                    parts: list[str], after: str) -> None:
    text = before + data.draw(spelled(parts[0])) + after
    assert names.fold(names.fold(text)) == names.fold(text)
    needle = names.key(parts[0])
    for match in names.Matcher({needle: "X"}).find(text):
        assert 0 <= match.start < match.end <= len(text)
        assert "".join(needle) in "".join(names.key(text[match.start : match.end]))
    separated = f"{before} {data.draw(spelled(parts[0]))} {after}"
    assert any(True for _ in names.Matcher({needle: "X"}).find(separated))
