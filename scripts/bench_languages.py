"""Search when half the reading room is in Spanish: the archive's search (each story read with its
own language's rules, every query read in both) against today's English-only index and against
bare Whoosh, on the same stories and queries, in the same run.

    .venv/bin/python scripts/bench_languages.py [--n 10000] [--chars 4000] [--repeat 3]
                                                [--base /work/wt/base]

Corpus (seeded): N stories, every other one in Spanish. Both languages draw Zipf-distributed
words (exponent 1.07, as word frequencies run) from 15,000 generated stems with endings of
their language (Spanish: -ción, -ciones, -ía, -as, -os... with accents; English: -ing, -ed,
-s...), with their language's stop words among them, about CHARS characters a story.

Three searchers, each on its own index of the same documents, interleaved query by query:

1. archive: `archive.reading_room.search.search` of this checkout (Spanish stories indexed
   with Spanish rules in their own fields; a query read in English and in Spanish), a page
   of 10 with snippets;
2. today: the same call in the archive at --base (a checkout of the code before this change,
   with its own virtualenv), run in a child process with that virtualenv's Python, which
   reads every story with English rules; it times itself, so the pipe is not counted;
3. bare Whoosh: today's schema (StemmingAnalyzer), `searcher.search(limit=10, terms=True)`
   with its default highlighting of two body fragments, in this process.

Queries: single words spread over document frequency in each language (a Spanish one also
typed without its accents), two-word ANDs and two-word phrases drawn from the texts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

STEMS = 15_000
ZIPF_S = 1.07
ENGLISH_ENDINGS = ("", "", "s", "ing", "ed", "er", "ers", "ly", "ment", "tion")
SPANISH_ENDINGS = ("", "a", "o", "as", "os", "ción", "ciones", "ía", "ías", "ando", "ado", "ada", "mente",
                   "idad", "sión", "ería")
ENGLISH_STOPS = ("the", "and", "of", "to", "a", "in", "is", "that", "for", "with", "on", "at", "was", "we")
SPANISH_STOPS = ("el", "la", "de", "que", "y", "en", "los", "las", "por", "con", "una", "para", "su", "nos", "más")
PER_KIND = 12  # queries of each kind in each language


def _stems(rng: random.Random) -> list[str]:
    consonants, vowels = "bcdfglmnprstvz", "aeiou"
    found: set[str] = set()
    while len(found) < STEMS:
        found.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.choice((1, 2, 2, 3)))))
    return sorted(found, key=lambda w: (len(w), w))


def _words(rng: random.Random, stems: list[str], endings: tuple[str, ...], stops: tuple[str, ...]) -> list[str]:
    """A language's vocabulary, rank 1 the most frequent: its stop words first, then stems with endings."""
    return list(stops) + [stem + rng.choice(endings) for stem in stems]


def corpus(n: int, chars: int, seed: int = 28) -> list[dict[str, Any]]:
    """N index documents (as archive.reading_room.index.document makes them), every other one Spanish."""
    rng = random.Random(seed)
    stems = _stems(rng)
    vocabularies = {"en": _words(rng, stems, ENGLISH_ENDINGS, ENGLISH_STOPS),
                    "es": _words(rng, stems[::-1], SPANISH_ENDINGS, SPANISH_STOPS)}
    zipf = {language: [1 / (rank**ZIPF_S) for rank in range(1, len(words) + 1)]
            for language, words in vocabularies.items()}
    docs = []
    for i in range(n):
        language = "es" if i % 2 else "en"
        words, weights = vocabularies[language], zipf[language]
        body = rng.choices(words, weights, k=chars // 7)
        lines = [" ".join(body[j : j + 16]) + "." for j in range(0, len(body), 16)]
        docs.append({"id": f"{i:016d}", "title": f"{i} " + " ".join(rng.choices(words, weights, k=5)),
                     "body": "\n".join(lines), "summary": " ".join(rng.choices(words, weights, k=40)) + ".",
                     "tags": ",".join(sorted(set(rng.choices(words[20:220], k=3)))), "language": language,
                     "level": "full", "content_hash": f"{i:064x}", "year": 2000 + i % 20})
    return docs


def queries(docs: list[dict[str, Any]], seed: int = 7) -> list[tuple[str, str]]:
    """(kind, query text): words spread over frequency, ANDs and phrases, in each language."""
    rng = random.Random(seed)
    found: list[tuple[str, str]] = []
    for language in ("en", "es"):
        sample = [d for d in docs if d["language"] == language][:1000]
        frequency: Counter[str] = Counter()
        pairs: set[tuple[str, str]] = set()
        stops = set(ENGLISH_STOPS if language == "en" else SPANISH_STOPS)
        for doc in sample:
            words = [w.strip(".").lower() for w in doc["body"].split()[:400]]
            frequency.update({w for w in words if w not in stops and len(w) > 2})
            pairs.update((a, b) for a, b in zip(words, words[1:], strict=False)
                         if a not in stops and b not in stops and len(a) > 2 and len(b) > 2)
        ranked = sorted(frequency, key=lambda w: (-frequency[w], w))
        spread = [ranked[round(i * (len(ranked) - 1) / (PER_KIND - 1))] for i in range(PER_KIND)]
        found += [(f"word {language}", w) for w in spread]
        if language == "es":  # typed without accents, as on a keyboard without them
            accented = [w for w in ranked[:2000] if unicodedata.normalize("NFD", w) != w][:PER_KIND]
            found += [("word es, no accents", _fold(w)) for w in accented]
        found += [(f"and {language}", " ".join(rng.sample(ranked[:3000], 2))) for _ in range(PER_KIND)]
        found += [(f"phrase {language}", '"{} {}"'.format(*pair)) for pair in rng.sample(sorted(pairs), PER_KIND)]
    return found


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


# -- the searchers ---------------------------------------------------------------------------

def archive_searcher(folder: Path, docs: list[dict[str, Any]]) -> Any:
    """The archive's Index (of whichever checkout `archive` imports from) with the documents,
    and a function that runs one query; returns (index, search)."""
    from archive.reading_room.index import Index
    from archive.reading_room.search import search

    index = Index(folder)
    index.recreate(iter(docs))
    return index, lambda text: search(index, text, per_page=10).total


def bare_searcher(folder: Path, docs: list[dict[str, Any]]) -> Any:
    """Bare Whoosh with today's schema (every story read with English rules)."""
    from whoosh import highlight
    from whoosh import index as whoosh_index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema
    from whoosh.qparser import AndGroup, MultifieldParser

    text = StemmingAnalyzer()
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(stored=True, analyzer=text, field_boost=2.0),
                    body=TEXT(stored=True, analyzer=text), summary=TEXT(stored=True, analyzer=text),
                    tags=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True), language=ID(stored=True),
                    year=NUMERIC(stored=True), level=ID(stored=True), content_hash=ID(stored=True))
    folder.mkdir(parents=True)
    ix = whoosh_index.create_in(str(folder), schema)
    writer = ix.writer(limitmb=256)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    searcher = ix.searcher()
    parser = MultifieldParser(["title", "body", "summary", "tags"], schema, group=AndGroup)

    def run(query: str) -> int:
        results = searcher.search(parser.parse(query), limit=10, terms=True)
        results.fragmenter = highlight.ContextFragmenter(maxchars=240, surround=60)
        results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
        for hit in results:
            hit.highlights("body", top=2)
        return len(results)

    return searcher, run


def worker(folder: Path, corpus_file: Path) -> None:
    """The child of --base: index the corpus with that checkout's archive, then answer queries
    (one JSON string a line) with [milliseconds, hits], timed here."""
    docs = json.loads(corpus_file.read_text(encoding="utf-8"))
    index, run = archive_searcher(folder, docs)
    print("ready", flush=True)
    for line in sys.stdin:
        text = json.loads(line)
        start = time.perf_counter()
        hits = run(text)
        print(json.dumps([(time.perf_counter() - start) * 1000, hits]), flush=True)
    index.close()


class Child:
    """The --base checkout's searcher in its own process."""

    def __init__(self, base: Path, folder: Path, corpus_file: Path) -> None:
        python = base / ".venv" / "bin" / "python"
        env = {**os.environ, "PYTHONPATH": str(base)}
        self.process = subprocess.Popen([str(python), __file__, "--worker", str(folder), str(corpus_file)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=base)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def search(self, text: str) -> tuple[float, int]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        elapsed, hits = json.loads(self.process.stdout.readline())
        return float(elapsed), int(hits)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _timed(run: Any, text: str) -> tuple[float, int]:
    start = time.perf_counter()
    hits = run(text)
    return (time.perf_counter() - start) * 1000, hits


def main() -> None:
    """Build the three indexes, time every query on each, interleaved, and print the table."""
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    from bench_import import p95, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="stories, every other one in Spanish (10000)")
    parser.add_argument("--chars", type=int, default=4_000, help="characters of a story's body (4000)")
    parser.add_argument("--repeat", type=int, default=3, help="times each query is timed (3)")
    parser.add_argument("--base", type=Path, default=Path("/work/wt/base"),
                        help="a checkout of the code before this change, with its .venv (/work/wt/base)")
    args = parser.parse_args()
    docs = corpus(args.n, args.chars)
    asked = queries(docs)
    with tempfile.TemporaryDirectory(prefix="escrow-bench-languages-") as tmp_name:
        tmp = Path(tmp_name)
        corpus_file = tmp / "corpus.json"
        corpus_file.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        built = {}
        start = time.perf_counter()
        index, ours = archive_searcher(tmp / "archive", docs)
        built["archive"] = time.perf_counter() - start
        start = time.perf_counter()
        child = Child(args.base.resolve(), tmp / "today", corpus_file)
        built["today"] = time.perf_counter() - start
        start = time.perf_counter()
        searcher, bare = bare_searcher(tmp / "bare", docs)
        built["bare"] = time.perf_counter() - start
        print(f"{args.n} stories ({args.n // 2} in Spanish, {args.chars} characters each), {len(asked)} queries; "
              "indexes built in " + ", ".join(f"{k} {v:.0f} s" for k, v in built.items()), flush=True)
        for _, text in asked:  # warm up: each searcher's first look at each word
            ours(text), child.search(text), bare(text)
        times: dict[str, dict[str, list[float]]] = {}
        hits: dict[str, Counter[str]] = {name: Counter() for name in ("archive", "today", "bare")}
        for round_ in range(args.repeat):
            for i, (kind, text) in enumerate(asked):
                order = ["archive", "today", "bare"]
                order = order[(i + round_) % 3:] + order[:(i + round_) % 3]  # each goes first as often
                for name in order:
                    elapsed, found = (child.search(text) if name == "today"
                                      else _timed(ours if name == "archive" else bare, text))
                    times.setdefault(name, {}).setdefault(kind, []).append(elapsed)
                    times[name].setdefault("all", []).append(elapsed)
                    if round_ == 0:
                        hits[name][kind] += found
        child.close()
        searcher.close()
        index.close()

    kinds = ["all", *dict.fromkeys(kind for kind, _ in asked)]
    rows: list[tuple[object, ...]] = []
    for kind in kinds:
        ours_ms, today_ms, bare_ms = (times[name][kind] for name in ("archive", "today", "bare"))
        for name, values in (("archive", ours_ms), ("today", today_ms), ("bare whoosh", bare_ms)):
            median = statistics.median(values)
            ratio = (f"{median / statistics.median(today_ms):.2f} / {p95(values) / p95(today_ms):.2f} of today, "
                     f"{median / statistics.median(bare_ms):.2f} of bare")
            found = "" if kind == "all" else f", {hits[name if name != 'bare whoosh' else 'bare'][kind]} hits"
            rows.append((f"{kind}: {name}, ms{found}", len(values), f"{median:.1f}",
                         f"{p95(values):.1f}", ratio))
    print_table(rows)
    print("columns: what (total hits over the kind's queries) | timings | median | p95 | "
          "ratio (median / p95 to today's English-only index; median to bare Whoosh)")


if __name__ == "__main__":
    main()
