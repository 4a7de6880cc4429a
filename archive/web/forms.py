"""Web forms: Flask-WTF for the CSRF token on every form; the archive's own services validate.

Fields are read as text and handed to the same parsers the command line uses, so the
web and the CLI accept and refuse exactly the same input with the same messages (the web's
in the reader's language). Labels are lazy: they are translated when a page renders them.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
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

from archive.accounts.users import ROLES
from archive.errors import InvalidInput
from archive.messages import N_, ROLE_NAMES
from archive.services.stories import LEVELS, RECORDING_RELEASES
from archive.times import parse_instant

RECORDING_HELP = {
    "none": _l("Nothing: the voice stays sealed, even once the text is released (a voice identifies its speaker)."),
    "muted": _l("A copy in which every moment where a hidden name is said is silent (needs a timed transcript)."),
    "full": _l("The recording as it is (only with a story released in full)."),
}
LEVEL_HELP = {
    "full": _l("Full — everything as written, names included."),
    "pseudonymized": _l("Pseudonymized — names become stand-ins (Person A, Employer 1); narrator by pseudonym."),
    "redacted": _l("Redacted — every marked name becomes [redacted]; narrator anonymous."),
    "summary": _l("Summary only — title and summary; the transcript stays sealed."),
}


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class TokenForm(FlaskForm):
    """A new personal API token: only its name (the service checks it)."""

    name = StringField(_l("Name (what the token is for, e.g. “thesis scripts”)"),
                       validators=[InputRequired(), Length(max=100)], render_kw={"maxlength": 100})
    password = PasswordField(_l("Your password (a token outlives this session)"), validators=[InputRequired()],
                             render_kw={"autocomplete": "current-password"})


class StoryForm(FlaskForm):
    title = StringField(_l("Title"), render_kw={"maxlength": 300})
    narrator = StringField(_l("Narrator's name"), render_kw={"maxlength": 200})
    transcript = TextAreaField(_l("Transcript"), render_kw={"rows": 14})
    summary = TextAreaField(_l("Summary"), render_kw={"rows": 4})
    interviewer = StringField(_l("Interviewer"), render_kw={"maxlength": 200})
    interview_date = StringField(_l("Interview date (YYYY, YYYY-MM or YYYY-MM-DD)"), render_kw={"maxlength": 10})
    place = StringField(_l("Place of the interview"), render_kw={"maxlength": 300})
    language = StringField(_l("Language code"), default="en", render_kw={"maxlength": 35})
    tags = StringField(_l("Tags, separated by commas"))
    notes = TextAreaField(_l("Private notes (never released)"), render_kw={"rows": 3})
    embargo_date = StringField(_l("Sealed until (date, released at 00:00 UTC)"), render_kw={"type": "date"})
    indefinite = BooleanField(_l("Sealed indefinitely (released only when one admin asks and a second approves)"))
    redaction_level = RadioField(_l("What the reading room may show"), default="pseudonymized",
                                 choices=[SelectChoice(k, LEVEL_HELP[k]) for k in LEVELS])
    release_review = BooleanField(_l("Hold for an admin's review on the release date"))
    captions = TextAreaField(_l("Timed transcript (WebVTT), instead of the transcript above"), render_kw={"rows": 6})
    recording_release = RadioField(_l("What the reading room may play of the recording"), default="none",
                                   choices=[SelectChoice(k, RECORDING_HELP[k]) for k in RECORDING_RELEASES])
    # Last of the fields: the page's body is read in order, the recording sealed as it arrives.
    recording = FileField(_l("Recording of the interview (WAV, FLAC, Ogg or MP3; optional)"),
                          render_kw={"accept": "audio/*"})


def _instant(text: str | None) -> datetime:
    value = (text or "").strip()
    if not value:
        raise InvalidInput(N_("choose a date"), field="until")
    return parse_instant(value)


class ExtendForm(FlaskForm):
    until = StringField(_l("New date (released at 00:00 UTC)"), render_kw={"type": "date"})
    indefinite = BooleanField(_l("Seal indefinitely"))
    reason = StringField(_l("Reason (sealed with the story in the audit log; do not name people)"),
                         validators=[Length(max=500)])

    def new_embargo(self) -> datetime | None:
        """The later embargo asked for: an instant, or None for indefinitely."""
        return None if self.indefinite.data else _instant(self.until.data)


class EarlyReleaseForm(FlaskForm):
    until = StringField(_l("Earlier date (released at 00:00 UTC)"), render_kw={"type": "date"})
    now = BooleanField(_l("Release as soon as a second admin approves"))
    reason = StringField(_l("Reason (sealed with the story in the audit log; do not name people)"),
                         validators=[Length(max=500)])

    def release_at(self) -> datetime | None:
        """The earlier release asked for: an instant, or None for as soon as approved."""
        return None if self.now.data else _instant(self.until.data)


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason (sealed with the story in the audit log; do not name people)"),
                         validators=[Length(max=500)])


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[Length(max=254)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, _l(ROLE_NAMES[r])) for r in ROLES])
    password = PasswordField(_l("First password"), validators=[Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})


# -- the narrator's door (web/narrator.py) -----------------------------------------------------

NARRATOR_TEXT = {"rows": 3, "maxlength": 2000}


class CodenameForm(FlaskForm):
    """The narrator's sign-in: one field, never in a URL."""

    codename = PasswordField(_l("Your codename (the words on your card)"), validators=[Length(max=400)],
                             render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
                                        "maxlength": 400})


class DelayForm(FlaskForm):
    until = StringField(_l("Keep it sealed until (date)"), render_kw={"type": "date"})
    reason = TextAreaField(_l("Why, if you want to say (sealed with your story)"), validators=[Length(max=2000)],
                           render_kw=NARRATOR_TEXT)

    def new_embargo(self) -> datetime:
        """The later date asked for."""
        return _instant(self.until.data)


class ProtectForm(FlaskForm):
    level = RadioField(_l("What the reading room may show"), choices=[SelectChoice(k, LEVEL_HELP[k]) for k in LEVELS])
    recording = RadioField(_l("What the reading room may play of the recording"),
                           choices=[SelectChoice(k, RECORDING_HELP[k]) for k in RECORDING_RELEASES])
    reason = TextAreaField(_l("Why, if you want to say (sealed with your story)"), validators=[Length(max=2000)],
                           render_kw=NARRATOR_TEXT)


class NarratorTextForm(FlaskForm):
    """A text a narrator writes: an objection's reason, words to hide, a note."""

    text = TextAreaField(_l("Your words (sealed with your story)"), validators=[Length(max=2000)],
                         render_kw=NARRATOR_TEXT)


class AskForm(FlaskForm):
    until = StringField(_l("An earlier date"), render_kw={"type": "date"})
    level = RadioField(_l("Or a level that shows more"), choices=[SelectChoice(k, LEVEL_HELP[k]) for k in LEVELS],
                       validate_choice=False)
    reason = TextAreaField(_l("Why, if you want to say (sealed with your story)"), validators=[Length(max=2000)],
                           render_kw=NARRATOR_TEXT)

    def earlier(self) -> datetime | None:
        """The earlier date asked for, if one was given."""
        return _instant(self.until.data) if (self.until.data or "").strip() else None


class WithdrawForm(FlaskForm):
    sure = BooleanField(_l("Yes, take my story out of the archive"))
    reason = TextAreaField(_l("Why, if you want to say (sealed with your story)"), validators=[Length(max=2000)],
                           render_kw=NARRATOR_TEXT)
