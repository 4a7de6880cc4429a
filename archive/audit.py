"""The audit log: append-only, hash-chained with HMAC, never holding story content.

Each entry's MAC covers its own fields and the previous entry's MAC, so editing,
deleting or reordering any row breaks the chain at that row. The head row records
the last entry, so cutting entries off the tail is caught too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, Select, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.db import Base, UTCDateTime
from archive.errors import InvalidInput, TamperDetected
from archive.messages import N_
from archive.times import utcnow

GENESIS = "0" * 64
SYSTEM = "system"


class Action(StrEnum):
    """Every action the audit log records: the one list of their names (stored as these strings)."""

    ARCHIVE_INIT = "archive.init"
    ARCHIVE_RESTORE = "archive.restore"
    AUDIT_ANCHOR = "audit.anchor"
    AUDIT_SHOW = "audit.show"
    KEYS_ROTATE = "keys.rotate"
    EXPORT_BAG = "export.bag"
    USER_ADD = "user.add"
    USER_ENABLE = "user.enable"
    USER_DISABLE = "user.disable"
    USER_LOGIN = "user.login"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOGOUT = "user.logout"
    USER_SESSIONS_END_ALL = "user.sessions_end_all"
    ADMIN_GRANT_REQUEST = "admin.grant_request"
    ADMIN_GRANT_APPROVE = "admin.grant_approve"
    ADMIN_GRANT_DENY = "admin.grant_deny"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_REFUSED = "token.refused"
    STORY_SUBMIT = "story.submit"
    STORY_IMPORT = "story.import"
    STORY_READ = "story.read"
    STORY_EDIT = "story.edit"
    STORY_RELEASE = "story.release"
    STORY_RELEASE_FAILED = "story.release_failed"
    STORY_DUE_FOR_REVIEW = "story.due_for_review"
    STORY_REDACT_AGAIN = "story.redact_again"
    STORY_TAKEDOWN = "story.takedown"
    STORY_WITHDRAW = "story.withdraw"
    ROOM_REDACT_AGAIN = "room.redact_again"
    EMBARGO_EXTEND = "embargo.extend"
    EMBARGO_REQUEST = "embargo.request"
    EMBARGO_APPROVE = "embargo.approve"
    EMBARGO_DENY = "embargo.deny"
    EMBARGO_CANCEL = "embargo.cancel"
    RECORDING_ATTACH = "recording.attach"
    RECORDING_ATTACH_REFUSED = "recording.attach_refused"
    RECORDING_OPEN = "recording.open"
    RECORDING_RELEASE = "recording.release"
    RECORDING_RELEASE_REFUSED = "recording.release_refused"
    NARRATOR_ISSUE = "narrator.issue"
    NARRATOR_REVOKE = "narrator.revoke"
    NARRATOR_SIGN_IN = "narrator.sign_in"
    NARRATOR_SIGN_IN_FAILED = "narrator.sign_in_failed"
    NARRATOR_PROTECT = "narrator.protect"
    NARRATOR_OBJECT = "narrator.object"
    NARRATOR_WORDS = "narrator.words"
    NARRATOR_ASK = "narrator.ask"
    NARRATOR_NOTE = "narrator.note"
    NARRATOR_CLOSE = "narrator.close"
    NARRATOR_HOLD_CLEAR = "narrator.hold_clear"
    NARRATOR_WITHDRAW = "narrator.withdraw"
    NARRATOR_UNDO = "narrator.undo"
    NARRATOR_DESTROY = "narrator.destroy"


class AuditEntry(Base):
    """One recorded action: who, what, which story, why, when (UTC)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    story_id: Mapped[str | None] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def details(self) -> dict[str, Any]:
        """The entry's detail fields (what `record` was given besides actor, action and story)."""
        found = json.loads(self.detail)
        return found if isinstance(found, dict) else {}


class AuditHead(Base):
    """The chain's head: the last entry's number and MAC (a single row)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """A head the operator anchored (and keeps off the machine): entry number and MAC."""

    __tablename__ = "audit_anchors"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    anchored_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Anchor:
    """An anchored head, written `SEQ:HASH` for the operator to keep."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """An anchor as `escrow audit anchor` printed it, or InvalidInput."""
        match = re.fullmatch(r"\s*(\d{1,12}):([0-9a-f]{64})\s*", text)
        if not match:
            raise InvalidInput("an anchor is SEQ:HASH as 'escrow audit anchor' printed it, "
                               "e.g. 42:3f9a... (64 hex digits)")
        return cls(int(match.group(1)), match.group(2))


def _mac(key: bytes, entry: AuditEntry) -> str:
    fields = [entry.seq, entry.at.isoformat(), entry.actor, entry.action,
              entry.story_id, entry.detail, entry.prev_hash]
    message = json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _head(session: Session) -> AuditHead:
    # One locked read of the head per transaction; later records in the same
    # transaction reuse it (an import of 10,000 stories writes 10,000 entries).
    transaction = session.get_transaction()
    cached = session.info.get("audit_head")
    if cached is not None and cached[0] is transaction:
        return cached[1]
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    session.info["audit_head"] = (transaction, head)
    return head


def record(session: Session, key: bytes, actor: str, action: Action,
           story_id: str | None = None, **detail: Any) -> AuditEntry:
    """Append an entry; the caller commits it with the change it records."""
    head = _head(session)
    entry = AuditEntry(seq=head.seq + 1, at=utcnow(), actor=actor, action=str(Action(action)),
                       story_id=story_id, detail=json.dumps(detail, sort_keys=True),
                       prev_hash=head.hash)
    entry.hash = _mac(key, entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    return entry


def entries(session: Session, *, story_id: str | None = None,
            since: datetime | None = None) -> Iterator[AuditEntry]:
    """Entries in chain order, optionally for one story or from an instant on."""
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if story_id is not None:
        query = query.where(AuditEntry.story_id == story_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return iter(session.scalars(query.execution_options(yield_per=1000)))


def last_detail(session: Session, action: Action, name: str, *, story_ids: Sequence[str] | None = None,
                within: Select[Any] | None = None, cleared_by: Action | None = None) -> dict[str, str]:
    """For each story with an `action` entry (among `story_ids`, or the ids `within` selects),
    the `name` field of its latest one ("unknown" if it has none); a later `cleared_by` entry of
    the story forgets it (a refusal made before a takedown, say)."""
    actions = [action] if cleared_by is None else [action, cleared_by]
    query = select(AuditEntry).where(AuditEntry.action.in_([str(a) for a in actions]))
    if story_ids is not None:
        query = query.where(AuditEntry.story_id.in_(list(story_ids)))
    if within is not None:
        query = query.where(AuditEntry.story_id.in_(within))
    found: dict[str, str] = {}
    for entry in session.scalars(query.order_by(AuditEntry.seq)):
        if entry.story_id is None:
            continue
        if entry.action == action:
            found[entry.story_id] = str(entry.details().get(name, "unknown"))
        else:
            found.pop(entry.story_id, None)
    return found


def recorded_since(session: Session, action: Action, *, actor: str, story_id: str, since: datetime,
                   **detail: str) -> bool:
    """Whether `actor` has an `action` entry on the story since `since` whose detail holds these
    fields (a read folded into one entry a minute)."""
    query = select(AuditEntry.detail).where(AuditEntry.action == str(action), AuditEntry.actor == actor,
                                            AuditEntry.story_id == story_id, AuditEntry.at >= since)
    for text in session.scalars(query):
        fields = json.loads(text)
        if isinstance(fields, dict) and all(fields.get(k) == v for k, v in detail.items()):
            return True
    return False


def anchor(session: Session, key: bytes, actor: str) -> Anchor:
    """Record an anchoring entry and anchor the head that includes it (the caller commits)."""
    entry = record(session, key, actor, Action.AUDIT_ANCHOR)
    session.add(AuditAnchor(seq=entry.seq, hash=entry.hash, anchored_at=entry.at))
    return Anchor(entry.seq, entry.hash)


def last_anchor(session: Session) -> Anchor | None:
    """The latest anchor stored in the database, if any."""
    row = session.scalar(select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1))
    return None if row is None else Anchor(row.seq, row.hash)


@dataclass(frozen=True)
class Filter:
    """Which entries to show: any of story, actor, action, a time range, and a page (keyset:
    entries numbered below `before`)."""

    story_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None


def latest(session: Session, *, story_id: str | None = None, limit: int = 100,
           where: Filter | None = None) -> list[AuditEntry]:
    """The newest entries first, at most `limit`, filtered; a page ends where `before` says."""
    where = where or Filter(story_id=story_id)
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    for column, value in ((AuditEntry.story_id, where.story_id), (AuditEntry.actor, where.actor),
                          (AuditEntry.action, where.action)):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    if where.before is not None:
        query = query.where(AuditEntry.seq < where.before)
    return list(session.scalars(query))


def verify_since(session: Session, key: bytes, seq: int, mac: str) -> tuple[int, str]:
    """Check the entries after one already verified (`seq`, its `mac`) and the head; return the
    last entry's number and MAC. Incremental: a page can show the chain's state without
    reading it from the start (`verify` reads it all, and checks the anchors)."""
    prev_seq, prev_hash = seq, mac
    query = select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq)
    for entry in session.scalars(query.execution_options(yield_per=1000)):
        if entry.seq != prev_seq + 1:
            raise TamperDetected(N_("audit entry %(missing)s is missing (entry %(entry)s follows entry %(previous)s)",
                                    missing=str(prev_seq + 1), entry=str(entry.seq), previous=str(prev_seq)))
        if entry.prev_hash != prev_hash or not hmac.compare_digest(entry.hash, _mac(key, entry)):
            raise TamperDetected(N_("audit entry %(entry)s does not verify: it was edited, moved or replaced",
                                    entry=str(entry.seq)))
        prev_seq, prev_hash = entry.seq, entry.hash
    head = session.get(AuditHead, 1)
    if head is None or head.seq != prev_seq or head.hash != prev_hash:
        raise TamperDetected(N_("the audit log's head does not match its last entry: entries were cut or added"))
    return prev_seq, prev_hash


def verify(session: Session, key: bytes, kept: Anchor | None = None) -> int:
    """Check the whole chain, its head and its anchors; return the number of entries or raise TamperDetected.

    `kept` is an anchor the operator kept off the machine: it catches a tail cut together
    with the head row and the stored anchors.
    """
    prev_seq, prev_hash = 0, GENESIS
    seen: dict[int, str] = {}
    anchors = [Anchor(a.seq, a.hash) for a in session.scalars(select(AuditAnchor))]
    wanted = {a.seq for a in anchors} | ({kept.seq} if kept else set())
    for entry in entries(session):
        if entry.seq != prev_seq + 1:
            raise TamperDetected(
                f"audit entry {prev_seq + 1} is missing (entry {entry.seq} follows entry {prev_seq})"
            )
        if entry.prev_hash != prev_hash or not hmac.compare_digest(entry.hash, _mac(key, entry)):
            raise TamperDetected(f"audit entry {entry.seq} does not verify: it was edited, moved or replaced")
        if entry.seq in wanted:
            seen[entry.seq] = entry.hash
        prev_seq, prev_hash = entry.seq, entry.hash
    head = session.get(AuditHead, 1)
    if prev_seq == 0:
        raise TamperDetected("the audit log is empty: its entries were deleted")
    if head is None:
        raise TamperDetected("the audit log's head record is missing")
    if head.seq != prev_seq or head.hash != prev_hash:
        raise TamperDetected(
            f"the audit log ends at entry {prev_seq} but its head records entry {head.seq}: "
            "entries were cut from the tail"
        )
    for mark, source in [*((a, "an anchor") for a in anchors), *([(kept, "the kept anchor")] if kept else [])]:
        if mark.seq not in seen:
            raise TamperDetected(f"the audit log ends at entry {prev_seq} but {source} records entry "
                                 f"{mark.seq}: entries were cut from the tail")
        if not hmac.compare_digest(seen[mark.seq], mark.hash):
            raise TamperDetected(f"audit entry {mark.seq} differs from {source}: the log was rewritten")
    return prev_seq
