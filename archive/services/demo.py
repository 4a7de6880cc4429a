"""Demo accounts and sample stories, so a fresh install has something to look at.

The sample stories are invented; the passwords are new on every run and printed once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from archive.accounts import users
from archive.audit import Action
from archive.errors import NotFound
from archive.services.accounts import COMMAND_LINE
from archive.times import format_instant, utcnow
from archive.vault import drafts, stories
from archive.vault.keys import Keyring
from archive.vault.models import Story

ACCOUNTS = (
    ("organizer@demo.escrow", "organizer"),
    ("organizer2@demo.escrow", "organizer"),
    ("researcher@demo.escrow", "researcher"),
    ("admin@demo.escrow", "admin"),
    ("admin2@demo.escrow", "admin"),
)

_TRANSCRIPT = (
    "I started at [[org:Harbor Hotel|the hotel]] in the laundry. [[person:Maria Lopez]] "
    "was the one who first talked to me about the union, in the break room.\n"
    "We met at a church hall in [[place:Fair Haven]] on Thursdays. [[person:Tomas Reyes]] "
    "kept the sign-up sheets at home so the managers would never see them.\n"
    "When [[org:Harbor Hotel]] found out, they changed everyone's shifts."
)


_TRANSCRIPCION = (
    "Empecé en la lavandería de [[org:Hotel Bahía|el hotel]]. Fue [[person:Lucía Fernández]] quien me "
    "habló primero de la organización, en el cuarto de descanso.\n"
    "Nos reuníamos los jueves en el salón de una parroquia de [[place:Fair Haven]]. "
    "[[person:Tomás Reyes]] guardaba las hojas de firmas en su casa para que los gerentes no las vieran.\n"
    "Cuando [[org:Hotel Bahía]] se enteró, nos cambiaron los turnos a todas. Entonces vino la huelga."
)


def _samples() -> list[dict[str, object]]:
    now = utcnow()
    base = {"narrator": "Ana Duarte", "transcript": _TRANSCRIPT, "interviewer": "J. Kim",
            "interview_date": "2019-05-01", "place": "New Haven, CT", "language": "en",
            "summary": "A laundry worker remembers the first months of a hotel organizing drive."}
    spanish = {"narrator": "Rosa Martínez", "transcript": _TRANSCRIPCION, "interviewer": "Carmen Ruiz",
               "interview_date": "2021-03-12", "place": "New Haven, CT", "language": "es",
               "summary": "Una trabajadora de lavandería recuerda los primeros meses de la organización sindical "
                          "en un hotel."}
    due = format_instant(now - timedelta(days=1))
    return [
        {**base, "title": "The laundry room drive", "redaction_level": "full",
         "embargo_until": due, "tags": ["hotel", "laundry"]},
        {**base, "title": "Sign-up sheets at home", "redaction_level": "pseudonymized",
         "embargo_until": due, "tags": ["hotel", "strike"]},
        {**base, "title": "Changed shifts", "redaction_level": "redacted",
         "embargo_until": due, "tags": ["retaliation"]},
        {**base, "title": "Thursdays at the church hall", "redaction_level": "summary",
         "embargo_until": due, "tags": ["meetings"]},
        {**base, "title": "Before the vote", "redaction_level": "pseudonymized",
         "embargo_until": format_instant(now + timedelta(days=400)), "tags": ["vote"]},
        {**base, "title": "Until the campaign ends", "redaction_level": "redacted",
         "embargo_until": None, "tags": ["campaign"]},
        {**base, "title": "A story held for review", "redaction_level": "pseudonymized",
         "embargo_until": due, "release_review": True, "tags": ["review"]},
        # In Spanish: searched with Spanish rules, released with Spanish stand-ins.
        {**spanish, "title": "La organización empezó en la lavandería", "redaction_level": "full",
         "embargo_until": due, "tags": ["hotel", "lavandería"]},
        {**spanish, "title": "Las hojas de firmas", "redaction_level": "pseudonymized",
         "embargo_until": due, "tags": ["hotel", "huelga"]},
        {**spanish, "title": "Nos cambiaron los turnos", "redaction_level": "redacted",
         "embargo_until": due, "tags": ["represalias"]},
        {**spanish, "title": "Los jueves en la parroquia", "redaction_level": "summary",
         "embargo_until": due, "tags": ["reuniones"]},
        {**spanish, "title": "Antes de la votación", "redaction_level": "pseudonymized",
         "embargo_until": format_instant(now + timedelta(days=400)), "tags": ["votación"]},
    ]


def seed(session: Session, keyring: Keyring) -> tuple[list[tuple[str, str, str]], int]:
    """Create or reset the demo accounts; add the sample stories once. Returns logins and count."""
    logins = []
    for email, role in ACCOUNTS:
        password = secrets.token_urlsafe(9)
        try:
            users.set_password(session, keyring.audit_key, users.by_email(session, email), password,
                               actor=COMMAND_LINE)
        except (NotFound, NoResultFound):
            users.add(session, email, role, password)
        logins.append((email, password, role))
    if session.scalar(select(func.count(Story.id))):
        return logins, 0
    organizer = users.by_email(session, ACCOUNTS[0][0])
    submissions = [stories.Submission(drafts.parse(data), organizer) for data in _samples()]
    stories.submit_many(session, keyring, organizer, submissions, action=Action.STORY_SUBMIT)
    return logins, len(submissions)
