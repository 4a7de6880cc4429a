"""Generated names inside WebVTT markup in captions: a player shows none of them, and a muted
recording is silent wherever a cue's released text hides something.

The class the review found: in a timed transcript, WebVTT cue text holds tags (``<c>``, ``<v>``,
``<b>``, ``<i>``, ``<u>``, ``<lang>``, ruby), inline timestamps and character references
(``&#117;``, ``&shy;``) inside a name, which a player drops or decodes and so draws the name
whole. Each name (the narrator, a marked span, the interviewer and the place) is written in the
captions every way `tests/test_redaction_classes.py` writes names, with markup put inside it
(its class names and voice annotations may hold a name too), at every level below full. Checked
by that file's rules: every released field, export and Dublin Core element; the released
captions as a player renders them, cue by cue; and the muted copy of a generated recording,
silent in every cue whose released text differs from what the story says there.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from archive.release.redaction import redact
from archive.transcripts import webvtt
from archive.vault import drafts
from tests.helpers import story
from tests.test_muting import muted, recording, samples
from tests.test_redaction_classes import FILLER, LEVELS, leaks, mention, name, released_fields

RATE = 8_000  # a short, cheap recording: one second a cue
CUE = 1_000  # each cue's place in the recording (ms); it speaks for its first 800 ms
INVISIBLE = ("&shy;", "&zwj;", "&zwnj;", "&lrm;", "&rlm;", "&#8203;", "&#x2060;")


@st.composite
def marked_up(draw: st.DrawFn, text: str, names: list[str]) -> str:
    """The text with WebVTT markup put inside it, as a player renders it the same: a tag (whose
    class or voice annotation may be a name) around a piece, an inline timestamp, a character
    reference for a letter, an invisible character by reference, or ruby text beside a piece.
    Places are chosen in the text as written (between two letters where it has two), never
    inside markup put before."""
    if not text:
        return text
    chars = list(text)  # each character with the markup put before and after it
    places = [k for k in range(1, len(text)) if text[k - 1].isalpha() and text[k].isalpha()] or [0]
    ruby = False
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(places))
        last = draw(st.integers(at, len(text) - 1))  # the last character a tag holds
        annotation = draw(st.sampled_from(["Speaker", *names]))
        how = draw(st.sampled_from(["tag", "timestamp", "reference", "invisible", "ruby"]))
        if how == "tag":
            opening = draw(st.sampled_from(["<c>", "<c.loud>", f"<c.{re.sub(r'[^a-z]', '', annotation.lower())}>",
                                            "<b>", "<i>", "<u>", "<lang es>", f"<v {annotation}>"]))
            chars[at] = opening + chars[at]
            chars[last] += "</" + re.match(r"<(\w+)", opening).group(1) + ">"  # type: ignore[union-attr]
        elif how == "timestamp":
            chars[at] = "<00:00:00.500>" + chars[at]
        elif how == "reference" and chars[at] == text[at] and text[at].isalpha():
            chars[at] = draw(st.sampled_from(["&#{};", "&#x{:x};", "&#X{:X};"])).format(ord(text[at]))
        elif how == "invisible":
            chars[at] = draw(st.sampled_from(INVISIBLE)) + chars[at]
        elif how == "ruby" and not ruby:  # one ruby a text: a ruby inside another is not WebVTT
            ruby = True
            chars[at] = "<ruby>" + chars[at]
            chars[last] += f"<rt>{draw(st.sampled_from(FILLER))}</rt></ruby>"
    return "".join(chars)


@st.composite
def captioned_stories(draw: st.DrawFn) -> tuple[drafts.Draft, list[list[str]]]:
    """A story told as captions whose hidden names (narrator, a marked span, interviewer,
    place) are written every way, with WebVTT markup inside them."""
    people = draw(st.lists(name(), min_size=4, max_size=4))
    flat = [p.lower() for person in people for p in person]
    assume(len(set(flat)) == len(flat))
    narrator, marked, interviewer, place = (" ".join(p) for p in people)
    every = [" ".join(p) for p in people]
    mentions = [draw(marked_up(draw(mention(person)), every)) for person in people
                for _ in range(draw(st.integers(1, 3)))]
    words = [f"[[person:{draw(marked_up(marked, every))}]] spoke.", *mentions,
             *draw(st.lists(st.sampled_from(FILLER), min_size=2, max_size=8))]
    words = draw(st.permutations(words))
    cues, at = [], 0
    while at < len(words):
        size = draw(st.integers(1, 4))
        start = len(cues) * CUE
        cues.append(f"{webvtt.clock(start)} --> {webvtt.clock(start + 800)}\n{' '.join(words[at : at + size])}")
        at += size
    data = story(narrator=narrator, interviewer=interviewer, place=place, captions="WEBVTT\n\n" + "\n\n".join(cues),
                 title=f"Night {draw(mention(draw(st.sampled_from(people))))} shift",
                 summary=f"On the strike, then {draw(mention(draw(st.sampled_from(people))))}.",
                 tags=["strike", "".join(draw(st.sampled_from(people))).lower()])
    del data["transcript"]
    return drafts.parse(data), people


def example_story(people: list[list[str]], captions: str, **fields: str) -> tuple[drafts.Draft, list[list[str]]]:
    """An explicit example: a story told as these captions, and the parts of its hidden names."""
    data = story(captions=captions, **fields)
    del data["transcript"]
    return drafts.parse(data), people


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(captioned_stories())
# The review's own case: a timestamp, a reference and tags inside the narrator's surname.
@example(example_story([["Marisol", "Quiroga"]], narrator="Marisol Quiroga", captions=(
    "WEBVTT\n\n00:00:01.000 --> 00:00:01.800\nAsk Quiro<00:00:01.500>ga.\n\n00:00:02.000 --> 00:00:02.800\n"
    "Qui&#114;oga and <c.quiroga>Quir</c>oga, <ruby>Qu<rt>x</rt></ruby>iroga.\n\n"
    "00:00:03.000 --> 00:00:03.800\n<v Marisol Quiroga>We struck.</v>\n")))
def test_no_name_inside_webvtt_markup_is_released_or_heard(case: tuple[drafts.Draft, list[list[str]]]) -> None:
    draft, people = case
    full = redact(draft.changed(redaction_level="full"))
    assert full.captions is not None
    said = webvtt.parse(full.captions)
    length = (said[-1].end // CUE + 1) * CUE
    original = recording("WAV", "PCM_16", 1, rate=RATE, seconds=length / 1000)
    for level in LEVELS:
        copy = redact(draft.changed(redaction_level=level))
        for field, text in released_fields(copy).items():
            assert not leaks(text, people), (level, field, leaks(text, people), text)
        if copy.captions is None:  # at summary; or a name split by a cue break: the transcript alone
            assert copy.silences == (), level
            continue
        # Plain text: no tag, and no reference but the three escapes, so that every player draws
        # the same text, the one webvtt.parse reads.
        assert "<" not in copy.captions and not re.search(r"&(?!amp;|lt;|gt;)", copy.captions), level
        shown = webvtt.parse(copy.captions)
        assert [(c.start, c.end) for c in shown] == [(c.start, c.end) for c in said]
        for cue in shown:
            assert not leaks(cue.text, people), (level, leaks(cue.text, people), cue.text)
        _, data = muted(original, [(a / 1000, b / 1000) for a, b in copy.silences])
        heard = samples(data, "int16")
        for released, spoken in zip(shown, said, strict=True):
            if released.text != spoken.text:  # the cue hides something: nothing of it is heard
                inside = heard[released.start * RATE // 1000 : released.end * RATE // 1000]
                assert not np.any(inside), (level, spoken.text, released.text)
