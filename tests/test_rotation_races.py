"""Sealing stories while the master key rotates: no story is ever wrapped under a key that leaves.

Whoever wraps a data key reads the ring inside the key ring's shared lock and commits before
leaving it; a rotation changes the ring only inside the exclusive lock (archive/release/
locks.py). Shown with one interleaving forced step by step (a story sealed under the old
key while a rotation waits to start), and with real `escrow` processes importing while
another rotates, at each point of the rotation. Afterwards every story opens with the key
file as it is, which holds only the newest master key.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from archive import create_app, services
from archive.config import Config
from archive.storage import database
from archive.vault import keys, stories
from archive.vault.drafts import parse
from tests.helpers import escrow, every_story_opens, story, write_lines
from tests.processes import ORGANIZER, finish, poll, started


def ring_versions(home: Path) -> list[int]:
    return sorted(keys.parse((home / "master.key").read_text(), "test").keks)


def waits_for_a_file_lock(pid: int) -> bool:
    """Whether a process is blocked waiting for a flock (Linux lists waiters in /proc/locks)."""
    return any("->" in line and f" {pid} " in line for line in Path("/proc/locks").read_text().splitlines())


@pytest.fixture
def home(archive_home: Path) -> Path:
    added = escrow(archive_home, "users", "add", ORGANIZER, "--role", "organizer", "--password-stdin",
                   input="a long enough password\n")
    assert added.exit_code == 0, added.output
    return archive_home


def _import(home: Path, count: int, name: str) -> Path:
    return write_lines(home.parent / f"{name}.jsonl", *(story(title=f"{name} {n}") for n in range(count)))


def test_a_story_sealed_under_the_old_key_while_a_rotation_waits_is_rewrapped(
        home: Path, config: Config) -> None:
    assert escrow(home, "stories", "import", str(_import(home, 3, "before")), "--as", ORGANIZER).exit_code == 0
    app = create_app(config)
    with app.app_context(), ExitStack() as held:
        archive = services.current()
        organizer = archive.user(ORGANIZER)
        ring = held.enter_context(archive.sealing())  # an import has read the ring: version 1 only
        assert sorted(ring.keks) == [1]
        with started(home, "keys", "rotate") as rotation:
            poll("the rotation to wait for the key ring", lambda: waits_for_a_file_lock(rotation.pid),
                 alive=rotation)
            late = stories.submit(archive.session, ring, organizer, parse(story(title="sealed meanwhile")))
            archive.session.flush()
            assert late.kek_version == 1
            held.close()  # the import commits and leaves the lock; only now may the rotation go on
            status, output = finish(rotation)
        database.db.session.remove()
        database.db.engine.dispose()
    assert status == 0, output
    assert "rotated to master key version 2: 4 data keys re-wrapped" in output
    assert ring_versions(home) == [2]
    assert every_story_opens(config) == 4


@pytest.mark.parametrize("moment", ["import first", "rotation first", "while re-wrapping"])
def test_imports_in_other_processes_while_rotating_lose_no_story(home: Path, config: Config, moment: str) -> None:
    """Real processes, the import landing at each point of a rotation of 2,000 data keys."""
    assert escrow(home, "stories", "import", str(_import(home, 2_000, "existing")), "--as", ORGANIZER).exit_code == 0
    batch = str(_import(home, 300, "arriving"))
    if moment == "import first":
        with started(home, "stories", "import", batch, "--as", ORGANIZER) as load, \
                started(home, "keys", "rotate") as rotation:
            results = [finish(load), finish(rotation)]
    elif moment == "rotation first":
        with started(home, "keys", "rotate") as rotation, \
                started(home, "stories", "import", batch, "--as", ORGANIZER) as load:
            results = [finish(load), finish(rotation)]
    else:
        with started(home, "keys", "rotate") as rotation:
            # The new key is in the ring and the batches run: import now, in the middle of them.
            poll("the rotation's two-key ring", lambda: ring_versions(home) == [1, 2] or rotation.poll() is not None)
            with started(home, "stories", "import", batch, "--as", ORGANIZER) as load:
                results = [finish(load), finish(rotation)]
    for status, output in results:
        assert status == 0, output
    assert "sealed 300 stories" in results[0][1]
    assert ring_versions(home) == [2]
    assert every_story_opens(config) == 2_300
    assert escrow(home, "audit", "verify").exit_code == 0


def test_a_second_rotation_after_the_races_finds_every_key_in_place(home: Path, config: Config) -> None:
    assert escrow(home, "stories", "import", str(_import(home, 5, "few")), "--as", ORGANIZER).exit_code == 0
    assert escrow(home, "keys", "rotate").exit_code == 0
    again = escrow(home, "keys", "rotate")

    assert again.exit_code == 0, again.output
    assert "rotated to master key version 3: 5 data keys re-wrapped" in again.output
    assert every_story_opens(config) == 5


def test_a_machine_whose_key_file_predates_a_rotation_seals_nothing(home: Path, config: Config) -> None:
    """Another machine rotated; this one still has the old key file: refused, nothing written."""
    assert escrow(home, "stories", "import", str(_import(home, 2, "early")), "--as", ORGANIZER).exit_code == 0
    old = (home / "master.key").read_text()
    assert escrow(home, "keys", "rotate").exit_code == 0
    (home / "master.key").write_text(old)  # the other machine's file, not yet updated

    refused = escrow(home, "stories", "import", str(_import(home, 1, "late")), "--as", ORGANIZER)

    assert refused.exit_code == 1 and "lacks master key version 2" in refused.output
    assert "2 stories" in escrow(home, "stories", "list").output
