"""Accounts: added, disabled and enabled from either door, and audited from both."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select

from archive import audit, users
from archive.services.context import Archive
from archive.users import User

COMMAND_LINE = "command line"  # the actor of what the operator does at the machine


def add(archive: Archive, actor: User | None, email: str, role: str, password: str) -> User:
    """Add an account; `actor` None is the operator at the command line."""
    with archive.transaction():
        added = users.add(archive.session, email, role, password)
        audit.record(archive.session, archive.keyring.audit_key, _name(actor), "user.add",
                     email=added.email, role=added.role)
        return added


def set_active(archive: Archive, actor: User, user_id: int, active: bool) -> User:
    """Disable (ending its sessions) or enable an account."""
    with archive.transaction():
        changed = users.set_active(archive.session, actor, user_id, active)
        audit.record(archive.session, archive.keyring.audit_key, actor.email,
                     "user.enable" if active else "user.disable", email=changed.email)
        return changed


def listing(archive: Archive) -> list[User]:
    """Every account."""
    return users.listing(archive.session)


def _name(actor: User | None) -> str:
    return COMMAND_LINE if actor is None else actor.email


@cache
def _dummy_hash() -> str:
    # Made on the first failed sign-in, not at import: every command would pay for it.
    return users.hash_password("not a password anyone has")


def sign_in(archive: Archive, email: str, password: str) -> User | None:
    """The active account with this email and password, or None; one argon2 check on every path.

    Unknown, wrong password, disabled, and the right password of a disabled account all
    cost the same verification, so timing tells none of them apart. Both outcomes are audited.
    """
    address = email.strip().lower()[:254]
    user = archive.session.scalar(select(User).where(User.email == address))
    matches = users.verify_hash(user.password_hash if user is not None else _dummy_hash(), password)
    ok = user is not None and user.active and matches
    with archive.transaction():
        if ok:
            assert user is not None
            if users.needs_rehash(user):  # made with other parameters (older, or the test suite's)
                users.set_password(user, password)
            audit.record(archive.session, archive.keyring.audit_key, user.email, "user.login")
        else:
            audit.record(archive.session, archive.keyring.audit_key, "anonymous", "user.login_failed",
                         email=address)
    return user if ok else None


def sign_out(archive: Archive, user: User) -> None:
    """Record a sign-out."""
    with archive.transaction():
        audit.record(archive.session, archive.keyring.audit_key, user.email, "user.logout")


def active(archive: Archive, user_id: int) -> User | None:
    """The account of a session, if it still exists and is enabled."""
    user = archive.session.get(User, user_id)
    return user if user is not None and user.active else None
