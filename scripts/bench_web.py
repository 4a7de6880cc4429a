"""Benchmark the web archive's pages against a minimal Flask page, both under gunicorn.

Run it from the repository root, with no test suite or other benchmark running:

    .venv/bin/python scripts/bench_web.py [--n 2000] [--requests 300]

It releases a synthetic corpus of N ~8 KB stories (scripts/bench_release.py's), starts
`escrow serve --workers 2` on it and, beside it, gunicorn with 2 sync workers serving a
one-route Flask app that returns a short page. One client thread then requests, in
turn and interleaved so both see the same noise: the minimal page; the reading room's
search for a word drawn from the released text (snippets, total, filters); a released
story's page (with its citation); the home page (recent releases). Each request opens
its own connection (gunicorn's sync workers close it after every response). The table
gives median and p95 milliseconds per request and the ratio to the minimal page, and
the same searches through a bare Whoosh searcher in this process, for what the
library alone costs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402  (sibling benchmarks)
from bench_release import (  # noqa: E402
    make_queries,
    prepare_instance,
    raw_search,
    raw_searcher,
    released_documents,
    time_publish,
    write_corpus,
)

ESCROW = Path(sys.executable).parent / "escrow"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
MINIMAL_APP = '''
from flask import Flask

app = Flask(__name__)


@app.route("/")
def page():
    return "<!doctype html><title>minimal</title><p>A minimal Flask page.</p>"
'''


@contextmanager
def serving(command: list[str], env: dict[str, str], cwd: Path) -> Iterator[int]:
    """Start a gunicorn server; yield its port once it says it listens."""
    server = subprocess.Popen(command, env=env, cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              text=True)
    try:
        assert server.stderr is not None
        port = None
        for _ in range(200):
            match = LISTENING.search(server.stderr.readline())
            if match:
                port = int(match.group(1))
                break
        if port is None:
            raise RuntimeError(f"{command[0]} did not start")
        # Drain its log so the pipe never fills.
        subprocess.Popen(["cat"], stdin=server.stderr, stdout=subprocess.DEVNULL)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch(port: int, path: str) -> float:
    """Milliseconds for one GET on a new connection; the status must be 200."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="released stories (2000)")
    parser.add_argument("--requests", type=int, default=300, help="requests per page kind (300)")
    args = parser.parse_args()
    print(f"machine: {platform.platform()} | python {platform.python_version()} | cpus {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="escrow-bench-web-") as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus.jsonl"
        write_corpus(corpus, args.n)
        home = folder / "instance"
        time_publish(prepare_instance(corpus, home), home, args.n)
        docs = released_documents(home)
        words = [q.text for q in make_queries(docs) if q.kind == "single"]
        with sqlite3.connect(home / "escrow.db") as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM released_stories")]
        (folder / "minimal_app.py").write_text(textwrap.dedent(MINIMAL_APP))
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ESCROW_MASTER_KEY")}
        env["ARCHIVE_HOME"] = str(home)
        archive_cmd = [str(ESCROW), "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2"]
        minimal_cmd = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
                       "--bind", "127.0.0.1:0", "--no-control-socket", "minimal_app:app"]
        rng = random.Random(11)
        kinds = ("minimal page", "search", "story page", "home page", "raw whoosh search (in-process)")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        with serving(archive_cmd, env, folder) as archive, serving(minimal_cmd, env, folder) as minimal:
            for warm in range(20):
                fetch(minimal, "/")
                fetch(archive, f"/search?q={words[warm % len(words)]}")
            for _ in range(args.requests):
                times["minimal page"].append(fetch(minimal, "/"))
                times["search"].append(fetch(archive, f"/search?q={rng.choice(words)}"))
                times["story page"].append(fetch(archive, f"/stories/{rng.choice(ids)}"))
                times["home page"].append(fetch(archive, "/"))
        searcher, query_parser = raw_searcher(home / "index")
        for word in words:  # warm up
            raw_search(searcher, query_parser, word)
        for _ in range(args.requests):
            word = rng.choice(words)
            start = time.perf_counter()
            raw_search(searcher, query_parser, word)
            times["raw whoosh search (in-process)"].append((time.perf_counter() - start) * 1000)
        searcher.close()
    base = statistics.median(times["minimal page"])
    base95 = p95(times["minimal page"])
    print(f"corpus: {args.n} released stories; {args.requests} requests per kind, interleaved; ms per request")
    print_table([(f"{kind}, ms", len(values), f"{statistics.median(values):.2f}", f"{p95(values):.2f}",
                  f"{statistics.median(values) / base:.2f} / {p95(values) / base95:.2f}")
                 for kind, values in times.items()])
    print("ratio: against the minimal Flask page under the same gunicorn settings, median / p95; the raw")
    print("Whoosh row is the bare library's parse + top 10 + snippets for the same words, without HTTP")


if __name__ == "__main__":
    main()
