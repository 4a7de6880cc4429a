"""Personal API tokens: created and revoked by their owner on the account page, audited, and
checked on every API request that presents one.

A token is `esc_` and 256 random bits (secrets.token_urlsafe(32)). It is shown once, when
made, and only its SHA-256 digest is stored, with its first characters for the owner to
recognise it by; neither the token nor anything that recovers it goes into a row, a log or
the audit log. A token opens the read-only API and nothing else (the web door checks it in the
API blueprint only, never as a session).

A presented token that opens nothing (unknown, revoked, its account disabled) counts as a
failure of the caller's address, under an account name no email can have: an address that
sends many wrong tokens is slowed (services/authentication.py's doubling waits) for its wrong tokens
only. A valid token is never refused for what others sent, from that address or any other:
it cannot be guessed (256 random bits), so it is looked up before any count is read; and
wrong tokens count neither against anyone's email nor against the address's password
sign-ins.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from archive import audit
from archive.accounts.tokens import ApiToken
from archive.accounts.users import User
from archive.audit import Action
from archive.errors import Conflict, InvalidInput, NotFound
from archive.messages import N_
from archive.services import authentication
from archive.services.authentication import FAILED_TOKEN
from archive.services.context import Archive
from archive.times import utcnow
from archive.vault import drafts

__all__ = ["ApiToken", "NewToken", "authenticate", "create", "listing", "revoke"]
PREFIX = "esc_"
SHOWN = len(PREFIX) + 8  # characters kept for display: 48 bits, enough to tell one's tokens apart
MAX_NAME = 100
MAX_ACTIVE = 25  # tokens an account holds at once: enough for every script, not a table to fill
MAX_PRESENTED = 200  # longer text is not a token: refused without hashing it
USED_EVERY = timedelta(minutes=1)  # last_used_at is rewritten at most this often (not a write a request)


@dataclass(frozen=True)
class NewToken:
    """A token just made: its row, and the token itself, to show its owner this once."""

    token: ApiToken
    secret: str = field(repr=False)


def digest(secret: str) -> str:
    """The stored form of a token: SHA-256, hex (256 random bits need no slow hash)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create(archive: Archive, actor: User, name: str, password: str, address: str) -> NewToken:
    """Make a token for the acting account, named by its owner, once its password is given
    again (a token outlives the session that made it); audited without the token."""
    label = drafts.clean_text(" ".join(name.split()), "a token's name")  # no NUL, which PostgreSQL refuses
    if not label:
        raise InvalidInput(N_("give the token a name, e.g. what it is for"), field="name")
    if len(label) > MAX_NAME:
        raise InvalidInput(N_("a token's name may be at most %(limit)s characters", limit=MAX_NAME), field="name")
    authentication.confirm(archive, actor, password, address)
    with archive.transaction():
        held = archive.session.scalar(select(func.count(ApiToken.id)).where(
            ApiToken.user_id == actor.id, ApiToken.revoked_at.is_(None)))
        if held is not None and held >= MAX_ACTIVE:
            raise Conflict(N_("an account may hold at most %(limit)s tokens: revoke one you no longer use",
                              limit=MAX_ACTIVE))
        secret = PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(user_id=actor.id, name=label, prefix=secret[:SHOWN], digest=digest(secret),
                         created_at=utcnow())
        archive.session.add(token)
        archive.session.flush()
        audit.record(archive.session, archive.keyring.audit_key, actor.email, Action.TOKEN_CREATE,
                     token=token.id, prefix=token.prefix)
        return NewToken(token, secret)


def revoke(archive: Archive, actor: User, token_id: int) -> ApiToken:
    """Revoke one of the acting account's own tokens, at once; audited. Another account's
    token is the same NotFound as an unknown id."""
    with archive.transaction():
        token = archive.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
        if token is None or token.user_id != actor.id:
            raise NotFound(N_("there is no such token on your account"))
        if token.revoked_at is not None:
            raise Conflict(N_("that token is already revoked"))
        token.revoked_at = utcnow()
        audit.record(archive.session, archive.keyring.audit_key, actor.email, Action.TOKEN_REVOKE,
                     token=token.id, prefix=token.prefix)
        return token


def listing(archive: Archive, actor: User) -> list[ApiToken]:
    """The acting account's tokens, newest first, revoked ones included (their history)."""
    query = select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.created_at.desc(),
                                                                          ApiToken.id.desc())
    return list(archive.session.scalars(query))


def authenticate(archive: Archive, secret: str, address: str) -> User | None:
    """The active account a presented token belongs to, or None (unknown, revoked, disabled:
    one answer); Throttled, for a token that opens nothing, while the address must wait
    before presenting another."""
    now = utcnow()
    found = None
    if 0 < len(secret) <= MAX_PRESENTED:
        found = archive.session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                                        .where(ApiToken.digest == digest(secret))).first()
    if found is None or found[0].revoked_at is not None or not found[1].active:
        authentication.check_tokens(archive, address, now)
        with archive.transaction():
            authentication.failed(archive, FAILED_TOKEN, address, now, Action.TOKEN_REFUSED)
        return None
    token, user = found
    if token.last_used_at is None or now - token.last_used_at >= USED_EVERY:
        with archive.transaction():
            token.last_used_at = now
    return user
