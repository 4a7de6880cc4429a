"""Search shared by every node: two `escrow serve` processes on one PostgreSQL database, sharing
no instance folder (node B has only its copy of the key file), with the PostgreSQL backend
(ESCROW_SEARCH=auto). A story released through node A is found on node B's search page and API
as soon as the release answers; taken down through A, it is gone from both on B as soon as the
takedown answers: no index to bring in step, no window. A hundred stories, each both ways.

Collected on the PostgreSQL run only (tests/conftest.py).
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.helpers import add_users, canaries, escrow, reading, sql, story, write_lines
from tests.processes import node, serving

ADMIN, ORGANIZER = "admin@example.org", "org@example.org"
PASSWORD = "a long enough password"
TRIALS = 100
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class _Stay(urllib.request.HTTPRedirectHandler):
    """Answers as they come: a redirect is the answer, not followed."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _Stay())


def _read(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, str]:
    try:
        with opener.open(url, timeout=120) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _post(opener: urllib.request.OpenerDirector, url: str, form: dict[str, str]) -> int:
    return _read_post(opener, url, form)[0]


def _read_post(opener: urllib.request.OpenerDirector, url: str, form: dict[str, str]) -> tuple[int, str]:
    try:
        with opener.open(url, data=urllib.parse.urlencode(form).encode(), timeout=120) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _sign_in(site: str) -> urllib.request.OpenerDirector:
    admin = _browser()
    _, page = _read(admin, f"{site}/login")
    token = CSRF.search(page)
    assert token, "no CSRF token on the sign-in page"
    status = _post(admin, f"{site}/login", {"email": ADMIN, "password": PASSWORD, "csrf_token": token.group(1)})
    assert status in (302, 303), status
    return admin


def _form(admin: urllib.request.OpenerDirector, site: str, story_id: str, action: str) -> dict[str, str]:
    """The hidden fields of one of the admin story page's forms (its CSRF token, by its prefix)."""
    status, page = _read(admin, f"{site}/admin/stories/{story_id}")
    assert status == 200, status
    form = page[page.index(f'action="/admin/stories/{story_id}/{action}"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"', form)
                + re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))


def _found(reader: urllib.request.OpenerDirector, site: str, word: str, story_id: str) -> tuple[bool, int]:
    """Whether node's search page lists the story, and how many hits its API counts."""
    status, page = _read(reader, f"{site}/search?q={word}")
    assert status == 200, (status, page[:500])
    status, body = _read(reader, f"{site}/api/v1/search?q={word}")
    assert status == 200, (status, body[:500])
    return f"/stories/{story_id}" in page, int(json.loads(body)["total"])


def test_a_story_released_or_taken_down_through_one_node_is_found_or_gone_on_the_other_at_once(
        archive_home: Path, tmp_path: Path) -> None:
    add_users(archive_home, (ADMIN, "admin"), (ORGANIZER, "organizer"))
    words = canaries(TRIALS)
    lines = [story(title=f"Picket {word}", transcript=f"We held the line at {word}.", embargo_until="2020-01-01",
                   release_review=True, redaction_level="full") for word in words]
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", *lines)),
                  "--as", ORGANIZER).exit_code == 0
    assert escrow(archive_home, "publish-due").exit_code == 0
    waiting = [str(row[0]) for row in sql(archive_home, "SELECT id FROM stories WHERE status = 'due_for_review'")]
    assert len(waiting) == TRIALS
    other = node(archive_home, tmp_path / "node-b")
    outcomes = []

    with serving(archive_home, workers=1) as a, serving(other, workers=1) as b:
        admin, reader = _sign_in(a), _browser()
        for story_id in waiting:
            released = _post(admin, f"{a}/admin/stories/{story_id}/release",
                              _form(admin, a, story_id, "release"))
            [(title,)] = sql(archive_home, "SELECT title FROM released_stories WHERE id = :id", id=story_id)
            word = title.split()[-1]
            assert word in words
            found_after_release = _found(reader, b, word, story_id)
            taken = _post(admin, f"{a}/admin/stories/{story_id}/takedown",
                          {**_form(admin, a, story_id, "takedown"), "takedown-reason": "the narrator asked"})
            outcomes.append((released, found_after_release, taken, _found(reader, b, word, story_id)))

    assert outcomes == [(303, (True, 1), 303, (False, 0))] * TRIALS or \
        outcomes == [(302, (True, 1), 302, (False, 0))] * TRIALS, [o for o in outcomes if o[1] != (True, 1)][:3]
    assert sorted(path.name for path in other.iterdir()) == ["master.key"]  # no index, nothing per node
    assert sql(archive_home, "SELECT count(*) FROM search_purges") == [(0,)]  # each takedown's partition purged



def _files_holding(home: Path, word: str) -> list[str]:
    """Every file of this test's database in the server's data directory (its `base/<oid>`
    folder: tables, TOAST, indexes; the write-ahead log is the server's, see README) whose
    bytes hold the word, after a checkpoint has written every page out."""
    sql(home, "CHECKPOINT")  # (the role needs pg_checkpoint, as `.ci/run` grants)
    [(folder,)] = sql(home, "SELECT setting || '/base/' || (SELECT oid FROM pg_database "
                            "WHERE datname = current_database()) FROM pg_settings WHERE name = 'data_directory'")
    files = [path for path in Path(folder).rglob("*") if path.is_file()]
    assert files, f"the data directory {folder} is not readable here"
    return [path.name for path in files if word.encode() in path.read_bytes()]


def test_a_takedown_leaves_no_file_of_the_database_holding_the_story_once_purged(archive_home: Path,
                                                                                  tmp_path: Path) -> None:
    """Released, the story's words are in the database's files (the check can see them); taken
    down while another transaction holds its partition open, the purge waits, then says it is
    pending, and `index verify` says so; once that transaction ends, `index sync` purges it and
    no file of the database holds the words."""
    add_users(archive_home, (ADMIN, "admin"), (ORGANIZER, "organizer"))
    [word] = canaries(1)
    assert escrow(archive_home, "stories", "import", str(write_lines(
        tmp_path / "s.jsonl", story(title=f"Picket {word}", transcript=f"We met at {word}.",
                                    embargo_until="2020-01-01", redaction_level="full"))),
        "--as", ORGANIZER).exit_code == 0
    assert escrow(archive_home, "publish-due").output.startswith("released 1,")
    [(story_id, partition)] = sql(archive_home, "SELECT id, tableoid::regclass::text FROM released_stories")
    assert _files_holding(archive_home, word)

    with reading(archive_home, partition):  # another program's transaction, holding the partition open
        taken = escrow(archive_home, "stories", "takedown", story_id, "--reason", "asked", "--as", ADMIN)
        verified = escrow(archive_home, "index", "verify")
    assert "still hold an old copy" in taken.output, taken.output
    assert f"search partition {partition} still holds the text of 1 deleted cop" in verified.output, verified.output
    assert verified.exit_code != 0

    synced = escrow(archive_home, "index", "sync")
    assert synced.exit_code == 0 and "shared by every node: nothing to bring in step" in synced.output, synced.output
    again = escrow(archive_home, "index", "verify")
    assert again.exit_code == 0, again.output
    assert _files_holding(archive_home, word) == []
