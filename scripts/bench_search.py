"""Benchmark the reading room's two search backends, Whoosh and PostgreSQL (with RUM, and with
GIN where the extension is missing), each against its bare library, in one run on one corpus.

Run it from the repository root, with no test suite or other benchmark running:

    .venv/bin/python scripts/bench_search.py --database-url postgresql+psycopg://USER:PASSWORD@127.0.0.1/postgres
        [--n 10000] [--queries 200] [--repeat 1] [--clients 16] [--seconds 20] [--variants rum,gin]
        [--releases 50] [--takedowns 3] [--skip-serve] [--skip-whoosh]

(`--n 50000` is the large run.) The role of --database-url must be allowed to create databases:
one per variant, dropped at the end; `rum` is a database made from template1, which must hold
the `rum` extension (its search index is then RUM, ranked in the index), `gin` one made from
template0 (no extension: GIN, the newest 1,000 matches ranked by ts_rank).

Corpus: N released stories, deterministic (seeded): a Zipf-distributed vocabulary
(scripts/bench_scale.py's 30,000 generated words, exponent 1.07), about 8.5 KB of text per
story (title, summary of 60 words, transcript in lines of 16 words, three tags, an interview
year from 1950 to 2019), one story in five Spanish (`es`, its own accented vocabulary, read
with the Spanish rules), redaction levels cycling. The rows are written straight into
`released_stories` (not through the release gate: at 50,000 that alone takes most of an
hour), each with its content hash and its search vector as `vectors.vector` computes it,
on a database `escrow init` migrated; the search-vector index of migration 0015 is dropped
for the load and created again with the same definition after it, then the table is
vacuumed and analysed (a bulk-built index: the best case of an index grown release by
release). The Whoosh index is built from the same rows as `room.rebuild` builds it
(`Index.recreate` of each row's document, in a child process beside the vectors and the
loads), moved into the first database's instance folder and brought in step with its table
by `room.sync` (which must find nothing to add or remove, and notes the table's fingerprint
as a node does). Setup is timed and reported apart; it is no target.

Queries, drawn from the text with a seeded generator: single words sampled as the text
holds them (so by Zipf frequency: mostly common words), two of them ANDed, and phrases of
two words that stand next to each other in a transcript; a third of each.

Measured, per backend, interleaved (each query timed on every side in turn, the first side
rotating), after a warm-up pass over every query:

- search page: the backend's `search(session, q, per_page=10)` (parse, count, rank, the 10
  hits' stored text and their highlighted snippets), for Whoosh through one reused `Index`,
  for PostgreSQL through one session (its transaction ended after each search); against the
  bare library: Whoosh's searcher opened once (parse, `search(limit=10, terms=True)`, two
  highlighted body fragments per hit: bench_release.py's), and for PostgreSQL bare SQL on
  the same vectors and the same compiled tsquery: `count(*) WHERE search_vector @@ q`, then
  the ten best (`ORDER BY search_vector <=> q LIMIT 10` with RUM, `ORDER BY ts_rank(...)
  DESC LIMIT 10` over every match with GIN) with `ts_headline('english', transcript, ...)`
  of each;
- one-word ranked query: the ranking alone, on the single-word queries. Whoosh: parse and
  the archive's ranking (`search._ranked`: count and best 10) against bare
  `searcher.search(parse(q), limit=10)`. PostgreSQL: the archive's two statements
  (`PostgresSearch._ranked`: count, then best 10) against the bare count and `ORDER BY ...
  LIMIT 10` above (the query compiled beforehand on both sides). A bare query past 2 s is
  stopped (the archive's own time limit) and counted;
- concurrent clients (unless --skip-serve): `escrow serve` (its default workers and threads)
  on the instance, ESCROW_SEARCH set to the backend, and CLIENTS threads in this process each
  requesting `GET /search?q=...` (every query in turn, a new connection per request: the
  server keeps none alive) for SECONDS; requests per second, p50 and p99. Against gunicorn
  serving a one-route Flask page (bench_web.py's) with the same workers, threads and no
  keep-alive;
- the time a release adds to its transaction, over RELEASES one-story transactions each,
  interleaved: on PostgreSQL the archive's release write (ORM insert of the copy, then
  `PostgresSearch.added`: flush, the vector computed in Python, its UPDATE) with the commit,
  against the same insert and commit without it, paired; against the bare library, an
  INSERT with and without `to_tsvector('english', ...)` of title, summary and transcript in
  the same statement. On Whoosh the after-commit index write of the one document
  (`Index.write`: one commit, small segments merged) against a bare writer's
  `add_document` + `commit()`;
- takedown to purge, on TAKEDOWNS stories (each in another partition or segment): PostgreSQL,
  one transaction deleting the copy and recording its partition (`PostgresSearch.removed`),
  its commit, then `postgres.purge` (VACUUM FULL of that partition); Whoosh, the delete-only
  index commit, then `Index.purge_apart` (the rewrite of the segment that held it, in a
  child process, as after a takedown's commit). No bare side: the bare libraries' way is a
  rewrite of everything (`VACUUM FULL` of the table, an index optimize).

Targets at 50,000 on this machine (issue #27): search page p95 at most 40 ms on PostgreSQL
with RUM; 16 clients' p99 under 250 ms; a release adds at most 50 ms. Nothing touches the
network but the PostgreSQL server given and 127.0.0.1. --skip-whoosh measures PostgreSQL
alone (no Whoosh column): on two cores the Whoosh build of 50,000 stories takes over half an
hour by itself.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import multiprocessing
import os
import platform
import random
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from click.testing import CliRunner
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from whoosh import index as whoosh_index
from whoosh.analysis import STOP_WORDS
from whoosh.lang.stopwords import stoplists

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95  # noqa: E402  (sibling benchmarks)
from bench_release import Instance, invoke, raw_search, raw_searcher  # noqa: E402
from bench_scale import ZIPF_S, p99, vocabulary  # noqa: E402
from bench_web import MINIMAL_APP, serving  # noqa: E402

from archive.reading_room import INDEX_FOLDER, room, vectors  # noqa: E402
from archive.reading_room import search as room_search  # noqa: E402
from archive.reading_room.engines import WhooshSearch  # noqa: E402
from archive.reading_room.index import INDEX_NAME, Index, document  # noqa: E402
from archive.reading_room.models import ReleasedStory  # noqa: E402
from archive.reading_room.postgres import PostgresSearch, has_rum, purge  # noqa: E402
from archive.reading_room.search import QueryTooBroad  # noqa: E402
from archive.storage import dialect  # noqa: E402

ESCROW = Path(sys.executable).parent / "escrow"
TARGET_CHARS = 8_500  # per story, all its text together
TRANSCRIPT_WORDS = 2_000  # about 8 KB of the vocabulary's (short, Zipf-weighted) words
LEVELS = ("full", "pseudonymized", "redacted", "summary")
SPANISH_EVERY = 5
FIRST_RELEASE = datetime(2020, 1, 1, tzinfo=UTC)
TIME_LIMIT_MS = int(room_search.TIME_LIMIT * 1000)  # the bare SQL's limit too
QUERY_CANCELED = "57014"
KINDS = ("single", "and", "phrase")
BATCH = 250
COLUMNS = ("id", "title", "narrator", "transcript", "summary", "interviewer", "interview_date", "place",
           "language", "tags", "redaction_level", "released_at", "content_hash")
_STOPS = set(STOP_WORDS) | set(stoplists["es"])

Row = dict[str, Any]


# -- corpus ------------------------------------------------------------------------------

def spanish_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Generated Spanish-looking words (accents, ñ, -ción and -mente endings), shortest first."""
    consonants, vowels = "bcdfglmnñprstvz", "aeiouaeiouáéíó"
    endings = ("", "", "", "ción", "ciones", "mente", "dad", "ado", "ar")
    words: set[str] = set()
    while len(words) < size:
        stem = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.choice((1, 2, 2, 3))))
        words.add(stem + rng.choice(endings))
    return sorted(words, key=lambda w: (len(w), w))


@dataclass
class Corpus:
    """The stories' rows (with content hash and search vector), and the words they were drawn from."""

    rows: list[Row]
    english: list[str]
    spanish: list[str]
    cumulative: list[float] = field(default_factory=list)


def story_id(rng: random.Random) -> str:
    """An id shaped like the archive's (80 bits, lower-case base32), from the seeded generator."""
    return base64.b32encode(rng.randbytes(10)).decode("ascii").lower()


def make_rows(n: int, seed: int = 27, first: int = 0, language: str | None = None) -> Corpus:
    """N story rows, numbered from `first`, their text drawn by Zipf weights; no vectors yet."""
    rng = random.Random(seed)
    english = vocabulary(random.Random(11))
    spanish = spanish_vocabulary(random.Random(12), len(english))
    cumulative = list(itertools.accumulate(1 / rank**ZIPF_S for rank in range(1, len(english) + 1)))
    people = [f"{rng.choice(english).title()} {rng.choice(english).title()}" for _ in range(500)]
    rows = []
    for i in range(first, first + n):
        lang = language or ("es" if i % SPANISH_EVERY == SPANISH_EVERY - 1 else "en")
        words = spanish if lang == "es" else english

        def drawn(k: int, words: list[str] = words) -> list[str]:
            return rng.choices(words, cum_weights=cumulative, k=k)

        body = drawn(TRANSCRIPT_WORDS)
        lines = [" ".join(body[j:j + 16]) + "." for j in range(0, len(body), 16)]
        transcript = "\n".join(lines)
        summary = " ".join(drawn(60)).capitalize() + "."
        title = f"{'Historia' if lang == 'es' else 'Story'} {i}: " + " ".join(drawn(5))
        transcript = transcript[:max(1000, TARGET_CHARS - len(title) - len(summary))].rsplit(" ", 1)[0]
        row: Row = {
            "id": story_id(rng), "title": title, "narrator": rng.choice(people), "transcript": transcript,
            "summary": summary, "interviewer": "Bench Interviewer", "interview_date": f"{1950 + i % 70}-05-01",
            "place": "Bench Place", "language": lang, "tags": json_list(sorted(set(rng.choices(words[:200], k=3)))),
            "redaction_level": LEVELS[i % len(LEVELS)], "released_at": FIRST_RELEASE + timedelta(minutes=i),
        }
        row["content_hash"] = ReleasedStory(**row).compute_hash()
        rows.append(row)
    return Corpus(rows, english, spanish, cumulative)


def json_list(items: list[str]) -> str:
    return json.dumps(items, ensure_ascii=False)


def vector_of(row: Row) -> tuple[str, str]:
    """The row's search vector and the places of its words (the archive's own computation, as
    postgres.write_vectors writes them); for a worker process."""
    doc = document(ReleasedStory(**row))
    fields = vectors.analysed(doc)
    return vectors.vector(doc, fields), vectors.places(fields)


def add_vectors(rows: list[Row], processes: int) -> float:
    """Compute every row's vector, in worker processes; seconds."""
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for row, (vector, places) in zip(rows, pool.imap(vector_of, rows, chunksize=64), strict=True):
            row["vector"], row["places"] = vector, places
    return time.perf_counter() - start


# -- databases ---------------------------------------------------------------------------

class Server:
    """The PostgreSQL server of --database-url: one new database per variant, all dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        if self.url.get_backend_name() != "postgresql":
            raise SystemExit(f"--database-url must name a PostgreSQL database, not {self.url.get_backend_name()}")
        self.admin: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def new_database(self, template: str) -> str:
        name = f"escrow_bench_search_{os.getpid()}_{len(self.made) + 1}"
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
        self.made.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self.admin.dispose()


def engine_for(url: str) -> Engine:
    """An engine set up as the archive's (dialect.harden)."""
    engine = create_engine(url)
    dialect.harden(engine)
    return engine


INSERT = text(f"INSERT INTO released_stories ({', '.join(COLUMNS)}, search_vector, search_places) VALUES "
              f"({', '.join(':' + c for c in COLUMNS)}, CAST(:vector AS tsvector), :places)")


def build_database(server: Server, variant: str, home: Path, rows: list[Row]) -> tuple[Instance, dict[str, float]]:
    """A database for the variant migrated by `escrow init`, the rows loaded (with their
    vectors) and the search index built after the load; seconds of each step."""
    template = "template1" if variant == "rum" else "template0"
    instance = Instance(f"postgres-{variant}", home, server.new_database(template))
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    invoke(CliRunner(), instance, ["init"])
    seconds["init"] = time.perf_counter() - start
    engine = create_engine(instance.database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            definition = conn.scalar(text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'released_stories' "
                "AND indexname = 'ix_released_stories_search_vector'"))
            if definition is None or (" USING rum " in definition) != (variant == "rum"):
                raise RuntimeError(f"{variant}: the migration built {definition!r}")
            conn.execute(text("DROP INDEX ix_released_stories_search_vector"))
            start = time.perf_counter()
            for first in range(0, len(rows), BATCH):
                conn.execute(INSERT, [{**r, "released_at": r["released_at"].replace(tzinfo=None)}
                                      for r in rows[first:first + BATCH]])
            conn.commit()
            seconds["load"] = time.perf_counter() - start
            start = time.perf_counter()
            conn.execute(text("SET maintenance_work_mem = '256MB'"))
            conn.execute(text(definition.replace(" ON ONLY ", " ON ")))
            conn.commit()
            seconds["index"] = time.perf_counter() - start
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            start = time.perf_counter()
            conn.execute(text("VACUUM (ANALYZE) released_stories"))
            seconds["vacuum"] = time.perf_counter() - start
        with Session(engine) as session:
            if has_rum(session) != (variant == "rum"):
                raise RuntimeError(f"{variant}: the search index is not what the variant needs")
    finally:
        engine.dispose()
    return instance, seconds


def build_whoosh(rows: list[Row], folder: str, out: Any) -> None:
    """The Whoosh index of the rows as `room.rebuild` writes it (Index.recreate of each row's
    document), in a child process beside the vectors and the database loads; sends its seconds."""
    start = time.perf_counter()
    count = Index(Path(folder)).recreate(document(ReleasedStory(**row)) for row in rows)
    out.send((count, time.perf_counter() - start))


# -- queries -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    kind: str
    text: str


def _word(token: str) -> str:
    word = token.rstrip(".").lower()
    return word if len(word) >= 3 and word.isalpha() and word not in _STOPS else ""


def make_queries(rows: Sequence[Row], count: int, seed: int = 7) -> list[Query]:
    """Single words and two-word ANDs sampled from the transcripts' running text (so by Zipf
    frequency), and two-word phrases standing next to each other there; a third of each."""
    rng = random.Random(seed)

    def running_word() -> str:
        while True:
            tokens = rng.choice(rows)["transcript"].split()
            word = _word(rng.choice(tokens))
            if word:
                return word

    def adjacent() -> str:
        while True:
            tokens = rng.choice(rows)["transcript"].split()
            k = rng.randrange(len(tokens) - 1)
            a, b = _word(tokens[k]), _word(tokens[k + 1])
            if a and b and a != b and not tokens[k].endswith("."):
                return f'"{a} {b}"'

    per_kind = [count // 3 + (1 if k < count % 3 else 0) for k in range(3)]
    queries = [Query("single", running_word()) for _ in range(per_kind[0])]
    queries += [Query("and", f"{running_word()} {running_word()}") for _ in range(per_kind[1])]
    queries += [Query("phrase", adjacent()) for _ in range(per_kind[2])]
    rng.shuffle(queries)
    return queries


# -- the sides searched ---------------------------------------------------------------------

class Refused(Exception):
    """A search refused as too broad (the archive) or stopped at the time limit (bare SQL)."""


@dataclass
class Database:
    """One PostgreSQL variant under test: its instance, engine, session and backend."""

    variant: str
    instance: Instance
    engine: Engine
    session: Session
    backend: PostgresSearch

    @property
    def label(self) -> str:
        return f"postgres-{self.variant}"

    def compiled(self, query_text: str) -> str:
        compiled = vectors.compile_query(room_search.parse(query_text), lambda: [])
        assert compiled is not None and compiled != vectors.EVERYTHING, query_text
        return compiled

    def order(self) -> str:
        if self.variant == "rum":
            return "ORDER BY search_vector <=> CAST(:q AS tsquery), id"
        return "ORDER BY ts_rank(search_vector, CAST(:q AS tsquery)) DESC, id"

    def page(self, query_text: str) -> int:
        """The archive's search page: the backend's search (10 hits, snippets); the total."""
        try:
            return self.backend.search(self.session, query_text, per_page=10).total
        except QueryTooBroad:
            raise Refused from None
        finally:
            self.session.rollback()

    def _bare(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        session = self.session
        try:
            session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(TIME_LIMIT_MS)})
            return [session.execute(text(sql), params).all() for sql, params in statements]
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != QUERY_CANCELED:
                raise
            raise Refused from None
        finally:
            session.rollback()

    def bare_page(self, tsquery: str, query_text: str) -> int:
        """Bare SQL: count, the ten best with ts_headline of each transcript; the total."""
        count = ("SELECT count(*) FROM released_stories WHERE search_vector @@ CAST(:q AS tsquery)", {"q": tsquery})
        best = (f"WITH best AS (SELECT id, row_number() OVER () AS n FROM (SELECT id FROM released_stories "
                f"WHERE search_vector @@ CAST(:q AS tsquery) {self.order()} LIMIT 10) ranked) "
                "SELECT r.id, r.title, ts_headline('english', coalesce(r.transcript, ''), "
                "websearch_to_tsquery('english', :text), 'MaxFragments=2, MaxWords=40, MinWords=20, "
                "StartSel=<mark>, StopSel=</mark>') FROM best JOIN released_stories r ON r.id = best.id "
                "ORDER BY best.n", {"q": tsquery, "text": query_text})
        total, _hits = self._bare([count, best])
        return int(total[0][0])

    def ranked(self, tsquery: str) -> int:
        """The archive's ranking statements alone (count, best 10)."""
        try:
            total, _ids = self.backend._ranked(self.session, "TRUE AND search_vector @@ CAST(:q AS tsquery)",
                                               {"limit": 10, "q": tsquery}, ranked=True)
            return total
        except QueryTooBroad:
            raise Refused from None
        finally:
            self.session.rollback()

    def explain(self, tsquery: str) -> list[str]:
        """EXPLAIN ANALYZE of the archive's two ranking statements for this query (for reading why)."""
        where = "search_vector @@ CAST(:q AS tsquery)"
        lines = []
        for sql in (f"WITH found AS MATERIALIZED (SELECT id FROM released_stories WHERE {where}) "
                    "SELECT count(*) FROM found",
                    f"SELECT id FROM released_stories WHERE {where} {self.order()} LIMIT 10"
                    if self.variant == "rum" else
                    f"WITH newest AS MATERIALIZED (SELECT id, search_vector FROM released_stories WHERE {where} "
                    "ORDER BY released_at DESC, id LIMIT 1000) SELECT id FROM newest "
                    "ORDER BY ts_rank(search_vector, CAST(:q AS tsquery)) DESC, id LIMIT 10"):
            plan = [row[0] for row in self.session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), {"q": tsquery})]
            nodes: dict[str, int] = {}
            for line in plan:
                if "(cost=" in line:
                    name = line.split("->")[-1].strip().split("  (cost=")[0].split(" on ")[0].split(" using ")[0]
                    nodes[name] = nodes.get(name, 0) + 1
            shared = next((line.strip() for line in plan if line.strip().startswith("Buffers:")), "")
            took = next((line.strip() for line in plan if line.startswith("Execution Time")), "")
            lines.append(("count: " if not lines else "best 10: ") + ", ".join(
                f"{name} x{times}" for name, times in nodes.items()) + f"; {shared}; {took}")
        self.session.rollback()
        return lines

    def bare_ranked(self, tsquery: str) -> int:
        count = ("SELECT count(*) FROM released_stories WHERE search_vector @@ CAST(:q AS tsquery)", {"q": tsquery})
        best = (f"SELECT id FROM released_stories WHERE search_vector @@ CAST(:q AS tsquery) {self.order()} "
                "LIMIT 10", {"q": tsquery})
        total, _ids = self._bare([count, best])
        return int(total[0][0])


class Whoosh:
    """The Whoosh side: the archive's backend on one reused Index, and a bare searcher."""

    label = "whoosh"

    def __init__(self, folder: Path) -> None:
        self.closed = False
        self.index = Index(folder)
        self.backend = WhooshSearch(self.index)
        self.searcher, self.parser = raw_searcher(folder)

    def page(self, query_text: str) -> int:
        try:
            return self.backend.search(None, query_text, per_page=10).total  # type: ignore[arg-type]
        except QueryTooBroad:
            raise Refused from None

    def bare_page(self, query_text: str) -> int:
        return raw_search(self.searcher, self.parser, query_text)

    def ranked(self, query_text: str) -> int:
        try:
            with self.index.searcher() as searcher:
                total, _best = room_search._ranked(searcher, room_search.parse(query_text), 10, None)
            return total
        except QueryTooBroad:
            raise Refused from None

    def bare_ranked(self, query_text: str) -> int:
        return len(self.searcher.search(self.parser.parse(query_text), limit=10))

    def close(self) -> None:
        if not self.closed:
            self.searcher.close()
            self.index.close()
            self.closed = True


Samples = dict[str, dict[str, list[float]]]  # side -> query kind -> milliseconds


@dataclass
class Timed:
    """Milliseconds per side and kind, refusals per side, and the totals each side found."""

    ms: Samples = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)


def interleaved(queries: Sequence[Query], calls: list[tuple[str, Callable[[Query], int]]], repeat: int) -> Timed:
    """Every query on every side, the first side rotating; a warm-up pass first (not timed)."""
    timed = Timed()
    for query in queries:
        for label, call in calls:
            try:
                timed.totals.setdefault(label, {})[query.text] = call(query)
            except Refused:
                timed.totals.setdefault(label, {})[query.text] = -1
    for round_no in range(repeat):
        for number, query in enumerate(queries):
            turn = (round_no + number) % len(calls)
            for label, call in calls[turn:] + calls[:turn]:
                t0 = time.perf_counter_ns()
                try:
                    call(query)
                except Refused:
                    timed.refused[label] = timed.refused.get(label, 0) + 1
                timed.ms.setdefault(label, {}).setdefault(query.kind, []).append((time.perf_counter_ns() - t0) / 1e6)
    return timed


# -- concurrent clients ----------------------------------------------------------------------

@dataclass
class Load:
    rate: float
    ms: list[float]
    refused: int
    failed: int


def load(port: int, paths: Sequence[str], clients: int, seconds: float) -> Load:
    """`clients` threads, each a GET after the other (a new connection each) for `seconds`."""
    lock = threading.Lock()
    times: list[float] = []
    counts = {"refused": 0, "failed": 0}
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        mine, refused, failed = [], 0, 0
        k = number
        while time.perf_counter() < deadline:
            path = paths[k % len(paths)]
            k += clients
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                conn.close()
                status = response.status
            except OSError:
                status = 0
            mine.append((time.perf_counter() - t0) * 1000)
            if status == 400:
                refused += 1
            elif status != 200:
                failed += 1
        with lock:
            times.extend(mine)
            counts["refused"] += refused
            counts["failed"] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return Load(len(times) / elapsed, times, counts["refused"], counts["failed"])


def serve_all(folder: Path, sides: list[tuple[str, Instance, str]], queries: Sequence[Query], clients: int,
              seconds: float) -> dict[str, Load]:
    """Each side's `escrow serve`, then the minimal Flask page, loaded in turn."""
    workers = str(min(16, os.cpu_count() or 1))  # escrow serve's default
    (folder / "minimal_app.py").write_text(textwrap.dedent(MINIMAL_APP))
    paths = ["/search?" + urlencode({"q": q.text}) for q in queries]
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "ESCROW_MASTER_KEY", "ESCROW_PASSWORD_COST", "ESCROW_SEARCH")}
    results: dict[str, Load] = {}
    for label, instance, search in sides:
        env = {**base_env, "ARCHIVE_HOME": str(instance.home), "DATABASE_URL": instance.database_url,
               "ESCROW_SEARCH": search}
        command = [str(ESCROW), "serve", "--host", "127.0.0.1", "--port", "0"]
        with serving(command, env, folder) as port:
            load(port, paths, 4, max(2.0, seconds / 4))  # every worker warmed on the queries
            results[label] = load(port, paths, clients, seconds)
        print(f"  served {label}: {results[label].rate:.1f} req/s, p99 {p99(results[label].ms):.0f} ms", flush=True)
    minimal = [sys.executable, "-m", "gunicorn", "--workers", workers, "--worker-class", "gthread", "--threads", "4",
               "--keep-alive", "0", "--bind", "127.0.0.1:0", "--no-control-socket", "minimal_app:app"]
    with serving(minimal, base_env, folder) as port:
        load(port, ["/"], 4, 2.0)
        results["minimal"] = load(port, ["/"], clients, seconds)
    print(f"  served minimal page: {results['minimal'].rate:.1f} req/s", flush=True)
    return results


# -- release and takedown ------------------------------------------------------------------

def release_rows(n: int, count: int) -> list[Row]:
    """Fresh English stories for the release transactions (other ids than the corpus's)."""
    return make_rows(count, seed=99, first=n, language="en").rows


BARE_INSERT = ("INSERT INTO released_stories ({columns}) VALUES ({values})")
BARE_VECTOR = ("setweight(to_tsvector('english', CAST(:v_title AS text)), 'A') || "
               "setweight(to_tsvector('english', CAST(:v_summary AS text)), 'B') || "
               "to_tsvector('english', CAST(:v_transcript AS text))")


def postgres_release(database: Database, stories: list[Row]) -> dict[str, list[float]]:
    """Milliseconds of one-story release transactions, four ways, interleaved: the archive's
    with its search write and without, bare SQL with to_tsvector and without; and of the
    vector's computation alone."""
    engine = database.engine
    backend = PostgresSearch()
    columns = ", ".join(COLUMNS)
    values = ", ".join(":" + c for c in COLUMNS)
    bare_with = text(BARE_INSERT.format(columns=columns + ", search_vector", values=f"{values}, {BARE_VECTOR}"))
    bare_without = text(BARE_INSERT.format(columns=columns, values=values))
    made: list[str] = []

    def copy(row: Row, suffix: str) -> Row:
        fields = {k: v for k, v in row.items() if k in COLUMNS}
        fields["id"] = row["id"][:15] + suffix
        made.append(fields["id"])
        fields["content_hash"] = ReleasedStory(**fields).compute_hash()
        return fields

    def archive(row: Row, with_search: bool) -> float:
        fields = copy(row, "a" if with_search else "b")
        with Session(engine) as session:
            t0 = time.perf_counter_ns()
            copy_row = ReleasedStory(**fields)
            session.add(copy_row)
            session.flush()
            if with_search:
                backend.added(SimpleNamespace(session=session), [document(copy_row)])
            session.commit()
            return (time.perf_counter_ns() - t0) / 1e6

    def bare(row: Row, with_search: bool) -> float:
        fields = copy(row, "c" if with_search else "d")
        fields["released_at"] = fields["released_at"].replace(tzinfo=None)
        if with_search:  # (each its own parameter: one typed varchar and text at once is refused)
            fields.update({f"v_{k}": fields[k] for k in ("title", "summary", "transcript")})
        with engine.connect() as conn:
            t0 = time.perf_counter_ns()
            conn.execute(bare_with if with_search else bare_without, fields)
            conn.commit()
            return (time.perf_counter_ns() - t0) / 1e6

    ways: list[tuple[str, Callable[[Row], float]]] = [
        ("with", lambda r: archive(r, True)), ("without", lambda r: archive(r, False)),
        ("bare with", lambda r: bare(r, True)), ("bare without", lambda r: bare(r, False))]
    ms: dict[str, list[float]] = {}
    for warm in stories[:3]:
        for _, way in ways:
            way({**warm, "id": "warm" + warm["id"][4:]})
    for number, row in enumerate(stories):
        turn = number % len(ways)
        for label, way in ways[turn:] + ways[:turn]:
            ms.setdefault(label, []).append(way(row))
        t0 = time.perf_counter_ns()
        vectors.vector(document(ReleasedStory(**row)))
        ms.setdefault("vector", []).append((time.perf_counter_ns() - t0) / 1e6)
    with Session(engine) as session:  # the copies go again (not timed; no purge recorded)
        session.execute(delete(ReleasedStory).where(ReleasedStory.id.in_(made)))
        session.commit()
    return ms


def whoosh_release(folder: Path, stories: list[Row]) -> dict[str, list[float]]:
    """Milliseconds of one document's index write, the archive's (Index.write) and a bare writer's, interleaved."""
    index = Index(folder)
    ix = whoosh_index.open_dir(str(folder), indexname=INDEX_NAME)
    ms: dict[str, list[float]] = {"with": [], "bare with": []}
    for number, row in enumerate(stories):
        doc = document(ReleasedStory(**row))
        ours, theirs = {**doc, "id": row["id"][:15] + "w"}, {**doc, "id": row["id"][:15] + "x"}

        def archive(d: dict[str, Any] = ours) -> None:
            index.write(add=[d], delete=())

        def bare(d: dict[str, Any] = theirs) -> None:
            writer = ix.writer()
            writer.add_document(**d)
            writer.commit()

        for label, call in ([("with", archive), ("bare with", bare)] if number % 2 == 0
                            else [("bare with", bare), ("with", archive)]):
            t0 = time.perf_counter_ns()
            call()
            ms[label].append((time.perf_counter_ns() - t0) / 1e6)
    index.close()
    return ms


def postgres_takedowns(database: Database, count: int) -> dict[str, list[float]]:
    """Seconds of takedowns of stories in `count` partitions: the transaction (delete, purge
    recorded) with its commit, and the purge after it (VACUUM FULL of the partition)."""
    engine = database.engine
    backend = PostgresSearch()
    with Session(engine) as session:
        chosen = list(session.scalars(text(
            "SELECT DISTINCT ON (tableoid) id FROM released_stories ORDER BY tableoid, id")))[:count]
    seconds: dict[str, list[float]] = {"commit": [], "purge": [], "total": []}
    for story in chosen:
        with Session(engine) as session:
            t0 = time.perf_counter()
            unit = SimpleNamespace(session=session, now=lambda: datetime.now(UTC))
            backend.removed(unit, [story])
            session.execute(delete(ReleasedStory).where(ReleasedStory.id == story))
            session.commit()
        t1 = time.perf_counter()
        done = purge(engine)
        t2 = time.perf_counter()
        if done != 1:
            raise RuntimeError(f"the purge after taking {story} down purged {done} copies")
        seconds["commit"].append(t1 - t0)
        seconds["purge"].append(t2 - t1)
        seconds["total"].append(t2 - t0)
    return seconds


def whoosh_takedowns(folder: Path, count: int) -> dict[str, list[float]]:
    """Seconds of the index's two steps of a takedown, on stories in the `count` largest
    segments: the delete-only commit, then the purge of the segment (in a child process)."""
    index = Index(folder)
    with index.searcher() as searcher:
        leaves = sorted(searcher.leaf_searchers(), key=lambda pair: -pair[0].doc_count())[:count]
        chosen = [next(leaf.all_stored_fields())["id"] for leaf, _offset in leaves]
    seconds: dict[str, list[float]] = {"commit": [], "purge": [], "total": []}
    for story in chosen:
        t0 = time.perf_counter()
        index.write(add=(), delete=[story])
        t1 = time.perf_counter()
        done = index.purge_apart()
        t2 = time.perf_counter()
        if done != 1:
            raise RuntimeError(f"the purge after taking {story} down purged {done} documents")
        seconds["commit"].append(t1 - t0)
        seconds["purge"].append(t2 - t1)
        seconds["total"].append(t2 - t0)
    index.close()
    return seconds


# -- report ------------------------------------------------------------------------------

def ms2(values: list[float]) -> str:
    """'median | p95' in milliseconds."""
    return f"{statistics.median(values):.1f} | {p95(values):.1f}" if values else "-"


def ratio2(ours: list[float], bare: list[float]) -> str:
    if not ours or not bare:
        return "-"
    return f"{statistics.median(ours) / statistics.median(bare):.2f} | {p95(ours) / p95(bare):.2f}"


def verdict(value: float, limit: float, strict: bool = False) -> str:
    ok = value < limit if strict else value <= limit
    return f"{'met' if ok else 'MISSED'}: {value:.0f} ms"


def print_grid(labels: list[str], rows: list[tuple[str, dict[str, str], str]]) -> None:
    """The figures as an aligned table: what, one column per backend, the target."""
    header = ("what", *labels, "target (at 50,000)")
    table = [header] + [(what, *(cells.get(label, "-") for label in labels), target) for what, cells, target in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print(f"{row[0]:<{widths[0]}}  " + "  ".join(f"{v!s:>{w}}" for v, w in zip(row[1:-1], widths[1:-1],
                                                                                     strict=True))
              + f"  {row[-1]}")


def all_kinds(per_kind: dict[str, list[float]]) -> list[float]:
    return [v for values in per_kind.values() for v in values]


def report(n: int, labels: list[str], page: Timed, ranked: Timed, served: dict[str, Load] | None,
           releases: dict[str, dict[str, list[float]]], takedowns: dict[str, dict[str, list[float]]],
           counts: dict[str, int]) -> None:
    rows: list[tuple[str, dict[str, str], str]] = []

    def add(what: str, cells: dict[str, str], target: str = "") -> None:
        rows.append((what, cells, target))

    big = n >= 50_000
    rum_p95 = p95(all_kinds(page.ms["postgres-rum"])) if "postgres-rum" in page.ms else None
    add(f"search page, 10 hits + snippets, all {counts['all']} queries: p50 | p95 ms",
        {label: ms2(all_kinds(page.ms[label])) for label in labels},
        "postgres-rum p95 <= 40 ms, " + (verdict(rum_p95, 40) if rum_p95 is not None else "-")
        + ("" if big else " (at this N)"))
    for kind in KINDS:
        add(f"  {kind} ({counts[kind]}): p50 | p95 ms", {label: ms2(page.ms[label].get(kind, [])) for label in labels})
    add("  bare library, all: p50 | p95 ms", {label: ms2(all_kinds(page.ms["bare " + label])) for label in labels})
    for kind in KINDS:
        add(f"    bare, {kind}: p50 | p95 ms", {label: ms2(page.ms["bare " + label].get(kind, [])) for label in labels})
    add("  ratio archive / bare: p50 | p95", {label: ratio2(all_kinds(page.ms[label]),
                                                             all_kinds(page.ms["bare " + label])) for label in labels})
    add("  refused as too broad | bare past 2 s", {label: f"{page.refused.get(label, 0)} | "
                                                    f"{page.refused.get('bare ' + label, 0)}" for label in labels})
    add(f"one-word ranked query ({counts['single']}): p50 | p95 ms",
        {label: ms2(ranked.ms[label]["single"]) for label in labels})
    add("  bare library: p50 | p95 ms", {label: ms2(ranked.ms["bare " + label]["single"]) for label in labels})
    add("  ratio archive / bare: p50 | p95", {label: ratio2(ranked.ms[label]["single"],
                                                             ranked.ms["bare " + label]["single"]) for label in labels})
    add("  refused as too broad | bare past 2 s", {label: f"{ranked.refused.get(label, 0)} | "
                                                    f"{ranked.refused.get('bare ' + label, 0)}" for label in labels})
    if served:
        minimal = served["minimal"]
        clients = counts["clients"]
        add(f"{clients} clients via escrow serve: req/s", {label: f"{served[label].rate:.1f}" for label in labels})
        worst = max(p99(served[label].ms) for label in labels)
        add("  p50 | p99 ms", {label: f"{statistics.median(served[label].ms):.0f} | {p99(served[label].ms):.0f}"
                               for label in labels}, "p99 < 250 ms, worst " + verdict(worst, 250, strict=True))
        add("  requests | refused (400) | failed",
            {label: f"{len(served[label].ms)} | {served[label].refused} | {served[label].failed}" for label in labels})
        add("  minimal Flask page: req/s | p99 ms", {label: f"{minimal.rate:.0f} | {p99(minimal.ms):.0f}"
                                                     for label in labels})
        add("  ratio to minimal: req/s | p99", {label: f"{served[label].rate / minimal.rate:.3f} | "
                                                f"{p99(served[label].ms) / p99(minimal.ms):.1f}" for label in labels})
    adds: dict[str, list[float]] = {}
    bare_adds: dict[str, list[float]] = {}
    for label in labels:
        got = releases[label]
        if "without" in got:  # PostgreSQL: what the search write adds, paired transaction by transaction
            adds[label] = [a - b for a, b in zip(got["with"], got["without"], strict=True)]
            bare_adds[label] = [a - b for a, b in zip(got["bare with"], got["bare without"], strict=True)]
        else:  # Whoosh: the index write after the commit
            adds[label], bare_adds[label] = got["with"], got["bare with"]
    count = len(next(iter(releases.values()))["with"])
    add(f"release ({count} one-story txns): txn without search p50 | p95 ms",
        {label: ms2(releases[label].get("without", [])) for label in labels})
    add("  with the search write: p50 | p95 ms", {label: ms2(releases[label]["with"]) for label in labels})
    worst_add = max(statistics.median(v) for v in adds.values())
    add("  added by search (whoosh: after-commit index write): p50 | p95 ms",
        {label: ms2(adds[label]) for label in labels}, "<= 50 ms, worst median " + verdict(worst_add, 50))
    add("  of it, the vector computed in Python: p50 | p95 ms",
        {label: ms2(releases[label].get("vector", [])) for label in labels})
    add("  bare library added (to_tsvector in the INSERT; writer commit): p50 | p95 ms",
        {label: ms2(bare_adds[label]) for label in labels})
    add("  ratio archive / bare: p50 | p95", {label: ratio2(adds[label], bare_adds[label]) for label in labels})
    takes = len(next(iter(takedowns.values()))["total"])
    add(f"takedown ({takes}): commit (whoosh: delete-only commit), median | max s",
        {label: f"{statistics.median(takedowns[label]['commit']):.3f} | {max(takedowns[label]['commit']):.3f}"
         for label in labels})
    add("  purge after it, median | max s",
        {label: f"{statistics.median(takedowns[label]['purge']):.2f} | {max(takedowns[label]['purge']):.2f}"
         for label in labels})
    add("  takedown to purged, median | max s",
        {label: f"{statistics.median(takedowns[label]['total']):.2f} | {max(takedowns[label]['total']):.2f}"
         for label in labels})
    print_grid(labels, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="released stories (10000)")
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server whose role may create databases")
    parser.add_argument("--queries", type=int, default=200, help="queries, a third of each kind (200)")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes over the queries, after a warm-up (1)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of escrow serve (16)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per server (20)")
    parser.add_argument("--variants", default="rum,gin", help="PostgreSQL variants: rum, gin or both (rum,gin)")
    parser.add_argument("--releases", type=int, default=50, help="one-story release transactions per way (50)")
    parser.add_argument("--takedowns", type=int, default=3, help="takedowns purged per backend (3)")
    parser.add_argument("--skip-serve", action="store_true", help="leave out the concurrent clients")
    parser.add_argument("--skip-whoosh", action="store_true",
                        help="PostgreSQL only: no Whoosh index (its build is most of the setup at 50,000)")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not variants or any(v not in ("rum", "gin") for v in variants) or len(set(variants)) != len(variants):
        parser.error("--variants takes rum, gin or rum,gin")
    if args.n < 200 or args.queries < 3 or args.repeat < 1 or args.releases < 4 or args.takedowns < 1:
        parser.error("--n at least 200, --queries 3, --repeat 1, --releases 4, --takedowns 1")

    print(f"machine: {platform.platform()} | python {platform.python_version()} | cpus {os.cpu_count()} | "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    server = Server(args.database_url)
    setup: list[str] = []
    databases: list[Database] = []
    whoosh: Whoosh | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="escrow-bench-search-") as tmp_name:
            tmp = Path(tmp_name)
            start = time.perf_counter()
            corpus = make_rows(args.n)
            made = time.perf_counter() - start
            # Whoosh's index is built in a child process from the start, beside the vectors and the loads.
            fork = multiprocessing.get_context("fork")
            receiving, sending = fork.Pipe(duplex=False)
            building = tmp / "whoosh-index"
            builder = fork.Process(target=build_whoosh, args=(corpus.rows, str(building), sending))
            if not args.skip_whoosh:
                builder.start()
            processes = max(1, (os.cpu_count() or 1) - (0 if args.skip_whoosh else 1))
            vector_s = add_vectors(corpus.rows, processes)
            chars = sum(len(r["title"]) + len(r["summary"]) + len(r["transcript"]) for r in corpus.rows) / args.n
            spanish = sum(r["language"] == "es" for r in corpus.rows)
            print(f"corpus: {args.n} stories ({spanish} Spanish), {chars / 1000:.1f} K characters of text each; "
                  f"generated in {made:.0f} s, vectors computed in {vector_s:.0f} s "
                  f"({processes} process(es){'' if args.skip_whoosh else ', beside the Whoosh build'})", flush=True)
            setup.append(f"vectors {vector_s:.0f} s")
            for variant in variants:
                instance, seconds = build_database(server, variant, tmp / f"home-{variant}", corpus.rows)
                engine = engine_for(instance.database_url)
                databases.append(Database(variant, instance, engine, Session(engine), PostgresSearch()))
                setup.append(f"postgres-{variant}: init {seconds['init']:.0f} s, load {seconds['load']:.0f} s, "
                             f"index {seconds['index']:.0f} s, vacuum {seconds['vacuum']:.0f} s")
                print(f"  {setup[-1]}", flush=True)
            built, whoosh_s = receiving.recv() if not args.skip_whoosh else (args.n, 0.0)
            if not args.skip_whoosh:
                builder.join()
            if built != args.n:
                raise RuntimeError(f"the Whoosh index holds {built} documents, not {args.n}")
            # Into the first instance's folder, then brought in step with its table as a node does
            # (room.sync: nothing to add or remove; it notes the table's fingerprint for the serve phase).
            whoosh_folder = databases[0].instance.home / INDEX_FOLDER
            if args.skip_whoosh:  # an empty index, never searched
                Index(building).ensure()
            building.rename(whoosh_folder)
            if not args.skip_whoosh:
                start = time.perf_counter()
                fresh = Index(whoosh_folder)
                synced = room.sync(databases[0].session, fresh)
                fresh.close()
                databases[0].session.rollback()
                if synced.added or synced.removed:
                    raise RuntimeError(f"the Whoosh index differed from the table: {synced}")
                setup.append(f"whoosh index (Index.recreate) {whoosh_s:.0f} s, room.sync check "
                             f"{time.perf_counter() - start:.0f} s")
                print(f"  {setup[-1]}", flush=True)
            whoosh = Whoosh(whoosh_folder)

            queries = make_queries(corpus.rows, args.queries)
            release_stories = release_rows(args.n, args.releases)
            counts = {kind: sum(q.kind == kind for q in queries) for kind in KINDS}
            counts["all"], counts["clients"] = len(queries), args.clients
            del corpus
            compiled = {d.label: {q.text: d.compiled(q.text) for q in queries} for d in databases}
            labels = ([] if args.skip_whoosh else ["whoosh"]) + [d.label for d in databases]

            page_calls: list[tuple[str, Callable[[Query], int]]] = [] if args.skip_whoosh else [
                ("whoosh", lambda q: whoosh.page(q.text)), ("bare whoosh", lambda q: whoosh.bare_page(q.text))]
            ranked_calls: list[tuple[str, Callable[[Query], int]]] = [] if args.skip_whoosh else [
                ("whoosh", lambda q: whoosh.ranked(q.text)), ("bare whoosh", lambda q: whoosh.bare_ranked(q.text))]
            for d in databases:
                page_calls += [(d.label, lambda q, d=d: d.page(q.text)),
                               ("bare " + d.label, lambda q, d=d: d.bare_page(compiled[d.label][q.text], q.text))]
                ranked_calls += [(d.label, lambda q, d=d: d.ranked(compiled[d.label][q.text])),
                                 ("bare " + d.label, lambda q, d=d: d.bare_ranked(compiled[d.label][q.text]))]
            start = time.perf_counter()
            page = interleaved(queries, page_calls, args.repeat)
            print(f"search pages timed in {time.perf_counter() - start:.0f} s: p50 | p95 ms "
                  + ", ".join(f"{label} {ms2(all_kinds(per_kind))}" for label, per_kind in page.ms.items()),
                  flush=True)
            agree = sum(len({page.totals[label][q.text] for label in labels}) == 1 for q in queries)
            singles = [q for q in queries if q.kind == "single"]
            start = time.perf_counter()
            ranked = interleaved(singles, ranked_calls, max(2, args.repeat))
            print(f"ranked queries timed in {time.perf_counter() - start:.0f} s", flush=True)
            first = page.totals[labels[0]]
            broadest = max(singles, key=lambda q: first[q.text])
            for d in databases:
                print(f"{d.label}, the archive's ranking of the broadest word ({broadest.text!r}, "
                      f"{first[broadest.text]:,} matches):", flush=True)
                for line in d.explain(compiled[d.label][broadest.text]):
                    print("    " + line)
            totals = sorted(t for t in first.values() if t >= 0)
            print(f"queries: {counts['single']} single words, {counts['and']} ANDs, {counts['phrase']} phrases; "
                  f"the same total on every backend for {agree} of {len(queries)}; matches per query: median "
                  f"{statistics.median(totals):,.0f}, max {totals[-1]:,} of {args.n:,}", flush=True)

            served = None
            if not args.skip_serve:
                whoosh.close()  # (served from the same folder; the bare searcher reopened below)
                sides = [] if args.skip_whoosh else [("whoosh", databases[0].instance, "whoosh")]
                sides += [(d.label, d.instance, "postgres") for d in databases]
                served = serve_all(tmp, sides, queries, args.clients, args.seconds)

            releases: dict[str, dict[str, list[float]]] = {}
            takedowns: dict[str, dict[str, list[float]]] = {}
            for d in databases:
                d.session.close()
                releases[d.label] = postgres_release(d, release_stories)
                takedowns[d.label] = postgres_takedowns(d, args.takedowns)
                print(f"  {d.label}: release and takedowns done", flush=True)
            if not args.skip_whoosh:
                releases["whoosh"] = whoosh_release(whoosh_folder, release_stories)
                takedowns["whoosh"] = whoosh_takedowns(whoosh_folder, args.takedowns)
            whoosh.close()
            for d in databases:
                d.engine.dispose()
            databases = []
    finally:
        for d in databases:
            d.session.close()
            d.engine.dispose()
        server.close()

    print(f"\nN = {args.n:,} stories; setup (not a target): " + "; ".join(setup))
    print(f"search: {args.repeat} timed pass(es) over {len(queries)} queries after a warm-up, interleaved; "
          f"ranked: {max(2, args.repeat)} passes over the single words; load now "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    report(args.n, labels, page, ranked, served, releases, takedowns, counts)
    print("cells: median | p95 (or as the row says); ratio: the archive's over the bare library's, of the "
          "median | of the p95. Bare: Whoosh's searcher with its highlighter; on PostgreSQL the same vectors and "
          "tsquery in bare SQL (RUM <=>, GIN ts_rank over every match) with ts_headline. Release 'added': the "
          "transaction with the search write minus the one without, paired (Whoosh: its after-commit write).")


if __name__ == "__main__":
    main()
