"""The audit log: append-only, hash-chained with HMAC, never holding story content.

Each entry's MAC covers its own fields and the previous entry's MAC, so editing,
deleting or reordering any row breaks the chain at that row. The head row records
the last entry, so cutting entries off the tail is caught too.

The HMAC key has versions (the key ring holds `auditN`). A key rotation switches the chain to
the newest one with an `audit.rekey` entry, chained and MACed under the key in force, that
names the new version; every later entry is MACed under it. The head records the version in
force, and a writer reads it under the head's lock, so an entry written while a rotation runs
lands on one side of the switch or the other, under that side's key.

What an old audit key (an old key file) can do after the switch: nothing that verifies. An
entry after the switch MACed with it fails, named; the history before the switch is pinned by
the first entry after it (whose MAC, under the new key, covers the switch entry's MAC, which
covers everything before it), so rewriting that history fails too; and replacing the switch
and everything after it with entries under the old key leaves a chain that never reaches the
ring's newest audit key, which fails as well. Old audit keys stay in the ring because the
entries before each switch can be verified with nothing else, and give no one more than that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Integer, Select, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.errors import InvalidInput, TamperDetected
from archive.messages import N_
from archive.storage.database import Base, UTCDateTime
from archive.times import utcnow

GENESIS = "0" * 64
SYSTEM = "system"
FIRST_KEY = 1

# The audit key of a version (a key ring's `audit_key`); KeyProblem when the ring lacks it.
KeyOf = Callable[[int], bytes]


class AuditKeys(Protocol):
    """What verifying needs of a key ring: each audit key version, and which the chain should
    have reached (the newest; or, while a rotation is unfinished, the one before it too)."""

    @property
    def audit_version(self) -> int: ...

    @property
    def rotating(self) -> bool: ...

    def audit_key(self, version: int) -> bytes: ...


class Action(StrEnum):
    """Every action the audit log records: the one list of their names (stored as these strings)."""

    ARCHIVE_INIT = "archive.init"
    ARCHIVE_RESTORE = "archive.restore"
    AUDIT_ANCHOR = "audit.anchor"
    AUDIT_REKEY = "audit.rekey"
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
    STORY_TITLES_READ = "story.titles"
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
    """The chain's head: the last entry's number and MAC, and the audit key version the next
    entry is MACed under (a single row)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    key_version: Mapped[int] = mapped_column(Integer, default=FIRST_KEY, server_default=str(FIRST_KEY))


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
    # (Begun here if nothing was read yet: before, "no transaction" matched the next one's too,
    # and a later transaction reused a head read without its lock.)
    transaction = session.get_transaction() or session.begin()
    cached = session.info.get("audit_head")
    if cached is not None and cached[0] is transaction:
        return cached[1]
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS, key_version=FIRST_KEY)
        session.add(head)
    session.info["audit_head"] = (transaction, head)
    return head


def record(session: Session, key_of: KeyOf, actor: str, action: Action,
           story_id: str | None = None, **detail: Any) -> AuditEntry:
    """Append an entry, MACed under the audit key the head says is in force (read under the
    head's lock); the caller commits it with the change it records."""
    head = _head(session)
    entry = AuditEntry(seq=head.seq + 1, at=utcnow(), actor=actor, action=str(Action(action)),
                       story_id=story_id, detail=json.dumps(detail, sort_keys=True),
                       prev_hash=head.hash)
    entry.hash = _mac(key_of(head.key_version), entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    return entry


def key_version(session: Session) -> int:
    """The audit key version the chain is under now."""
    head = session.get(AuditHead, 1)
    return FIRST_KEY if head is None else head.key_version


def rekey(session: Session, key_of: KeyOf, actor: str, version: int) -> AuditEntry | None:
    """Switch the chain to audit key `version`: an entry under the key in force that names it,
    after which every entry is MACed under it (the caller records one more in the same
    transaction, which pins the switch). None if the chain is under it already."""
    head = _head(session)
    if head.key_version == version:
        return None
    if version < head.key_version:
        raise InvalidInput(f"the audit log is under audit key version {head.key_version} already, "
                           f"newer than {version}")
    key_of(version)  # the new key is at hand before the chain leaves the old one
    entry = record(session, key_of, actor, Action.AUDIT_REKEY, version=version)
    head.key_version = version
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


@dataclass(frozen=True)
class Verified:
    """How far the chain verifies: its last entry's number and MAC, and the audit key version
    in force after it."""

    seq: int
    hash: str
    key_version: int = FIRST_KEY


START = Verified(0, GENESIS, FIRST_KEY)


def _walk(session: Session, ring: AuditKeys, since: Verified, *, seen: dict[int, str] | None = None,
          wanted: set[int] | None = None) -> Verified:
    """Check each entry after `since` under the audit key in force at it, following the
    switches; raise TamperDetected (its message translatable) naming the first that fails."""
    at = since
    switched_at = 0  # the entry that switched to the key in force (0: none seen in this walk)
    query = select(AuditEntry).where(AuditEntry.seq > since.seq).order_by(AuditEntry.seq)
    for entry in session.scalars(query.execution_options(yield_per=1000)):
        if entry.seq != at.seq + 1:
            raise TamperDetected(N_("audit entry %(missing)s is missing (entry %(entry)s follows entry %(previous)s)",
                                    missing=str(at.seq + 1), entry=str(entry.seq), previous=str(at.seq)))
        if entry.prev_hash != at.hash or not hmac.compare_digest(entry.hash, _mac(ring.audit_key(at.key_version),
                                                                                   entry)):
            older = next((v for v in range(FIRST_KEY, at.key_version) if entry.prev_hash == at.hash
                          and hmac.compare_digest(entry.hash, _mac(ring.audit_key(v), entry))), None)
            if older is not None:
                raise TamperDetected(N_("audit entry %(entry)s does not verify: it is signed with audit key "
                                        "version %(old)s, which the log left for version %(new)s, so whoever "
                                        "wrote it held an old key file", entry=str(entry.seq), old=str(older),
                                        new=str(at.key_version)))
            raise TamperDetected(N_("audit entry %(entry)s does not verify: it was edited, moved or replaced",
                                    entry=str(entry.seq)))
        version = at.key_version
        if entry.action == Action.AUDIT_REKEY:
            named = entry.details().get("version")
            if not isinstance(named, int) or isinstance(named, bool) or named <= version:
                raise TamperDetected(N_("audit entry %(entry)s does not verify: it switches to no newer audit key",
                                        entry=str(entry.seq)))
            version, switched_at = named, entry.seq
        if wanted is not None and seen is not None and entry.seq in wanted:
            seen[entry.seq] = entry.hash
        at = Verified(entry.seq, entry.hash, version)
    if switched_at and switched_at == at.seq:
        raise TamperDetected(N_("the audit log ends at its switch to a new audit key (entry %(entry)s): "
                                "the entries after it were cut", entry=str(at.seq)))
    return at


def _reached(ring: AuditKeys, at: Verified) -> None:
    """The chain must have reached the ring's newest audit key (or, while a rotation is
    unfinished, the one before it): a chain that never switched was rewritten from its switch
    on. (A chain ahead of the ring was verified with keys read again from the key file: a
    rotation ran after this process read it.)"""
    lowest = ring.audit_version - 1 if ring.rotating else ring.audit_version
    if at.key_version < lowest:
        raise TamperDetected(N_("the audit log ends under audit key version %(found)s, not %(newest)s, the key "
                                "ring's newest: its switch to the new key and the entries after it were replaced",
                                found=str(at.key_version), newest=str(ring.audit_version)))


def verify_since(session: Session, ring: AuditKeys, since: Verified) -> Verified:
    """Check the entries after one already verified (`since`) and the head; return how far the
    chain verifies. Incremental: a page can show the chain's state without reading it from
    the start (`verify` reads it all, and checks the anchors)."""
    at = _walk(session, ring, since)
    head = session.get(AuditHead, 1)
    if head is None or head.seq != at.seq or head.hash != at.hash or head.key_version != at.key_version:
        raise TamperDetected(N_("the audit log's head does not match its last entry: entries were cut or added"))
    _reached(ring, at)
    return at


def verify(session: Session, ring: AuditKeys, kept: Anchor | None = None) -> int:
    """Check the whole chain, its head, its audit key switches and its anchors; return the
    number of entries or raise TamperDetected.

    `kept` is an anchor the operator kept off the machine: it catches a tail cut together
    with the head row and the stored anchors.
    """
    seen: dict[int, str] = {}
    anchors = [Anchor(a.seq, a.hash) for a in session.scalars(select(AuditAnchor))]
    wanted = {a.seq for a in anchors} | ({kept.seq} if kept else set())
    at = _walk(session, ring, START, seen=seen, wanted=wanted)
    prev_seq, prev_hash = at.seq, at.hash
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
    if head.key_version != at.key_version:
        raise TamperDetected(f"the audit log's head records audit key version {head.key_version} but its "
                             f"entries end under version {at.key_version}: the head was rewritten")
    _reached(ring, at)
    for mark, source in [*((a, "an anchor") for a in anchors), *([(kept, "the kept anchor")] if kept else [])]:
        if mark.seq not in seen:
            raise TamperDetected(f"the audit log ends at entry {prev_seq} but {source} records entry "
                                 f"{mark.seq}: entries were cut from the tail")
        if not hmac.compare_digest(seen[mark.seq], mark.hash):
            raise TamperDetected(f"audit entry {mark.seq} differs from {source}: the log was rewritten")
    return prev_seq
