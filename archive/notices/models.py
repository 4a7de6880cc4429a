"""The outbox's tables: one notice per (story, kind, instant), one delivery per recipient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archive.storage.database import Base, UTCDateTime

MAIL_STATES = ("none", "pending", "sent")


class Notice(Base):
    """Something a story's people are told: its kind and the instant it is about (the embargo
    instant a window counts back from, the instant of a release, a takedown, a request).

    Unique per (story, kind, instant): any number of scheduler runs, on any number of machines,
    insert it once, and an embargo moved to a new instant has windows of its own. `story_id` is
    '' for what concerns the whole archive (the admins' daily digest), so the key holds no NULL
    (which SQL would let repeat); it is therefore a plain column, not a foreign key. `addressed`
    is false until its deliveries exist (the scheduler inserts notices in bulk, then addresses
    them in the same transaction)."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("story_id", "kind", "instant", name="uq_notices_story_kind_instant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))
    instant: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    addressed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class Delivery(Base):
    """A notice for one person: seen in the archive (`seen_at`), and sent by e-mail (`mail`:
    'pending' until sent, 'sent', or 'none' where the archive sends no e-mail).

    `next_attempt_at` is when a sender may next claim it: a claim moves it a lease ahead (a
    sender that dies mid-send leaves it for the next after the lease), a failure by the backoff."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "user_id", name="uq_notice_deliveries_notice_user"),
                      CheckConstraint("mail IN ('none', 'pending', 'sent')", name="mail"),
                      Index("ix_notice_deliveries_mail_next", "mail", "next_attempt_at"),
                      Index("ix_notice_deliveries_user_seen", "user_id", "seen_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mail: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The class of the last sending error only: an SMTP server's reply may quote an address.
    last_error: Mapped[str | None] = mapped_column(String(64))
