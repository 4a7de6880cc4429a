"""A term's postings in one index segment, read a block at a time, and a segment's field lengths
read at once: what the purge (segments.py) and the block-wise scoring (scoring.py) need.

Whoosh reads postings one at a time through matcher objects, several method calls per
posting; a posting block (up to 128 documents) is one unpickled tuple of arrays, and a
segment's field lengths are one byte per document in one column. Reading them whole reaches
into whoosh's W3 codec, which is why `whoosh-reloaded` is pinned to 2.7.5; the tests of both
users compare what they build with whoosh's own results (tests/test_index_purge.py,
tests/test_scoring.py).

A block is stored compressed with its values (every position and character offset of the
word in each document), so a word most stories hold costs tens of milliseconds to unpack
even when only its documents and weights are wanted. Those (a few bytes per document) are
kept for the most recently searched common words of each segment reader, up to
CACHED_POSTINGS per reader; a reader sees one version of its segment and is dropped with the
shared searcher when the index changes, and with it what was kept (document numbers and
weights only: no text).
"""

from __future__ import annotations

import threading
import weakref
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.reading import SegmentReader
from whoosh.util.numeric import byte_to_length

Block = tuple[Sequence[int], Sequence[float], Sequence[bytes | None]]


def blocks(reader: SegmentReader, fieldname: str, btext: bytes, *, values: bool = True,
           within: Sequence[int] | None = None) -> Iterator[Block]:
    """The term's postings in the segment, deleted documents included, as (document numbers,
    weights, values) a block at a time; without `values`, the values are not read (empty).
    With `within` (document numbers in order), only the blocks that may hold one of them are
    read: a block's header tells its last document without unpacking the block."""
    matcher = reader._terms.matcher(fieldname, btext, reader.schema[fieldname].format)
    if isinstance(matcher, W3LeafMatcher):
        first = 0
        while matcher.is_active():
            last = matcher._maxid
            if within is None or _any_between(within, first, last):
                matcher._read_ids()
                matcher._read_weights()
                if values:
                    matcher._read_values()
                yield matcher._ids, matcher._weights, matcher._values if values else ()
            first = last + 1
            matcher._next_block()
    else:  # a short list inlined in the term's entry
        ids: list[int] = []
        weights: list[float] = []
        found: list[bytes | None] = []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            if values:
                found.append(matcher.value())
            matcher.next()
        yield ids, weights, found


def _any_between(ordered: Sequence[int], first: int, last: int) -> bool:
    at = bisect_left(ordered, first)
    return at < len(ordered) and ordered[at] <= last


def field_lengths(reader: SegmentReader, fieldname: str, default: int = 0) -> list[int]:
    """Each document's length in the field, as whoosh's `doc_field_length` gives it (decoded
    from its one-byte form), for every document of the segment at once; `default` for all when
    the segment has no lengths for the field."""
    count = reader.doc_count_all()
    column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is None:
        return [default] * count
    raw = column._dbfile.get(column._basepos, column._count)
    return [byte_to_length(b) for b in raw] + [0] * (count - len(raw))


def deleted(reader: SegmentReader) -> frozenset[int]:
    """The segment's deleted documents (their postings stay until the segment is rewritten)."""
    return frozenset(reader._perdoc.deleted_docs()) if reader.has_deletions() else frozenset()


CACHED_POSTINGS = 100_000  # documents and weights kept per segment reader: 800 KB
CACHED_FROM = 256  # a word is kept once it is in this many documents of the segment (two blocks)


class _Kept:
    """What is kept of one segment reader: field lengths, and common words' documents and weights."""

    def __init__(self) -> None:
        self.lengths: dict[str, list[int]] = {}
        self.words: OrderedDict[tuple[str, bytes], list[tuple[array[int], array[float]]]] = OrderedDict()
        self.size = 0


_KEPT: weakref.WeakKeyDictionary[SegmentReader, _Kept] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept(reader: SegmentReader) -> _Kept:
    with _KEPT_LOCK:
        kept = _KEPT.get(reader)
        if kept is None:
            kept = _KEPT[reader] = _Kept()
        return kept


def lengths(reader: SegmentReader, fieldname: str) -> list[int]:
    """field_lengths (1 where the segment has none, as whoosh's scorers read them), read once
    per segment reader."""
    kept = _kept(reader)
    found = kept.lengths.get(fieldname)
    if found is None:
        found = kept.lengths[fieldname] = field_lengths(reader, fieldname, default=1)
    return found


def weights(reader: SegmentReader, fieldname: str, btext: bytes,
            within: Sequence[int] | None = None) -> Iterable[Block]:
    """blocks() without values, from what is kept of a common word when it is (and kept from
    this read when the word is common and the read is whole)."""
    kept = _kept(reader)
    key = (fieldname, btext)
    with _KEPT_LOCK:
        found = kept.words.get(key)
        if found is not None:
            kept.words.move_to_end(key)
    if found is None:
        if within is not None or reader.doc_frequency(fieldname, btext) < CACHED_FROM:
            return blocks(reader, fieldname, btext, values=False, within=within)
        found = [(array("I", ids), array("f", w)) for ids, w, _ in blocks(reader, fieldname, btext, values=False)]
        with _KEPT_LOCK:
            if key not in kept.words:
                kept.words[key] = found
                kept.size += sum(len(ids) for ids, _ in found)
                while kept.size > CACHED_POSTINGS and len(kept.words) > 1:
                    _, dropped = kept.words.popitem(last=False)
                    kept.size -= sum(len(ids) for ids, _ in dropped)
    return [(ids, w, ()) for ids, w in found
            if within is None or (ids and _any_between(within, ids[0], ids[-1]))]
