"""The audit log as people read it: verify, anchor, show (each read itself recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive import audit
from archive.audit import SYSTEM, Action, Anchor, AuditEntry, Filter
from archive.errors import TamperDetected
from archive.services.context import Archive
from archive.vault import reasons
from archive.vault.models import Story

__all__ = ["SYSTEM", "Anchor", "Filter", "Shown", "anchor", "show", "status", "verify"]


@dataclass(frozen=True)
class Shown:
    """An entry as shown: sealed reasons read with the story's key (or marked destroyed)."""

    entry: AuditEntry
    detail: dict[str, Any]


def verify(archive: Archive, kept: Anchor | None = None) -> tuple[int, Anchor | None]:
    """Check the chain, head and anchors: the number of entries and the last stored anchor."""
    count = audit.verify(archive.session, archive.keyring, kept)
    return count, audit.last_anchor(archive.session)


def anchor(archive: Archive, actor: str = SYSTEM) -> Anchor:
    """Anchor the head of a chain that verifies (never a broken one)."""
    with archive.unit() as unit:
        audit.verify(unit.session, unit.keyring)  # read again inside: the head anchored is this one's
        return audit.anchor(unit.session, unit.keyring.audit_key, actor)


def show(archive: Archive, actor: str, *, story_id: str | None = None, since: datetime | None = None,
         since_text: str | None = None, limit: int | None = None, where: Filter | None = None) -> list[Shown]:
    """Entries (chain order, or the newest `limit` first, filtered); the reading is recorded."""
    if limit is None:
        rows = list(audit.entries(archive.session, story_id=story_id, since=since))
    else:
        rows = audit.latest(archive.session, limit=limit, where=where or Filter(story_id=story_id))
    stories: dict[str, Story | None] = {}
    shown = [Shown(e, _readable(archive, e, stories)) for e in rows]
    with archive.unit() as unit:
        audit.record(unit.session, unit.keyring.audit_key, actor, Action.AUDIT_SHOW, story_id,
                     **({"since": since_text} if since_text else {}), shown=len(shown))
    return shown


# The last entry each process has verified, per database: the page verifies from there on.
_verified: dict[str, audit.Verified] = {}


def status(archive: Archive) -> tuple[int | None, str | None, Anchor | None]:
    """How many entries verify (None and the problem if the chain does not), and the last anchor.

    Incremental: the whole chain once per process, then only the entries added since; an
    edit to an entry verified before, and the anchors, are checked by `escrow audit verify`,
    which reads it all.
    """
    where = archive.config.database_url
    since = _verified.get(where, audit.START)
    verified: int | None
    try:
        _verified[where] = audit.verify_since(archive.session, archive.keyring, since)
        verified, problem = _verified[where].seq, None
    except TamperDetected as error:
        _verified.pop(where, None)
        verified, problem = None, error.args[0]  # a message the page shows in its language
    return verified, problem, audit.last_anchor(archive.session)


def _readable(archive: Archive, entry: AuditEntry, stories: dict[str, Story | None]) -> dict[str, Any]:
    detail = entry.details()
    sealed = detail.pop("reason_sealed", None)
    if isinstance(sealed, str) and entry.story_id is not None:
        if entry.story_id not in stories:
            stories[entry.story_id] = archive.session.get(Story, entry.story_id)
        detail["reason"] = reasons.read(archive.keyring, stories[entry.story_id], sealed)
    return detail
