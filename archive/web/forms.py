"""Web forms: Flask-WTF for the CSRF token on every form; the archive's own services validate.

Fields are read as text and handed to the same parsers the command line uses, so the
web and the CLI accept and refuse exactly the same input with the same messages.
"""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length

from archive.errors import InvalidInput
from archive.services.stories import LEVELS, RECORDING_RELEASES
from archive.times import parse_instant
from archive.users import ROLES

RECORDING_HELP = {
    "none": "Nothing: the voice stays sealed, even once the text is released (a voice identifies its speaker).",
    "muted": "A copy in which every moment where a hidden name is said is silent (needs a timed transcript).",
    "full": "The recording as it is (only with a story released in full).",
}
LEVEL_HELP = {
    "full": "Full — everything as written, names included.",
    "pseudonymized": "Pseudonymized — names become stand-ins (Person A, Employer 1); narrator by pseudonym.",
    "redacted": "Redacted — every marked name becomes [redacted]; narrator anonymous.",
    "summary": "Summary only — title and summary; the transcript stays sealed.",
}


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class TokenForm(FlaskForm):
    """A new personal API token: only its name (the service checks it)."""

    name = StringField("Name (what the token is for, e.g. “thesis scripts”)",
                       validators=[InputRequired(), Length(max=100)], render_kw={"maxlength": 100})
    password = PasswordField("Your password (a token outlives this session)", validators=[InputRequired()],
                             render_kw={"autocomplete": "current-password"})


class StoryForm(FlaskForm):
    title = StringField("Title", render_kw={"maxlength": 300})
    narrator = StringField("Narrator's name", render_kw={"maxlength": 200})
    transcript = TextAreaField("Transcript", render_kw={"rows": 14})
    summary = TextAreaField("Summary", render_kw={"rows": 4})
    interviewer = StringField("Interviewer", render_kw={"maxlength": 200})
    interview_date = StringField("Interview date (YYYY, YYYY-MM or YYYY-MM-DD)", render_kw={"maxlength": 10})
    place = StringField("Place of the interview", render_kw={"maxlength": 300})
    language = StringField("Language code", default="en", render_kw={"maxlength": 35})
    tags = StringField("Tags, separated by commas")
    notes = TextAreaField("Private notes (never released)", render_kw={"rows": 3})
    embargo_date = StringField("Sealed until (date, released at 00:00 UTC)", render_kw={"type": "date"})
    indefinite = BooleanField("Sealed indefinitely (released only when one admin asks and a second approves)")
    redaction_level = RadioField("What the reading room may show", default="pseudonymized",
                                 choices=[SelectChoice(k, LEVEL_HELP[k]) for k in LEVELS])
    release_review = BooleanField("Hold for an admin's review on the release date")
    captions = TextAreaField("Timed transcript (WebVTT), instead of the transcript above", render_kw={"rows": 6})
    recording_release = RadioField("What the reading room may play of the recording", default="none",
                                   choices=[SelectChoice(k, RECORDING_HELP[k]) for k in RECORDING_RELEASES])
    # Last of the fields: the page's body is read in order, the recording sealed as it arrives.
    recording = FileField("Recording of the interview (WAV, FLAC, Ogg or MP3; optional)",
                          render_kw={"accept": "audio/*"})


def _instant(text: str | None) -> datetime:
    value = (text or "").strip()
    if not value:
        raise InvalidInput("choose a date", field="until")
    return parse_instant(value)


class ExtendForm(FlaskForm):
    until = StringField("New date (released at 00:00 UTC)", render_kw={"type": "date"})
    indefinite = BooleanField("Seal indefinitely")
    reason = StringField("Reason (sealed with the story in the audit log; do not name people)",
                         validators=[Length(max=500)])

    def new_embargo(self) -> datetime | None:
        """The later embargo asked for: an instant, or None for indefinitely."""
        return None if self.indefinite.data else _instant(self.until.data)


class EarlyReleaseForm(FlaskForm):
    until = StringField("Earlier date (released at 00:00 UTC)", render_kw={"type": "date"})
    now = BooleanField("Release as soon as a second admin approves")
    reason = StringField("Reason (sealed with the story in the audit log; do not name people)",
                         validators=[Length(max=500)])

    def release_at(self) -> datetime | None:
        """The earlier release asked for: an instant, or None for as soon as approved."""
        return None if self.now.data else _instant(self.until.data)


class ReasonForm(FlaskForm):
    reason = StringField("Reason (sealed with the story in the audit log; do not name people)",
                         validators=[Length(max=500)])


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[Length(max=254)])
    role = SelectField("Role", choices=[SelectChoice(r, r) for r in ROLES])
    password = PasswordField("First password", validators=[Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
