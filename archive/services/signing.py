"""Signing in and out: one argon2 check on every path, failures throttled in the database,
sessions that a sign-out ends everywhere.

Throttling counts failed sign-ins in a table (`sign_in_failures`), not in a worker's memory,
so every worker and every machine on the database counts the same attempts. (Flask-Limiter
keeps counts in memory, Redis, Memcached or MongoDB, none of which this archive runs; one
small table needs nothing new.) Three windows: an email from one address (a guesser, slowed
quickly), one address over all emails (a sprayer), and an email from every address, wider
and slower, so that someone guessing from elsewhere does not lock the real person out at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, select

from archive import audit, users
from archive.audit import Action
from archive.errors import InvalidInput, Throttled
from archive.services.context import Archive
from archive.times import utcnow
from archive.users import SignInFailure, User


@dataclass(frozen=True)
class Window:
    """At most `failures` failed sign-ins within `span`."""

    failures: int
    span: timedelta


PAIR = Window(5, timedelta(minutes=15))  # one email, from one address
ADDRESS = Window(30, timedelta(minutes=10))  # one address, any email
ACCOUNT = Window(50, timedelta(hours=1))  # one email, from anywhere
LONGEST = max(w.span for w in (PAIR, ADDRESS, ACCOUNT))
AUDIT_EVERY = timedelta(minutes=1)  # one audit entry per address per minute of failures
TOO_MANY = "Too many failed sign-ins in a short time. Wait a little and try again."


@cache
def _dummy_hash() -> str:
    # Made on the first failed sign-in, not at import: every command would pay for it.
    return users.hash_password("not a password anyone has")


def sign_in(archive: Archive, email: str, password: str, address: str) -> User | None:
    """The active account with this email and password, or None; Throttled after too many failures.

    Unknown, wrong password, disabled, and the right password of a disabled account all
    cost the same argon2 verification, so timing tells none of them apart.
    """
    account, address = users.account_name(email), address[:64]
    now = utcnow()
    check(archive, account, address, now)
    user = archive.session.scalar(select(User).where(User.email == account))
    matches = users.verify_hash(user.password_hash if user is not None else _dummy_hash(), password)
    ok = user is not None and user.active and matches
    with archive.transaction():
        if ok:
            assert user is not None
            if users.needs_rehash(user):  # made with other parameters (older, or the test suite's)
                users.rehash(user, password)
            archive.session.execute(delete(SignInFailure).where(
                SignInFailure.account == account, SignInFailure.address == address))
            audit.record(archive.session, archive.keyring.audit_key, user.email, Action.USER_LOGIN)
        else:
            failed(archive, account, address, now, email=account)
    return user if ok else None


def confirm(archive: Archive, user: User, password: str, address: str) -> None:
    """The signed-in account's password once more, before what a stolen session must not do
    alone (making an API token, which outlives the session): InvalidInput if wrong, counted
    and throttled as a failed sign-in, Throttled past the same windows."""
    account, address = user.email, address[:64]
    now = utcnow()
    check(archive, account, address, now)
    if users.verify_hash(user.password_hash, password):
        return
    with archive.transaction():
        failed(archive, account, address, now, email=account)
    raise InvalidInput("that is not your password", field="password")


def _failures(archive: Archive, now: datetime, window: Window, **match: str) -> tuple[int, datetime | None]:
    columns = {"account": SignInFailure.account, "address": SignInFailure.address}
    query = select(func.count(SignInFailure.id), func.min(SignInFailure.at)).where(
        SignInFailure.at > now - window.span, *(columns[k] == v for k, v in match.items()))
    count, oldest = archive.session.execute(query).one()
    return int(count), oldest


def check(archive: Archive, account: str, address: str, now: datetime, *, everywhere: bool = True) -> None:
    """Throttled if the account from this address, or the address, or (everywhere) the account
    from any address is past its window of failures. Failed API tokens are counted under an
    account of their own without the `everywhere` window, so they lock out no one's email."""
    windows = [(PAIR, {"account": account, "address": address}), (ADDRESS, {"address": address})]
    if everywhere:
        windows.append((ACCOUNT, {"account": account}))
    for window, match in windows:
        count, oldest = _failures(archive, now, window, **match)
        if count >= window.failures and oldest is not None:
            wait = oldest + window.span - now
            raise Throttled(TOO_MANY, retry_after=max(1, int(wait.total_seconds()) + 1))


def failed(archive: Archive, account: str, address: str, now: datetime, action: Action = Action.USER_LOGIN_FAILED,
           **detail: str) -> None:
    """Count one failure (in the caller's transaction), and audit it unless this address
    already failed within the last minute: repeated failures make one entry a minute."""
    recent, _ = _failures(archive, now, Window(0, AUDIT_EVERY), address=address)
    archive.session.execute(delete(SignInFailure).where(SignInFailure.at < now - LONGEST))
    archive.session.add(SignInFailure(account=account, address=address, at=now))
    if recent == 0:
        audit.record(archive.session, archive.keyring.audit_key, "anonymous", action, address=address, **detail)


def sign_out(archive: Archive, user: User) -> None:
    """Sign out: every session of the account ends, on every device (a captured cookie too)."""
    with archive.transaction():
        users.end_sessions(user)
        audit.record(archive.session, archive.keyring.audit_key, user.email, Action.USER_LOGOUT)


def active(archive: Archive, user_id: int, epoch: object) -> User | None:
    """The account of a session, if it still exists, is enabled and the session is of its
    current generation (not ended by a sign-out, a disable, a new password or a new role)."""
    user = archive.session.get(User, user_id)
    if user is None or not user.active or epoch != user.session_epoch:
        return None
    return user
