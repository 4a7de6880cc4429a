"""People who use the archive: organizers, researchers, admins; argon2id passwords."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive import audit
from archive.accounts import tokens
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.messages import N_, Message
from archive.storage.database import Base, UTCDateTime
from archive.times import utcnow

ROLES = ("organizer", "researcher", "admin")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# argon2id: the library's recommended parameters (RFC 9106's second choice, 64 MiB), and a
# cheap set that only the test suite asks for (ESCROW_PASSWORD_COST=test; `serve` refuses it).
HASHERS = {"standard": PasswordHasher(), "test": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)}
_hasher = HASHERS["standard"]


def use_cost(name: str) -> None:
    """Hash new passwords with the named parameters from now on (one per process: Config's)."""
    global _hasher
    _hasher = HASHERS[name]


def hasher() -> PasswordHasher:
    """The argon2 parameters in use (narrator codenames' hashes take the same)."""
    return _hasher


def needs_rehash(user: User) -> bool:
    """Whether the user's hash was made with other parameters than the ones in use."""
    return _hasher.check_needs_rehash(user.password_hash)
MAX_PASSWORD = 1024


def new_generation() -> str:
    """A new session generation: 128 random bits, never a counter one could count along."""
    return secrets.token_urlsafe(16)


class User(Base):
    """An account; the role decides what the person may do."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the account last became an active admin: it may approve only requests made after.
    admin_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every session carries the generation it was signed in under; a new one ends them all. It
    # is random (128 bits), so a session cannot be made up without reading this row; empty,
    # the server default, matches no session.
    session_generation: Mapped[str] = mapped_column(String(32), default=new_generation, server_default="")
    # The interface language the person last chose (archive/web/i18n.py's LANGUAGES), for what
    # reaches them outside a page: their notices' e-mails. None: not chosen yet (English).
    language: Mapped[str | None] = mapped_column(String(8))

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"

    # What Flask-Login asks of a user object (without making this module depend on it).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """A disabled account cannot sign in, and its sessions end."""
        return self.active

    def get_id(self) -> str:
        """The id kept in the session cookie."""
        return str(self.id)


def account_name(email: str) -> str:
    """An email as given to find an account (sign-in, --as): trimmed, lower-cased, at most 254
    characters, a NUL (which PostgreSQL refuses in text, and no stored address holds) made
    U+FFFD, so that it names no account rather than failing the query."""
    return email.strip().lower()[:254].replace("\x00", "\ufffd")


def normalise_email(email: str) -> str:
    """An email as stored: trimmed and lower-cased; refuse what is not an address."""
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput(N_("not an email address: %(email)s", email=repr(email.strip()[:80])))
    return value


def add(session: Session, email: str, role: str, password: str, *, active: bool = True) -> User:
    """Create an account (an inactive one waits for approval); the caller commits."""
    address = normalise_email(email)
    if role not in ROLES:
        raise InvalidInput(N_("unknown role %(role)s: use organizer, researcher or admin", role=repr(role[:40])))
    if not password.strip():
        raise InvalidInput(N_("empty password: give a password"))
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(N_("password longer than %(limit)s characters", limit=MAX_PASSWORD))
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise Conflict(N_("a user with email %(email)s already exists", email=address))
    now = utcnow()
    user = User(email=address, role=role, password_hash=hash_password(password), active=active,
                created_at=now, admin_since=now if role == "admin" and active else None,
                session_generation=new_generation())
    session.add(user)
    session.flush()
    return user


def by_email(session: Session, email: str) -> User:
    """The active user with this email, or NotFound."""
    address = account_name(email)
    user = session.scalar(select(User).where(User.email == address))
    if user is None or not user.active:
        raise NotFound(f"no active user with email {address[:80]}")
    return user


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_hash(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash (argon2id verify, constant-time in the library)."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def listing(session: Session) -> list[User]:
    """Every account, by role then email."""
    return list(session.scalars(select(User).order_by(User.role, User.email)))


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    """An admin disables (or enables again) an account; never their own. The caller commits.

    Making an admin active again is a grant a second admin approves (services.accounts),
    which sets `admin_since`; this function never does.
    """
    require_admin(actor, N_("only an admin may manage accounts"))
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if user.id == actor.id:
        raise Conflict(N_("you cannot disable your own account: ask another admin"))
    user.active = active
    if not active:
        end_sessions(user)
    return user


def end_sessions(user: User) -> None:
    """End every session of the account at once (sign-out everywhere, disable, new password, new role)."""
    user.session_generation = new_generation()


def end_every_session(session: Session) -> int:
    """End every session of every account (after a key rotation); how many accounts. The caller commits."""
    accounts = list(session.scalars(select(User)))
    for user in accounts:
        end_sessions(user)
    return len(accounts)


def set_password(session: Session, audit_key: audit.KeyOf, user: User, password: str, *, actor: str) -> None:
    """Give an account a new password: its sessions end and its API tokens are revoked (each
    audited as done by `actor`), since what the old password opened must not outlive it. The
    caller commits, with the change."""
    if not password.strip():
        raise InvalidInput(N_("empty password: give a password"))
    user.password_hash = hash_password(password)
    end_sessions(user)
    tokens.revoke_all(session, audit_key, user.id, actor, "password changed")


def rehash(user: User, password: str) -> None:
    """Hash an account's own password again with the parameters in use (at sign-in, once the
    password is checked): the same password, so no session or token it opened ends."""
    user.password_hash = hash_password(password)


GRANT_STATES = ("pending", "approved", "denied")


class AdminGrant(Base):
    """Making an account an active admin (a new admin, or a disabled admin enabled again),
    waiting for a second, existing admin: no one admin can make the second admin alone."""

    __tablename__ = "admin_grants"
    __table_args__ = (CheckConstraint(f"state IN {GRANT_STATES!r}", name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def require_admin(actor: User, refusal: Message | None = None) -> None:
    """Forbidden unless the actor is an admin: the archive's one spelling of "admin only".
    `refusal` is the whole sentence a refused actor reads ("only an admin may ..."), marked
    for translation where it is written."""
    if actor.role != "admin":
        raise Forbidden(refusal or N_("only an admin may do this"))


def may_approve(actor: User, requested_at: datetime, requested_by_id: int) -> None:
    """The second-admin checks: an active admin since before the request, not its maker."""
    require_admin(actor, N_("only an admin may approve this"))
    if not actor.active:
        raise Forbidden(N_("a disabled account approves nothing"))
    if actor.id == requested_by_id:
        raise Forbidden(N_("you made this request: another admin must approve it"))
    if actor.admin_since is None or actor.admin_since > requested_at:
        raise Forbidden(N_("your admin role is newer than this request: an admin of longer standing approves it"))



class SignInFailure(Base):
    """One failed sign-in: the email typed (any text, known or not) and the client's address.

    Counted by every worker and every machine alike, since they share the database; rows
    older than the longest throttle window are deleted as new ones arrive.
    """

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
