"""Over-redaction on a corpus of oral-history transcripts with every name marked: the share of
the words that are not names which the released copy hides, and the names it misses.

    .venv/bin/python scripts/measure_overredaction.py [--tree PATH] [--level redacted]

The corpus (scripts/corpus/*.txt, English and Spanish, written for this measurement) marks each
name's first mention as a span, `[[person:Ana Ruiz]]`, as an organizer would, and every later
mention `{{Ana}}`: given to the archive as plain text (the scrubber must find it), and known to
be a name here. Each transcript is redacted at the level given; the words of the original and of
the released copy are aligned (difflib, fine for a few thousand words), and every original word
in a changed stretch counts as hidden. `--tree` runs another checkout's code (say, the version
before a change) on the same corpus, for a before/after comparison in one run of this script.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
MARKED = re.compile(r"\[\[(\w+):([^\]|]+)(?:\|[^\]]*)?\]\]|\{\{([^}]+)\}\}")
WORD = re.compile(r"[^\W\d_]+")


def read(path: Path) -> tuple[str, str, str, list[tuple[int, int]]]:
    """The narrator, the transcript as the archive is given it, the plain text, and where names are in it."""
    first, body = path.read_text(encoding="utf-8").split("\n", 1)
    narrator = first.removeprefix("narrator:").strip()
    given = MARKED.sub(lambda m: m.group(0) if m.group(1) else m.group(3), body)
    plain, names, last = [], [], 0
    length = 0
    for match in MARKED.finditer(body):
        plain.append(body[last : match.start()])
        length += match.start() - last
        name = match.group(2) or match.group(3)
        names.append((length, length + len(name)))
        plain.append(name)
        length += len(name)
        last = match.end()
    plain.append(body[last:])
    return narrator, given, "".join(plain), names


def measure(level: str) -> list[tuple[str, int, int, int, int, list[str], list[str]]]:
    """Per transcript: non-name words, those hidden, name words, those hidden, the non-names
    hidden, the names missed."""
    from archive.release.redaction import redact
    from archive.vault import drafts

    rows = []
    for path in sorted(CORPUS.glob("*.txt")):
        narrator, given, plain, names = read(path)
        language = "es" if path.name.startswith("es") else "en"
        draft = drafts.parse({"title": "Interview", "narrator": narrator, "transcript": given, "language": language,
                              "embargo_until": "2031-01-01", "redaction_level": level})
        released = redact(draft).transcript or ""
        words = [(m.group(), m.start()) for m in WORD.finditer(plain)]
        after = [m.group() for m in WORD.finditer(released)]
        hidden = set()
        matcher = difflib.SequenceMatcher(None, [w.lower() for w, _ in words], [w.lower() for w in after],
                                          autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag in ("replace", "delete"):
                hidden.update(range(i1, i2))
        is_name = [any(a <= start < b for a, b in names) for _, start in words]
        others = [i for i, name in enumerate(is_name) if not name]
        named = [i for i, name in enumerate(is_name) if name]
        rows.append((path.name, len(others), sum(i in hidden for i in others), len(named),
                     sum(i in hidden for i in named), sorted({words[i][0] for i in others if i in hidden}),
                     sorted({words[i][0] for i in named if i not in hidden})))
    return rows


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--level", default="redacted")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    rows = measure(args.level)
    print(f"code: {args.tree}; level {args.level}")
    print(f"{'transcript':<18} {'words':>6} {'hidden':>7} {'over %':>7} {'names':>6} {'missed':>7}  "
          "non-names hidden | names missed")
    for name, others, over, named, caught, which, missed in rows:
        print(f"{name:<18} {others:>6} {over:>7} {100 * over / others:>6.2f}% {named:>6} {named - caught:>7}  "
              f"{', '.join(which)} | {', '.join(missed)}")
    total, over = sum(r[1] for r in rows), sum(r[2] for r in rows)
    named, caught = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"{'all':<18} {total:>6} {over:>7} {100 * over / total:>6.2f}% {named:>6} {named - caught:>7}")


if __name__ == "__main__":
    main()
