"""A release run and other people at work at the same time: every confirmed extension holds.

While `escrow publish-due` releases 250 due stories (three batches, gate.BATCH), organizers
extend embargoes (`escrow embargo extend`, each its own process) and sign in on the web
(`escrow serve`, a worker process). Nothing is left to chance: the publisher is held at a
named point of its run (archive/pauses.py) while the others run to their end, or, when the
batch holds its stories, the others are held at the start of their unit of work, let go into
the batch's lock, and the publisher is let go to commit. Then: every extension that was
confirmed holds (its story stays sealed, with no release entry); every one refused was
refused because its story was released; every other due story is released by that one run,
once; every sign-in signed in; the audit chain and the index verify. On SQLite (one
transaction per batch, BEGIN IMMEDIATE) and on PostgreSQL (row locks) alike.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from archive.release.gate import BATCH
from tests.helpers import connect, escrow, one, sql
from tests.processes import (
    ORGANIZER,
    RELEASE_COUNTS,
    SUMMARY,
    Pauses,
    finish,
    seal_stories,
    serving,
    started,
)

STORIES = 250  # three batches: 100, 100, 50
PASSWORD = "a long enough password"  # seal_stories' organizer's
LATER = "2040-01-01T00:00:00Z"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a sign-in answers with a redirect: read it, do not follow it


def sign_in(site: str) -> str:
    """Sign the organizer in as a browser would; where the answer sends them (a 303/302's
    Location: their own stories when signed in, the sign-in page again when not)."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies), _Stay())
    with opener.open(f"{site}/login", timeout=120) as page:
        found = CSRF.search(page.read().decode())
    assert found, "no CSRF token on the sign-in page"
    form = urllib.parse.urlencode({"email": ORGANIZER, "password": PASSWORD, "csrf_token": found.group(1)})
    try:
        with opener.open(f"{site}/login", data=form.encode(), timeout=120) as answer:
            return f"{answer.status} {answer.url}"
    except urllib.error.HTTPError as redirect:
        return f"{redirect.code} {redirect.headers.get('Location')}"


def extend_command(story_id: str) -> tuple[str, ...]:
    return ("embargo", "extend", story_id, "--until", LATER, "--reason", "not yet", "--as", ORGANIZER)


def due_ids(home: Path) -> list[str]:
    """The due stories in the order a run takes them (their embargoes are all the same)."""
    return sorted(str(row[0]) for row in sql(home, "SELECT id FROM stories WHERE status = 'sealed'"))


def background(call: Callable[[], str]) -> tuple[threading.Thread, list[str]]:
    said: list[str] = []
    thread = threading.Thread(target=lambda: said.append(call()), daemon=True)
    thread.start()
    return thread, said


@pytest.mark.parametrize("phase", ["listed", "premade", "claimed", "committed"])
def test_extensions_and_sign_ins_during_a_release_run(archive_home: Path, tmp_path: Path, phase: str) -> None:
    """`phase`: where the publisher is held, in its first batch. listed: the due stories are
    listed, none claimed. premade: the batch's muted copies are made, its claim next. claimed:
    the batch's transaction has released its stories, uncommitted (it holds them: SQLite's write
    lock, PostgreSQL's row locks and the audit head). committed: the first batch is committed."""
    seal_stories(archive_home, STORIES, "2020-01-01")
    ids = due_ids(archive_home)
    assert len(ids) == STORIES > 2 * BATCH
    first, second = ids[7], ids[BATCH + 7]  # one story of the first batch, one of the second
    publisher = Pauses(tmp_path / "publisher")
    server = Pauses(tmp_path / "server")
    extenders = {story_id: Pauses(tmp_path / f"extender-{n}") for n, story_id in enumerate((first, second))}
    outcomes: dict[str, tuple[int, str]] = {}

    with serving(archive_home, workers=2, env=server.env) as site:
        publisher.hold(f"publish.{phase}", *(["publish.committed"] if phase == "claimed" else []))
        with started(archive_home, "publish-due", env=publisher.env) as run:
            publisher.reached(f"publish.{phase}", alive=run)
            if phase != "claimed":
                # Nothing is held: each runs to its end while the publisher waits.
                for story_id, pauses in extenders.items():
                    with started(archive_home, *extend_command(story_id), env=pauses.env) as extension:
                        outcomes[story_id] = finish(extension)
                signed = [sign_in(site)]
                publisher.release(f"publish.{phase}")
            else:
                # The batch holds its stories: the others start, stop where their unit of work
                # opens, and are let go into the batch's locks; then the batch commits.
                server.hold("unit.open")
                with ExitStack() as stack:
                    procs = {}
                    for story_id, pauses in extenders.items():
                        pauses.hold("unit.open")
                        procs[story_id] = stack.enter_context(
                            started(archive_home, *extend_command(story_id), env=pauses.env))
                    thread, signed = background(lambda: sign_in(site))
                    server.reached("unit.open")
                    for story_id, pauses in extenders.items():
                        pauses.reached("unit.open", alive=procs[story_id])
                    server.release("unit.open")
                    for pauses in extenders.values():
                        pauses.release("unit.open")
                    publisher.release("publish.claimed")
                    # The first batch commits and the publisher stops again: the others, let go
                    # into its locks, now run to their end before the second batch is claimed.
                    publisher.reached("publish.committed", alive=run)
                    for story_id, proc in procs.items():
                        outcomes[story_id] = finish(proc)
                    thread.join(timeout=120)
                    publisher.release("publish.committed")
            status, output = finish(run)
    for pauses in (publisher, server, *extenders.values()):
        pauses.close()

    assert status == 0, output
    summary = SUMMARY.search(output)
    assert summary, output
    confirmed = {story_id for story_id, (code, _) in outcomes.items() if code == 0}
    for story_id, (code, said) in outcomes.items():
        if code == 0:
            assert f"extended {story_id}: sealed until 2040-01-01" in said, said
        else:
            assert "is already released" in said, said
    # Where it was held decides what each extension meets, and it does so every time.
    expected = {"listed": {first, second}, "premade": {first, second}, "claimed": {second},
                "committed": {second}}[phase]
    assert confirmed == expected, outcomes
    assert (int(summary.group(1)), int(summary.group(3))) == (STORIES - len(confirmed), 0), output
    for story_id in confirmed:
        [(state, until)] = sql(archive_home, "SELECT status, embargo_until FROM stories WHERE id = :id", id=story_id)
        assert state == "sealed" and str(until).startswith("2040-01-01"), (state, until)
        assert one(archive_home, "SELECT count(*) FROM released_stories WHERE id = :id", id=story_id) == 0
    released = sql(archive_home, RELEASE_COUNTS)
    assert len(released) == STORIES - len(confirmed) and {n for _, n in released} == {1}
    assert {story_id for story_id, _ in released} == set(ids) - confirmed
    assert one(archive_home, "SELECT count(*) FROM stories WHERE status = 'released'") == STORIES - len(confirmed)
    [answer] = signed
    assert answer.startswith(("302", "303")) and "/login" not in answer, answer
    assert one(archive_home, "SELECT count(*) FROM audit_log WHERE action = 'user.login'") == 1
    assert escrow(archive_home, "audit", "verify").exit_code == 0
    verified = escrow(archive_home, "index", "verify")
    assert verified.exit_code == 0, verified.output



@pytest.mark.parametrize("stopped", ["before its first batch", "after its first batch"])
def test_a_run_stopped_by_a_database_error_says_truly_whether_it_changed_anything(
        archive_home: Path, tmp_path: Path, stopped: str) -> None:
    """A release run that meets a database error stops there with one line; "nothing was
    changed" only when nothing was: batches committed before the error stay released, and it
    says so. The error is forced: the vault's table is renamed while the run waits at a point."""
    seal_stories(archive_home, STORIES, "2020-01-01")
    publisher = Pauses(tmp_path / "publisher")
    point = "publish.listed" if stopped == "before its first batch" else "publish.committed"
    publisher.hold(point)
    with started(archive_home, "publish-due", env=publisher.env) as run:
        publisher.reached(point, alive=run)
        with connect(archive_home) as conn:
            conn.exec_driver_sql("ALTER TABLE stories RENAME TO stories_elsewhere")
        publisher.release(point)
        status, output = finish(run)
    with connect(archive_home) as conn:
        conn.exec_driver_sql("ALTER TABLE stories_elsewhere RENAME TO stories")

    assert status == 1 and output.count("\n") == 1, output
    released = int(one(archive_home, "SELECT count(*) FROM released_stories"))
    if stopped == "before its first batch":
        assert output.startswith("escrow: database error (") and output.endswith("; nothing was changed\n"), output
        assert released == 0
    else:
        assert "nothing was changed" not in output, output
        assert "what the command had saved before the error is kept; run it again to finish" in output, output
        assert released == BATCH
    again = escrow(archive_home, "publish-due")
    assert again.exit_code == 0 and again.output.startswith(f"released {STORIES - released}, "), again.output
    assert escrow(archive_home, "audit", "verify").exit_code == 0
    assert escrow(archive_home, "index", "verify").exit_code == 0
