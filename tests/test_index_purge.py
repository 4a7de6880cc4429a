"""A purge rewrites a segment without its deleted documents (reading_room/segments.py, which
writes postings straight to whoosh's codec instead of through its merge): the result must be
exactly the segment whoosh builds from the live documents afresh, and hold nothing of the
deleted ones."""

from __future__ import annotations

import importlib
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh.reading import SegmentReader

from archive.errors import EscrowError
from archive.reading_room.index import Index
from archive.reading_room.search import search

index_module = importlib.import_module("archive.reading_room.index")

WORDS = st.text(alphabet=string.ascii_lowercase[:6], min_size=1, max_size=4)
TEXT = st.lists(WORDS, min_size=0, max_size=300).map(" ".join)


def _doc(n: int, title: str, body: str, tags: list[str], year: int | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": f"{n:016d}", "title": title, "body": body, "summary": body[:40],
                           "tags": ",".join(tags), "language": "en", "level": "full", "content_hash": f"h{n}"}
    if year is not None:
        doc["year"] = year
    return doc


DOCS = st.lists(st.tuples(TEXT, TEXT, st.lists(WORDS, max_size=3), st.none() | st.integers(1900, 2030)),
                min_size=1, max_size=40)


def _snapshot(index: Index) -> dict[str, Any]:
    """Everything a segment holds, by document number: stored fields, lengths, every term's
    statistics and postings (ids, weights, values)."""
    ix = index._open()
    (segment,) = ix._segments()
    reader = SegmentReader(ix.storage, ix.schema, segment)
    try:
        fields = sorted(ix.schema.names())
        docs = [(n, reader.stored_fields(n), [reader.doc_field_length(n, f) for f in fields])
                for n in reader.all_doc_ids()]
        terms = {}
        for fieldname, btext in reader.all_terms():
            info = reader.term_info(fieldname, btext)
            matcher = reader.postings(fieldname, btext)
            postings = []
            while matcher.is_active():
                postings.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            terms[fieldname, btext] = (info.weight(), info.doc_frequency(), info.min_length(),
                                       info.max_length(), info.max_weight(), postings)
        return {"count": reader.doc_count_all(), "docs": docs, "terms": terms,
                "totals": [reader.field_length(f) for f in fields]}
    finally:
        reader.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=DOCS, data=st.data())
def test_a_purged_segment_is_the_segment_of_its_live_documents(tmp_path_factory: pytest.TempPathFactory,
                                                                docs: list[Any], data: st.DataObject) -> None:
    all_docs = [_doc(n, *fields) for n, fields in enumerate(docs)]
    deleted = data.draw(st.sets(st.sampled_from([d["id"] for d in all_docs])))
    live = [d for d in all_docs if d["id"] not in deleted]
    purged = Index(tmp_path_factory.mktemp("purged"))
    purged.ensure()
    purged.write(add=all_docs, delete=())
    purged.write(add=(), delete=sorted(deleted))

    assert purged.purge() == len(deleted)

    assert purged.pending() == 0
    if not live:
        assert purged._open()._segments() == []
        return
    fresh = Index(tmp_path_factory.mktemp("fresh"))
    fresh.ensure()
    fresh.write(add=live, delete=())
    ours, theirs = _snapshot(purged), _snapshot(fresh)
    # A rewritten segment's field total (BM25's average length) is summed from the stored
    # per-document lengths, which whoosh keeps as one byte each (approximate above a few
    # words), as its own merge does; a segment purge left alone keeps its exact totals.
    totals = theirs.pop("totals")
    if deleted:
        totals = [sum(lengths[k] or 0 for _, _, lengths in theirs["docs"]) for k in range(len(totals))]
    assert ours.pop("totals") == totals
    assert ours == theirs
    for doc in live[:3]:  # and search reads it as it reads any segment
        assert [h.id for h in search(purged, f'id:{doc["id"]}').hits] == [doc["id"]]


def test_a_purge_leaves_no_byte_of_a_deleted_document_and_keeps_the_others_searchable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "SEGMENT_DOCS", 4)
    monkeypatch.setattr(index_module, "_SMALL", 1)
    index = Index(tmp_path / "index")
    index.ensure()
    canary = "zqxcanaryword"
    docs = [_doc(n, f"meeting {n}", f"the union hall vote number{n}", ["strike"], 1990 + n) for n in range(12)]
    docs[5]["body"] += f" {canary} spoke"
    docs[9]["body"] += f" {canary} again"
    index.write(add=docs, delete=())

    index.write(add=(), delete=[docs[5]["id"], docs[9]["id"]])  # in two of the three segments

    assert index.pending() == 2
    assert index.purge() == 2
    assert index.pending() == 0 and index.purge() == 0
    assert not any(canary.encode() in p.read_bytes() for p in index.path.iterdir() if p.is_file())
    assert search(index, "union").total == 10
    assert search(index, "year:[1995 TO 2000]").total == 4  # 1995..2000 less 1995 and 1999


def test_a_purge_that_fails_midway_leaves_the_index_as_it_was_and_can_be_run_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index(tmp_path / "index")
    index.ensure()
    index.write(add=[_doc(n, f"meeting {n}", f"hall vote number{n}", [], None) for n in range(6)], delete=())
    index.write(add=(), delete=[f"{2:016d}"])
    segments = importlib.import_module("archive.reading_room.segments")

    def disk_full(*args: object) -> None:
        raise OSError("No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(segments, "_write_postings", disk_full)
        with pytest.raises(OSError):
            index.purge()

    assert index.pending() == 1  # still reported: `escrow index verify` says so
    assert search(index, "hall").total == 5 and search(index, "number2").total == 0
    assert index.purge() == 1  # the writer's lock was let go: the next purge finishes it
    assert index.pending() == 0 and search(index, "hall").total == 5


def test_a_purge_apart_runs_in_a_process_of_its_own_and_reports_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a takedown and a sync use, so that a web worker's other threads keep serving."""
    index = Index(tmp_path / "index")
    index.ensure()
    canary = "zqxcanaryword"
    index.write(add=[_doc(n, f"meeting {n}", f"hall vote number{n} {canary if n == 2 else ''}", [], None)
                     for n in range(6)], delete=())
    index.write(add=(), delete=[f"{2:016d}"])

    def not_here(*args: object) -> None:
        raise AssertionError("the purge ran in the calling process")

    monkeypatch.setattr(index_module, "rewrite", not_here)
    assert index.purge_apart() == 1
    assert index.pending() == 0 and search(index, "hall").total == 5
    assert not any(canary.encode() in p.read_bytes() for p in index.path.iterdir() if p.is_file())
    assert index.purge_apart() == 0  # nothing pending: no process at all

    index.write(add=(), delete=[f"{3:016d}"])
    [segment] = [p for p in index.path.iterdir() if p.suffix == ".seg"]
    segment.write_bytes(segment.read_bytes()[:64])  # the child cannot read the segment it must rewrite
    with pytest.raises(EscrowError, match="stays in the index files until 'escrow index sync'"):
        index.purge_apart()
    assert index.pending() == 1  # still reported: `escrow index verify` says so
