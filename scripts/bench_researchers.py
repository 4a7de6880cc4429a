"""The researchers' door at archive scale: API search against the search page on the same
queries, and a full OAI-PMH harvest, each against a bare reference in the same run.

    .venv/bin/python scripts/bench_researchers.py [--n 10000] [--queries-repeat 3] [--keep DIR]

Corpus: scripts/bench_scale.py's (Zipf-distributed vocabulary of 30,000 words, stories of
about 9 KB, levels cycling), imported and released with `escrow publish-due` (untimed).
With --keep DIR the instance is built once in DIR, and reused by later runs of this script
or of bench_scale.py with the same DIR.

1. search: `/api/v1/search` and the search page `/search`, in-process (Flask test client,
   no network), on the same single-term, two-term AND and phrase queries drawn from the
   text, interleaved with bare Whoosh with its default highlighting on the same index;
2. harvest: every record with `/oai?verb=ListRecords&metadataPrefix=oai_dc`, following the
   resumption tokens to the end (the archive's page size), against a bare reference that
   reads the same rows page by page with the same keyset query and serialises the same
   Dublin Core with lxml, with no protocol, tokens or Flask around it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from lxml import etree
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402
from bench_release import (  # noqa: E402
    Instance,
    Query,
    make_queries,
    raw_search,
    raw_searcher,
    released_documents,
)
from bench_scale import published_instance  # noqa: E402

from archive import create_app  # noqa: E402
from archive.config import Config  # noqa: E402

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"


def time_search(instance: Instance, queries: list[Query], repeat: int) -> dict[str, list[float]]:
    """API, page and bare Whoosh on the same queries, interleaved; milliseconds each."""
    app = create_app(Config.for_home(instance.home))
    client = app.test_client()
    searcher, parser = raw_searcher(instance.home / "index")
    times: dict[str, list[float]] = {"api": [], "page": [], "raw": []}
    paths = {"api": ["/api/v1/search?" + urlencode({"q": q.text}) for q in queries],
             "page": ["/search?" + urlencode({"q": q.text}) for q in queries]}
    for kind in ("api", "page"):  # warm up, and check each answers
        for path in paths[kind]:
            with client.get(path) as response:
                assert response.status_code == 200, (path, response.status_code)
    for round_ in range(repeat):
        for i, query in enumerate(queries):
            # Whichever runs first on a query may find its words' postings no longer kept in
            # memory (the cache holds some queries' words, not all 72), and the second finds them
            # kept: so each goes first on half of the queries.
            for kind in ("api", "page") if (i + round_) % 2 else ("page", "api"):
                start = time.perf_counter()
                client.get(paths[kind][i]).close()
                times[kind].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            raw_search(searcher, parser, query.text)
            times["raw"].append((time.perf_counter() - start) * 1000)
    searcher.close()
    app.extensions["escrow.index"].close()
    return times


def harvest(instance: Instance) -> tuple[float, list[int], list[float]]:
    """A full ListRecords harvest through the app; seconds, records per page, milliseconds per page."""
    app = create_app(Config.for_home(instance.home))
    client = app.test_client()
    query: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    pages: list[float] = []
    records: list[int] = []
    start = time.perf_counter()
    while True:
        page_start = time.perf_counter()
        with client.get("/oai?" + urlencode(query)) as response:
            body = response.get_data()
        pages.append((time.perf_counter() - page_start) * 1000)
        root = etree.fromstring(body)
        records.append(len(root.findall(f".//{{{OAI}}}record")))
        token = root.find(f".//{{{OAI}}}resumptionToken")
        if token is None or not (token.text or "").strip():
            break
        query = {"verb": "ListRecords", "resumptionToken": token.text.strip()}
    seconds = time.perf_counter() - start
    app.extensions["escrow.index"].close()
    return seconds, records, pages


def bare_harvest(url: str, page_size: int) -> tuple[float, int]:
    """The same rows, page by page by keyset, as Dublin Core serialised with lxml; seconds, records."""
    engine = create_engine(url, poolclass=NullPool)
    records = 0
    after = ("", "")
    start = time.perf_counter()
    with engine.connect() as conn:
        while True:
            rows = conn.execute(text(
                "SELECT r.story_id, r.datestamp, s.title, s.narrator, s.summary, s.interview_date, s.language, "
                "s.tags FROM room_records r LEFT JOIN released_stories s ON s.id = r.story_id "
                "WHERE (r.datestamp > :d OR (r.datestamp = :d AND r.story_id > :i)) "
                "ORDER BY r.datestamp, r.story_id LIMIT :n"), {"d": after[0], "i": after[1], "n": page_size}).all()
            if not rows:
                break
            root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI})
            listing = etree.SubElement(root, f"{{{OAI}}}ListRecords")
            for row in rows:
                record = etree.SubElement(listing, f"{{{OAI}}}record")
                header = etree.SubElement(record, f"{{{OAI}}}header")
                etree.SubElement(header, f"{{{OAI}}}identifier").text = f"oai:localhost:{row.story_id}"
                etree.SubElement(header, f"{{{OAI}}}datestamp").text = str(row.datestamp)[:19]
                dc = etree.SubElement(etree.SubElement(record, f"{{{OAI}}}metadata"), f"{{{OAI_DC}}}dc",
                                      nsmap={"oai_dc": OAI_DC, "dc": DC})
                for name, value in (("title", row.title), ("creator", row.narrator), ("description", row.summary),
                                    ("date", row.interview_date), ("language", row.language)):
                    if value:  # as the archive's mapping: empty elements left out
                        etree.SubElement(dc, f"{{{DC}}}{name}").text = value
            etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            records += len(rows)
            after = (str(rows[-1].datestamp), rows[-1].story_id)
    engine.dispose()
    return time.perf_counter() - start, records


def main() -> None:
    """Build the corpus, release it, run both measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries-repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the instance in DIR and keep it; a later run with the same DIR (or "
                             "bench_scale.py's) reuses it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="escrow-bench-researchers-") as tmp_name:
        instance = published_instance(args.keep or Path(tmp_name), args.n)[0]
        docs = released_documents(instance.database_url)
        queries = make_queries(docs)
        print(f"released; {len(queries)} queries", flush=True)
        times = time_search(instance, queries, args.queries_repeat)
        seconds, per_page, pages = harvest(instance)
        records = sum(per_page)
        bare_seconds, bare_records = bare_harvest(instance.database_url, page_size=max(per_page))

    api, page, raw = times["api"], times["page"], times["raw"]
    rows: list[tuple[object, ...]] = [
        ("API search, ms", len(api), f"{statistics.median(api):.1f}", f"{p95(api):.1f}",
         f"{statistics.median(api) / statistics.median(page):.2f} / {p95(api) / p95(page):.2f} of the page"),
        ("search page, ms", len(page), f"{statistics.median(page):.1f}", f"{p95(page):.1f}",
         f"{statistics.median(page) / statistics.median(raw):.2f} / {p95(page) / p95(raw):.2f} of bare"),
        ("bare whoosh + default highlights, ms", len(raw), f"{statistics.median(raw):.1f}", f"{p95(raw):.1f}", "1.00"),
        (f"OAI-PMH full harvest ({records} records, {len(pages)} pages), s", records, f"{seconds:.1f}", "-",
         f"{seconds / bare_seconds:.2f} of bare"),
        ("  per page, ms", len(pages), f"{statistics.median(pages):.1f}", f"{p95(pages):.1f}", "-"),
        (f"bare keyset + lxml ({bare_records} records), s", bare_records, f"{bare_seconds:.1f}", "-", "1.00"),
    ]
    print_table(rows)
    print("columns: what | count | median (or total) | p95 | ratio (median / p95)")


if __name__ == "__main__":
    main()
