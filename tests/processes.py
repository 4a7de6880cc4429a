"""Running `escrow` as separate processes, as cron and several machines do, and sealing stories for them.

Nothing here waits by sleeping in place of synchronisation: a test polls the database (or the
lock table) for the state it needs, with a deadline and a short pause between polls so the
processes it watches keep the CPU; every process started is killed by its pid if the test
leaves it running.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from archive import pauses
from tests.helpers import FAST_PASSWORDS, escrow, story, write_lines

ESCROW = Path(sys.executable).parent / "escrow"
ORGANIZER = "org@example.org"
POLL_DEADLINE = 120.0  # seconds; a bound on polling, never a synchronisation guess
POLL_PAUSE = 0.005  # between polls: the watched processes get the CPU the poll would take
RUN_TIMEOUT = 300.0
SUMMARY = re.compile(r"^released (\d+), already released (\d+), failed (\d+)", re.MULTILINE)
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")
START_TIMEOUT_LINES = 200
RELEASE_COUNTS = ("SELECT story_id, count(*) FROM audit_log WHERE action = 'story.release' "
                  "GROUP BY story_id")


def seal_stories(home: Path, count: int, embargo_until: str) -> None:
    """Add an organizer through the CLI and import `count` stories with one embargo."""
    added = escrow(home, "users", "add", ORGANIZER, "--role", "organizer", "--password-stdin",
                   input="a long enough password\n")
    assert added.exit_code == 0, added.output
    lines = write_lines(home.parent / f"stories-{count}.jsonl",
                        *(story(title=f"Story {n}", embargo_until=embargo_until) for n in range(count)))
    imported = escrow(home, "stories", "import", str(lines), "--as", ORGANIZER)
    assert imported.exit_code == 0, imported.output
    assert f"sealed {count} stories" in imported.output


def node(home: Path, folder: Path) -> Path:
    """Another machine's instance folder for the same archive: its own index, a copy of the key file."""
    folder.mkdir(mode=0o700)
    shutil.copyfile(home / "master.key", folder / "master.key")
    (folder / "master.key").chmod(0o600)
    return folder


def process_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment of an `escrow` process on an instance and this test's database (or `database_url`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ESCROW_MASTER_KEY", "ESCROW_TRACEBACK")}
    env["ARCHIVE_HOME"] = str(home)
    env.update(FAST_PASSWORDS)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def poll(what: str, done: Callable[[], object], *, alive: subprocess.Popen[str] | None = None) -> None:
    """Wait until `done()` is true; fail after POLL_DEADLINE, or if `alive` exits first."""
    deadline = time.monotonic() + POLL_DEADLINE
    while not done():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"the process exited ({alive.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {POLL_DEADLINE:.0f}s waiting for {what}")
        time.sleep(POLL_PAUSE)  # a pause between polls, not a guess at timing


@contextmanager
def started(home: Path, *args: str, database_url: str | None = None,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """Start `escrow ARGS` as its own process (with `env` added to its environment); kill it (by
    its pid) if the test leaves it running."""
    proc = subprocess.Popen([str(ESCROW), *args], env={**process_env(home, database_url), **(env or {})},
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=RUN_TIMEOUT)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for a process; its exit status and everything it printed."""
    out, err = proc.communicate(timeout=RUN_TIMEOUT)
    return proc.returncode, out + err


@contextmanager
def serving(home: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[str]:
    """`escrow serve` on a free port of 127.0.0.1 (standard password hashing, as in production),
    with `env` added to its environment; its address once gunicorn says it listens; stopped when
    the block ends."""
    env = {**{k: v for k, v in os.environ.items() if k not in ("ESCROW_MASTER_KEY", "ESCROW_PASSWORD_COST")},
           **(env or {})}
    env["ARCHIVE_HOME"] = str(home)
    server = subprocess.Popen([str(ESCROW), "serve", "--host", "127.0.0.1", "--port", "0", "--workers", str(workers)],
                              env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert server.stderr is not None
        match = None
        for _ in range(START_TIMEOUT_LINES):  # gunicorn logs a few lines, then where it listens
            line = server.stderr.readline()
            match = LISTENING.search(line)
            if match or not line:
                break
        assert match, "escrow serve did not start"
        yield match.group(1)
    finally:
        server.terminate()
        server.communicate(timeout=30)


class Pauses:
    """Points where processes started with `env` stop until the test lets them go on
    (archive/pauses.py): a FIFO in a folder of the test's, one per point held."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(mode=0o700)
        self.folder = folder
        self.env = {pauses.ENV: str(folder)}
        self._ends: dict[str, int] = {}

    def hold(self, *points: str) -> None:
        """The next process to reach each point stops there."""
        for point in points:
            os.mkfifo(self.folder / point, 0o600)

    def reached(self, point: str, alive: subprocess.Popen[str] | None = None) -> None:
        """Wait until a process stops at the point (it has opened the FIFO: ours opens now)."""
        path = self.folder / point

        def there() -> bool:
            try:
                self._ends[point] = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno == errno.ENXIO:  # no reader yet: nobody is at the point
                    return False
                raise
            return True

        poll(f"a process to reach {point}", there, alive=alive)

    def release(self, point: str) -> None:
        """Let the process at the point go on; the point no longer stops anyone."""
        (self.folder / point).unlink()
        os.close(self._ends.pop(point))

    def close(self) -> None:
        """Let every process still held go on."""
        for point in list(self._ends):
            self.release(point)
