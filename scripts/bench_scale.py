"""The reading room at archive scale, on a realistic corpus: publish-due, search, the search page
under concurrent clients, takedown, and index size, each against bare Whoosh in the same run.

    .venv/bin/python scripts/bench_scale.py [--n 10000] [--clients 1,16] [--requests 400]
                                            [--keep DIR] [--no-bare-index]

With --keep DIR the instance is built and published once in DIR; later runs with the same
DIR skip straight to step 2 (no publish-due timing), which at 50,000 stories saves over 40
minutes. --no-bare-index skips bare Whoosh's bulk index of step 1.

The corpus has a Zipf-distributed vocabulary (30,000 generated words, exponent 1.07, as
word frequencies in English run), because posting-list lengths decide Whoosh's costs:
stories of about 9 KB with four marked names each, levels cycling. Steps:

1. import (untimed), then `escrow publish-due` against bare Whoosh bulk-indexing the same
   released rows (one writer, one commit, same schema);
2. search: single terms spread over document frequency, two-term ANDs and two-word phrases
   drawn from the text, through `archive.reading_room.search.search` against bare Whoosh
   with its default highlighting (ContextFragmenter, re-analysing each hit's body), both on
   the index publish-due built, interleaved;
3. the search page served by `escrow serve` (gunicorn, its default workers) to 1 and 16
   concurrent clients on 127.0.0.1: throughput and p50 / p95 / p99;
4. a takedown through the site's form (an admin signed in): time until the story is gone
   from the search page and its page is a 404 (polled over HTTP) and until the response
   comes back; one through `escrow stories takedown`: time until the story is gone from
   search (polled in this process; includes the command's start-up) and until the command
   returns (its text purged from the index files, checked by grepping them); and, in this
   process, the index's two steps of a takedown of another story: the delete-only commit and
   the purge of the one segment that held it;
5. the size of the archive's index and of bare Whoosh's.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402
from bench_release import (  # noqa: E402
    Instance,
    Query,
    invoke,
    make_queries,
    prepare_instance,
    raw_search,
    raw_searcher,
    released_documents,
    time_publish,
    time_raw_index,
    time_searches,
)

from archive import create_app  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.reading_room.index import Index  # noqa: E402
from archive.reading_room.search import search as archive_search  # noqa: E402

VOCABULARY = 30_000
ZIPF_S = 1.07
STORY_CHARS = 9_000
LEVELS = ("full", "pseudonymized", "redacted", "summary")
ADMIN = "bench-admin@example.org"


def vocabulary(rng: random.Random) -> list[str]:
    """Pronounceable generated words, rank 1 the most frequent."""
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words, key=lambda w: (len(w), w))


def write_corpus(path: Path, n: int, seed: int = 11) -> None:
    """N stories of about STORY_CHARS characters, Zipf-distributed words, all due."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank**ZIPF_S) for rank in range(1, len(words) + 1)]
    people = [f"{rng.choice(words).title()} {rng.choice(words).title()}" for _ in range(500)]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            drawn = rng.choices(words, weights, k=STORY_CHARS // 6)
            for k, kind in enumerate(("person", "org", "place", "person")):
                drawn.insert(len(drawn) * (k + 1) // 5, f"[[{kind}:{rng.choice(people)}]]")
            lines = [" ".join(drawn[j : j + 16]) + "." for j in range(0, len(drawn), 16)]
            story = {"title": f"Story {i} " + " ".join(rng.choices(words, weights, k=5)),
                     "narrator": rng.choice(people), "transcript": "\n".join(lines),
                     "summary": " ".join(rng.choices(words, weights, k=60)).capitalize() + ".",
                     "interviewer": "Bench Interviewer", "interview_date": f"{2000 + i % 20}-05-01",
                     "place": "Bench Place", "language": "en", "tags": sorted(set(rng.choices(words[:200], k=3))),
                     "embargo_until": (date(2012, 1, 1) + timedelta(days=i % 3650)).isoformat(),
                     "redaction_level": LEVELS[i % len(LEVELS)], "release_review": False}
            handle.write(json.dumps(story, ensure_ascii=False) + "\n")


def folder_bytes(folder: Path) -> int:
    """Total size of the files in a folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(instance: Instance, port: int) -> subprocess.Popen[bytes]:
    """`escrow serve` on 127.0.0.1, once it answers."""
    env = {**os.environ, "ARCHIVE_HOME": str(instance.home)}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen([str(Path(sys.executable).parent / "escrow"), "serve", "--host", "127.0.0.1",
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)  # a benchmark waiting for a server to start; not a test
    process.kill()
    raise RuntimeError("escrow serve did not start")


def load(port: int, paths: Sequence[str], clients: int, requests: int) -> tuple[float, list[float], int]:
    """`requests` GETs spread over `clients` threads, each with its own connection (reopened
    when the server closes it); requests per second, the milliseconds of each, and how many
    were refused as too broad (400: the search's time limit ran out)."""
    times: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []
    refused: list[str] = []

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for k in range(number, requests, clients):
            t0 = time.perf_counter()
            conn.request("GET", paths[k % len(paths)])
            response = conn.getresponse()
            response.read()
            if response.status == 400:
                refused.append(paths[k % len(paths)])
            elif response.status != 200:
                failures.append(f"{paths[k % len(paths)]}: {response.status}")
            mine.append((time.perf_counter() - t0) * 1000)
        conn.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return len(times) / elapsed, times, len(refused)


def p99(values: Sequence[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def takedown(runner: object, instance: Instance, docs: Sequence[dict[str, object]]) -> tuple[float, float, bool]:
    """Take one released full-level story down; seconds until gone from search and until the
    command returned; whether its words are gone from the index files."""
    doc = next(d for d in docs if d["level"] == "full")
    story_id, marker = str(doc["id"]), str(doc["title"]).split()[1]  # "Story 1234 ..."
    index = Index(instance.home / "index")
    assert any(h.id == story_id for h in archive_search(index, f"title:{marker}").hits)
    env = {**os.environ, "ARCHIVE_HOME": str(instance.home)}
    env.pop("DATABASE_URL", None)
    start = time.perf_counter()
    process = subprocess.Popen([str(Path(sys.executable).parent / "escrow"), "stories", "takedown", story_id,
                                "--reason", "benchmark", "--as", ADMIN], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gone = None
    while process.poll() is None or gone is None:
        if gone is None and not any(h.id == story_id for h in archive_search(index, f"title:{marker}").hits):
            gone = time.perf_counter() - start
        if process.poll() is not None and gone is None:
            continue
        time.sleep(0.005)  # polling for the benchmark's clock, not synchronising a test
    returned = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"takedown failed: {process.stderr.read().decode() if process.stderr else ''}")
    index.close()
    body = str(doc["body"])[:200].split()
    sample = " ".join(body[10:16]).encode()  # a run of its released words
    in_files = any(sample in p.read_bytes() for p in (instance.home / "index").iterdir() if p.is_file())
    return gone, returned, not in_files


TOKEN = re.compile(r'name="((?:[a-z]+-)?csrf_token)" type="hidden" value="([^"]+)"')


def web_takedown(port: int, docs: Sequence[dict[str, object]]) -> tuple[float, float, float]:
    """An admin takes a released full-level story down through the served site (signed in,
    the story page's form); seconds from sending the form until the story is gone from the
    search page, until its page is a 404 (both polled over HTTP meanwhile), and until the
    response came back (its text purged from the index files by then)."""
    doc = [d for d in docs if d["level"] == "full"][1]  # not the one the command takes down
    story_id, marker = str(doc["id"]), str(doc["title"]).split()[1]
    base = f"http://127.0.0.1:{port}"
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def tokens(path: str) -> dict[str, str]:
        return dict(TOKEN.findall(browser.open(base + path).read().decode()))

    browser.open(base + "/login", urlencode({"email": ADMIN, "password": "bench-password",
                                            "csrf_token": tokens("/login")["csrf_token"]}).encode())
    form = urlencode({"takedown-csrf_token": tokens(f"/admin/stories/{story_id}")["takedown-csrf_token"],
                      "takedown-reason": "benchmark"}).encode()

    def status(path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, body

    search_path = "/search?" + urlencode({"q": f"title:{marker}"})
    assert story_id.encode() in status(search_path)[1] and status(f"/stories/{story_id}")[0] == 200
    returned: list[float] = []
    start = time.perf_counter()

    def send() -> None:
        response = browser.open(base + f"/admin/stories/{story_id}/takedown", form)
        if b"Taken down" not in response.read():
            raise RuntimeError("the takedown form did not take the story down")
        returned.append(time.perf_counter() - start)

    sender = threading.Thread(target=send)
    sender.start()
    gone_search = gone_page = math.nan
    while math.isnan(gone_search) or math.isnan(gone_page):
        if math.isnan(gone_search) and story_id.encode() not in status(search_path)[1]:
            gone_search = time.perf_counter() - start
        if math.isnan(gone_page) and status(f"/stories/{story_id}")[0] == 404:
            gone_page = time.perf_counter() - start
        if not sender.is_alive() and not returned:
            raise RuntimeError("the takedown request failed")
        time.sleep(0.005)  # polling for the benchmark's clock, not synchronising a test
    sender.join()
    return gone_search, gone_page, returned[0]


def time_page(instance: Instance, queries: Sequence[Query], repeat: int) -> tuple[list[float], list[float]]:
    """The search page rendered in-process (Flask test client, no network) and bare Whoosh with its
    default highlighting, on the same queries, interleaved; milliseconds each."""
    app = create_app(Config.for_home(instance.home))
    client = app.test_client()
    searcher, parser = raw_searcher(instance.home / "index")
    page_ms: list[float] = []
    raw_ms: list[float] = []
    paths = ["/search?" + urlencode({"q": q.text}) for q in queries]
    for path, query in zip(paths, queries, strict=True):  # warm up
        assert client.get(path).status_code in (200, 400)  # 400: too broad to answer in time
        raw_search(searcher, parser, query.text)
    for _ in range(repeat):
        for path, query in zip(paths, queries, strict=True):
            t0 = time.perf_counter()
            client.get(path)
            page_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            raw_search(searcher, parser, query.text)
            raw_ms.append((time.perf_counter() - t0) * 1000)
    searcher.close()
    app.extensions["escrow.index"].close()
    return page_ms, raw_ms


def delete_and_purge(instance: Instance, docs: Sequence[dict[str, object]]) -> tuple[float, float]:
    """In this process, the two index steps of a takedown on another story: the delete-only
    commit (gone from search) and the purge of its segment (gone from the files); seconds. The
    story is one in the largest segment, and is put back after (in a small segment)."""
    index = Index(instance.home / "index")
    with index.searcher() as searcher:
        largest, _offset = max(searcher.leaf_searchers(), key=lambda pair: pair[0].doc_count())
        story_id = next(largest.all_stored_fields())["id"]
    doc = next(d for d in docs if d["id"] == story_id)
    start = time.perf_counter()
    index.write(add=(), delete=[story_id])
    deleted = time.perf_counter() - start
    start = time.perf_counter()
    index.purge()
    purged = time.perf_counter() - start
    index.write(add=[doc], delete=[])  # back, so a kept instance (--keep) stays whole
    index.close()
    return deleted, purged


def published_instance(tmp: Path, n: int) -> tuple[Instance, CliRunner, float]:
    """The instance in TMP with N corpus stories released, and publish-due's time in seconds.

    An instance already published there (marked by the file ``published``) is reused
    untimed (NaN), so --keep runs go straight to what they measure.
    """
    instance = Instance("sqlite", tmp / "instance", None)
    if (tmp / "published").exists():
        print(f"reusing the published instance in {tmp}", flush=True)
        return instance, CliRunner(), math.nan
    shutil.rmtree(tmp / "instance", ignore_errors=True)
    tmp.mkdir(parents=True, exist_ok=True)
    corpus = tmp / "stories.jsonl"
    write_corpus(corpus, n)
    print(f"corpus: {n} stories, {corpus.stat().st_size / 1e6:.0f} MB, Zipf vocabulary of "
          f"{VOCABULARY:,} words (s = {ZIPF_S})", flush=True)
    runner = prepare_instance(corpus, instance)
    invoke(runner, instance, ["users", "add", ADMIN, "--role", "admin", "--password-stdin"],
           stdin="bench-password\n")
    publish = time_publish(runner, instance, n)
    (tmp / "published").touch()
    return instance, runner, publish


def main() -> None:
    """Run every step and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--requests", type=int, default=400, help="search-page requests per client setting")
    parser.add_argument("--queries-repeat", type=int, default=3)
    parser.add_argument("--no-bare-index", action="store_true",
                        help="skip bare Whoosh's bulk index (its time and size), the longest step at 50,000")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the instance in DIR and keep it; a later run with the same DIR reuses "
                             "it (no publish-due timing) and goes straight to the searches")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="escrow-bench-scale-") as tmp_name:
        tmp = args.keep or Path(tmp_name)
        instance, runner, publish = published_instance(tmp, args.n)
        docs = released_documents(instance.database_url)
        args.n = len(docs)
        raw_index = math.nan if args.no_bare_index else time_raw_index(docs, tmp / "raw")
        sizes = (folder_bytes(instance.home / "index"), math.nan if args.no_bare_index else folder_bytes(tmp / "raw"))
        shutil.rmtree(tmp / "raw", ignore_errors=True)
        print(f"publish-due {publish:.1f} s, bare whoosh {raw_index:.1f} s", flush=True)
        queries: list[Query] = make_queries(docs)
        timings, totals = time_searches(queries, [instance], args.queries_repeat)
        too_broad = len(totals.get("refused as too broad", []))
        page_ms, page_raw_ms = time_page(instance, queries, args.queries_repeat)
        for label, ours, raw in (("search", [v for vs in timings["archive"].values() for v in vs],
                                  [v for vs in timings["raw whoosh"].values() for v in vs]),
                                 ("search page in-process", page_ms, page_raw_ms)):
            print(f"{label}: median {statistics.median(ours):.1f} ms, p95 {p95(ours):.1f} ms; bare whoosh "
                  f"{statistics.median(raw):.1f} / {p95(raw):.1f} ms", flush=True)
        port = free_port()
        server = serve(instance, port)
        web: list[tuple[int, float, list[float], int]] = []
        try:
            paths = ["/search?" + urlencode({"q": q.text}) for q in queries]
            load(port, paths, 4, len(paths))  # warm every worker's searcher and caches
            for clients in (int(c) for c in args.clients.split(",")):
                web.append((clients, *load(port, paths, clients, args.requests)))
                print(f"{clients} client(s): {web[-1][1]:.1f} requests/s", flush=True)
            web_gone = web_takedown(port, docs)
            print("takedown through the site: gone from search {:.2f} s, story page 404 {:.2f} s, "
                  "response {:.2f} s".format(*web_gone), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
        gone, returned, purged = takedown(runner, instance, docs)
        print(f"takedown: gone from search {gone:.2f} s, command returned {returned:.2f} s", flush=True)
        delete_s, purge_s = delete_and_purge(instance, docs)

    rows: list[tuple[object, ...]] = [
        ("publish-due, stories/s", args.n, f"{args.n / publish:,.0f}", "-", f"{raw_index / publish:.2f}"),
        ("bare whoosh bulk index, stories/s", args.n, f"{args.n / raw_index:,.0f}", "-", "1.00"),
    ]
    for kind in ("single", "and", "phrase", "all"):
        raw = [v for k, vs in timings["raw whoosh"].items() if kind in (k, "all") for v in vs]
        ours = [v for k, vs in timings["archive"].items() if kind in (k, "all") for v in vs]
        rows.append((f"search {kind}: archive, ms", len(ours), f"{statistics.median(ours):.1f}", f"{p95(ours):.1f}",
                     f"{statistics.median(ours) / statistics.median(raw):.2f} / {p95(ours) / p95(raw):.2f}"))
        rows.append((f"search {kind}: bare whoosh + default highlights, ms", len(raw),
                     f"{statistics.median(raw):.1f}", f"{p95(raw):.1f}", "1.00"))
    rows.append(("search: queries refused as too broad (archive)", len(queries), too_broad, "-", "-"))
    rows.append(("search page in-process, ms", len(page_ms), f"{statistics.median(page_ms):.1f}",
                 f"{p95(page_ms):.1f}", f"{statistics.median(page_ms) / statistics.median(page_raw_ms):.2f} / "
                                        f"{p95(page_ms) / p95(page_raw_ms):.2f}"))
    rows.append(("  same queries, bare whoosh + default highlights, ms", len(page_raw_ms),
                 f"{statistics.median(page_raw_ms):.1f}", f"{p95(page_raw_ms):.1f}", "1.00"))
    for clients, rate, times, refused in web:
        rows.append((f"search page, {clients} client(s): req/s | p50 ms", len(times), f"{rate:.1f}",
                     f"{statistics.median(times):.1f}", "-"))
        rows.append((f"search page, {clients} client(s): refused as too broad", len(times), refused, "-", "-"))
        rows.append((f"search page, {clients} client(s): p95 | p99 ms", len(times), f"{p95(times):.1f}",
                     f"{p99(times):.1f}", "-"))
    rows.append(("takedown, site form: gone from search | story page 404, s", 1, f"{web_gone[0]:.2f}",
                 f"{web_gone[1]:.2f}", "-"))
    rows.append(("takedown, site form: response (purged), s", 1, f"{web_gone[2]:.2f}", "-", "-"))
    rows.append(("takedown, command: gone from search (with start-up), s", 1, f"{gone:.2f}", "-", "-"))
    rows.append((f"takedown, command: returned (purged: {purged}), s", 1, f"{returned:.2f}", "-", "-"))
    rows.append(("index delete-only commit (in-process), s", 1, f"{delete_s:.3f}", "-", "-"))
    rows.append(("index purge of that segment (in-process), s", 1, f"{purge_s:.2f}", "-", "-"))
    rows.append(("index size, MB (archive / bare whoosh)", args.n, f"{sizes[0] / 1e6:.0f}", f"{sizes[1] / 1e6:.0f}",
                 f"{sizes[0] / sizes[1]:.2f}"))
    print_table(rows)
    print("columns: what | count | median (or value) | p95 (or second value) | ratio to bare whoosh "
          "(rate ratio for publish-due; median / p95 for search)")


if __name__ == "__main__":
    main()
