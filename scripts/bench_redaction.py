"""Redaction time per story on a 1 MB transcript at 0, 100 and 2,000 marked spans.

Measures, in one run, `redact()` at each level, the submit page's preview (the four
levels of one draft) and `drafts.parse` (the checks at submission), against a raw
baseline: one pass of Python's `re` over the same text finding every word, the least
any word-level scrubber has to do. Prints median and p95 in milliseconds and the ratio
to the baseline.

    .venv/bin/python scripts/bench_redaction.py [--size 1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.release.redaction import redact  # noqa: E402
from archive.vault import drafts  # noqa: E402
from archive.vault.models import LEVELS  # noqa: E402

WORDS = ("the we and a to of in was that shift they our union it for on with had said hotel "
         "contract manager workers meeting strike vote floor night week laundry kitchen pay "
         "boss sheet card housekeeping room break overtime schedule steward").split()
FIRST = "Maria Rosa Tomás Ann José Işık Jürgen Zoë Nguyễn Olga Sean Aiyana Mehmet Chloé".split()
LAST = "Lopez Parks Straße Müller O’Brien Garcia-Lopez Kowalski Petrov Wong Haddad".split()


def story(size: int, spans: int, seed: int = 7) -> dict[str, object]:
    """A transcript of about `size` characters with `spans` marked names spread through it."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    people = [f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}" for n in range(max(1, spans // 4))]
    words: list[str] = []
    length, marked = 0, 0
    while length < size - 300:
        if marked < spans and rng.random() < spans * 6 / size:
            word = f"[[person:{rng.choice(people)}]]"
            marked += 1
        elif rng.random() < 0.01:
            word = rng.choice(FIRST)  # unmarked mentions the scrubber must also catch
        else:
            word = rng.choices(WORDS, weights)[0]
        words.append(word)
        length += len(word) + 1
    while marked < spans:
        words.append(f"[[person:{rng.choice(people)}]]")
        marked += 1
    lines = [" ".join(words[i : i + 14]) for i in range(0, len(words), 14)]
    return {"title": "Nights on the laundry floor", "narrator": "Rosa María Straße-Lopez",
            "transcript": "\n".join(lines), "summary": "Organizing the night shift.",
            "interviewer": "Sean O’Brien", "place": "New Haven", "interview_date": "2019-05-01",
            "embargo_until": "2031-01-01", "redaction_level": "pseudonymized", "tags": ["hotel"]}


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and p95 of `runs` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def main() -> None:
    """Run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=990_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--spans", default="0,100,2000")
    args = parser.parse_args()
    word = re.compile(r"\w+")
    print(f"transcript {args.size:,} characters, {args.runs} runs each; times in ms (median / p95)")
    print(f"{'spans':>6} {'what':<22} {'median':>9} {'p95':>9} {'x raw':>7}")
    for count in (int(n) for n in args.spans.split(",")):
        data = story(args.size, count)
        draft = drafts.parse(data)
        text = str(data["transcript"])
        raw, raw95 = timed(lambda: sum(1 for _ in word.finditer(text)), args.runs)  # noqa: B023
        rows = [("raw re word scan", (raw, raw95)),
                ("drafts.parse (submit)", timed(lambda: drafts.parse(data), args.runs))]  # noqa: B023
        for level in ("pseudonymized", "redacted", "summary"):
            one = draft.changed(redaction_level=level)
            rows.append((f"redact {level}", timed(lambda: redact(one), args.runs)))  # noqa: B023
        rows.append(("preview (4 levels)", timed(
            lambda: [redact(draft.changed(redaction_level=lv)) for lv in LEVELS], args.runs)))  # noqa: B023
        for what, (median, p95) in rows:
            print(f"{count:>6} {what:<22} {median:>9.1f} {p95:>9.1f} {median / raw:>7.2f}")


if __name__ == "__main__":
    main()
