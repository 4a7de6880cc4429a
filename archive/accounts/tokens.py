"""Personal API tokens: a researcher's key to the reading room from a script.

Only a SHA-256 digest of each token is stored (a token is 256 random bits, so a fast hash
is enough: nothing to guess from the digest), with a short prefix the owner recognises it
by. A revoked token stays as a row, so its history is kept.

Tokens end with their account's trust: disabling an account or giving it a new password
revokes every token it holds (`revoke_all`), as both end its sessions; enabling it again
brings none back. Signing out ends sessions only: tokens are listed, each with its revoke
button, on the account page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive import audit
from archive.audit import Action
from archive.storage.database import Base, UTCDateTime
from archive.times import utcnow


class ApiToken(Base):
    """One personal API token of an account."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def revoke_all(session: Session, audit_key: audit.KeyOf, user_id: int, actor: str, why: str) -> int:
    """Revoke every active token of an account, in the caller's transaction, each audited as
    its owner's revocation is, with why; how many were revoked."""
    now = utcnow()
    held = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                                .order_by(ApiToken.id)))
    count = 0
    for token in held:
        token.revoked_at = now
        audit.record(session, audit_key, actor, Action.TOKEN_REVOKE, token=token.id, prefix=token.prefix, why=why)
        count += 1
    return count
