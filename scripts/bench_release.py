"""Benchmark `escrow publish-due` against raw Whoosh indexing, and reading-room search against raw Whoosh.

Run it from the repository root:

    .venv/bin/python scripts/bench_release.py [--n 10000] [--runs 1] [--queries-repeat 5]

(`--n 50000` is the large run.) It writes a synthetic corpus of N ~8 KB stories
(deterministic, seeded; the generator of scripts/bench_import.py with embargo dates in
the past and redaction levels cycling full / pseudonymized / redacted / summary) to a
temporary directory. Per run it sets up a fresh instance and imports the corpus (not
timed), then times `escrow publish-due` releasing every story (in-process through
click's CliRunner, so interpreter start-up is not counted). Against it, the released
rows of the `released_stories` table are read back and indexed by bare Whoosh into a
fresh index with the same schema: one writer (limitmb=128), one commit.

Search runs on the index publish-due built: single terms, two-term AND queries and
two-word phrases drawn from the released text. Each query is timed through one
searcher opened once (parse, `search(limit=10, terms=True)`, the two best body
fragments of each hit) and through `archive.reading_room.search.search` with one
reused `Index`, interleaved and warmed up. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from whoosh import highlight
from whoosh import index as whoosh_index
from whoosh.analysis import STOP_WORDS
from whoosh.qparser import AndGroup, MultifieldParser
from whoosh.searching import Searcher

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import EMAIL, invoke, make_story, p95, print_table  # noqa: E402  (the sibling benchmark)

from archive.reading_room.index import INDEX_NAME, Index, schema  # noqa: E402
from archive.reading_room.search import SEARCH_FIELDS  # noqa: E402
from archive.reading_room.search import search as archive_search  # noqa: E402

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


def prepare_instance(corpus_file: Path, home: Path) -> CliRunner:
    """A fresh instance with an organizer and the corpus imported (sealed); untimed."""
    runner = CliRunner()
    invoke(runner, home, ["init"])
    invoke(runner, home, ["users", "add", EMAIL, "--role", "organizer", "--password-stdin"],
           stdin="bench-password\n")
    invoke(runner, home, ["stories", "import", str(corpus_file), "--as", EMAIL])
    return runner


def time_publish(runner: CliRunner, home: Path, n: int) -> float:
    """Time one `escrow publish-due` that must release all N stories; seconds."""
    start = time.perf_counter()
    result = invoke(runner, home, ["publish-due"])
    seconds = time.perf_counter() - start
    if not result.output.startswith(f"released {n}, "):
        raise RuntimeError(f"publish-due did not release all {n} stories: {result.output.strip()}")
    return seconds


def released_documents(home: Path) -> list[Doc]:
    """The `released_stories` rows as index documents, field for field as the archive builds them."""
    connection = sqlite3.connect(home / "escrow.db")
    try:
        rows = connection.execute(
            "SELECT id, title, transcript, summary, tags, language, redaction_level, content_hash,"
            " interview_date FROM released_stories ORDER BY id").fetchall()
    finally:
        connection.close()
    docs = []
    for story_id, title, transcript, summary, tags, language, level, content_hash, interview in rows:
        doc: Doc = {"id": story_id, "title": title, "body": transcript or "", "summary": summary,
                    "tags": ",".join(json.loads(tags)), "language": language, "level": level,
                    "content_hash": content_hash}
        if interview[:4].isdigit():
            doc["year"] = int(interview[:4])
        docs.append(doc)
    return docs


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
    ands = []
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


def time_searches(queries: Sequence[Query], folder: Path, repeat: int
                  ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[int]]]:
    """Per kind, milliseconds per call of raw Whoosh and of the archive; and total matches."""
    searcher, parser = raw_searcher(folder)
    index = Index(folder)
    raw_call: Callable[[str], object] = lambda text: raw_search(searcher, parser, text)  # noqa: E731
    archive_call: Callable[[str], object] = lambda text: archive_search(index, text)  # noqa: E731
    raw_ms: dict[str, list[float]] = {}
    archive_ms: dict[str, list[float]] = {}
    totals: dict[str, list[int]] = {}
    try:
        for query in queries:  # warm up both, and check they agree on the hits
            hits = raw_call(query.text)
            results = archive_search(index, query.text)
            if len(results.hits) != hits:
                raise RuntimeError(f"{query.text!r}: raw found {hits} hits, the archive {len(results.hits)}")
            totals.setdefault(query.kind, []).append(results.total)
        for round_no in range(repeat):
            for number, query in enumerate(queries):
                order = ((raw_call, raw_ms), (archive_call, archive_ms))
                if (round_no + number) % 2:
                    order = order[::-1]
                for call, sink in order:
                    t0 = time.perf_counter_ns()
                    call(query.text)
                    sink.setdefault(query.kind, []).append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        searcher.close()
        index.close()
    return raw_ms, archive_ms, totals


# -- report ------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="stories in the corpus (10000)")
    parser.add_argument("--runs", type=int, default=1, help="publish-due and raw indexing runs (1)")
    parser.add_argument("--queries-repeat", type=int, default=5, help="timed calls per query and side (5)")
    args = parser.parse_args()
    if args.n < 100 or args.runs < 1 or args.queries_repeat < 1:
        parser.error("--n must be at least 100, --runs and --queries-repeat at least 1")

    print(f"machine: {platform.platform()} | {platform.machine()} | "
          f"python {platform.python_version()} ({sys.implementation.name}) | cpus {os.cpu_count()}")
    publish_s: list[float] = []
    raw_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="escrow-bench-release-") as tmp:
        corpus_file = Path(tmp) / "stories.jsonl"
        write_corpus(corpus_file, args.n)
        size = corpus_file.stat().st_size
        print(f"corpus: {args.n} stories, {size / 1e6:.1f} MB, {size / args.n / 1000:.1f} KB/story, "
              f"all due, levels cycling full/pseudonymized/redacted/summary")
        home = Path(tmp) / "home"
        docs: list[Doc] = []
        for run in range(args.runs):
            if run:
                shutil.rmtree(home)  # the last run's instance stays for the search benchmark
            runner = prepare_instance(corpus_file, home)
            publish_s.append(time_publish(runner, home, args.n))
            docs = released_documents(home)
            raw_s.append(time_raw_index(docs, Path(tmp) / f"raw{run}"))
            shutil.rmtree(Path(tmp) / f"raw{run}")
            print(f"run {run + 1}: publish-due {publish_s[-1]:.2f} s, raw whoosh {raw_s[-1]:.2f} s",
                  flush=True)
        queries = make_queries(docs)
        del docs
        raw_ms, archive_ms, totals = time_searches(queries, home / "index", args.queries_repeat)

    publish_med, raw_med = statistics.median(publish_s), statistics.median(raw_s)
    rate_ratio = (args.n / publish_med) / (args.n / raw_med)
    rows: list[tuple[object, ...]] = [
        (f"publish-due, s/run ({args.runs} runs)", args.n, f"{publish_med:.2f}", f"{max(publish_s):.2f}", "-"),
        ("publish-due, stories/s", args.n, f"{args.n / publish_med:,.0f}", "-", f"{rate_ratio:.2f}"),
        (f"raw whoosh index, s/run ({args.runs} runs)", args.n, f"{raw_med:.2f}", f"{max(raw_s):.2f}", "-"),
        ("raw whoosh index, stories/s", args.n, f"{args.n / raw_med:,.0f}", "-", "1.00"),
    ]
    for kind in ("single", "and", "phrase", "all"):
        raw = [v for k, vs in raw_ms.items() if kind in (k, "all") for v in vs]
        arc = [v for k, vs in archive_ms.items() if kind in (k, "all") for v in vs]
        rows.append((f"search {kind}, raw whoosh, ms", len(raw), f"{statistics.median(raw):.2f}",
                     f"{p95(raw):.2f}", "1.00 / 1.00"))
        rows.append((f"search {kind}, archive, ms", len(arc), f"{statistics.median(arc):.2f}",
                     f"{p95(arc):.2f}",
                     f"{statistics.median(arc) / statistics.median(raw):.2f} / {p95(arc) / p95(raw):.2f}"))
    print(f"queries: {', '.join(f'{len(v)} {k}' for k, v in totals.items())}, each timed "
          f"{args.queries_repeat}x per side, interleaved; median matches per query: "
          + ", ".join(f"{k} {statistics.median(v):,.0f}" for k, v in totals.items()))
    print_table(rows)
    print("ratio: publish-due rate / raw rate (target >= 0.80); search: archive / raw, "
          "median / p95 (target p95 <= 1.30); on the s/run rows the p95 column is the slowest run.")


if __name__ == "__main__":
    main()
