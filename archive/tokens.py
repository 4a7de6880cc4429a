"""Personal API tokens: a researcher's key to the reading room from a script.

Only a SHA-256 digest of each token is stored (a token is 256 random bits, so a fast hash
is enough: nothing to guess from the digest), with a short prefix the owner recognises it
by. A revoked token stays as a row, so its history is kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, UTCDateTime


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
