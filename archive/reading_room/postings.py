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
even when only its documents and weights are wanted, and a phrase of common words unpickles
thousands of values. For the most recently searched common words, a segment reader's
documents and weights, and their positions, are kept in arrays (at most CACHED_ITEMS numbers
for the whole process: 64 MiB unless ESCROW_SEARCH_CACHE_MB says otherwise), as are its
field lengths. They are numbers, never text, and they go with the reader: the shared
searcher's readers are dropped when the index changes, so nothing of a taken-down story
stays kept once it is out of the index.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, chain, count
from operator import itemgetter
from pickle import loads
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.formats import Characters, Format
from whoosh.reading import SegmentReader
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length

ArrayT = TypeVar("ArrayT", bound=npt.NDArray[Any])
Block = tuple[Sequence[int] | npt.NDArray[np.int32], Sequence[float] | npt.NDArray[np.float32], Sequence[bytes | None]]


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


_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


def field_lengths(reader: SegmentReader, fieldname: str, default: int = 0) -> npt.NDArray[np.float64]:
    """Each document's length in the field, as whoosh's `doc_field_length` gives it (decoded
    from its one-byte form), for every document of the segment at once; `default` for all when
    the segment has no lengths for the field."""
    count = reader.doc_count_all()
    column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is None:
        return np.full(count, float(default))
    raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
    found = np.zeros(count)
    found[:len(raw)] = _LENGTH_OF_BYTE[raw]
    return found


def deleted(reader: SegmentReader) -> frozenset[int]:
    """The segment's deleted documents (their postings stay until the segment is rewritten)."""
    return frozenset(reader._perdoc.deleted_docs()) if reader.has_deletions() else frozenset()


CACHED_ITEMS = 8_000_000  # documents, weights and positions kept by the process: 64 MiB (Config.search_cache)
CACHED_WORD = 400_000  # the most one word of one segment may take
CACHED_FROM = 32  # a word is kept once it is in this many documents of the segment

Key = tuple[str, str, bytes]  # (what, field, word)


class _Kept:
    """What is kept of one segment reader (one version of one segment of one index): its field
    lengths, and for its most recently searched common words, their documents and weights or
    their positions. One budget for the whole process, least recently used dropped first,
    whichever reader it belongs to: how many segments an index has then changes nothing of
    how much is kept, and the words a search needs are kept in every segment alike."""

    def __init__(self) -> None:
        self.serial = next(_SERIALS)  # never reused, unlike id()
        self.lengths: dict[str, npt.NDArray[np.float64]] = {}
        self.entries: dict[Key, tuple[Any, int]] = {}  # -> (value, items)

    def recall(self, key: Key) -> Any:
        with _KEPT_LOCK:
            found = self.entries.get(key)
            if found is None:
                return None
            _ORDER.move_to_end((self.serial, key))
            return found[0]

    def keep(self, key: Key, value: Any, items: int) -> None:
        global _SIZE
        with _KEPT_LOCK:
            _collect()
            if key in self.entries:
                return
            self.entries[key] = (value, items)
            _ORDER[(self.serial, key)] = (weakref.ref(self), items)
            _SIZE += items
            while _SIZE > CACHED_ITEMS and len(_ORDER) > 1:
                (_, dropped), (owner, size) = _ORDER.popitem(last=False)
                _SIZE -= size  # whether its reader is alive or went meanwhile
                alive = owner()
                if alive is not None:
                    alive.entries.pop(dropped, None)

    @property
    def size(self) -> int:
        """Numbers kept for this reader."""
        return sum(items for _, items in self.entries.values())


_KEPT: weakref.WeakKeyDictionary[SegmentReader, _Kept] = weakref.WeakKeyDictionary()
_SERIALS = count()
# Every reader's entries, oldest first, with their sizes: an entry leaves the budget when it
# leaves this order, and nowhere else.
_ORDER: OrderedDict[tuple[int, Key], tuple[weakref.ref[_Kept], int]] = OrderedDict()
_SIZE = 0  # numbers kept, all readers together
_GONE: deque[tuple[int, list[Key]]] = deque()  # readers gone since, with the keys they had kept
_KEPT_LOCK = threading.Lock()


def _gone(serial: int, entries: dict[Key, tuple[Any, int]]) -> None:
    """A reader went, and its kept arrays with it. Called by the garbage collector, at any
    point of any thread, so it takes no lock: the order and the budget are mended later."""
    _GONE.append((serial, list(entries)))
    entries.clear()


def _collect() -> None:
    """Take the entries of readers that went out of the order and the budget (lock held)."""
    global _SIZE
    while _GONE:
        serial, entries = _GONE.popleft()
        for key in entries:
            found = _ORDER.pop((serial, key), None)
            if found is not None:
                _SIZE -= found[1]


def use_memory(size: int) -> None:
    """Keep at most `size` bytes of postings in this process from now on (one per process: Config's)."""
    global CACHED_ITEMS
    CACHED_ITEMS = max(size // 8, 1)  # 8 bytes a number: a document and its weight, or a position key


def kept(reader: SegmentReader) -> _Kept:
    """What is kept of the reader (dropped with it: the shared searcher's readers are dropped
    when the index changes)."""
    with _KEPT_LOCK:
        found = _KEPT.get(reader)
        if found is None:
            found = _KEPT[reader] = _Kept()
            weakref.finalize(found, _gone, found.serial, found.entries)
        return found


def lengths(reader: SegmentReader, fieldname: str) -> npt.NDArray[np.float64]:
    """field_lengths (1 where the segment has none, as whoosh's scorers read them), kept."""
    store = kept(reader).lengths
    found = store.get(fieldname)
    if found is None:
        found = field_lengths(reader, fieldname, default=1)
        store[fieldname] = _frozen(found)
    return found


def _frozen(values: ArrayT) -> ArrayT:
    """The array, read-only: what is kept is shared by every search of the reader."""
    values.flags.writeable = False
    return values


def weights(reader: SegmentReader, fieldname: str, btext: bytes,
            within: Sequence[int] | None = None) -> Iterable[Block]:
    """blocks() without values. A common word's are read whole once and kept (a word in most
    stories costs tens of milliseconds to unpack, its values included, when read from the
    files); another's are read in the blocks that may hold the documents `within`."""
    store = kept(reader)
    key = ("weights", fieldname, btext)
    found = store.recall(key)
    if found is None:
        if not CACHED_FROM <= reader.doc_frequency(fieldname, btext) <= CACHED_WORD:
            return blocks(reader, fieldname, btext, values=False, within=within)
        found = [(_frozen(np.array(ids, dtype=np.int32)), _frozen(np.array(w, dtype=np.float32)))
                 for ids, w, _ in blocks(reader, fieldname, btext, values=False)]
        store.keep(key, found, sum(len(ids) for ids, _ in found))
    return [(ids, w, ()) for ids, w in found
            if within is None or (len(ids) and _any_between(within, int(ids[0]), int(ids[-1])))]


POSITION_BITS = 32  # a position key is document << 32 | position


def _whole(reader: SegmentReader, fieldname: str, btext: bytes) -> bool:
    """Whether the word's position keys in the segment are read whole and kept (then its
    documents and weights are kept too: CACHED_FROM <= documents <= places <= CACHED_WORD)."""
    return (reader.doc_frequency(fieldname, btext) >= CACHED_FROM
            and reader.frequency(fieldname, btext) <= CACHED_WORD)


def positions(reader: SegmentReader, fieldname: str, btext: bytes,
              within: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Every place of the word in the documents `within` (a mask of the segment's documents),
    as sorted keys (document << POSITION_BITS | position): a phrase stands where its k-th
    word's keys, less k, meet its first word's. A common word's keys are read whole once and
    kept (a phrase of common words then costs array operations, not thousands of unpickled
    values); another's only in the blocks that may hold those documents."""
    store = kept(reader)
    found = store.recall(("positions", fieldname, btext))
    if found is None:
        if _whole(reader, fieldname, btext):
            found = _read_whole(reader, fieldname, btext, store)
        else:
            decode = _block_decoder(reader.schema[fieldname].format)
            wanted = np.flatnonzero(within).tolist()
            parts = [decode(*_only(ids, values, within))
                     for ids, _, values in blocks(reader, fieldname, btext, within=wanted)]
            found = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return found[within[found >> POSITION_BITS]]


def with_positions(reader: SegmentReader, fieldname: str, btext: bytes) -> None:
    """Before a phrase reads a common word's documents and weights, read its postings once for
    them and its positions together, and keep both (each read alone unpacks the same blocks,
    their values included); nothing for a word whose positions are not kept whole, or when
    they already are."""
    if not _whole(reader, fieldname, btext):
        return
    store = kept(reader)
    if store.recall(("positions", fieldname, btext)) is None:
        _read_whole(reader, fieldname, btext, store)


def _read_whole(reader: SegmentReader, fieldname: str, btext: bytes, store: _Kept) -> npt.NDArray[np.int64]:
    """Read a common word's postings once: keep its position keys, and its documents and
    weights as `weights` keeps them unless they are kept already."""
    decode = _block_decoder(reader.schema[fieldname].format)
    read = list(blocks(reader, fieldname, btext))
    found = _frozen(np.concatenate([decode(ids, values) for ids, _, values in read]) if read
                    else np.zeros(0, dtype=np.int64))
    store.keep(("positions", fieldname, btext), found, len(found))
    key = ("weights", fieldname, btext)
    if store.recall(key) is None:
        both = [(_frozen(np.array(ids, dtype=np.int32)), _frozen(np.array(w, dtype=np.float32))) for ids, w, _ in read]
        store.keep(key, both, sum(len(ids) for ids, _ in both))
    return found


def _only(ids: Sequence[int], values: Sequence[bytes | None], within: npt.NDArray[np.bool_]
          ) -> tuple[list[int], list[bytes | None]]:
    kept_ids, kept_values = [], []
    for doc, value in zip(ids, values, strict=True):
        if within[doc]:
            kept_ids.append(doc)
            kept_values.append(value)
    return kept_ids, kept_values


def _block_decoder(fmt: Format) -> Callable[[Sequence[int], Sequence[bytes | None]], npt.NDArray[np.int64]]:
    """A function giving the position keys of a block's documents from their values (None:
    no value), in document order and each document's positions in order."""
    decode = position_decoder(fmt)

    def one_by_one(ids: Sequence[int], values: Sequence[bytes | None]) -> npt.NDArray[np.int64]:
        parts = [np.fromiter(decode(value), dtype=np.int64) + (int(doc) << POSITION_BITS)
                 for doc, value in zip(ids, values, strict=True) if value is not None]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    if type(fmt) is not Characters:
        return one_by_one

    def at_once(ids: Sequence[int], values: Sequence[bytes | None]) -> npt.NDArray[np.int64]:
        # Each value is whoosh's Characters encoding: a count, then a protocol-2 pickle of a list
        # of (position, start, length) deltas, its final STOP sometimes left off. Without their
        # PROTO and STOP, the pickles of a block each push their list: between a MARK and a
        # LIST they unpickle in one call as a list of the lists (a pickle's memo puts come
        # before its gets, so one value's puts never stand for another's).
        if None in values:
            ids = [doc for doc, value in zip(ids, values, strict=True) if value is not None]
            values = [value for value in values if value is not None]
        if not values:
            return np.zeros(0, dtype=np.int64)
        if any(value[_INT_SIZE:_INT_SIZE + 2] != _PROTO_2 for value in values):
            return one_by_one(ids, values)
        start = _INT_SIZE + 2
        bodies = [value[start:-1] if value[-1] == _STOP else value[start:] for value in values]
        lists = loads(b"\x80\x02(" + b"".join(bodies) + b"l.")
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        total = int(counts.sum())
        deltas = np.fromiter(map(_first, chain.from_iterable(lists)), dtype=np.int64, count=total)
        running = np.cumsum(deltas)  # each document's positions: the running sum since its first
        before = np.concatenate(([0], running))[np.cumsum(counts) - counts]  # the sum before each
        return running - np.repeat(before, counts) + np.repeat(np.asarray(ids, dtype=np.int64) << POSITION_BITS,
                                                                counts)

    return at_once


_PROTO_2 = b"\x80\x02"
_STOP = ord(".")


def position_decoder(fmt: Format) -> Callable[[bytes], Iterable[int]]:
    """A function giving the positions of a posting's value in a field of this format. For
    whoosh's Characters format (every text field here), its own decoding with the running
    sum done by itertools rather than a Python loop (a phrase decodes thousands of values)."""
    if type(fmt) is not Characters:
        return cast(Callable[[bytes], Iterable[int]], fmt.decoder("positions"))

    def positions(value: bytes) -> Iterable[int]:
        if not value.endswith(b"."):  # whoosh stores the pickle without its final STOP
            value += b"."
        return accumulate(map(_first, loads(value[_INT_SIZE:])))  # (position, start, length) deltas

    return positions


_first = itemgetter(0)
