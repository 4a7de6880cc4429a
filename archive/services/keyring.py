"""The master key ring: rotation, exclusive of every operation that wraps a data key."""

from __future__ import annotations

from archive import audit
from archive.services.context import Archive
from archive.vault import rotation
from archive.vault.rotation import Rotation


def rotate(archive: Archive) -> Rotation:
    """Re-wrap every data key under a new master key; the old key leaves only when unused."""
    with archive.unit() as unit, unit.publishing():
        return rotation.rotate(unit, archive.config, audit.SYSTEM)
