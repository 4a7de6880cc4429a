"""A story as submitted: parsing and validating the fields of DESIGN.md's story format.

Error messages name the field and never echo its value: a value may be sealed content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from archive.errors import InvalidInput
from archive.messages import N_
from archive.times import parse_instant
from archive.transcripts import characters, markup, names, webvtt
from archive.vault.models import LEVELS, RECORDING_RELEASES

# Fields inside the encrypted payload.
CONTENT_FIELDS = ("title", "narrator", "transcript", "summary", "interviewer",
                  "interview_date", "place", "language", "tags", "notes", "captions")
# Fields kept as plaintext columns, for scheduling and access control.
CONTROL_FIELDS = ("embargo_until", "redaction_level", "release_review", "recording_release")
REQUIRED = ("title", "narrator", "transcript", "embargo_until", "redaction_level")
# Fields in which sensitive spans may be marked (the release gate redacts them in each).
MARKED_FIELDS = ("transcript", "title", "summary")
OPTIONAL_EXTRA = ("owner", "recording")  # an import line's, not the story's

LIMITS = {"title": 300, "narrator": 200, "summary": 20_000, "interviewer": 200, "place": 300,
          "notes": 50_000, "transcript": 1_000_000, "captions": 2_000_000}
MAX_TAGS, MAX_TAG = 50, 60
MAX_SPANS = 2_000
# How a message names a field: its key in the story format (what an import line and the
# command line say), in the reader's language on the web.
FIELD_NAMES = {"title": N_("title"), "narrator": N_("narrator"), "transcript": N_("transcript"),
               "summary": N_("summary"), "interviewer": N_("interviewer"), "place": N_("place"),
               "notes": N_("notes"), "captions": N_("captions"), "tags": N_("tags"),
               "a token's name": N_("a token's name")}
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Draft:
    """A validated story: its sealed content and its plaintext control fields."""

    title: str
    narrator: str
    transcript: str
    embargo_until: datetime | None
    redaction_level: str
    summary: str = ""
    interviewer: str = ""
    interview_date: str = ""
    place: str = ""
    language: str = "en"
    tags: tuple[str, ...] = ()
    notes: str = ""
    release_review: bool = False
    captions: str = ""  # a timed transcript (WebVTT with span markup), whose text is `transcript`
    recording_release: str = "none"  # what of a recording is released: none, muted or full

    def content(self) -> dict[str, Any]:
        """The payload that is encrypted: every content field, JSON-ready."""
        # Built field by field: dataclasses.asdict deep-copies and cost more than the parse.
        return {name: list(self.tags) if name == "tags" else getattr(self, name)
                for name in CONTENT_FIELDS}

    def changed(self, **changes: Any) -> Draft:
        """A copy with some fields replaced (validated by the caller through `parse`)."""
        return replace(self, **changes)


def parse(data: Mapping[str, Any], *, allow: tuple[str, ...] = ()) -> Draft:
    """Validate a story mapping; raise InvalidInput naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a story must be a JSON object")
    known = set(CONTENT_FIELDS) | set(CONTROL_FIELDS) | set(allow)
    if any(k not in known for k in data):
        # Never the key itself: a mistyped key may be a piece of the story pasted in.
        raise InvalidInput(f"a field the story format does not have; the fields are {', '.join(sorted(known))}")
    timed = bool(data.get("captions"))
    missing = [name for name in REQUIRED if name not in data and not (timed and name == "transcript")]
    if missing:
        raise InvalidInput(f"missing field {missing[0]!r}")

    values: dict[str, Any] = {}
    for name in ("title", "narrator", "transcript", "summary", "interviewer", "place", "notes", "captions"):
        with _about(name):
            values[name] = _text(data, name, required=name in REQUIRED and not (timed and name == "transcript"))
    if values["captions"]:
        values["transcript"] = _timed(values["captions"], values["transcript"])
    with _about("interview_date"):
        values["interview_date"] = _interview_date(data.get("interview_date"))
    with _about("language"):
        values["language"] = _language(data.get("language"))
    with _about("tags"):
        values["tags"] = _tags(data.get("tags"))
    with _about("embargo_until"):
        values["embargo_until"] = _embargo(data["embargo_until"])
    with _about("redaction_level"):
        values["redaction_level"] = _level(data["redaction_level"])
    review = data.get("release_review", False)
    if not isinstance(review, bool):
        raise InvalidInput(N_("release_review must be true or false"), field="release_review")
    values["release_review"] = review
    with _about("recording_release"):
        values["recording_release"] = _recording_release(data.get("recording_release"), values["redaction_level"])

    if values["redaction_level"] == "summary" and not values["summary"]:
        raise InvalidInput(N_("a story released at level 'summary' needs a summary"), field="summary")
    draft = Draft(**values)
    _check_spans(draft)
    return draft


def _timed(captions: str, transcript: str) -> str:
    """The transcript a timed transcript makes; the one given, if any, must be that one."""
    try:
        cues = webvtt.parse(captions)
    except webvtt.TimingError as error:
        raise InvalidInput(N_("%(field)s, %(reason)s", field=FIELD_NAMES["captions"], reason=error.args[0]),
                           field="captions") from None
    derived = webvtt.plain(cues)
    if transcript and transcript != derived:
        raise InvalidInput(N_("give the transcript or the timed transcript (captions), not two different texts: "
                              "the captions' text is the transcript"), field="transcript")
    if len(derived) > LIMITS["transcript"]:
        raise InvalidInput(N_("the captions' text is longer than %(limit)s characters", limit=LIMITS["transcript"]),
                           field="captions")
    return derived


def _check_spans(draft: Draft) -> None:
    """The markup parses, within the span limit, and no chosen stand-in repeats a hidden name:
    what the release gate will need is checked here, so it is never first met at release.
    Spans may be marked in the title and summary as in the transcript."""
    spans: list[tuple[str, markup.Span]] = []
    for name in MARKED_FIELDS:
        try:
            spans += [(name, span) for span in markup.spans(getattr(draft, name))]
        except markup.MarkupError as error:
            raise InvalidInput(N_("%(field)s, %(reason)s", field=FIELD_NAMES[name], reason=error.args[0]),
                               field=name) from None
    if len(spans) > MAX_SPANS:
        raise InvalidInput(N_("the story marks %(count)s spans; at most %(limit)s are allowed "
                              "(split the interview into parts)", count=len(spans), limit=MAX_SPANS),
                           field=spans[-1][0])
    chosen = [(name, span) for name, span in spans if span.stand_in]
    if not chosen:
        return
    hidden = names.detector([(draft.narrator, "person"), (draft.interviewer, "person"), (draft.place, "place"),
                             *((s.text, s.kind) for _, s in spans)])
    for name, span in chosen:
        if hidden.finds(span.stand_in or ""):
            raise InvalidInput(N_("%(field)s, line %(line)s, column %(column)s: the stand-in repeats a name the "
                                  "story hides; choose words that name no one", field=FIELD_NAMES[name],
                                  line=str(span.line), column=str(span.column)), field=name)


@contextmanager
def _about(name: str) -> Iterator[None]:
    """Tag an InvalidInput raised inside with the field it is about."""
    try:
        yield
    except InvalidInput as error:
        error.field = error.field or name
        raise


def from_content(content: Mapping[str, Any], control: Mapping[str, Any]) -> Draft:
    """Rebuild a draft from a decrypted payload and the story's control columns."""
    data = {**{k: v for k, v in content.items() if k in CONTENT_FIELDS}, **control}
    data["tags"] = tuple(data.get("tags", ()))
    names = {f.name for f in fields(Draft)}
    return Draft(**{k: v for k, v in data.items() if k in names})


def _text(data: Mapping[str, Any], name: str, *, required: bool) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(N_("%(field)s must be text", field=FIELD_NAMES[name]))
    value = clean_text(value, name).strip()
    if required and not value:
        raise InvalidInput(N_("%(field)s is empty", field=FIELD_NAMES[name]))
    if len(value) > LIMITS[name]:
        raise InvalidInput(N_("%(field)s is longer than %(limit)s characters", field=FIELD_NAMES[name],
                              limit=LIMITS[name]))
    return value


def clean_text(value: str, name: str) -> str:
    """Line ends made newlines; what the archive's character policy refuses (control characters,
    lone surrogates, noncharacters: `archive.transcripts.characters`) refused by its position only."""
    value, bad = characters.clean(value)
    if bad is not None:
        line = value.count("\n", 0, bad) + 1
        column = bad - (value.rfind("\n", 0, bad) + 1) + 1
        raise InvalidInput(N_("%(field)s has a control character or an invalid one at line %(line)s, column "
                              "%(column)s; only text, tabs and line breaks are accepted",
                              field=FIELD_NAMES.get(name, name), line=str(line), column=str(column)))
    return value


def _interview_date(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _PARTIAL_DATE.match(value.strip()):
        raise InvalidInput(N_("interview_date must be YYYY, YYYY-MM or YYYY-MM-DD"))
    text = value.strip()
    padded = text + "-01" * (2 - text.count("-"))
    try:
        datetime.strptime(padded, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(N_("interview_date is not a real date")) from None
    return text


def _language(value: Any) -> str:
    if value is None or value == "":
        return "en"
    if not isinstance(value, str) or not _LANGUAGE.match(value.strip()):
        raise InvalidInput(N_("language must be a language code such as 'en', 'es' or 'pt-BR'"))
    return value.strip()


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidInput(N_("tags must be a list of text"))
    tags = tuple(dict.fromkeys(clean_text(t, "tags").strip().lower() for t in value if t.strip()))
    if any("," in t for t in tags):
        # A comma separates tags on the form and in the search index: one tag cannot hold one.
        raise InvalidInput(N_("a tag may not contain a comma: give each tag as its own item"))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        raise InvalidInput(N_("at most %(count)s tags of at most %(limit)s characters each", count=MAX_TAGS,
                              limit=MAX_TAG))
    return tags


def _embargo(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(N_("embargo_until must be an ISO 8601 date or instant, or null"))
    try:
        return parse_instant(value)
    except InvalidInput as error:
        raise InvalidInput(N_("embargo_until: %(reason)s", reason=error.args[0])) from None


def _recording_release(value: Any, level: str) -> str:
    """The narrator's choice for a recording: `none` (the voice stays sealed, the default: a voice
    identifies its speaker when every name is redacted), `muted` (silent wherever a cue holds
    what the level hides; not at level summary, which releases no transcript to time it by),
    or `full` (only with the story released in full)."""
    choice = "none" if value is None or value == "" else value
    if choice not in RECORDING_RELEASES:
        raise InvalidInput(N_("unknown recording_release: use %(choices)s", choices=", ".join(RECORDING_RELEASES)))
    if choice == "full" and level != "full":
        raise InvalidInput(N_("recording_release: a recording is released in full only with a story released in "
                              "full; choose 'muted' or 'none'"))
    if choice == "muted" and level == "summary":
        raise InvalidInput(N_("recording_release: a story released as a summary releases no recording: "
                              "choose 'none'"))
    return str(choice)


def _level(value: Any) -> str:
    if value not in LEVELS:
        raise InvalidInput(N_("unknown redaction level: use %(choices)s", choices=", ".join(LEVELS)))
    return value
