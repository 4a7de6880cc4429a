"""Generated names written the ways people write them: no released copy carries a hidden part.

Each class the review found is a strategy: affixes of several languages, glued, CamelCase and
hashtag forms, addresses and handles, particle surnames apart and together, spelled-out and
line-broken names, short names in any order, surnames that are also function words, look-alike
capitals and symbol letters from Unicode's confusables, invisible (default-ignorable) code
points; Arabic-script keyboard variants (yeh and kaf of the Arabic and Persian keyboards, the
tatweel) and apostrophe-like letters (and, in `tests/test_redaction_captions.py`, WebVTT markup
inside captions). Each name is the narrator, a marked span, the interviewer or the place, at
every level below full. The check is the issue's, written here apart from `archive.transcripts.names`'
rules (only the character folding is shared: `archive.transcripts.characters` is the one policy): in any
word of any released field, of every export and of the Dublin Core record (OAI-PMH, the bag's
CSV), no hidden part of five letters or more anywhere, none of three or four letters at the
start or end of the word or of a segment, no two short parts of one name together or glued
(glued, they are a part of their joint length); spelled-out letters and words broken across a
line are joined first. A word written with an apostrophe-like letter (``Saʿid``) is a part in
its pieces (``sa``, ``id``) and with its letters run together (``said``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from functools import cache

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from archive.reading_room import exports
from archive.reading_room.models import ReleasedStory
from archive.release.redaction import ReleasedText, redact
from archive.transcripts import characters, names
from archive.vault import drafts
from tests.helpers import story

LEVELS = ("pseudonymized", "redacted", "summary")
CONSONANTS, VOWELS, RARE = "bcdfgjkmnpqrstvwxz", "aeiou", "qxzjkvw"
FILLER = "and then we went to the meeting after our shift because nobody else would talk about pay".split()
FUNCTION_SURNAMES = ("Das", "Her", "Una", "Della", "Les", "Des", "Van", "Nor")
TITLES = ("Mx.", "Ms.", "Mr.", "Sra.", "Dr.")
PARTICLE_SURNAMES = (("De", "Jesus"), ("Dela", "Cruz"), ("Van", "Dyke"), ("Del", "Toro"))


def _exports_own_words() -> list[str]:
    """What every export writes of a copy with no text of its own, at every level: keys, element
    names, the OHMS namespace (``weareavp``), the level's name ("pseudonymized copy")."""
    found = []
    for level in ("full", "pseudonymized", "redacted", "summary"):
        row = ReleasedStory(id="s1", title="", narrator="", transcript="", summary="", interviewer="",
                            interview_date="2019", place="", language="en", tags="[]", redaction_level=level,
                            released_at=datetime.now(UTC), content_hash="")
        found += [exports.bibtex(row, None), exports.ris(row, None), exports.csl_json(row, None),
                  exports.ohms(row, None).decode("utf-8")]
    return found


# Words a released copy or an export writes itself: a generated name must not be inside one.
BOILERPLATE = " ".join([*FILLER, "person employer place narrator interviewer redacted pseudonymous anonymous",
                        "hotel strike night shift oral history interview escrow archive text misc",
                        *exports.RIGHTS.values(), "the cook a coworker", *_exports_own_words()]).lower()


_fold_char = cache(characters.fold_char)  # the one folding, remembered: the check folds every word


def _fold(text: str) -> str:
    return "".join(map(_fold_char, text))


@st.composite
def part(draw: st.DrawFn, size: tuple[int, int] = (3, 8)) -> str:
    """A name part: random letters with a vowel and a rare letter (q, x, z, j, k, v, w), so never
    inside the copy's own words."""
    letters = draw(st.lists(st.sampled_from(CONSONANTS + VOWELS), min_size=size[0], max_size=size[1]))
    vowel, rare = draw(st.permutations(range(len(letters))))[:2]
    letters[vowel], letters[rare] = draw(st.sampled_from(VOWELS)), draw(st.sampled_from(RARE))
    word = "".join(letters)
    assume(word not in BOILERPLATE and word not in names.FUNCTION_WORDS and word not in names.TITLES)
    return word.title()


@st.composite
def name(draw: st.DrawFn) -> list[str]:
    """A name as its parts: plain, short (every part under three letters), with a surname that is
    also a function word, or with a particle surname."""
    shape = draw(st.sampled_from(["plain", "short", "function", "particle"]))
    if shape == "short":
        first, last = draw(part((2, 2))), draw(part((2, 2)))
        assume(first.lower() != last.lower())
        return [first, last]
    if shape == "function":
        return [draw(part()), draw(st.sampled_from(FUNCTION_SURNAMES))]
    if shape == "particle":
        return [draw(part()), *draw(st.sampled_from(PARTICLE_SURNAMES))]
    return draw(st.lists(part(), min_size=1, max_size=3, unique_by=str.lower))


@cache
def _look_alikes() -> dict[str, list[str]]:
    """For each Latin letter, the letters and symbols of other scripts Unicode's table (or a
    symbol letter's name) says are drawn like it."""
    found: dict[str, list[str]] = {}
    for code in [*range(0x370, 0x530), *range(0x1D00, 0x1D2C), *range(0x1F130, 0x1F18A), *range(0x250, 0x2B0)]:
        char = chr(code)
        if unicodedata.category(char)[0] in "LS" and len(_fold(char)) == 1 and _fold(char).isascii():
            found.setdefault(_fold(char), []).append(char)
    return found


INVISIBLE = [chr(a) for a, _ in characters.DEFAULT_IGNORABLE if a != 0xE0000] + ["\u2065", "\U000e0080"]


@st.composite
def spelled(draw: st.DrawFn, word: str) -> str:
    """A word as typed: as is, in capitals, with a look-alike letter, or with an invisible one."""
    how = draw(st.sampled_from(["as is", "upper", "look-alike", "invisible"]))
    if how == "upper":
        return word.upper()
    at = draw(st.integers(0, len(word) - 1))
    if how == "look-alike":
        choices = _look_alikes().get(word[at].lower())
        return word if not choices else word[:at] + draw(st.sampled_from(choices)) + word[at + 1 :]
    if how == "invisible" and at > 0:
        return word[:at] + draw(st.sampled_from(INVISIBLE)) + word[at:]
    return word


@st.composite
def mention(draw: st.DrawFn, parts: list[str]) -> str:
    """One way a person writes a name in running text."""
    short = all(len(p) < names.MIN_PART for p in parts)
    core = [p for p in parts if p.lower() not in names.PARTICLES and p not in FUNCTION_SURNAMES]
    one = draw(st.sampled_from(core or parts))
    forms = [
        lambda: " ".join(parts),
        lambda: draw(spelled(one)) + draw(st.sampled_from(["s", "'s", "es", "en", "nak", "owi", "iego", "a"])),
        lambda: draw(st.sampled_from(["al", "l'", "Wa"])) + one.lower(),
        lambda: "#JusticeFor" + one, lambda: one + "Strike", lambda: "m" + one.lower() + "@example.org",
        lambda: one.lower() + "m", lambda: one + "2019", lambda: "".join(p.title() for p in parts),
        lambda: draw(st.sampled_from(["-", " ", "."])).join(one.upper()),
        lambda: (lambda k: one[:k] + "-\n" + one[k:])(draw(st.integers(1, len(one) - 1))),
        lambda: draw(st.sampled_from([" ", ", ", "-", ""])).join(draw(st.permutations(parts))),
        lambda: draw(st.sampled_from(["#JusticeFor", "m", ""])) + "".join(draw(st.permutations(parts))).title()
        + draw(st.sampled_from(["", "@example.org", "2019", "Strike"])),
    ]
    if not short and parts[-1] in FUNCTION_SURNAMES:
        forms.append(lambda: draw(st.sampled_from(TITLES)) + " " + parts[-1])
        forms.append(lambda: "then " + parts[-1])
    if not short:
        forms.append(lambda: draw(spelled(one)))
    return draw(st.sampled_from(forms))()


@st.composite
def stories(draw: st.DrawFn) -> tuple[drafts.Draft, list[list[str]]]:
    """A story whose hidden names (narrator, a marked span, interviewer, place) are written every way."""
    people = draw(st.lists(name(), min_size=4, max_size=4))
    flat = [p.lower() for person in people for p in person]
    assume(len(set(flat)) == len(flat))
    narrator, marked, interviewer, place = (" ".join(p) for p in people)
    mentions = [draw(mention(person)) for person in people for _ in range(draw(st.integers(1, 3)))]
    words = [*mentions, *draw(st.lists(st.sampled_from(FILLER), min_size=2, max_size=10))]
    transcript = f"[[person:{marked}]] spoke. " + " ".join(draw(st.permutations(words))) + "."
    data = story(narrator=narrator, interviewer=interviewer, place=place, transcript=transcript,
                 title=f"Night {draw(mention(draw(st.sampled_from(people))))} shift",
                 summary=f"On the strike, then {draw(mention(draw(st.sampled_from(people))))}.",
                 tags=["strike", "".join(draw(st.sampled_from(people))).lower()])
    return drafts.parse(data), people


# Arabic-script letters with one form on every keyboard, none drawn like a Latin letter (alef is
# drawn like an l, heh like an o: a part holds two letters of these at least).
ARABIC = "بتثجحخدذرزسشصضطظعغفقلمنو"
# One letter on two keyboards: Arabic yeh and kaf, Persian yeh and kaf (keheh).
KEYBOARDS = {"arabic": {"ي": "ي", "ك": "ك"}, "persian": {"ي": "ی", "ك": "ک"}}
TATWEEL = "\u0640"  # the letter-stretching stroke, drawn as part of the word
ARABIC_PREFIXES = ("و", "ال", "وال", "ب", "بال", "ل", "لل", "ف", "ك")  # and, the, with, to, so, like
ARABIC_SUFFIXES = ("ها", "هم", "ي", "نا", "\u200cها", "ِ")  # pronouns, a Persian plural, an ezafe
APOSTROPHES = ("\u02bc", "\u02bb", "\u02bf", "'", "\u2019")  # ʼ ʻ ʿ ' ’


@st.composite
def arabic_part(draw: st.DrawFn) -> str:
    """A name part in Arabic script (as the Arabic keyboard types it) holding a yeh or a kaf,
    sometimes an alef, sometimes ending in a teh marbuta."""
    letters = draw(st.lists(st.sampled_from(ARABIC), min_size=2, max_size=5))
    letters.insert(draw(st.integers(0, len(letters))), draw(st.sampled_from("يك")))
    if draw(st.booleans()):
        letters.insert(draw(st.integers(1, len(letters))), "ا")
    return "".join(letters) + draw(st.sampled_from(["", "", "ة"]))


@st.composite
def typed(draw: st.DrawFn, word: str) -> str:
    """An Arabic-script word as typed on one keyboard or the other (or each letter on either),
    with tatweel strokes between its letters."""
    layout = draw(st.sampled_from(["arabic", "persian", "mixed"]))
    out = []
    for letter in word:
        keyboard = KEYBOARDS[draw(st.sampled_from(sorted(KEYBOARDS))) if layout == "mixed" else layout]
        out.append(keyboard.get(letter, letter))
        if out[-1] in ARABIC + "يیکك" and draw(st.integers(0, 3)) == 0:
            out.append(TATWEEL)
    return "".join(out).rstrip(TATWEEL) if out[-1] == TATWEEL and draw(st.booleans()) else "".join(out)


@st.composite
def apostrophe_part(draw: st.DrawFn) -> str:
    """A Latin name part written with an apostrophe-like letter (ʿAli, Saʿid, Jaʿfar, Kaʻiulani,
    Gʻayrat): a short piece or none before it, a piece of two letters or more after it."""
    before = draw(st.sampled_from(["", *CONSONANTS])) + draw(st.sampled_from(["", *VOWELS]))
    after = draw(part((2 if before else 3, 6)))
    assume(before not in names.PARTICLES | names.FUNCTION_WORDS and before not in BOILERPLATE.split())
    mark = draw(st.sampled_from(APOSTROPHES))
    return before.capitalize() + mark + after.lower() if before else mark + after


@st.composite
def keyboard_name(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A name as its parts, in Arabic script or Latin with an apostrophe-like letter; and its script."""
    if draw(st.booleans()):
        return "arabic", draw(st.lists(arabic_part(), min_size=1, max_size=3, unique_by=_fold))
    return "latin", [draw(apostrophe_part()), *draw(st.lists(part(), max_size=1))]


def _apostrophe(word: str, mark: str) -> str:
    """The word with its apostrophe-like letter typed as another one (or left out: "")."""
    return re.sub(f"[{''.join(APOSTROPHES)}]", mark, word)


@st.composite
def keyboard_mention(draw: st.DrawFn, script: str, parts: list[str]) -> str:
    """One way a person writes a name typed on another keyboard."""
    if script == "arabic":
        one = draw(typed(draw(st.sampled_from(parts))))
        forms = [
            lambda: " ".join(draw(typed(p)) for p in parts),
            lambda: draw(st.sampled_from(ARABIC_PREFIXES)) + one,
            lambda: one + draw(st.sampled_from(ARABIC_SUFFIXES)),
            lambda: "#" + "_".join(draw(typed(p)) for p in parts), lambda: one + "2019",
            lambda: "#JusticeFor" + one, lambda: one,
        ]
    else:
        marks = st.sampled_from([*APOSTROPHES, ""])
        one = _apostrophe(draw(st.sampled_from(parts)), draw(marks))
        plain = _apostrophe(draw(st.sampled_from(parts)), "")  # glued: no apostrophe in an address
        forms = [
            lambda: " ".join(_apostrophe(p, draw(marks)) for p in parts), lambda: one,
            lambda: one + draw(st.sampled_from(["'s", "\u02bcs", "\u2019s"])), lambda: one.upper(),
            lambda: "#JusticeFor" + plain, lambda: "m" + plain.lower() + "@example.org", lambda: plain + "2019",
            lambda: plain + "Strike", lambda: plain.lower() + "m",
        ]
    return draw(st.sampled_from(forms))()


@st.composite
def keyboard_stories(draw: st.DrawFn) -> tuple[drafts.Draft, list[list[str]]]:
    """A story whose hidden names (narrator, a marked span, interviewer, place), in Arabic script
    or with apostrophe-like letters, are written on another keyboard than their fields'."""
    named = draw(st.lists(keyboard_name(), min_size=4, max_size=4))
    people = [parts for _, parts in named]
    flat = [p for parts in people for word in parts for p in re.findall(r"[^\W\d_]+", _fold(word))]
    assume(len(set(flat)) == len(flat))
    narrator, marked, interviewer, place = (" ".join(p) for p in people)
    mentions = [draw(keyboard_mention(script, parts)) for script, parts in named
                for _ in range(draw(st.integers(1, 3)))]
    words = [*mentions, *draw(st.lists(st.sampled_from(FILLER), min_size=2, max_size=10))]
    # The span typed on another keyboard than the name it marks is written in a field.
    span = draw(typed(marked)) if named[1][0] == "arabic" else _apostrophe(marked, draw(st.sampled_from(APOSTROPHES)))
    transcript = f"[[person:{span}]] spoke. " + " ".join(draw(st.permutations(words))) + "."
    data = story(narrator=narrator, interviewer=interviewer, place=place, transcript=transcript,
                 title=f"Night {draw(keyboard_mention(*draw(st.sampled_from(named))))} shift",
                 summary=f"On the strike, then {draw(keyboard_mention(*draw(st.sampled_from(named))))}.",
                 tags=["strike", "".join(draw(st.sampled_from(people))).lower()])
    return drafts.parse(data), people


def _segments(text: str) -> list[tuple[str, list[str]]]:
    """Each word of a text (a run of letters), folded, with its segments (split where a capital
    follows a small letter, as written), folded."""
    found = []
    for word in re.findall(r"[^\W\d_]+", "".join(c for c in text if not characters.ignorable(c))):
        cut = re.split(r"(?<=[a-z\u00df-\u00ff])(?=[A-Z\u00c0-\u00de])", word)
        # An apostrophe-like letter is a letter as written, an apostrophe once folded.
        for piece in re.findall(r"[^\W\d_]+", _fold(word)):
            found.append((piece, [s for c in cut for s in re.findall(r"[^\W\d_]+", _fold(c))]))
    return found


def _joined(text: str) -> list[str]:
    """Letters spelled out one by one, and words broken across a line by a hyphen, joined."""
    folded = _fold(text)
    spelled = re.findall(r"(?<![^\W\d_])[^\W\d_](?:[^\w\n]{1,2}[^\W\d_](?![^\W\d_]))+", folded)
    broken = re.findall(r"([^\W\d_]+)-[ \t]*\n[ \t]*([^\W\d_]+)", folded)
    return [re.sub(r"\W", "", s) for s in spelled] + [a + b for a, b in broken]


def _contextual(part: str) -> bool:
    """A part hidden only in context: under three letters, or a word sentences use too."""
    return part in names.FUNCTION_WORDS or len(part) < names.MIN_PART


def name_parts(person: list[str]) -> list[str]:
    """The folded parts of a name the rules apply to: each word of it, a word written with an
    apostrophe or an apostrophe-like letter both in its pieces and with its letters run
    together (``Saʿid``: ``sa``, ``id``, ``said``), and two short parts glued (``Li Na``:
    ``lina``, ``nali``), which is a part of their joint length."""
    parts: list[str] = []
    for word in person:
        pieces = re.findall(r"[^\W\d_]+", _fold(word))
        parts += pieces if len(pieces) == 1 else [*pieces, "".join(pieces)]
    short = [p for p in dict.fromkeys(parts) if _contextual(p) and p not in names.PARTICLES]
    parts += [p + q for p in short for q in short if p != q]
    return list(dict.fromkeys(parts))


def leaks(text: str, people: list[list[str]]) -> list[str]:
    """What of the hidden people's names a released text shows, by the issue's rules."""
    found = []
    words = _segments(text) + [(w, [w]) for w in _joined(text)]
    folded = _fold(text)
    for person in people:
        parts = name_parts(person)
        for p in parts:
            if _contextual(p):
                continue
            for word, segments in words:
                pieces = [word, *segments]
                if (len(p) >= 5 and p in word) or any(s.startswith(p) or s.endswith(p) for s in pieces):
                    found.append(f"{p} in {word}")
        contextual = [p for p in parts if _contextual(p)]
        for p in contextual:
            others = [q for q in parts if q != p and q not in names.PARTICLES]
            for q in others:
                if re.search(rf"\b{re.escape(p)}\W{{0,3}}{re.escape(q)}\b|\b{re.escape(q)}\W{{0,3}}{re.escape(p)}\b",
                             folded):
                    found.append(f"{p} beside {q}")
            if p in names.FUNCTION_WORDS and re.search(rf"\b(?:mx|ms|mr|sra|dr)\.? {re.escape(p)}\b", folded):
                found.append(f"title {p}")
    return found


def released_fields(copy: ReleasedText) -> dict[str, str]:
    """Every text a released copy puts out: its fields, its captions file, every export and its
    Dublin Core record (what OAI-PMH and the bag's CSV carry)."""
    row = ReleasedStory(id="s1", title=copy.title, narrator=copy.narrator, transcript=copy.transcript,
                        summary=copy.summary, interviewer=copy.interviewer, interview_date=copy.interview_date,
                        place=copy.place, language=copy.language, tags=json.dumps(list(copy.tags)),
                        redaction_level=copy.redaction_level, released_at=datetime.now(UTC), content_hash="",
                        captions=copy.captions)
    plain = exports.transcript(row)
    return {"title": copy.title, "summary": copy.summary, "transcript": copy.transcript or "",
            "captions": copy.captions or "", **{f"tag {i}": t for i, t in enumerate(copy.tags)},
            "bibtex": exports.bibtex(row, None), "ris": exports.ris(row, None),
            "csl-json": exports.csl_json(row, None), "ohms": exports.ohms(row, None).decode("utf-8"),
            "txt": plain.body if plain else "",
            "dublin core": "\n".join(exports.xml_text(v) for _, v in exports.dublin_core(row, None))}


def assert_nothing_released(draft: drafts.Draft, people: list[list[str]]) -> None:
    """At every level below full, no released field, export or Dublin Core element shows a hidden part."""
    for level in LEVELS:
        copy = redact(draft.changed(redaction_level=level))
        for field, text in released_fields(copy).items():
            assert not leaks(text, people), (level, field, leaks(text, people), text)


def example_story(people: list[list[str]], **fields: str) -> tuple[drafts.Draft, list[list[str]]]:
    """An explicit example: a story with the given fields, and the parts of its hidden names."""
    return drafts.parse(story(**fields)), people


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(stories())
# Short parts glued into one segment of a longer word (found by this property: only a part
# that was a whole segment, LiNa's Li, was looked for inside words).
@example(example_story([["Aq", "Ax"]], narrator="Aq Ax", summary="On the strike, then #JusticeForAqax.",
              transcript="Write maqax@example.org, or AxaqStrike."))
def test_no_released_word_carries_a_hidden_name_however_it_is_written(case: tuple[drafts.Draft, list[list[str]]]
                                                                    ) -> None:
    assert_nothing_released(*case)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(keyboard_stories())
# Short pieces of a word written with an apostrophe-like letter, run together in a hashtag
# (found by this property: only the written pieces were looked for inside words).
@example(example_story([["B\u02bcaq", "Aqb"]], narrator="B\u02bcaq Aqb", summary="On the strike, then #JusticeForBaq.",
              transcript="Ask mbaq@example.org or BaqStrike."))
def test_no_released_word_carries_a_hidden_name_typed_on_another_keyboard(case: tuple[drafts.Draft, list[list[str]]]
                                                                          ) -> None:
    assert_nothing_released(*case)
