"""`escrow redact-again` at archive scale: checking every released copy, and replacing them all.

    .venv/bin/python scripts/bench_redact_again.py [--n 2000] [--runs 3] [--keep DIR]

Corpus: scripts/bench_scale.py's (Zipf vocabulary, stories of about 9 KB with four marked
names, levels cycling), imported and released with `escrow publish-due` (untimed). With
--keep DIR the instance is built once in DIR and reused (shared with bench_scale.py and
bench_researchers.py). Every step runs in this process, through the service layer:

1. the check (`redact-again --dry-run`: nothing changes), per story, against the bare
   work it cannot avoid on the same stories: decrypting each with the vault's functions and
   redacting it, with no locks, batching, audit or comparison;
2. the replacement of every copy (each released row's hash is first spoiled, so that every
   copy "changes" while its text stays the same, as after an upgrade that touches them all):
   one transaction per story, then the index rewrite and the purge of the old text, timed
   per story and in total. The instance's copies are as before afterwards, with new stamps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402
from bench_scale import published_instance  # noqa: E402

from archive import create_app, services  # noqa: E402
from archive.config import Config  # noqa: E402
from archive.reading_room.models import ReleasedStory  # noqa: E402
from archive.release import redact_again  # noqa: E402
from archive.release.redaction import redact  # noqa: E402
from archive.services import releases  # noqa: E402
from archive.storage import database
from archive.vault import stories  # noqa: E402
from archive.vault.models import Story  # noqa: E402


def bare_check(home: Path) -> list[float]:
    """Decrypt and redact every released story, nothing else; milliseconds each."""
    times = []
    app = create_app(Config.for_home(home))
    with app.app_context():
        archive = services.current()
        ring = archive.keyring
        for story in archive.session.scalars(select(Story).where(Story.status == "released")):
            start = time.perf_counter()
            redact(stories.decrypt(ring, story))
            times.append((time.perf_counter() - start) * 1000)
        database.db.session.remove()
    return times


def check(home: Path) -> tuple[float, int]:
    """One dry run through the service: seconds, and the copies it checked."""
    app = create_app(Config.for_home(home))
    with app.app_context():
        start = time.perf_counter()
        done = releases.redact_again(services.current(), apply=False)
        seconds = time.perf_counter() - start
        database.db.session.remove()
    return seconds, done.checked


def replace_all(home: Path) -> tuple[float, list[float], int]:
    """Spoil every released row's hash, then replace every copy: seconds in total, per-story
    milliseconds (its transaction), and how many were replaced."""
    app = create_app(Config.for_home(home))
    per_story: list[float] = []
    real = redact_again._replace_one

    def timed(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            per_story.append((time.perf_counter() - start) * 1000)

    with app.app_context():
        session = database.db.session()
        session.execute(update(ReleasedStory).values(content_hash="spoiled"))
        session.commit()
        redact_again._replace_one = timed  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            done = releases.redact_again(services.current(), apply=True)
            seconds = time.perf_counter() - start
        finally:
            redact_again._replace_one = real  # type: ignore[assignment]
        database.db.session.remove()
    if done.stuck:
        raise RuntimeError(f"{len(done.stuck)} copies were not replaced: {done.stuck[:3]}")
    return seconds, per_story, done.replaced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="timed dry runs and bare passes (3)")
    parser.add_argument("--keep", type=Path, help="build the instance here once, and reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        instance, _, _ = published_instance(args.keep or Path(scratch), args.n)
        bare: list[float] = []
        checks: list[float] = []
        checked = 0
        for _ in range(args.runs):  # interleaved, so that both see the same machine
            bare += bare_check(instance.home)
            seconds, checked = check(instance.home)
            checks.append(seconds * 1000 / checked)
        total, per_story, replaced = replace_all(instance.home)
    bare_per_story = statistics.median(bare)
    print(f"\n{checked} released stories; {args.runs} runs of the check and of the bare pass\n")
    print_table([
        ("check (dry run), ms per story (median of runs)", len(checks), f"{statistics.median(checks):.2f}",
         f"{max(checks):.2f}", f"{statistics.median(checks) / bare_per_story:.2f}"),
        ("bare decrypt + redact, ms per story", len(bare), f"{bare_per_story:.2f}", f"{p95(bare):.2f}", "1.00"),
        ("replace one copy (its transaction), ms", len(per_story), f"{statistics.median(per_story):.2f}",
         f"{p95(per_story):.2f}", f"{statistics.median(per_story) / bare_per_story:.2f}"),
        (f"replace all {replaced} copies (index rewrite and purge included), s", 1, f"{total:.1f}", "-", "-"),
    ])


if __name__ == "__main__":
    main()
