"""Signing in and out: one argon2 check on every path, failures slowed down in the database,
sessions that a sign-out ends everywhere.

Failed sign-ins slow their source down; they never lock an account (OWASP's authentication
and credential-stuffing guidance: a lockout that others can trigger is a denial of service).
Each failure is a row in `sign_in_failures` (the email typed, the address it came from, when),
so every worker and every machine on the database counts the same attempts. Two counts decide:

- one email from one address (a guesser): the first 5 failures in a day cost nothing, then
  each failure doubles the wait before the next try, from 30 seconds up to an hour;
- one address over every email (a sprayer): 30 failures an hour, then the same doubling, up
  to 15 minutes.

An address that has not failed on an account is never slowed on it, whatever others do: the
real person at their own address always gets their tries (unless that address itself is the
one spraying). Others' failures only make the account's guessers slower: while an email
fails from 10 or more other addresses within the hour, each address trying it gets 2 free
failures (a typo and a retry) instead of 5. Past its free failures a guess costs an
attacker half a minute, then more: about three dozen guesses an address a day at most, each
one an argon2 check (scripts/bench_login.py), and no address keeps anyone else out.

Each attempt is counted before its password is checked, one (email, address) at a time, so
guesses sent all at once get what one guess would, not one each; a right password takes
its count back.

IPv6 addresses count by their /64 network (what one subscriber is usually given), so that
one machine cannot be a thousand addresses. API tokens are not guessed (256 random bits):
a valid one is never refused; only the wrong ones an address sends are slowed, apart from
its password sign-ins (services/tokens.py).

Flask-Limiter was weighed for this and left out: its counts live in each worker's memory
(or Redis, Memcached or MongoDB, none of which this archive runs), so each worker and each
machine would grant an attacker its own allowance, and its limits are fixed rates of
requests, not a doubling wait per (email, address) of failures only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, select

from archive import audit
from archive.accounts import users
from archive.accounts.users import SignInFailure, User
from archive.audit import Action
from archive.errors import InvalidInput, Throttled
from archive.messages import N_
from archive.services.context import Archive
from archive.storage import dialect
from archive.times import utcnow
from archive.vault import keys

FIRST_WAIT = timedelta(seconds=30)


@dataclass(frozen=True)
class Slowdown:
    """The first `free` failures within `span` cost nothing; each one after doubles the wait,
    counted from the last failure, from FIRST_WAIT up to `cap`."""

    free: int
    span: timedelta
    cap: timedelta

    def wait(self, failures: int) -> timedelta:
        """How long after the last of `failures` the next try must wait."""
        if failures < self.free:
            return timedelta(0)
        return min(FIRST_WAIT * 2 ** min(failures - self.free, 20), self.cap)


PAIR = Slowdown(5, timedelta(days=1), timedelta(hours=1))  # one email, from one address
GUESSED_PAIR = Slowdown(2, PAIR.span, PAIR.cap)  # the same, while the email is guessed from elsewhere
ADDRESS = Slowdown(30, timedelta(hours=1), timedelta(minutes=15))  # one address, any email
TOKENS = Slowdown(10, timedelta(hours=1), timedelta(minutes=15))  # one address's wrong API tokens
GUESSED = 10  # other addresses' failures on an email within GUESSED_SPAN that make it guessed
GUESSED_SPAN = timedelta(hours=1)
LONGEST = max(PAIR.span, ADDRESS.span, TOKENS.span, GUESSED_SPAN)
AUDIT_EVERY = timedelta(minutes=1)  # one audit entry per address per minute of failures
TOO_MANY = N_("Too many failed sign-ins in a short time. Wait a little and try again.")
FAILED_TOKEN = "(api token)"  # the account failed API tokens are counted under: no email has a space
# Narrators' codenames (services/narrators.py) are counted under one account of their own, so
# one address's failures are its pair's (PAIR: 5 free a day, then the doubling wait) and count
# towards its ADDRESS rule as well; every address's failures together are slowed by NARRATORS
# (a codename has 90 bits: this bounds a spread-out guesser's rate, not its chances, which are
# nil either way; a high allowance keeps a sprayer from locking every narrator out for long).
NARRATOR = "(narrator codename)"
NARRATORS = Slowdown(300, timedelta(hours=1), timedelta(minutes=5))


@cache
def _dummy_hash() -> str:
    # Made on the first failed sign-in, not at import: every command would pay for it.
    return users.hash_password("not a password anyone has")


def source(address: str) -> str:
    """Where an attempt comes from, as counted: an IPv4 address, an IPv6 address's /64
    network (an IPv4-mapped one as its IPv4 address), anything else as given (at most 64
    characters; a proxy's address unless ESCROW_PROXY_HOPS says how many to trust)."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64].replace("\x00", "\ufffd")  # PostgreSQL refuses a NUL in text
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def sign_in(archive: Archive, email: str, password: str, address: str, *,
            now: datetime | None = None) -> User | None:
    """The active account with this email and password, or None; Throttled while this address
    must wait before trying this email again (`now`: the clock, for tests of the waits).

    Unknown, wrong password, disabled, and the right password of a disabled account all
    cost the same argon2 verification, so timing tells none of them apart.
    """
    account, address = users.account_name(email), source(address)
    now = now or utcnow()
    attempt = _claim(archive, account, address, now)
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
            failed(archive, account, address, now, email=account, claimed=attempt)
    return user if ok else None


def confirm(archive: Archive, user: User, password: str, address: str) -> None:
    """The signed-in account's password once more, before what a stolen session must not do
    alone (making an API token, which outlives the session): InvalidInput if wrong, counted
    and slowed as a failed sign-in, Throttled while the address must wait."""
    account, address = user.email, source(address)
    now = utcnow()
    attempt = _claim(archive, account, address, now)
    if users.verify_hash(user.password_hash, password):
        with archive.transaction():
            archive.session.execute(delete(SignInFailure).where(SignInFailure.id == attempt))
        return
    with archive.transaction():
        failed(archive, account, address, now, email=account, claimed=attempt)
    raise InvalidInput(N_("that is not your password"), field="password")


def _claim(archive: Archive, account: str, address: str, now: datetime, *, overall: Slowdown | None = None) -> int:
    """Count this attempt as a failure before its password is checked, unless the address
    must wait (Throttled, and nothing kept); the row's id. Claimed first, one pair at a time,
    so that requests sent at once are counted one after another: a burst of guesses gets
    what one guess would, not one each."""
    with archive.transaction():
        dialect.transaction_lock(archive.session, _pair_key(account, address))
        claim = SignInFailure(account=account, address=address, at=now)
        archive.session.add(claim)
        archive.session.flush()  # the write lock (SQLite) is held from here to the commit
        check(archive, account, address, now, before=claim.id)
        if overall is not None:  # every address's failures on this account together
            _slowed(archive, now, overall, SignInFailure.account == account, SignInFailure.id < claim.id)
        return claim.id


def claim_narrator(archive: Archive, address: str, now: datetime) -> int:
    """Count a codename attempt from this address before its hash is computed (Throttled, and
    nothing kept, while the address, or every address together, must wait); the claim's id."""
    return _claim(archive, NARRATOR, source(address), now, overall=NARRATORS)


def settle_narrator(archive: Archive, address: str, now: datetime, claimed: int, ok: bool) -> None:
    """Once the codename is checked (in the caller's transaction): a right one takes back this
    address's failed codenames; a wrong one stays counted, audited a minute at a time."""
    address = source(address)
    if ok:
        archive.session.execute(delete(SignInFailure).where(
            SignInFailure.account == NARRATOR, SignInFailure.address == address))
    else:
        failed(archive, NARRATOR, address, now, Action.NARRATOR_SIGN_IN_FAILED, claimed=claimed)


def _pair_key(account: str, address: str) -> int:
    digest = hashlib.blake2b(f"{account}\n{address}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _failures(archive: Archive, now: datetime, span: timedelta, *conditions: object) -> tuple[int, datetime | None]:
    """How many failures match within `span` before `now`, and the last one's instant."""
    query = select(func.count(SignInFailure.id), func.max(SignInFailure.at)).where(
        SignInFailure.at > now - span, *conditions)  # type: ignore[arg-type]
    count, last = archive.session.execute(query).one()
    return int(count), last


def _slowed(archive: Archive, now: datetime, rule: Slowdown, *conditions: object) -> None:
    count, last = _failures(archive, now, rule.span, *conditions)
    wait = rule.wait(count)
    if last is not None and wait and now < last + wait:
        raise Throttled(TOO_MANY, retry_after=max(1, math.ceil((last + wait - now).total_seconds())))


def check(archive: Archive, account: str, address: str, now: datetime, *, before: int | None = None) -> None:
    """Throttled while this address must wait before trying this email again, or before
    trying any email (counting the failures recorded before the row `before`, this attempt's
    own). Only this address's own failures slow it: other addresses' failures on the email
    only take away its free ones (the email is being guessed)."""
    earlier = () if before is None else (SignInFailure.id < before,)
    others, _ = _failures(archive, now, GUESSED_SPAN, SignInFailure.account == account,
                          SignInFailure.address != address)
    rule = GUESSED_PAIR if others >= GUESSED else PAIR
    _slowed(archive, now, rule, SignInFailure.account == account, SignInFailure.address == address, *earlier)
    _slowed(archive, now, ADDRESS, SignInFailure.address == address, SignInFailure.account != FAILED_TOKEN,
            *earlier)


def check_tokens(archive: Archive, address: str, now: datetime) -> None:
    """Throttled while this address must wait before presenting another wrong API token."""
    _slowed(archive, now, TOKENS, SignInFailure.account == FAILED_TOKEN, SignInFailure.address == source(address))


def failed(archive: Archive, account: str, address: str, now: datetime, action: Action = Action.USER_LOGIN_FAILED,
           *, claimed: int | None = None, **detail: str) -> None:
    """Count one failure (in the caller's transaction; `claimed`: already counted, as this
    row), and audit it unless this address already failed within the last minute: repeated
    failures make one entry a minute."""
    address = source(address)
    others = () if claimed is None else (SignInFailure.id != claimed,)
    recent, _ = _failures(archive, now, AUDIT_EVERY, SignInFailure.address == address, *others)
    archive.session.execute(delete(SignInFailure).where(SignInFailure.at < now - LONGEST))
    if claimed is None:
        archive.session.add(SignInFailure(account=account, address=address, at=now))
    if recent == 0:
        audit.record(archive.session, archive.keyring.audit_key, "anonymous", action, address=address, **detail)


def sign_out(archive: Archive, user: User) -> None:
    """Sign out: every session of the account ends, on every device (a captured cookie too)."""
    with archive.transaction():
        users.end_sessions(user)
        audit.record(archive.session, archive.keyring.audit_key, user.email, Action.USER_LOGOUT)


def active(archive: Archive, user_id: int, generation: object, key_version: int) -> User | None:
    """The account of a session, if it still exists, is enabled and the session is of its
    current generation (not ended by a sign-out, a disable, a new password, a new role or a key
    rotation), signed with a key from the archive's newest master key (`key_version`: a node
    whose key file is older than a rotation signs in no one, whatever its cookie says)."""
    user = archive.session.get(User, user_id)
    if user is None or not user.active or not isinstance(generation, str) or not user.session_generation:
        return None
    if not hmac.compare_digest(generation.encode("utf-8", "surrogatepass"), user.session_generation.encode()):
        return None
    newest = keys.newest_version(archive.session)
    if newest is not None and newest > key_version:
        return None
    return user
