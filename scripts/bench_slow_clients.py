"""Benchmark the reading room's search while slow request bodies trickle in.

Run it from the repository root, with no test suite or other benchmark running:

    .venv/bin/python scripts/bench_slow_clients.py [--n 2000] [--requests 200] [--slow 20]

It releases a synthetic corpus of N ~8 KB stories (scripts/bench_release.py's) and serves
it with `escrow serve --workers 2` (archive.web.worker: requests read in the event loop)
and, beside it, a one-route Flask page under gunicorn's own gthread worker with the settings
`escrow serve` used before (2 workers, 4 threads, 4 connections each, no keep-alive), the
raw library. For each server, one client thread requests, interleaved so both see the same
noise, with no slow client and then while SLOW clients each send a POST of 4 KB one byte a
second (as a harvester on a bad link, or an attacker, would): the archive's search for a
word of the released text, and the minimal page. A request that gets no answer in 5 s is
counted as stalled. The table gives median and p95 milliseconds and the stalls.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95  # noqa: E402  (sibling benchmarks)
from bench_release import (  # noqa: E402
    Instance,
    make_queries,
    prepare_instance,
    released_documents,
    time_publish,
    write_corpus,
)
from bench_web import ESCROW, serving  # noqa: E402

STALL = 5.0  # seconds without an answer: the request counts as stalled
GIVE_UP = 10  # stalls after which a row stops asking (n then counts the requests made)
MINIMAL_APP = '''
from flask import Flask, request

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
def page():
    request.get_data()  # a POST's body is read, as the archive reads a harvester's form
    return "<!doctype html><title>minimal</title><p>A minimal Flask page.</p>"
'''


def fetch(port: int, path: str) -> float | None:
    """Milliseconds for one GET on a new connection; None if it stalled."""
    start = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=STALL)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
    except TimeoutError:
        return None
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return (time.perf_counter() - start) * 1000


@contextmanager
def slow_bodies(ports: list[tuple[int, str]], count: int) -> Iterator[None]:
    """`count` clients per server, each sending a 4 KB form one byte a second until stopped."""
    stop = threading.Event()
    clients = []
    for port, path in ports:
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\n\r\nverb=Identify".encode())
            clients.append(client)

    def trickle() -> None:
        while not stop.wait(1.0):  # a slow client's pace, not synchronisation
            for client in clients:
                try:
                    client.sendall(b"x")
                except OSError:
                    pass

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for client in clients:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="released stories (2000)")
    parser.add_argument("--requests", type=int, default=200, help="requests per row (200)")
    parser.add_argument("--slow", type=int, default=20, help="slow clients per server (20)")
    args = parser.parse_args()
    print(f"machine: {platform.platform()} | python {platform.python_version()} | cpus {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="escrow-bench-slow-") as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus.jsonl"
        write_corpus(corpus, args.n)
        home = folder / "instance"
        instance = Instance("sqlite", home, None)
        time_publish(prepare_instance(corpus, instance), instance, args.n)
        words = [q.text for q in make_queries(released_documents(instance.database_url)) if q.kind == "single"]
        (folder / "minimal_app.py").write_text(textwrap.dedent(MINIMAL_APP))
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ESCROW_MASTER_KEY")}
        env["ARCHIVE_HOME"] = str(home)
        archive_cmd = [str(ESCROW), "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2"]
        minimal_cmd = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
                       "--threads", "4", "--worker-connections", "4", "--keep-alive", "0",
                       "--bind", "127.0.0.1:0", "--no-control-socket", "minimal_app:app"]
        rng = random.Random(11)
        rows: dict[str, list[float | None]] = {}
        with serving(archive_cmd, env, folder) as archive, serving(minimal_cmd, env, folder) as minimal:
            for warm in range(20):
                fetch(minimal, "/")
                fetch(archive, f"/search?q={words[warm % len(words)]}")
            for slow in (0, args.slow):
                search, page = f"archive search, {slow} slow bodies", f"minimal page (gthread), {slow} slow bodies"
                rows[search], rows[page] = [], []
                with slow_bodies([(archive, "/oai"), (minimal, "/")], slow):
                    for _ in range(args.requests):
                        rows[search].append(fetch(archive, f"/search?q={rng.choice(words)}"))
                        if rows[page].count(None) < GIVE_UP:  # each stall costs STALL seconds
                            rows[page].append(fetch(minimal, "/"))
    print(f"corpus: {args.n} released stories; up to {args.requests} requests per row, interleaved; ms per "
          f"answered request; a request unanswered in {STALL:.0f} s is stalled (a row stops after {GIVE_UP})")
    header = ("what", "n", "median", "p95", "stalled")
    table = [header]
    for name, values in rows.items():
        answered = [v for v in values if v is not None]
        table.append((name, str(len(values)), f"{statistics.median(answered):.2f}" if answered else "-",
                      f"{p95(answered):.2f}" if answered else "-", str(len(values) - len(answered))))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(f"{row[0]:<{widths[0]}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(row[1:], widths[1:], strict=True)))

if __name__ == "__main__":
    main()
