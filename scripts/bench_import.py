"""Benchmark `escrow stories import` end to end, and the archive's sealing against raw AES-GCM.

Run it from the repository root:

    .venv/bin/python scripts/bench_import.py [--n 10000] [--runs 3]

It writes a synthetic corpus of N ~8 KB stories (deterministic, seeded) to a temporary
directory, imports it into a fresh instance per run (in-process through click's
CliRunner, so interpreter start-up is not counted), then times, per story, the
archive's sealing (new data key, payload seal, key wrap) against one bare
`AESGCM(key).encrypt(...)` of the same plaintext. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.cli import cli
from archive.vault import crypto, drafts, stories
from archive.vault.models import LEVELS

EMAIL = "bench@example.org"
WORDS = ("the", "shift", "manager", "said", "we", "would", "walk", "out", "if", "they", "cut",
         "hours", "again", "night", "union", "card", "floor", "kitchen", "break", "room", "wage",
         "boss", "contract", "overtime", "strike", "meeting", "quiet", "nobody", "knew", "then",
         "everyone", "signed", "petition", "laundry", "housekeeping", "rent", "visa", "afraid",
         "together", "steward", "grievance", "picket", "morning", "tired", "and", "but", "so")
PEOPLE = ("Maria Lopez", "Ana Silva", "Joseph Okafor", "Lin Wei", "Tomas Novak", "Fatima Diallo")
ORGS = ("Harbor Hotel", "Eastside Laundry", "Metro Transit", "Local 217", "Greenfield Farms")
PLACES = ("New Haven", "Bridgeport", "the loading dock", "Fair Haven", "the night bus")
STORY_BYTES = 8_000


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))


def make_story(rng: random.Random, index: int) -> dict[str, object]:
    """One story in README.md's import format, about STORY_BYTES long as JSON."""
    paragraphs = []
    for kind, names in (("person", PEOPLE), ("org", ORGS), ("place", PLACES), ("person", PEOPLE)):
        paragraphs.append(f"{_words(rng, 120)} [[{kind}:{rng.choice(names)}]] {_words(rng, 120)}.")
    transcript = "\n".join(paragraphs)
    transcript += " " + _words(rng, 40)
    while len(transcript) < STORY_BYTES - 700:
        transcript += " " + _words(rng, 20)
    return {
        "title": f"Story {index}: {_words(rng, 5)}", "narrator": rng.choice(PEOPLE),
        "transcript": transcript, "summary": _words(rng, 80).capitalize() + ".",
        "interviewer": "Bench Interviewer", "interview_date": "2019-05-01",
        "place": rng.choice(PLACES), "language": "en",
        "tags": sorted(set(rng.sample(WORDS, 3))),
        "embargo_until": (date(2031, 1, 1) + timedelta(days=index % 3650)).isoformat(),
        "redaction_level": LEVELS[index % len(LEVELS)], "release_review": False,
    }


def write_corpus(path: Path, n: int, seed: int = 2024) -> list[dict[str, object]]:
    """Write N stories as JSON Lines; return them."""
    rng = random.Random(seed)
    corpus = [make_story(rng, i) for i in range(n)]
    with path.open("w", encoding="utf-8") as handle:
        for story in corpus:
            handle.write(json.dumps(story, ensure_ascii=False) + "\n")
    return corpus


def invoke(runner: CliRunner, home: Path, args: list[str], stdin: str | None = None) -> Result:
    """Run one `escrow` command in-process against an instance; raise on failure."""
    env = {"ARCHIVE_HOME": str(home), "DATABASE_URL": None, "ESCROW_MASTER_KEY": None}
    result = runner.invoke(cli, args, input=stdin, env=env)
    if result.exit_code != 0:
        raise RuntimeError(f"escrow {' '.join(args)} exited {result.exit_code}: {result.output}")
    return result


def time_import(corpus_file: Path, home: Path) -> float:
    """Set up a fresh instance (untimed), then time one import; seconds."""
    runner = CliRunner()
    invoke(runner, home, ["init"])
    invoke(runner, home, ["users", "add", EMAIL, "--role", "organizer", "--password-stdin"],
           stdin="bench-password\n")
    start = time.perf_counter()
    invoke(runner, home, ["stories", "import", str(corpus_file), "--as", EMAIL])
    return time.perf_counter() - start


def time_sealing(corpus: list[dict[str, object]]) -> tuple[list[float], list[float]]:
    """Per-story microseconds: the archive's sealing, and one bare AESGCM encrypt."""
    plaintexts = [json.dumps(drafts.parse(s).content(), ensure_ascii=False,
                             separators=(",", ":")).encode() for s in corpus]
    kek, kek_version, raw_key = crypto.new_key(), 1, AESGCM.generate_key(bit_length=256)
    ids = [(stories.new_id(), stories.new_id()) for _ in plaintexts]
    archive_us: list[float] = []
    raw_us: list[float] = []
    for warm_up in (True, False):
        for plaintext, (story_id, dek_id) in zip(plaintexts[:200] if warm_up else plaintexts, ids, strict=False):
            t0 = time.perf_counter_ns()
            dek = crypto.new_key()
            crypto.wrap(kek, dek, crypto.wrap_aad(story_id, dek_id, kek_version))
            crypto.seal(dek, plaintext, crypto.payload_aad(story_id, 1, dek_id))
            t1 = time.perf_counter_ns()
            AESGCM(raw_key).encrypt(os.urandom(12), plaintext, None)
            t2 = time.perf_counter_ns()
            if not warm_up:
                archive_us.append((t1 - t0) / 1000)
                raw_us.append((t2 - t1) / 1000)
    return archive_us, raw_us


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="stories in the corpus (10000)")
    parser.add_argument("--runs", type=int, default=3, help="timed import runs (3)")
    args = parser.parse_args()
    if args.n < 1 or args.runs < 1:
        parser.error("--n and --runs must be at least 1")

    print(f"machine: {platform.platform()} | {platform.machine()} | "
          f"python {platform.python_version()} ({sys.implementation.name}) | cpus {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="escrow-bench-") as tmp:
        corpus_file = Path(tmp) / "stories.jsonl"
        corpus = write_corpus(corpus_file, args.n)
        size = corpus_file.stat().st_size
        print(f"corpus: {args.n} stories, {size / 1e6:.1f} MB, {size / args.n / 1000:.1f} KB/story")
        seconds = [time_import(corpus_file, Path(tmp) / f"home{run}") for run in range(args.runs)]
        archive_us, raw_us = time_sealing(corpus)

    import_s = statistics.median(seconds)
    raw_median = statistics.median(raw_us)
    rows = [
        (f"import, s/run ({args.runs} runs)", args.n, f"{import_s:.2f}", f"{max(seconds):.2f}", "-"),
        ("import, stories/s", args.n, f"{args.n / import_s:,.0f}", "-", "-"),
        ("import, us/story", args.n, f"{import_s / args.n * 1e6:,.1f}", "-",
         f"{import_s / args.n * 1e6 / raw_median:,.1f}"),
        ("seal, archive, us/story", len(archive_us), f"{statistics.median(archive_us):.1f}",
         f"{p95(archive_us):.1f}", f"{statistics.median(archive_us) / raw_median:.2f}"),
        ("seal, raw AESGCM, us/story", len(raw_us), f"{raw_median:.1f}", f"{p95(raw_us):.1f}", "1.00"),
    ]
    print_table(rows)
    print("ratio: median over the raw AESGCM median per story; import p95 column shows the slowest run.")


def print_table(rows: list[tuple[object, ...]]) -> None:
    """The figures as an aligned table: what, n, median, p95, ratio."""
    header = ("what", "n", "median", "p95", "ratio")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (f"{v!s:>{w}}" for v, w in zip(row[1:], widths[1:], strict=True))
        print(f"{row[0]:<{widths[0]}}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
