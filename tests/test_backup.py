"""`escrow backup create | restore`: the database (and the sealed recordings beside it), never the
master key; restored with the key apart.

On SQLite a backup is an SQLite file; on PostgreSQL, pg_dump's custom format, read back as
SQL with pg_restore to look inside it. A fresh instance is a new instance folder with a
copy of the key file and, on PostgreSQL, a new empty database.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import Result

from archive.config import Config
from archive.vault import keys, media
from archive.vault.models import Recording
from archive.vault.recordings import Reader, data_key
from tests.helpers import (
    canaries,
    database_env,
    database_rows,
    escrow,
    every_story_opens,
    one,
    sql,
    story,
    write_lines,
)

ORGANIZER, ADMIN = "org@example.org", "admin@example.org"
PAST, FUTURE = "2020-01-01", "2090-01-01"


@pytest.fixture
def home(archive_home: Path, tmp_path: Path) -> Path:
    """An archive with a released story, a sealed one and one whose words are canaries."""
    for email, role in ((ORGANIZER, "organizer"), (ADMIN, "admin")):
        escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
               input="a long enough password\n")
    lines = write_lines(tmp_path / "stories.jsonl", story(title="Released picket", embargo_until=PAST),
                        story(title="Sealed vote", embargo_until=FUTURE))
    assert escrow(archive_home, "stories", "import", str(lines), "--as", ORGANIZER).exit_code == 0
    assert escrow(archive_home, "publish-due").output.startswith("released 1,")
    return archive_home


@dataclass(frozen=True)
class Fresh:
    """A fresh instance: a new folder and, on PostgreSQL, a new, empty database."""

    folder: Path
    url: str | None

    def __call__(self, *args: str) -> Result:
        """`escrow ARGS` on this instance."""
        return escrow(self.folder, *args, env=database_env(self.url))

    def sql(self, statement: str, **params: object) -> list[tuple[object, ...]]:
        """One SQL statement on this instance's database."""
        return sql(self.folder, statement, url=self.url or f"sqlite:///{self.folder / 'escrow.db'}", **params)

    def stories_open(self) -> int:
        """How many stories decrypt with this instance's key file (every one not withdrawn, or it raises)."""
        return every_story_opens(Config.for_home(self.folder, database_url=self.url, testing=True))

    def with_key_of(self, home: Path) -> Path:
        """Bring an archive's key file here, as an operator does from where it keeps it."""
        self.folder.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(home / "master.key", self.folder / "master.key")
        (self.folder / "master.key").chmod(0o600)
        return self.folder


@pytest.fixture
def fresh(tmp_path: Path, new_database: Callable[[], str | None]) -> Fresh:
    return Fresh(tmp_path / "fresh", new_database())


def inside(backup: Path) -> bytes:
    """What a backup holds, readably: the SQLite file itself, or pg_restore's SQL for a dump."""
    if backup.read_bytes().startswith(b"PGDMP"):
        return subprocess.run(["pg_restore", "--file=-", str(backup)], capture_output=True, check=True).stdout
    return backup.read_bytes()


def create(home: Path, target: Path) -> Result:
    result = escrow(home, "backup", "create", str(target))
    assert result.exit_code == 0, result.output
    return result


def test_a_backup_restores_into_a_fresh_instance_with_the_key_supplied_apart(
        home: Path, tmp_path: Path, fresh: Fresh) -> None:
    backup = tmp_path / "backups" / "escrow.backup"
    backup.parent.mkdir()

    made = create(home, backup)
    fresh.with_key_of(home)
    restored = fresh("backup", "restore", str(backup))

    assert "it holds no master key" in made.output
    assert backup.stat().st_mode & 0o077 == 0
    assert restored.exit_code == 0, restored.output
    assert "index rebuilt with 1 released story;" in restored.output
    assert "2 stories" in fresh("stories", "list").output
    assert "Released picket" in fresh("search", "picket").output
    assert fresh("index", "verify").exit_code == 0
    assert fresh("audit", "verify").exit_code == 0
    assert "archive.restore" in fresh("audit", "show").output
    assert fresh.stories_open() == 2  # the sealed story too, with the key kept apart


def test_a_backup_never_holds_the_master_key(home: Path, tmp_path: Path) -> None:
    backup = tmp_path / "escrow.backup"
    ring = keys.parse((home / "master.key").read_text(), "test")

    create(home, backup)

    data = inside(backup)
    for key in [*ring.audits.values(), *ring.keks.values()]:
        assert key not in data and base64.b64encode(key) not in data
    assert b"Sealed vote" not in data  # sealed content stays ciphertext
    assert b"Released picket" in data  # (the look inside works)


def test_a_withdrawn_story_stays_unreadable_in_a_backup_taken_after(
        home: Path, tmp_path: Path, fresh: Fresh) -> None:
    words = canaries(2)
    lines = write_lines(tmp_path / "secret.jsonl", story(title=f"Withdrawn {words[0]}", narrator=words[1],
                                                         embargo_until=FUTURE))
    assert escrow(home, "stories", "import", str(lines), "--as", ORGANIZER).exit_code == 0
    story_id = one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT 1")
    wrapped = bytes(one(home, "SELECT wrapped_key FROM stories WHERE id = :id", id=story_id))
    assert escrow(home, "stories", "withdraw", story_id, "--reason", "consent withdrawn",
                  "--as", ADMIN).exit_code == 0
    backup = tmp_path / "after-withdrawal.backup"

    create(home, backup)
    fresh.with_key_of(home)
    assert fresh("backup", "restore", str(backup)).exit_code == 0

    data = inside(backup)
    assert wrapped not in data and wrapped.hex().encode() not in data
    assert not any(w.encode() in data for w in words)
    assert fresh.sql("SELECT status, wrapped_key FROM stories WHERE id = :id", id=story_id) == [("withdrawn", None)]
    assert fresh.stories_open() == 2  # every other story still opens


# -- refused, and nothing changed ----------------------------------------------------------------------

def test_restore_refuses_an_instance_that_has_a_database(home: Path, tmp_path: Path) -> None:
    backup = tmp_path / "escrow.backup"
    create(home, backup)
    before = database_rows(home)

    result = escrow(home, "backup", "restore", str(backup))

    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "restore only into a fresh instance" in result.output
    assert database_rows(home) == before


def test_restore_refuses_a_wrong_key_and_leaves_the_instance_fresh(
        home: Path, tmp_path: Path, fresh: Fresh, new_database: Callable[[], str | None]) -> None:
    backup = tmp_path / "escrow.backup"
    create(home, backup)
    other = tmp_path / "other"
    assert escrow(other, "init", env=database_env(new_database())).exit_code == 0
    folder = fresh.with_key_of(other)

    result = fresh("backup", "restore", str(backup))

    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "this master key is not the one escrow.backup was made with; nothing was restored" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["master.key"]
    assert "run 'escrow init' first" in fresh("stories", "list").output  # the database is still empty


def test_restore_without_the_key_says_where_to_put_it(home: Path, tmp_path: Path,
                                                       fresh: Fresh) -> None:
    backup = tmp_path / "escrow.backup"
    create(home, backup)

    result = fresh("backup", "restore", str(backup))

    assert result.exit_code == 1
    assert "a restore needs the archive's master key" in result.output and "ESCROW_MASTER_KEY" in result.output
    assert "run 'escrow init' first" in fresh("stories", "list").output


@pytest.mark.parametrize("content, message", [
    (None, "no such backup file"),
    (b"just some text\n", "is not a backup made by 'escrow backup create'"),
])
def test_restore_refuses_what_is_not_a_backup(home: Path, tmp_path: Path, fresh: Fresh,
                                              content: bytes | None, message: str) -> None:
    source = tmp_path / "not.backup"
    if content is not None:
        source.write_bytes(content)
    fresh.with_key_of(home)

    result = fresh("backup", "restore", str(source))

    assert result.exit_code == 1 and message in result.output
    assert "run 'escrow init' first" in fresh("stories", "list").output


def test_restore_refuses_a_backup_of_the_other_kind_of_database(
        home: Path, tmp_path: Path, fresh: Fresh, database_kind: str) -> None:
    source = tmp_path / "other-kind.backup"
    source.write_bytes(b"PGDMP\x01\x0f" if database_kind == "sqlite" else b"SQLite format 3\x00" + bytes(84))
    fresh.with_key_of(home)

    result = fresh("backup", "restore", str(source))

    assert result.exit_code == 1
    assert "is a backup of an archive on" in result.output and "this instance uses" in result.output


def test_create_refuses_to_replace_a_file_or_to_write_beside_the_key(home: Path, tmp_path: Path) -> None:
    existing = tmp_path / "existing.backup"
    existing.write_text("keep me")

    replacing = escrow(home, "backup", "create", str(existing))
    beside = escrow(home, "backup", "create", str(home / "escrow.backup"))
    nowhere = escrow(home, "backup", "create", str(tmp_path / "no" / "such" / "folder.backup"))

    assert replacing.exit_code == 1 and "a backup never replaces a file" in replacing.output
    assert existing.read_text() == "keep me"
    assert beside.exit_code == 1 and "outside the instance folder" in beside.output
    assert not (home / "escrow.backup").exists()
    assert nowhere.exit_code == 1 and "no folder" in nowhere.output
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == ["existing.backup"]


def test_create_without_pg_dump_fails_clearly_on_postgresql_and_needs_no_tool_on_sqlite(
        home: Path, tmp_path: Path, database_kind: str) -> None:
    backup = tmp_path / "no-tools.backup"

    result = escrow(home, "backup", "create", str(backup), env={"PATH": str(tmp_path / "empty-path")})

    if database_kind == "postgresql":
        assert result.exit_code == 1 and result.output.count("\n") == 1
        assert "pg_dump was not found" in result.output
        assert not backup.exists() and not list(tmp_path.glob(".no-tools.backup*"))
    else:  # SQLite's backup API is in the archive's own process
        assert result.exit_code == 0, result.output
        assert backup.read_bytes().startswith(b"SQLite format 3\x00")


def test_sealed_recordings_go_with_a_backup_and_open_after_a_restore(home: Path, tmp_path: Path,
                                                                     fresh: Fresh) -> None:
    wav = tmp_path / "interview.wav"
    soundfile.write(wav, np.sin(np.arange(8000) / 5) * 0.3, 8000, subtype="PCM_16")
    story_id = str(one(home, "SELECT id FROM stories WHERE status = 'sealed'"))
    assert escrow(home, "stories", "attach", story_id, str(wav), "--as", ORGANIZER).exit_code == 0
    recording_id = str(one(home, "SELECT id FROM recordings"))
    backup = tmp_path / "backups" / "escrow.backup"
    backup.parent.mkdir()

    made = create(home, backup)
    again = escrow(home, "backup", "create", str(tmp_path / "backups" / "escrow.backup"))
    fresh.with_key_of(home)
    restored = fresh("backup", "restore", str(backup))

    assert "1 sealed recording in" in made.output
    copied = backup.with_name("escrow.backup.media") / f"{recording_id}.sealed"
    assert copied.read_bytes() == (home / "media" / f"{recording_id}.sealed").read_bytes()
    assert copied.stat().st_mode & 0o077 == 0 and b"RIFF" not in copied.read_bytes()
    assert again.exit_code == 1 and "already exists" in again.output
    assert restored.exit_code == 0 and "1 sealed recording:" in restored.output, restored.output
    config = Config.for_home(fresh.folder, database_url=fresh.url, testing=True)
    [row] = fresh.sql("SELECT id, story_id, rendition, media_type, size, dek_id, wrapped_key, kek_version, "
                      "created_at FROM recordings")
    recording = Recording(id=row[0], story_id=row[1], rendition=row[2], media_type=row[3], size=row[4],
                          dek_id=row[5], wrapped_key=row[6], kek_version=row[7])
    with (fresh.folder / "media" / f"{recording_id}.sealed").open("rb") as source:
        opened = Reader(data_key(keys.load(config), recording),
                        media.Binding(story_id, recording_id, "original"), source).read()
    assert opened == wav.read_bytes()


def test_a_backup_made_before_a_rotation_restores_with_the_key_file_of_its_time(
        home: Path, tmp_path: Path, fresh: Fresh) -> None:
    """The key file as it is after the rotation lacks the master key the backup's data keys are
    wrapped under: refused, the instance left fresh. With the key file kept from the backup's
    time it restores; its audit log, all under the old audit key, verifies; and a rotation there
    switches it to a new one."""
    backup = tmp_path / "escrow.backup"
    create(home, backup)
    kept = (home / "master.key").read_text()
    assert escrow(home, "keys", "rotate").exit_code == 0
    folder = fresh.with_key_of(home)

    refused = fresh("backup", "restore", str(backup))
    (folder / "master.key").write_text(kept)
    restored = fresh("backup", "restore", str(backup))

    assert refused.exit_code == 1 and "not the one escrow.backup was made with; nothing was restored" in refused.output
    assert restored.exit_code == 0, restored.output
    assert fresh("audit", "verify").exit_code == 0
    assert fresh.stories_open() == 2
    assert fresh("keys", "rotate").exit_code == 0
    assert "audit log intact" in fresh("audit", "verify").output
    assert fresh.stories_open() == 2
