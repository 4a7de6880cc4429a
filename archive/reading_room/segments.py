"""Rewriting one index segment without its deleted documents: the purge of a takedown.

Whoosh's own merge (`writer.add_reader`) sends every posting of the segment through the
writer's external sorting pool and looks up each posting's field length through a column
reader: 26.6 s for a 2,000-story segment of 9 KB stories on two cores. A segment's postings
are already in the order a new segment needs (field, term, document; the documents keep
their order), so this writes them straight to the new segment's field writer, a block at a
time, with the field lengths read once into lists: the same segment in 12.9 s.

It reaches into whoosh's W3 codec (the writer's per-document and field writers, a posting
block's ids, weights and values), which is why `whoosh-reloaded` is pinned to 2.7.5; the
property test in tests/test_index_purge.py compares every stored field, length and posting
of a rewritten segment with the segment whoosh builds from the same documents afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.reading import SegmentReader

from archive.reading_room.postings import blocks


def rewrite(writer: Any, segment_id: str) -> int:
    """Commit, through `writer` (fresh, nothing added), the index with segment `segment_id`
    replaced by a copy of its live documents; the old segment's files are deleted. Returns
    how many deleted documents were dropped (0 if the segment is no longer in the index)."""
    old = next((s for s in writer.segments if s.segment_id() == segment_id), None)
    if old is None:  # another process purged it before this writer took the lock
        writer.cancel()
        return 0
    reader = SegmentReader(writer.storage, writer.schema, old)
    try:
        fields = set(writer.schema.names()) | {f for f in reader.indexed_field_names() if f in writer.schema}
        docmap = writer.write_per_doc(fields, reader)  # old docnum -> new, live documents only
        if docmap is None:
            docmap = {n: n for n in range(old.doc_count_all())}
        writer.perdocwriter.close()
        lengths = _lengths(writer, fields)
        _write_postings(writer.fieldwriter, writer.schema, reader, docmap, lengths)
        writer.fieldwriter.close()
        writer.pool.cleanup()
        writer._assemble_segment()
        kept = [s for s in writer.segments if s.segment_id() != segment_id]
        new = writer.get_segment()
        writer._commit_toc(kept + [new] if new.doc_count_all() else kept)
    except BaseException:
        writer.cancel()  # the old segment stays, deletions and all: `pending` still reports it
        raise
    finally:
        reader.close()
    writer._finish()
    return old.doc_count_all() - len(docmap)


def _lengths(writer: Any, fields: set[str]) -> dict[str, list[int]]:
    """Each scorable field's length in every document of the new segment, read once."""
    reader = writer.per_document_reader()
    try:
        count = writer.docnum
        return {name: [reader.doc_field_length(n, name) for n in range(count)]
                for name in fields if writer.schema[name].scorable}
    finally:
        reader.close()


def _write_postings(fieldwriter: Any, schema: Any, reader: SegmentReader, docmap: dict[int, int],
                    lengths: dict[str, list[int]]) -> None:
    field = None
    for fieldname, btext in reader.all_terms():
        postings = list(_live(reader, fieldname, btext, docmap, lengths.get(fieldname)))
        if not postings:
            continue  # a term only deleted documents held: gone from the dictionary too
        if fieldname != field:
            if field is not None:
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
            field = fieldname
        fieldwriter.start_term(btext)
        add = fieldwriter._postwriter.add_posting
        for docnum, weight, value, length in postings:
            add(docnum, weight, value, length)
        fieldwriter.finish_term()
    if field is not None:
        fieldwriter.finish_field()


def _live(reader: SegmentReader, fieldname: str, btext: bytes, docmap: dict[int, int],
          lengths: list[int] | None) -> Iterator[tuple[int, float, bytes, int]]:
    """The term's postings of live documents, renumbered: (docnum, weight, value, length)."""
    for ids, weights, values in blocks(reader, fieldname, btext):
        for old, weight, value in zip(ids, weights, values, strict=True):
            new = docmap.get(old)
            if new is not None:
                yield new, weight, value or b"", lengths[new] if lengths else 0
