"""The master key: written 0600, refused when too open, missing, truncated or not this archive's."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from archive import create_app
from archive.config import Config
from archive.errors import KeyProblem
from archive.vault import keys
from tests.helpers import database_bytes, database_env, escrow, every_story_opens, one, story, write_lines


def _stories(home: Path) -> int:
    return int(one(home, "SELECT count(*) FROM stories"))


@pytest.fixture
def home(archive_home: Path, tmp_path: Path) -> Path:
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
           "--password-stdin", input="a long enough password\n")
    return archive_home


@pytest.fixture
def lines(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "s.jsonl", story())


def test_init_writes_a_private_key_file_and_a_private_database(
        tmp_path: Path, new_database: Callable[[], str | None]) -> None:
    home = tmp_path / "fresh"
    url = new_database()

    result = escrow(home, "init", env=database_env(url))

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((home / "master.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    if url is None:  # SQLite: the database is a file of the instance folder, the owner's only
        assert stat.S_IMODE((home / "escrow.db").stat().st_mode) == 0o600
    else:  # PostgreSQL: the server keeps it, and no copy lands in the instance folder
        assert sorted(p.name for p in home.iterdir()) == ["master.key"]


def test_init_twice_keeps_the_same_key(archive_home: Path) -> None:
    before = (archive_home / "master.key").read_bytes()

    result = escrow(archive_home, "init")

    assert result.exit_code == 0
    assert "already initialised" in result.output
    assert (archive_home / "master.key").read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_key_file_open_to_others_is_refused(home: Path, lines: Path, mode: int) -> None:
    (home / "master.key").chmod(mode)

    result = escrow(home, "stories", "import", str(lines), "--as", "org@example.org")

    assert result.exit_code == 1
    assert "open to group or others" in result.output and "chmod 600" in result.output
    assert _stories(home) == 0
    with pytest.raises(KeyProblem):
        create_app(Config.for_home(home))


def test_a_missing_key_is_one_clear_line_and_nothing_is_written(home: Path, lines: Path) -> None:
    (home / "master.key").unlink()

    result = escrow(home, "stories", "import", str(lines), "--as", "org@example.org")

    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "master key file" in result.output and "is missing" in result.output
    assert _stories(home) == 0


def test_init_does_not_replace_a_lost_key_of_an_existing_archive(home: Path) -> None:
    (home / "master.key").unlink()

    result = escrow(home, "init")

    assert result.exit_code == 1
    assert "is missing" in result.output
    assert not (home / "master.key").exists()


@pytest.mark.parametrize("cut", [0, 10, 40, 70, 100])  # 101: the whole ring less its newline
def test_a_truncated_key_file_is_refused(home: Path, lines: Path, cut: int) -> None:
    path = home / "master.key"
    text = path.read_text()
    body_start = text.index("audit1:")
    path.write_text(text[: body_start + cut])

    result = escrow(home, "stories", "import", str(lines), "--as", "org@example.org")

    assert result.exit_code == 1
    assert "damaged or truncated" in result.output
    assert _stories(home) == 0


def test_another_archives_key_is_refused_before_anything_is_written(
        home: Path, lines: Path, tmp_path: Path, new_database: Callable[[], str | None]) -> None:
    other = tmp_path / "other"
    assert escrow(other, "init", env=database_env(new_database())).exit_code == 0
    (home / "master.key").write_bytes((other / "master.key").read_bytes())

    result = escrow(home, "stories", "import", str(lines), "--as", "org@example.org")

    assert result.exit_code == 1
    assert "does not match this archive" in result.output
    assert _stories(home) == 0


def test_the_key_can_come_from_the_environment_instead_of_the_file(home: Path, lines: Path) -> None:
    ring_text = (home / "master.key").read_text()
    (home / "master.key").unlink()

    result = escrow(home, "stories", "import", str(lines), "--as", "org@example.org",
                    env={"ESCROW_MASTER_KEY": " ".join(ring_text.split("\n")[2:])})

    assert result.exit_code == 0, result.output
    assert _stories(home) == 1


def test_no_key_ever_reaches_the_database(home: Path, lines: Path) -> None:
    escrow(home, "stories", "import", str(lines), "--as", "org@example.org")
    ring = keys.parse((home / "master.key").read_text(), "test")

    database = database_bytes(home)

    for key in [*ring.audits.values(), *ring.keks.values()]:
        assert key not in database
        assert base64.b64encode(key) not in database


def test_a_keyring_never_shows_its_keys_in_a_repr() -> None:
    ring = keys.generate()

    assert base64.b64encode(ring.audits[1]).decode() not in repr(ring)
    assert repr(Config.for_home(Path("/x"), master_key="secret-text")).count("secret-text") == 0


# -- rotation left unfinished at each point a kill can land ---------------------------------

def _rotation_home(home: Path, tmp_path: Path, count: int = 3) -> Path:
    lines = write_lines(tmp_path / "r.jsonl", *(story(title=f"R{n}") for n in range(count)))
    assert escrow(home, "stories", "import", str(lines), "--as", "org@example.org").exit_code == 0
    return home


def _ring_versions(home: Path) -> list[int]:
    ring = keys.parse((home / "master.key").read_text(), "test")
    return sorted(ring.keks)


def _all_open(home: Path) -> None:
    """Every story decrypts with the key file as it now is."""
    config = Config.for_home(home, database_url=os.environ.get("DATABASE_URL") or None, testing=True)
    assert every_story_opens(config) == _stories(home)


def test_a_rotation_killed_before_its_key_file_was_renamed_runs_again(home: Path, tmp_path: Path) -> None:
    _rotation_home(home, tmp_path)
    (home / "master.key.new").write_text("half a key ring")  # a kill between write and rename

    result = escrow(home, "keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "rotated to master key version 2: 3 data keys re-wrapped" in result.output
    assert not (home / "master.key.new").exists()
    assert _ring_versions(home) == [2]
    _all_open(home)


def test_a_rotation_killed_after_registering_its_key_but_before_writing_it(
        home: Path, tmp_path: Path, config: Config) -> None:
    _rotation_home(home, tmp_path)
    app = create_app(config)
    with app.app_context():  # the database learnt of version 2; the key file never held it
        from archive.storage import database
        session = database.db.session()
        keys.register(session, keys.load(config).with_new_keys())
        session.commit()
        database.db.session.remove()
        database.db.engine.dispose()

    result = escrow(home, "keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "rotated to master key version 2: 3 data keys re-wrapped" in result.output
    assert _ring_versions(home) == [2]
    assert escrow(home, "audit", "verify").exit_code == 0
    _all_open(home)


def test_a_rotation_killed_after_its_last_batch_is_finished_not_started_again(
        home: Path, tmp_path: Path) -> None:
    _rotation_home(home, tmp_path)
    first = keys.parse((home / "master.key").read_text(), "test")
    assert escrow(home, "keys", "rotate").exit_code == 0
    # Put back the two-key ring the rotation held before it dropped the old key.
    second = keys.parse((home / "master.key").read_text(), "test")
    two = keys.Keyring({1: first.keks[1], 2: second.keks[2]}, second.audits)
    (home / "master.key").write_text(two.to_text())

    result = escrow(home, "keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "finished rotating to master key version 2: 0 data keys re-wrapped" in result.output
    assert _ring_versions(home) == [2]
    _all_open(home)


def test_rotation_refuses_a_key_file_older_than_the_database(home: Path, tmp_path: Path) -> None:
    _rotation_home(home, tmp_path)
    before = (home / "master.key").read_text()
    assert escrow(home, "keys", "rotate").exit_code == 0
    (home / "master.key").write_text(before)  # an old copy of the key file put back

    result = escrow(home, "keys", "rotate")

    assert result.exit_code == 1
    assert "restore the newer key file" in result.output
    assert (home / "master.key").read_text() == before
