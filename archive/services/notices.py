"""Notices: the scheduler's run (arm what is due, send what waits), and each person's list.

A scheduler run is `run`: it arms every notice whose window has come (under the publisher
lock, so two runs on two machines arm in turn; the outbox's unique rows make that safe
anyway), then sends what waits, if e-mail is configured, in batches: each batch is claimed in
a short unit of work, sent after that unit's commit (never inside a transaction), and its
outcomes recorded in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from urllib.parse import urlsplit

from sqlalchemy import update

from archive import pauses
from archive.accounts.users import User
from archive.errors import InvalidInput
from archive.messages import Message
from archive.notices import mail, outbox
from archive.notices.kinds import KINDS
from archive.notices.outbox import Armed, Shown, Unsent
from archive.services.context import Archive
from archive.services.releases import clock

BATCH = 50  # letters per SMTP session and per claim

__all__ = ["Armed", "Run", "Shown", "Unsent", "listing", "mark_seen", "prefer_language", "run", "schedule", "send",
           "sentence", "unseen", "unsent"]


@dataclass
class Run:
    """What a scheduler run did."""

    armed: int = 0
    sent: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # error class: how many

    def line(self) -> str:
        """The one summary line for logs."""
        text = f"notices: armed {self.armed}, sent {self.sent}, failed {self.failed}"
        if self.errors:
            text += " (" + ", ".join(f"{name} {count}" for name, count in sorted(self.errors.items())) + ")"
        return text


def schedule(archive: Archive, now: datetime | None = None) -> Armed:
    """Arm every notice whose window has come by `now` (the clock, or an earlier instant)."""
    instant = clock(now, dry_run=False)
    with archive.unit() as unit, unit.publishing():
        return outbox.schedule(unit, instant)


def send(archive: Archive, now: datetime | None = None, *, limit: int = 10_000) -> Run:
    """Send every delivery that waits for its e-mail, at most `limit`; without ESCROW_SMTP_URL,
    mark them as not to be sent."""
    instant = clock(now, dry_run=False)
    done = Run()
    if archive.config.smtp_url is None:
        with archive.unit() as unit:
            outbox.without_mail(unit)
        return done
    base_url = archive.config.base_url
    where = mail.server(archive.config.smtp_url, archive_host=urlsplit(base_url).hostname if base_url else None)
    while done.sent + done.failed < limit:
        outcomes: dict[int, str | None] = {}
        with archive.unit() as unit:
            letters = outbox.claim(unit, instant, min(BATCH, limit - done.sent - done.failed))
            written = [(letter.delivery_id, mail.write(letter, where.sender, base_url)) for letter in letters]
            unit.after_commit(partial(_send, where, written, outcomes))
        if not letters:
            break
        attempts = {letter.delivery_id: letter.attempt for letter in letters}
        with archive.unit() as unit:
            outbox.settle(unit, {key: (attempts[key], error) for key, error in outcomes.items()}, instant)
        for error in outcomes.values():
            if error is None:
                done.sent += 1
            else:
                done.failed += 1
                done.errors[error] = done.errors.get(error, 0) + 1
        if done.failed:
            break  # the server is failing: what is left waits for the next run
    return done


def _send(where: mail.Server, written: list[tuple[int, EmailMessage]], outcomes: dict[int, str | None]) -> None:
    """After the claim's commit: send, and note each outcome for `settle`."""
    pauses.at("notices.claimed")
    outcomes.update(mail.send(where, written))


def run(archive: Archive, now: datetime | None = None) -> Run:
    """A scheduler run: arm what has come, then send what waits."""
    armed = schedule(archive, now)
    done = send(archive, now)
    done.armed = armed.notices
    return done


def listing(archive: Archive, actor: User) -> list[Shown]:
    """The actor's own notices, newest first."""
    return outbox.listing(archive.session, actor)


def unseen(archive: Archive, actor: User) -> int:
    """How many of the actor's notices are not marked seen (the header's count)."""
    return outbox.unseen(archive.session, actor)


def mark_seen(archive: Archive, actor: User) -> int:
    """Mark every notice of the actor's seen."""
    with archive.unit() as unit:
        return outbox.mark_seen(unit, actor)


def unsent(archive: Archive, grace: timedelta, now: datetime | None = None) -> Unsent:
    """Deliveries of notices armed longer than `grace` ago whose e-mail failed and waits to be
    tried again (publish-due --check)."""
    return outbox.unsent(archive.session, armed_before=clock(now, dry_run=True) - grace)


def sentence(kind: str) -> Message:
    """What a kind of notice says (with %(id)s and %(when)s), for a door to fill in."""
    return KINDS[kind].says


def prefer_language(archive: Archive, actor: User, language: str) -> None:
    """Remember the interface language the actor uses (their notices' e-mails are written in it)."""
    if language not in mail.LANGUAGES:
        raise InvalidInput(f"unknown language {language[:8]!r}")
    with archive.unit() as unit:
        unit.session.execute(update(User).where(User.id == actor.id).values(language=language))
