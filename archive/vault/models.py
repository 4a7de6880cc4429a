"""Vault tables: sealed stories, their encrypted versions, and master key check values.

Plaintext columns are only what scheduling and access control need.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.storage.database import Base, UTCDateTime

STATUSES = ("sealed", "due_for_review", "released", "withdrawn")
LEVELS = ("full", "pseudonymized", "redacted", "summary")
RECORDING_RELEASES = ("none", "muted", "full")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Story(Base):
    """A story in the vault: access and scheduling columns, and its wrapped data key."""

    __tablename__ = "stories"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("redaction_level", LEVELS), name="redaction_level"),
        CheckConstraint(_in("recording_release", RECORDING_RELEASES), name="recording_release"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    redaction_level: Mapped[str] = mapped_column(String(16))
    release_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # What of a recording the release gate releases (drafts._recording_release): a control
    # column like the level, so the gate knows it before it opens anything.
    recording_release: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    version: Mapped[int] = mapped_column(Integer)
    dek_id: Mapped[str] = mapped_column(String(32))
    # None once the story is withdrawn: the data key is destroyed (crypto-shredding).
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the embargo last changed (set, extended, shortened, taken down): a request made
    # before it was made about an embargo that no longer holds, and cannot be approved.
    embargo_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What holds a due story back although its embargo has passed (vault/narrators.py): the
    # narrator's objection, which an admin clears, or words the narrator asked to hide, which
    # the organizer clears once they are marked. None: nothing holds it.
    hold: Mapped[str | None] = mapped_column(String(16))
    # A story whose narrator withdrew consent stays withdrawn-but-undoable until this instant
    # (its data key kept); the scheduled run destroys the key after it. None otherwise.
    cooling_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    versions: Mapped[list[StoryVersion]] = relationship(
        back_populates="story", order_by="StoryVersion.version", cascade="all, delete-orphan"
    )


class StoryVersion(Base):
    """One AEAD ciphertext of a story's whole payload, per version."""

    __tablename__ = "story_versions"

    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    story: Mapped[Story] = relationship(back_populates="versions")


class KeyCheck(Base):
    """A one-way check value (HMAC of a label) that tells a right key from a wrong one."""

    __tablename__ = "key_checks"

    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


REQUEST_STATES = ("pending", "approved", "denied", "cancelled")


class EmbargoRequest(Base):
    """A request to shorten an embargo or release early, waiting for a second admin.

    `until` None means "release now": the embargo becomes the instant of approval.
    A pending request past `expires_at` can no longer be approved. Its reason is sealed
    under the story's data key (archive/vault/reasons.py); `reason` holds only the plain
    text of requests made before reasons were sealed.
    """

    __tablename__ = "embargo_requests"
    __table_args__ = (CheckConstraint(_in("state", REQUEST_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    reason_sealed: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


RENDITIONS = ("original", "muted")


class Recording(Base):
    """A recording of a story's interview, sealed in a file of the media folder (vault/media.py)
    under its own data key, wrapped by the master key like a story's. The row holds only what
    serving and key management need: no name, no text, nothing heard."""

    __tablename__ = "recordings"
    __table_args__ = (CheckConstraint(_in("rendition", RENDITIONS), name="rendition"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), index=True)
    rendition: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(BigInteger)  # plaintext bytes
    dek_id: Mapped[str] = mapped_column(String(32))
    # None once the story is withdrawn: the data key is destroyed with the story's.
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


HOLDS = ("objection", "words")
NARRATOR_ACTIONS = ("delay", "protect", "words", "object", "earlier", "looser", "withdraw", "undo", "note",
                    "cleared", "destroyed", "to_narrator")
NARRATOR_STATES = ("done", "pending", "closed")


class NarratorSalt(Base):
    """The archive's random salt for narrator codenames' hashes (one row, made by the migration)."""

    __tablename__ = "narrator_salt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    salt: Mapped[bytes] = mapped_column(LargeBinary)


class NarratorCodename(Base):
    """A story's narrator codename, as its slow hash only (argon2id under the archive's salt):
    the codename itself is shown once and kept nowhere. `session_key` is what a narrator's
    session carries: a new codename, or none, ends every session of the old one."""

    __tablename__ = "narrator_codenames"

    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    session_key: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NarratorAction(Base):
    """What a narrator did or asked for (and what was done about it): the organizer's and the
    admins' view of the narrator's door. Free text (a reason, a note, the words to hide) is
    sealed under the story's data key, like every reason (vault/reasons.py)."""

    __tablename__ = "narrator_actions"
    __table_args__ = (CheckConstraint(_in("kind", NARRATOR_ACTIONS), name="kind"),
                      CheckConstraint(_in("state", NARRATOR_STATES), name="state"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    text_sealed: Mapped[str | None] = mapped_column(Text)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    level: Mapped[str | None] = mapped_column(String(16))
    # A withdrawal's story as it was before (its status, and its first release if released),
    # which an undo within the cooling-off restores.
    before: Mapped[str | None] = mapped_column(String(20))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(254))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
