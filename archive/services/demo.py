"""Demo accounts and sample stories, so a fresh install has something to look at.

The sample stories are invented; the passwords are new on every run and printed once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from archive import users
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


def _samples() -> list[dict[str, object]]:
    now = utcnow()
    base = {"narrator": "Ana Duarte", "transcript": _TRANSCRIPT, "interviewer": "J. Kim",
            "interview_date": "2019-05-01", "place": "New Haven, CT", "language": "en",
            "summary": "A laundry worker remembers the first months of a hotel organizing drive."}
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
