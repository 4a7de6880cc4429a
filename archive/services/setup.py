"""Setting an archive up and keeping it: init, the demo, backups and restores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive import audit
from archive.audit import Action
from archive.config import Config
from archive.release.gate import Summary
from archive.services import backup, demo, releases
from archive.services.context import Archive, current
from archive.storage import database
from archive.vault import keys


def init(config: Config) -> bool:
    """Create the instance, migrate, write the key (0600) once; False if it already was set up."""
    config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    database.upgrade()
    database.make_private(config.database_url)
    with current().unit() as unit:
        session = unit.session
        if keys.is_registered(session):
            keys.unlock(session, config)
            return False
        if config.master_key is not None or config.key_file.exists():
            ring = keys.load(config)
        else:
            ring = keys.generate()
            keys.write_file(config.key_file, ring)
        keys.register(session, ring)
        audit.record(session, ring.audit_key, audit.SYSTEM, Action.ARCHIVE_INIT)
    return True


@dataclass(frozen=True)
class Demo:
    """The demo's logins (email, password, role), how many samples were added, the release run."""

    logins: list[tuple[str, str, str]]
    seeded: int
    summary: Summary


def seed_demo(archive: Archive, now: datetime | None = None) -> Demo:
    """Demo accounts (passwords reset), the sample stories once, and a release run."""
    with archive.sealing() as ring:
        logins, seeded = demo.seed(archive.session, ring)
    return Demo(logins, seeded, releases.publish_due(archive, now))


def create_backup(archive: Archive, path: Path) -> backup.Backup:
    """A consistent copy of the database (never the key) at a new path outside the instance."""
    return backup.create(archive.config, archive.engine, path)


def restore_backup(archive: Archive, path: Path) -> tuple[backup.Backup, int]:
    """Restore into a fresh instance, migrate, rebuild the index; audited."""
    restored = backup.restore(archive.config, archive.engine, path)
    database.upgrade()  # a backup from an older version is brought up to this one's schema
    database.make_private(archive.config.database_url)
    with archive.unit() as unit:
        with unit.publishing(), unit.reading():
            count = unit.search.rebuild(unit)
        audit.record(unit.session, unit.keyring.audit_key, audit.SYSTEM, Action.ARCHIVE_RESTORE,
                     backup=restored.path.name, recordings=restored.recordings)
    return restored, count
