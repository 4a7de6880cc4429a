"""redact-again's guard ("the new copy hides at least as much") and `redact-again --dry-run`.

    .venv/bin/python scripts/bench_guard.py [--stories 60] [--words 14000] [--runs 5]

1. The guard alone, `redact_again.hides_at_least_as_much(old, new)`, on one story's copies at three
   transcript sizes (a quarter, one and four times --words): the copy an older rule released
   (whole words only: `names.Matcher._inside` off) against this version's. Beside it, in the same
   run, the guard before this change (difflib's SequenceMatcher over names.key words, reproduced
   here) and a raw `re` word scan of both texts. Median and p95 in ms, ms per 1,000 words, and
   the ratio to the raw scan: a constant ms per 1,000 words is linear.
2. `escrow redact-again --dry-run` over --stories stories of --words words, released under the
   older rule, so that every copy comes out different and the guard judges each: seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_release import Instance, invoke, prepare_instance  # noqa: E402
from bench_scale import ZIPF_S, vocabulary  # noqa: E402

from archive.reading_room.models import ReleasedStory  # noqa: E402
from archive.release import redact_again, redaction  # noqa: E402
from archive.release.gate import released_row  # noqa: E402
from archive.release.redaction import redact  # noqa: E402
from archive.transcripts import names  # noqa: E402
from archive.vault import drafts  # noqa: E402

PEOPLE = ["Maria Lopez", "Ana Ruiz", "Tom Garcia", "Li Na", "Rosa Ward", "Priya Das"]


def story(words: int, seed: int) -> dict[str, object]:
    """A transcript of about `words` words, Zipf vocabulary, names marked and mentioned unmarked
    the ways people write them (plurals, handles, hashtags)."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = [1 / (rank**ZIPF_S) for rank in range(1, len(vocab) + 1)]
    drawn = rng.choices(vocab, weights, k=words)
    for k in range(0, words, 40):
        person = rng.choice(PEOPLE)
        drawn[k] = rng.choice([f"[[person:{person}]]", person.split()[-1] + "s", "#JusticeFor" + person.split()[0],
                               person.split()[-1].lower() + "2019", person])
    lines = [" ".join(drawn[j : j + 16]) + "." for j in range(0, len(drawn), 16)]
    return {"title": f"Story {seed}", "narrator": "Rosa Ward", "transcript": "\n".join(lines),
            "summary": "A strike.", "embargo_until": "2020-01-01", "redaction_level": "pseudonymized"}


def older() -> Callable[[], None]:
    """Play the older rule (whole words only); the returned function restores this one."""
    real = names.Matcher._inside
    names.Matcher._inside = lambda self, tokens: iter(())  # type: ignore[method-assign, assignment, misc]

    def restore() -> None:
        names.Matcher._inside = real  # type: ignore[method-assign]
    return restore


def old_guard(old: ReleasedStory, new: ReleasedStory) -> bool:
    """The guard before this change, as it was: difflib over names.key words."""
    own, labels = redaction.own_words(), {"person", "employer", "place"}
    for name in ("title", "transcript", "summary"):
        before, after = names.key(getattr(old, name) or ""), names.key(getattr(new, name) or "")
        for tag, _, _, start, end in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
            if tag in ("replace", "insert"):
                for at in range(start, end):
                    word = after[at]
                    if word not in own and not (at and after[at - 1] in labels and len(word) <= 2):
                        return False
    return True


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def guard_table(words: int, runs: int) -> None:
    word = re.compile(r"\w+")
    print(f"{'words':>7} {'what':<34} {'median':>9} {'p95':>9} {'ms/1k words':>12} {'x raw':>7}")
    for size in (words // 4, words, words * 4):
        draft = drafts.parse(story(size, seed=size))
        restore = older()
        try:
            old = released_row("s", redact(draft))
        finally:
            restore()
        new = released_row("s", redact(draft))
        assert old.content_hash != new.content_hash and redact_again.hides_at_least_as_much(old, new)
        raw = timed(lambda: (sum(1 for _ in word.finditer(old.transcript or "")),  # noqa: B023
                             sum(1 for _ in word.finditer(new.transcript or ""))), runs)  # noqa: B023
        rows = [("raw re word scan (both copies)", raw),
                ("guard (this version)", timed(lambda: redact_again.hides_at_least_as_much(old, new), runs))]  # noqa: B023
        if size <= words:  # the quadratic one takes minutes at four times the size
            rows.append(("guard before (difflib)", timed(lambda: old_guard(old, new), max(1, runs // 2))))  # noqa: B023
        for what, (median, p95) in rows:
            print(f"{size:>7} {what:<34} {median:>9.1f} {p95:>9.1f} {median * 1000 / size:>12.2f} "
                  f"{median / raw[0]:>7.1f}")


def dry_run(stories: int, words: int) -> None:
    with tempfile.TemporaryDirectory(prefix="escrow-bench-guard-") as tmp:
        corpus = Path(tmp) / "stories.jsonl"
        with corpus.open("w", encoding="utf-8") as handle:
            for i in range(stories):
                handle.write(json.dumps(story(words, seed=i)) + "\n")
        instance = Instance("sqlite", Path(tmp) / "instance", None)
        runner = prepare_instance(corpus, instance)
        restore = older()
        try:
            invoke(runner, instance, ["publish-due"])
        finally:
            restore()
        start = time.perf_counter()
        result = invoke(runner, instance, ["redact-again", "--dry-run"])
        seconds = time.perf_counter() - start
        print(f"\nredact-again --dry-run over {stories} stories of {words:,} words: {seconds:.1f} s "
              f"({result.output.strip().splitlines()[-1]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=60)
    parser.add_argument("--words", type=int, default=14_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    guard_table(args.words, args.runs)
    dry_run(args.stories, args.words)


if __name__ == "__main__":
    main()
