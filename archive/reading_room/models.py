"""The reading-room table: the source of truth for what is released (the index is its cache)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.storage.database import Base, UTCDateTime


class ReleasedStory(Base):
    """A released story as the narrator agreed to show it: plain text, public by consent."""

    __tablename__ = "released_stories"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    narrator: Mapped[str] = mapped_column(String(200))
    transcript: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    interviewer: Mapped[str] = mapped_column(String(200))
    interview_date: Mapped[str] = mapped_column(String(10))
    place: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(35), index=True)
    tags: Mapped[str] = mapped_column(Text)  # JSON list
    redaction_level: Mapped[str] = mapped_column(String(16))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    captions: Mapped[str | None] = mapped_column(Text)  # the released timed transcript (WebVTT)
    # The released rendition of the story's recording (muted, or the original in full), if any.
    recording_id: Mapped[str | None] = mapped_column(String(32))

    @property
    def tag_list(self) -> list[str]:
        """The tags as a list."""
        return list(json.loads(self.tags))

    @property
    def interview_year(self) -> int | None:
        """The year of the interview, if known."""
        return int(self.interview_date[:4]) if self.interview_date[:4].isdigit() else None

    def compute_hash(self) -> str:
        """SHA-256 over every released field: what `index verify` compares."""
        fields = [self.id, self.title, self.narrator, self.transcript, self.summary,
                  self.interviewer, self.interview_date, self.place, self.language, self.tags,
                  self.redaction_level]
        if self.captions is not None:  # stories released before timed transcripts keep their hash
            fields.append(self.captions)
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


class RoomRecord(Base):
    """Every story that has ever been in the reading room, present or gone: what harvesters
    (OAI-PMH) list. It holds no text: a story's id, whether its released copy is there, and
    the instant that last changed (its release, or the takedown or withdrawal that removed it).
    A story never released has no record, so nothing tells it apart from an unknown id.
    """

    __tablename__ = "room_records"
    __table_args__ = (Index("ix_room_records_datestamp_story", "datestamp", "story_id"),)

    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id"), primary_key=True)
    present: Mapped[bool] = mapped_column(Boolean)
    datestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingPurge(Base):
    """A deleted released copy whose text is still in its search partition's files, until the
    partition is rewritten (PostgreSQL search, postgres.py): its id and partition, never text."""

    __tablename__ = "search_purges"

    partition: Mapped[str] = mapped_column(String(128), primary_key=True)
    story_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
