"""Importing stories from JSON Lines: every line checked before anything is sealed."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy.orm import Session

from archive import users
from archive.errors import EscrowError, InvalidInput
from archive.users import User
from archive.vault import drafts, stories
from archive.vault.keys import Keyring
from archive.vault.models import Story


def parse_lines(session: Session, actor: User, lines: Iterable[str],
                source: str) -> list[stories.Submission]:
    """Validate every line; the first bad one raises `SOURCE:LINE: reason`."""
    owners: dict[str, User] = {}
    submissions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            submissions.append(_parse_line(session, actor, line, owners))
        except EscrowError as error:
            raise InvalidInput(f"{source}:{number}: {error}") from None
    if not submissions:
        raise InvalidInput(f"{source}: no stories in the file")
    return submissions


def _parse_line(session: Session, actor: User, line: str,
                owners: dict[str, User]) -> stories.Submission:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        # The decoder's own message names a position, never the text.
        raise InvalidInput(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(data, dict):
        raise InvalidInput("a line must be one JSON object")
    owner = actor
    if "owner" in data:
        email = data["owner"]
        if not isinstance(email, str):
            raise InvalidInput("owner must be an email address")
        if email not in owners:
            try:
                owners[email] = users.by_email(session, email)
            except EscrowError:
                raise InvalidInput(f"unknown owner {email[:80]!r}") from None
        owner = owners[email]
        if owner.id != actor.id and actor.role != "admin":
            raise InvalidInput("only an admin may import stories for another organizer")
    if owner.role not in stories.SUBMITTERS:
        raise InvalidInput(f"{owner.email} is a {owner.role} and cannot own stories")
    return stories.Submission(drafts.parse(data, allow=drafts.OPTIONAL_EXTRA), owner)


def import_lines(session: Session, keyring: Keyring, actor: User, lines: Iterable[str],
                 source: str) -> list[Story]:
    """Check every line, then seal them all in the caller's transaction."""
    submissions = parse_lines(session, actor, lines, source)
    return stories.submit_many(session, keyring, actor, submissions)
