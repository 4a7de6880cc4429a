"""Every model, imported in one place so the metadata is complete (Alembic, tests)."""

from __future__ import annotations

from archive.accounts.tokens import ApiToken
from archive.accounts.users import User
from archive.audit import AuditAnchor, AuditEntry, AuditHead
from archive.notices.models import Delivery, Notice
from archive.reading_room.models import ReleasedStory, RoomRecord
from archive.storage.database import Base
from archive.vault.models import EmbargoRequest, KeyCheck, Recording, Story, StoryVersion

__all__ = ["ApiToken", "AuditAnchor", "AuditEntry", "AuditHead", "Base", "Delivery", "EmbargoRequest", "KeyCheck",
           "Notice", "Recording", "ReleasedStory", "RoomRecord", "Story", "StoryVersion", "User"]
