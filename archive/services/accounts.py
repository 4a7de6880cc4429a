"""Accounts: added, disabled and enabled from either door, and audited from both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from archive import audit
from archive.accounts import tokens as api_tokens
from archive.accounts import users
from archive.accounts.users import AdminGrant, User
from archive.audit import Action
from archive.errors import Conflict, Forbidden, NotFound
from archive.messages import N_
from archive.services.context import Archive
from archive.times import utcnow

COMMAND_LINE = "command line"  # the actor of what the operator does at the machine


def add(archive: Archive, actor: User | None, email: str, role: str, password: str) -> User:
    """Add an account; `actor` None is the operator at the command line, who bootstraps admins.

    An admin added by an admin (on the web, or any later door for people) is created disabled,
    with a grant that a second, existing admin approves: no admin makes another alone.
    """
    with archive.transaction():
        waits = actor is not None and role == "admin"
        if actor is not None:
            users.require_admin(actor, N_("only an admin may add accounts"))
        added = users.add(archive.session, email, role, password, active=not waits)
        audit.record(archive.session, archive.keyring.audit_key, _name(actor), Action.USER_ADD, None,
                     email=added.email, role=added.role, **({"waits_for_second_admin": True} if waits else {}))
        if waits:
            assert actor is not None
            _grant(archive, actor, added)
        return added


def set_active(archive: Archive, actor: User, user_id: int, active: bool) -> User:
    """Disable an account (ending its sessions and revoking its API tokens, for good), or
    enable one; enabling an admin is a grant that a second admin approves."""
    with archive.transaction():
        target = archive.session.get(User, user_id)
        if active and target is not None and target.role == "admin" and actor.role == "admin" \
                and target.id != actor.id and not target.active:
            _grant(archive, actor, target)
            return target
        changed = users.set_active(archive.session, actor, user_id, active)
        audit.record(archive.session, archive.keyring.audit_key, actor.email,
                     Action.USER_ENABLE if active else Action.USER_DISABLE, email=changed.email)
        if not active:
            # Refusing them while disabled is not enough: enabling the account again must not
            # bring back tokens that may have leaked with whatever made an admin disable it.
            api_tokens.revoke_all(archive.session, archive.keyring.audit_key, changed.id, actor.email,
                                  "account disabled")
        return changed


def _grant(archive: Archive, actor: User, target: User) -> AdminGrant:
    waiting = archive.session.scalar(select(AdminGrant).where(
        AdminGrant.user_id == target.id, AdminGrant.state == "pending"))
    if waiting is not None:
        raise Conflict(N_("%(email)s already waits for a second admin's approval", email=target.email))
    grant = AdminGrant(user_id=target.id, requested_by_id=actor.id, state="pending", created_at=utcnow())
    archive.session.add(grant)
    archive.session.flush()
    audit.record(archive.session, archive.keyring.audit_key, actor.email, Action.ADMIN_GRANT_REQUEST,
                 email=target.email, grant=grant.id)
    return grant


@dataclass(frozen=True)
class PendingGrant:
    """An account waiting to become an active admin."""

    id: int
    email: str
    requested_by: str
    requested_by_id: int
    created_at: datetime


def pending_grants(archive: Archive) -> list[PendingGrant]:
    """Admin grants waiting for a second admin, oldest first."""
    target, asker = aliased(User), aliased(User)
    rows = archive.session.execute(
        select(AdminGrant, target.email, asker.email).join(target, target.id == AdminGrant.user_id)
        .join(asker, asker.id == AdminGrant.requested_by_id).where(AdminGrant.state == "pending")
        .order_by(AdminGrant.created_at, AdminGrant.id))
    return [PendingGrant(g.id, email, by, g.requested_by_id, g.created_at) for g, email, by in rows]


def decide_grant(archive: Archive, actor: User, grant_id: int, approve: bool) -> User:
    """A second admin approves (the account becomes an active admin) or denies a grant."""
    with archive.transaction():
        grant = archive.session.get(AdminGrant, grant_id)
        if grant is None or grant.state != "pending":
            raise NotFound(f"no pending admin grant {grant_id}")
        target = archive.session.get(User, grant.user_id)
        assert target is not None  # a foreign key
        if approve:
            users.may_approve(actor, grant.created_at, grant.requested_by_id)
            if actor.id == target.id:
                raise Forbidden(N_("no one approves their own admin role"))
            target.active, target.admin_since = True, utcnow()
            users.end_sessions(target)
        else:
            users.require_admin(actor, N_("only an admin may deny this"))
        grant.state, grant.decided_by_id, grant.decided_at = ("approved" if approve else "denied"), actor.id, utcnow()
        audit.record(archive.session, archive.keyring.audit_key, actor.email,
                     Action.ADMIN_GRANT_APPROVE if approve else Action.ADMIN_GRANT_DENY, email=target.email,
                     grant=grant.id)
        return target


def listing(archive: Archive) -> list[User]:
    """Every account."""
    return users.listing(archive.session)


def _name(actor: User | None) -> str:
    return COMMAND_LINE if actor is None else actor.email
