"""Slow request bodies against a real `escrow serve` on 127.0.0.1, with no proxy in front: the
reading room keeps answering while they trickle in, an account sends at most two recordings at
once, and a body that falls behind its pace is refused with nothing kept.

Every client is a raw socket driven by the test: "slow" means its body is not finished, and
the test sends the next byte when it chooses, so nothing here depends on how fast the machine
is, except the one bound the issue sets (a search answered within a second).
"""

from __future__ import annotations

import http.cookiejar
import re
import selectors
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import add_users, escrow, one, story, write_lines
from tests.processes import poll, serving

ORGANIZER = "org@example.org"
PASSWORD = "a long enough password"  # tests.helpers.add_users's
SEARCH_BOUND = 1.0  # seconds: the bound for a search while slow bodies arrive
ANSWER_BOUND = 60.0  # seconds a refusal may take to arrive (a bound on waiting, not a measurement)
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
BOUNDARY = "escrow-slow-body-boundary"
FIRST_PIECE = 70 * 1024  # the first window's due (64 KiB) and a little more: the upload keeps pace
DECLARED = 100 * 2**20  # what each slow upload says it will send


@pytest.fixture
def archive(archive_home: Path, tmp_path: Path) -> tuple[Path, str]:
    """An organizer with one sealed story, and one released story to search for."""
    add_users(archive_home, (ORGANIZER, "organizer"))
    lines = write_lines(tmp_path / "s.jsonl", story(title="Strike at the laundry", embargo_until="2020-01-01"),
                        story(title="Still sealed", embargo_until="2090-01-01"))
    assert escrow(archive_home, "stories", "import", str(lines), "--as", ORGANIZER).exit_code == 0
    assert escrow(archive_home, "publish-due").output.startswith("released 1,")
    sealed = str(one(archive_home, "SELECT id FROM stories WHERE status = 'sealed'"))
    return archive_home, sealed


def signed_in(site: str, story_id: str) -> tuple[str, str]:
    """Sign the organizer in over HTTP: the session cookie, and the story page's form token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{site}/login", timeout=30) as page:
        token = TOKEN.search(page.read().decode())
    assert token
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "email": ORGANIZER, "password": PASSWORD})
    with opener.open(f"{site}/login", data=form.encode(), timeout=30) as done:
        assert "/login" not in done.url
    with opener.open(f"{site}/my/stories/{story_id}", timeout=30) as page:
        token = TOKEN.search(page.read().decode())
    assert token
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token.group(1)


def connect(site: str) -> socket.socket:
    address = urlsplit(site)
    client = socket.create_connection((address.hostname, address.port), timeout=ANSWER_BOUND)
    return client


def slow_oai(site: str) -> socket.socket:
    """A harvester's POST whose body (of 4 KB) has begun and stops there."""
    client = connect(site)
    client.sendall(b"POST /oai HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   b"Content-Length: 4096\r\n\r\nverb=Identify&pad=")
    return client


def slow_upload(site: str, story_id: str, cookie: str, token: str) -> socket.socket:
    """An organizer's upload of a recording, as a browser sends it: the token, then the file, of
    which the first 70 KiB are sent, of 100 MiB declared."""
    start = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
             f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"recording\"; filename=\"long.wav\"\r\n"
             "Content-Type: audio/wav\r\n\r\n").encode() + b"RIFF" + bytes(FIRST_PIECE)
    head = (f"POST /my/stories/{story_id}/recording HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {DECLARED}\r\n\r\n")
    client = connect(site)
    client.sendall(head.encode() + start)
    return client


def answers(clients: list[socket.socket], count: int) -> dict[socket.socket, bytes]:
    """Wait until `count` of the clients have been answered whole (the server closes its side
    after an answer); each answered client's bytes."""
    got: dict[socket.socket, bytearray] = {client: bytearray() for client in clients}
    done: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + ANSWER_BOUND
    with selectors.DefaultSelector() as watch:
        for client in clients:
            watch.register(client, selectors.EVENT_READ)
        while len(done) < count:
            assert time.monotonic() < deadline, f"{len(done)} of {count} answers after {ANSWER_BOUND:.0f}s"
            for key, _ in watch.select(timeout=1.0):
                client = key.fileobj
                assert isinstance(client, socket.socket)
                data = client.recv(65536)
                if data:
                    got[client] += data
                else:
                    done[client] = bytes(got[client])
                    watch.unregister(client)
    return done


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def partials(home: Path) -> list[Path]:
    media = home / "media"
    return sorted(media.glob(".*.partial")) if media.is_dir() else []


def timed_search(site: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(f"{site}/search?q=laundry", timeout=30) as response:
        assert response.status == 200
        assert b"1 story found" in response.read()
    return time.monotonic() - started


@contextmanager
def closing_all() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    with ExitStack() as stack:
        stack.callback(lambda: [client.close() for client in opened])
        yield opened


def test_twenty_slow_bodies_leave_the_search_answering_and_an_account_sends_two_at_once(
        archive: tuple[Path, str]) -> None:
    home, story_id = archive
    with serving(home, workers=2) as site, closing_all() as opened:
        timed_search(site)  # each worker has opened the index once
        cookie, token = signed_in(site, story_id)
        harvesters = [slow_oai(site) for _ in range(10)]
        uploads = [slow_upload(site, story_id, cookie, token) for _ in range(10)]
        opened += harvesters + uploads

        refused = answers(uploads, 8)
        poll("two uploads under way", lambda: len(partials(home)) == 2)

        # The two under way hold the account's two slots; the others were refused at once,
        # before their file was read: by the account's limit, or by a worker already reading
        # as many uploads as it gives threads to.
        said = {status(answer): answer for answer in refused.values()}
        assert set(said) <= {429, 503}, said
        assert all(b"already sending 2 recordings" in answer for answer in refused.values() if status(answer) == 429)
        assert all(b"as many uploads as it can" in answer for answer in refused.values() if status(answer) == 503)
        held = [client for client in uploads if client not in refused]
        slow = harvesters + held
        times = []
        for _ in range(5):
            for client in slow:
                client.sendall(b"x")  # one more byte each: still arriving
            times.append(timed_search(site))
        assert max(times) < SEARCH_BOUND, times

        for client in held:
            client.close()  # the organizer gives up: what arrived of each is not kept
        poll("the interrupted uploads are gone", lambda: partials(home) == [])
    assert [p for p in (home / "media").iterdir()] == []
    assert one(home, "SELECT count(*) FROM recordings") == 0


def test_bodies_and_heads_that_fall_behind_their_pace_are_answered_408_and_nothing_is_kept(
        archive: tuple[Path, str]) -> None:
    home, story_id = archive
    with serving(home, workers=1, env={"ESCROW_BODY_SECONDS": "2"}) as site, closing_all() as opened:
        cookie, token = signed_in(site, story_id)
        head = connect(site)
        head.sendall(b"GET /search?q=laundry HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        opened += [head, slow_oai(site), slow_upload(site, story_id, cookie, token)]
        poll("the upload under way", lambda: len(partials(home)) == 1)

        answered = answers(opened, 3)

        head_answer, oai_answer, upload_answer = (answered[client] for client in opened)
        assert status(head_answer) == 408 and b"arrived too slowly" in head_answer
        assert status(oai_answer) == 408 and b"arrived too slowly" in oai_answer
        assert status(upload_answer) == 408
        assert b"The recording arrived too slowly" in upload_answer and b"nothing was kept" in upload_answer
        poll("the refused upload is gone", lambda: partials(home) == [])
        assert timed_search(site) < SEARCH_BOUND
    assert one(home, "SELECT count(*) FROM recordings") == 0
