"""Regenerate archive/data/confusables.tsv from Unicode's confusables.txt (UTS #39).

    .venv/bin/python scripts/make_confusables.py confusables.txt
    .venv/bin/python scripts/make_confusables.py --download   # the latest, from unicode.org

The archive reads look-alike letters from Unicode's own table (`archive.transcripts.characters`), so that a
name typed with letters of another script drawn the same (a Greek capital Nu for an N, a
Cyrillic straight U for a Y) is found as the name. The table is vendored, not fetched at run
time: the archive works offline, and an upgrade of the table is a reviewed commit. This script
keeps every mapping of the upstream file (source code point, then the prototype's code points),
and its version, date and copyright lines; it changes nothing else. No PyPI package ships the
table in a usable form: confusable-homoglyphs ships a two-way JSON parsed from the file's
comments, which loses which side is the prototype; `confusables` ships the 2020 (13.0) file and
is unmaintained; PyICU needs a compiled ICU.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

URL = "https://www.unicode.org/Public/security/latest/confusables.txt"
OUT = Path(__file__).resolve().parents[1] / "archive" / "data" / "confusables.tsv"


def convert(upstream: str) -> str:
    """The compact table: the upstream header's facts, then one `SOURCE<TAB>PROTOTYPE` line per mapping."""
    header = [line for line in upstream.splitlines()[:12]
              if line.startswith(("# Date", "# ©", "# Version", "# Unicode Security"))]
    if not any(line.startswith("# Version") for line in header):
        raise SystemExit("not Unicode's confusables.txt: no version line")
    rows = []
    for line in upstream.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, prototype, _kind = (field.strip() for field in data.split(";"))
        rows.append(f"{source}\t{prototype}")
    if len(rows) < 6000:
        raise SystemExit(f"only {len(rows)} mappings: not the whole table")
    lines = ["# Unicode's confusables (UTS #39), source code point and prototype code points, as",
             "# scripts/make_confusables.py wrote them from confusables.txt; see",
             "# https://www.unicode.org/terms_of_use.html for the data's terms.", *header, *rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Read, convert, write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="a local copy of confusables.txt")
    parser.add_argument("--download", action="store_true", help=f"fetch {URL}")
    args = parser.parse_args()
    if args.download:
        with urllib.request.urlopen(URL, timeout=60) as answer:  # noqa: S310 - a fixed https address
            upstream = answer.read().decode("utf-8-sig")
    elif args.file:
        upstream = args.file.read_text(encoding="utf-8-sig")
    else:
        parser.error("give a file or --download")
    OUT.write_text(convert(upstream), encoding="utf-8")
    print(f"wrote {OUT} ({sum(1 for _ in OUT.open(encoding='utf-8'))} lines)", file=sys.stderr)


if __name__ == "__main__":
    main()
