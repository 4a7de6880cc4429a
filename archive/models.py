"""Every model, imported in one place so the metadata is complete (Alembic, tests)."""

from __future__ import annotations

from archive.audit import AuditAnchor, AuditEntry, AuditHead
from archive.db import Base
from archive.notices.models import Delivery, Notice
from archive.reading_room.models import ReleasedStory, RoomRecord
from archive.tokens import ApiToken
from archive.users import User
from archive.vault.models import EmbargoRequest, KeyCheck, Recording, Story, StoryVersion

__all__ = ["ApiToken", "AuditAnchor", "AuditEntry", "AuditHead", "Base", "Delivery", "EmbargoRequest", "KeyCheck", "Notice", "Recording",
           "ReleasedStory", "RoomRecord", "Story", "StoryVersion", "User"]
