"""Benchmark `escrow publish-due` against raw Whoosh indexing, and reading-room search against raw Whoosh,
on SQLite and, with --database-url, on PostgreSQL too: same run, same corpus.

Run it from the repository root:

    .venv/bin/python scripts/bench_release.py [--n 10000] [--runs 1] [--queries-repeat 5]
        [--database-url postgresql+psycopg://USER:PASSWORD@127.0.0.1/DB]

(`--n 50000` is the large run.) It writes a synthetic corpus of N ~8 KB stories
(deterministic, seeded; the generator of scripts/bench_import.py with embargo dates in
the past and redaction levels cycling full / pseudonymized / redacted / summary) to a
temporary directory. Per run and per database it sets up a fresh instance and imports the
corpus (not timed), then times `escrow publish-due` releasing every story (in-process
through click's CliRunner, so interpreter start-up is not counted). On PostgreSQL each run
gets a new database on the server of --database-url (whose role may create databases),
dropped at the end. Against it, the released rows of the `released_stories` table are read
back and indexed by bare Whoosh into a fresh index with the same schema: one writer
(limitmb=128), one commit.

Search runs on the index publish-due built: single terms, two-term AND queries and
two-word phrases drawn from the released text. Each query is timed through one
searcher opened once (parse, `search(limit=10, terms=True)`, the two best body
fragments of each hit), through `archive.reading_room.search.search` with one reused
`Index`, and, per database, through the search a web node makes: the check that its index
is in step with the reading-room table (`room.sync_if_stale` with a 0 s interval: one
query) followed by that search; interleaved and warmed up. Nothing touches the network
but the PostgreSQL server given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from whoosh import highlight
from whoosh import index as whoosh_index
from whoosh.analysis import STOP_WORDS
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.searching import Searcher

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import EMAIL, make_story, p95, print_table  # noqa: E402  (the sibling benchmark)

from archive.cli import cli  # noqa: E402
from archive.reading_room import room  # noqa: E402
from archive.reading_room.index import INDEX_NAME, Index, schema  # noqa: E402
from archive.reading_room.search import SEARCH_FIELDS, QueryTooBroad  # noqa: E402
from archive.reading_room.search import search as archive_search  # noqa: E402
from archive.storage import (
    dialect,  # noqa: E402
    locks,  # noqa: E402
)

FIRST_EMBARGO = date(2012, 1, 1)  # every embargo lies in the past (2012 to 2021)
QUERIES_PER_KIND = 24
VOCABULARY_SAMPLE = 2_000  # rows the query words are drawn from
MAX_WORDS_PER_DOC = 2_000

Doc = dict[str, Any]


# -- corpus and publishing ----------------------------------------------------

def write_corpus(path: Path, n: int, seed: int = 2024) -> None:
    """Write N stories as JSON Lines, all of them due (embargo in the past)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            story = make_story(rng, i)  # redaction level cycles through LEVELS by i
            story["embargo_until"] = (FIRST_EMBARGO + timedelta(days=i % 3650)).isoformat()
            handle.write(json.dumps(story, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Instance:
    """One archive under test: which database, its instance folder, its URL (None: SQLite in the folder)."""

    label: str
    home: Path
    url: str | None

    @property
    def database_url(self) -> str:
        return self.url or f"sqlite:///{self.home / 'escrow.db'}"


def invoke(runner: CliRunner, instance: Instance, args: list[str], stdin: str | None = None) -> Result:
    """Run one `escrow` command in-process against an instance; raise on failure."""
    env = {"ARCHIVE_HOME": str(instance.home), "DATABASE_URL": instance.url, "ESCROW_MASTER_KEY": None}
    result = runner.invoke(cli, args, input=stdin, env=env)
    if result.exit_code != 0:
        raise RuntimeError(f"escrow {' '.join(args)} exited {result.exit_code}: {result.output}")
    return result


def prepare_instance(corpus_file: Path, instance: Instance) -> CliRunner:
    """A fresh instance with an organizer and the corpus imported (sealed); untimed."""
    runner = CliRunner()
    invoke(runner, instance, ["init"])
    invoke(runner, instance, ["users", "add", EMAIL, "--role", "organizer", "--password-stdin"],
           stdin="bench-password\n")
    invoke(runner, instance, ["stories", "import", str(corpus_file), "--as", EMAIL])
    return runner


def time_publish(runner: CliRunner, instance: Instance, n: int) -> float:
    """Time one `escrow publish-due` that must release all N stories; seconds."""
    start = time.perf_counter()
    result = invoke(runner, instance, ["publish-due"])
    seconds = time.perf_counter() - start
    if not result.output.startswith(f"released {n}, "):
        raise RuntimeError(f"publish-due did not release all {n} stories: {result.output.strip()}")
    return seconds


def released_documents(url: str) -> list[Doc]:
    """The `released_stories` rows as index documents, field for field as the archive builds them."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, title, transcript, summary, tags, language, redaction_level, content_hash,"
                " interview_date FROM released_stories ORDER BY id")).all()
    finally:
        engine.dispose()
    docs = []
    for story_id, title, transcript, summary, tags, language, level, content_hash, interview in rows:
        doc: Doc = {"id": story_id, "title": title, "body": transcript or "", "summary": summary,
                    "tags": ",".join(json.loads(tags)), "language": language, "level": level,
                    "content_hash": content_hash}
        if interview[:4].isdigit():
            doc["year"] = int(interview[:4])
        docs.append(doc)
    return docs


class Server:
    """The PostgreSQL server of --database-url: a new database per run, all dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        if self.url.get_backend_name() != "postgresql":
            raise SystemExit(f"--database-url must name a PostgreSQL database, not {self.url.get_backend_name()}")
        self.admin: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def new_database(self) -> str:
        name = f"escrow_bench_{os.getpid()}_{len(self.made) + 1}"
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0"))
        self.made.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        self.admin.dispose()


def time_raw_index(docs: Sequence[Doc], folder: Path) -> float:
    """Bulk-index the documents into a fresh index: one writer, one commit; seconds."""
    folder.mkdir(parents=True)
    start = time.perf_counter()
    ix = whoosh_index.create_in(str(folder), schema(), indexname=INDEX_NAME)
    writer = ix.writer(limitmb=128)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return time.perf_counter() - start


# -- queries -----------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    """One search text and its kind: single, and, phrase."""

    kind: str
    text: str


def _plain_words(text: str) -> list[str]:
    """The text's whitespace-separated words, lower-cased; "" for any that is not purely letters."""
    return [w.lower() if w.isalpha() else "" for w in text.split()[:MAX_WORDS_PER_DOC]]


def _searchable(word: str) -> bool:
    return len(word) >= 2 and word not in STOP_WORDS


def make_queries(docs: Sequence[Doc], seed: int = 7) -> list[Query]:
    """Single terms spread over document frequency (plus a few title numbers), random
    two-term ANDs, and phrases of two words that stand next to each other in the text."""
    rng = random.Random(seed)
    step = max(1, len(docs) // VOCABULARY_SAMPLE)
    sample = list(docs[::step])
    frequency: Counter[str] = Counter()
    pairs: set[tuple[str, str]] = set()
    numbers: list[str] = []
    for doc in sample:
        words = _plain_words(" ".join((doc["title"], doc["body"], doc["summary"])))
        frequency.update({w for w in words if _searchable(w)})
        pairs.update((a, b) for a, b in itertools.pairwise(words) if _searchable(a) and _searchable(b))
        numbers += [t.rstrip(":") for t in doc["title"].split() if t.rstrip(":").isdigit()]
    by_frequency = sorted(frequency, key=lambda w: (-frequency[w], w))
    if len(by_frequency) < QUERIES_PER_KIND or len(pairs) < QUERIES_PER_KIND:
        raise RuntimeError("the corpus is too small to draw the queries from")
    alphabetic = QUERIES_PER_KIND - 4
    spread = [by_frequency[round(i * (len(by_frequency) - 1) / (alphabetic - 1))] for i in range(alphabetic)]
    singles = spread + rng.sample(sorted(set(numbers)), 4)
    ands: list[str] = []
    while len(ands) < QUERIES_PER_KIND:
        a, b = rng.sample(by_frequency, 2)
        if f"{a} {b}" not in ands:
            ands.append(f"{a} {b}")
    phrases = [f'"{a} {b}"' for a, b in rng.sample(sorted(pairs), QUERIES_PER_KIND)]
    return ([Query("single", q) for q in singles] + [Query("and", q) for q in ands]
            + [Query("phrase", q) for q in phrases])


# -- search ------------------------------------------------------------------

def raw_searcher(folder: Path) -> tuple[Searcher, MultifieldParser]:
    """A bare Whoosh searcher on the folder and the archive's parser setup."""
    searcher = whoosh_index.open_dir(str(folder), indexname=INDEX_NAME).searcher()
    return searcher, MultifieldParser(list(SEARCH_FIELDS), schema(), group=AndGroup)


def raw_search(searcher: Searcher, parser: MultifieldParser, text: str) -> int:
    """Parse, top 10 with matched terms, two body fragments per hit; the number of hits."""
    results = searcher.search(parser.parse(text), limit=10, terms=True)
    results.fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
    results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
    snippets = [hit.highlights("body", top=2) for hit in results]
    return len(snippets)


Timings = dict[str, dict[str, list[float]]]  # what was timed -> query kind -> milliseconds per call


def checked_search(instance: Instance, stack: ExitStack) -> Callable[[str], object]:
    """A web node's search on this instance: the index check against the table (one query), then the search."""
    engine = create_engine(instance.database_url)
    dialect.harden(engine)
    stack.callback(engine.dispose)
    session = stack.enter_context(Session(engine))
    index = Index(instance.home / "index")
    stack.callback(index.close)

    def call(text: str) -> object:
        room.sync_if_stale(session, index, 0, locks.node(instance.home))
        return archive_search(index, text)
    return call


def time_searches(queries: Sequence[Query], instances: Sequence[Instance], repeat: int
                  ) -> tuple[Timings, dict[str, list[int]]]:
    """Per kind, milliseconds per call of raw Whoosh, of the archive's search, and of a node's checked
    search on each database; and the total matches per query."""
    folder = instances[0].home / "index"
    searcher, parser = raw_searcher(folder)
    index = Index(folder)
    timings: Timings = {}
    totals: dict[str, list[int]] = {}
    with ExitStack() as stack:
        stack.callback(searcher.close)
        stack.callback(index.close)
        calls: list[tuple[str, Callable[[str], object]]] = [
            ("raw whoosh", lambda text: raw_search(searcher, parser, text)),
            ("archive", lambda text: archive_search(index, text)),
            *((f"archive + index check, {i.label}", checked_search(i, stack)) for i in instances),
        ]
        for query in queries:  # warm up every call, and check raw and archive agree on the hits
            hits = raw_search(searcher, parser, query.text)
            try:
                results = archive_search(index, query.text)
            except QueryTooBroad:  # past the time limit: timed below all the same (the refusal's time)
                totals.setdefault("refused as too broad", []).append(hits)
                continue
            if len(results.hits) != hits:
                raise RuntimeError(f"{query.text!r}: raw found {hits} hits, the archive {len(results.hits)}")
            totals.setdefault(query.kind, []).append(results.total)
            for _, call in calls[2:]:  # (the first check compares the whole index once, then notes the table)
                call(query.text)
        for round_no in range(repeat):
            for number, query in enumerate(queries):
                turn = (round_no + number) % len(calls)
                for label, call in calls[turn:] + calls[:turn]:
                    t0 = time.perf_counter_ns()
                    with suppress(QueryTooBroad):
                        call(query.text)
                    timings.setdefault(label, {}).setdefault(query.kind, []).append(
                        (time.perf_counter_ns() - t0) / 1e6)
    return timings, totals


# -- report ------------------------------------------------------------------

def publish_all(corpus_file: Path, tmp: Path, n: int, runs: int, server: Server | None
                ) -> tuple[dict[str, list[float]], list[float], list[Instance], list[Doc]]:
    """Every run: publish-due on each database, then raw Whoosh on the released rows; the last
    run's instances and documents are kept for the search benchmark."""
    publish_s: dict[str, list[float]] = {}
    raw_s: list[float] = []
    instances: list[Instance] = []
    docs: list[Doc] = []
    for run in range(runs):
        for old in instances:
            shutil.rmtree(old.home)
        instances = [Instance("sqlite", tmp / f"sqlite{run}", None)]
        if server is not None:
            instances.append(Instance("postgresql", tmp / f"postgresql{run}", server.new_database()))
        for instance in instances:
            runner = prepare_instance(corpus_file, instance)
            publish_s.setdefault(instance.label, []).append(time_publish(runner, instance, n))
        docs = released_documents(instances[0].database_url)
        raw_s.append(time_raw_index(docs, tmp / f"raw{run}"))
        shutil.rmtree(tmp / f"raw{run}")
        print(f"run {run + 1}: " + ", ".join(f"publish-due {label} {s[-1]:.2f} s" for label, s in publish_s.items())
              + f", raw whoosh {raw_s[-1]:.2f} s", flush=True)
    return publish_s, raw_s, instances, docs


def report(n: int, runs: int, publish_s: dict[str, list[float]], raw_s: list[float], timings: Timings) -> None:
    """The table: publish-due per database against raw Whoosh; search against raw Whoosh."""
    raw_med = statistics.median(raw_s)
    rows: list[tuple[object, ...]] = []
    for label, seconds in publish_s.items():
        med = statistics.median(seconds)
        rows.append((f"publish-due {label}, s/run ({runs} runs)", n, f"{med:.2f}", f"{max(seconds):.2f}", "-"))
        rows.append((f"publish-due {label}, stories/s", n, f"{n / med:,.0f}", "-", f"{raw_med / med:.2f}"))
    rows.append((f"raw whoosh index, s/run ({runs} runs)", n, f"{raw_med:.2f}", f"{max(raw_s):.2f}", "-"))
    rows.append(("raw whoosh index, stories/s", n, f"{n / raw_med:,.0f}", "-", "1.00"))
    for kind in ("single", "and", "phrase", "all"):
        raw = [v for k, vs in timings["raw whoosh"].items() if kind in (k, "all") for v in vs]
        for label, per_kind in timings.items():
            if kind != "all" and label.startswith("archive + "):
                continue  # the checked searches are shown over all queries only
            ms = [v for k, vs in per_kind.items() if kind in (k, "all") for v in vs]
            rows.append((f"search {kind}, {label}, ms", len(ms), f"{statistics.median(ms):.2f}", f"{p95(ms):.2f}",
                         f"{statistics.median(ms) / statistics.median(raw):.2f} / {p95(ms) / p95(raw):.2f}"))
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="stories in the corpus (10000)")
    parser.add_argument("--runs", type=int, default=1, help="publish-due and raw indexing runs (1)")
    parser.add_argument("--queries-repeat", type=int, default=5, help="timed calls per query and side (5)")
    parser.add_argument("--database-url", help="also measure PostgreSQL: a database on the server, whose role "
                                               "may create databases (one per run, dropped at the end)")
    args = parser.parse_args()
    if args.n < 100 or args.runs < 1 or args.queries_repeat < 1:
        parser.error("--n must be at least 100, --runs and --queries-repeat at least 1")

    print(f"machine: {platform.platform()} | {platform.machine()} | "
          f"python {platform.python_version()} ({sys.implementation.name}) | cpus {os.cpu_count()}")
    server = Server(args.database_url) if args.database_url else None
    try:
        with tempfile.TemporaryDirectory(prefix="escrow-bench-release-") as tmp:
            corpus_file = Path(tmp) / "stories.jsonl"
            write_corpus(corpus_file, args.n)
            size = corpus_file.stat().st_size
            print(f"corpus: {args.n} stories, {size / 1e6:.1f} MB, {size / args.n / 1000:.1f} KB/story, "
                  f"all due, levels cycling full/pseudonymized/redacted/summary")
            publish_s, raw_s, instances, docs = publish_all(corpus_file, Path(tmp), args.n, args.runs, server)
            queries = make_queries(docs)
            del docs
            timings, totals = time_searches(queries, instances, args.queries_repeat)
    finally:
        if server is not None:
            server.close()
    print(f"queries: {', '.join(f'{len(v)} {k}' for k, v in totals.items())}, each timed "
          f"{args.queries_repeat}x per side, interleaved; median matches per query: "
          + ", ".join(f"{k} {statistics.median(v):,.0f}" for k, v in totals.items()))
    report(args.n, args.runs, publish_s, raw_s, timings)
    print("ratio: publish-due rate / raw rate (target >= 0.80); search: this / raw, median / p95 "
          "(target p95 <= 1.30); on the s/run rows the p95 column is the slowest run. 'archive + index check' "
          "is a web node's search: one query comparing its index with the reading-room table, then the search.")


if __name__ == "__main__":
    main()
