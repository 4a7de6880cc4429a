"""The reading room's search: this node's index (a cache of the reading-room table) or the
database's vectors, rebuilt, synced and verified."""

from __future__ import annotations

from archive.reading_room.room import SyncReport
from archive.release import gate
from archive.services.context import Archive
from archive.vault import recordings


def rebuild(archive: Archive) -> int:
    """Recreate the index from the reading-room table; the number of released stories."""
    with archive.unit(writes=False) as unit, unit.publishing():
        return unit.search.rebuild(unit)


def sync(archive: Archive) -> SyncReport:
    """Bring the index in step with the table, without a full rebuild."""
    with archive.unit(writes=False) as unit, unit.publishing():
        return unit.search.sync(unit)


def verify(archive: Archive) -> list[str]:
    """Every way the index, the reading room and the vault disagree (nothing: all is well),
    and every file of the media folder no recording accounts for (reported, not removed:
    `escrow recordings sweep` removes them).

    An archive that has released nothing yet has no index, and that agrees with everything.
    """
    with archive.unit(writes=False) as unit:
        root = unit.media_root
        strays = [f"{stray.path.name} in {root}: {stray.why}" for stray in recordings.strays(unit.session, root)]
        if not unit.search.exists() and not gate.released_any(unit.session):
            return strays
        return gate.verify(unit) + strays
