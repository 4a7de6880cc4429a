"""The release run: publish-due, its dry run, and the monitoring check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.errors import InvalidInput
from archive.reading_room import copies
from archive.release import audio, gate, withdrawals
from archive.release import redact_again as again
from archive.release.gate import Progress, Summary
from archive.services.context import Archive
from archive.times import format_instant, utcnow
from archive.vault import embargo, narrators, stories
from archive.vault.models import Story

# An operator's --now may be a little ahead of this machine's clock (another machine's)
# without being a way to release stories early.
CLOCK_SKEW = timedelta(seconds=5)


def clock(now: datetime | None, *, dry_run: bool) -> datetime:
    """The instant a run goes by: the real clock, an earlier --now, or a later one only for a dry run."""
    real = utcnow()
    if now is None:
        return real
    if now > real + CLOCK_SKEW and not dry_run:
        raise InvalidInput(f"--now {format_instant(now)} is later than this machine's clock "
                           f"({format_instant(real)}): releasing early is not a clock setting; "
                           "use it with --dry-run to see what would be released then")
    return now


def publish_due(archive: Archive, now: datetime | None = None,
                progress: Progress | None = None) -> Summary:
    """Release every due story exactly once; one that fails stays sealed and is reported."""
    instant = clock(now, dry_run=False)
    # sealing(): a muted recording made at release gets a new data key, wrapped under the newest
    # master key with the key ring's shared lock held, like any other (a rotation waits).
    with archive.unit() as unit, unit.publishing(), unit.sealing():
        summary = gate.publish_due(unit, now=instant, progress=progress)
        # Consent withdrawn by a narrator, and not taken back within the cooling-off: the data
        # keys go now, as an admin's withdrawal destroys them at once.
        summary.destroyed = withdrawals.destroy_due(unit, now=instant)
        return summary


def redact_again(archive: Archive, *, apply: bool, progress: Progress | None = None) -> again.Redone:
    """Redact every released story again with this version's rules, replacing each copy that
    comes out different and hides at least as much (as after an upgrade whose redaction finds
    more); with apply=False, only find them. Replacements hold the publisher lock a batch at a
    time (a takedown waits for a batch, not the run), and the key ring's shared lock: a
    replaced copy's muted recording is made again under a new data key, as at a release."""
    with archive.unit() as unit:
        return again.redact_again(unit, apply=apply, progress=progress)


REVEALS = again.REVEALS


def released_count(archive: Archive) -> int:
    """How many stories the reading room holds (what redact_again reads)."""
    return copies.count(archive.session)


def due(archive: Archive, now: datetime | None = None) -> list[Story]:
    """What a run at `now` would release or hold for review (a dry run: nothing changes)."""
    return gate.due(archive.session, clock(now, dry_run=True))


def due_count(archive: Archive, now: datetime | None = None) -> int:
    """How many stories a run at `now` would consider."""
    return gate.due_count(archive.session, clock(now, dry_run=True))


@dataclass(frozen=True)
class Health:
    """The monitoring answer: stories overdue past the grace, why the failing ones are stuck."""

    overdue: list[Story]
    stuck: dict[str, str]
    waiting_review: int
    # Released stories whose recording stays sealed although their narrator chose to release it.
    recordings_refused: dict[str, str]
    # Stories their narrator holds back (an objection, words to hide), with the hold's kind.
    held: dict[str, str]
    # Stories whose narrator withdrew consent, with the end of the cooling-off (then destroyed).
    cooling: dict[str, datetime]


def check(archive: Archive, grace: timedelta, now: datetime | None = None) -> Health:
    """Stories due for longer than `grace`, the recorded cause of each failed release, and the
    released stories whose recording stays sealed against their narrator's choice."""
    late = embargo.overdue(archive.session, now=clock(now, dry_run=True), grace=grace)
    return Health(late, gate.stuck(archive.session, [s.id for s in late]),
                  len(stories.listing(archive.session, "due_for_review")), audio.refused(archive.session),
                  narrators.held(archive.session), narrators.cooling(archive.session))


def why_kept_sealed(reason: str) -> str:
    """The sentence for a recording's refused release (a key of audio.REFUSALS), for an admin."""
    return audio.REFUSALS.get(reason, "its release was refused")
