"""A sealed recording opened for listening: decrypted range by range as a player asks, never
as a whole and never to disk.

Only the vault unwraps a recording's data key; the doors get an `Opened` that yields plaintext
bytes of the range they ask for. The first chunk of a range is decrypted before anything is
sent or audited, so a tampered file is refused with a clean error; a later chunk that fails,
or a file removed meanwhile (a withdrawal, the takedown of a muted copy), ends the answer short.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archive.errors import KeyProblem
from archive.vault import media, recordings
from archive.vault.keys import Keyring
from archive.vault.media import RangeNotSatisfiable
from archive.vault.models import Recording

Audited = Callable[[int, int], None]


@dataclass(frozen=True)
class Opened:
    """A recording ready to be read range by range: an organizer's own sealed one (each read
    audited, folded), or a released rendition."""

    id: str
    story_id: str
    media_type: str
    length: int  # plaintext bytes
    _read: Callable[[int, int], Iterator[bytes]] = field(repr=False)

    def read(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext bytes [start, end), audited now (folded), decrypted chunk by chunk as iterated
        (the first now); RangeNotSatisfiable outside the recording, before anything is audited."""
        return self._read(start, end)


def opened(keyring: Keyring, root: Path, recording: Recording, audited: Audited | None) -> Opened:
    """The recording, its key unwrapped, ready to be read; `audited(start, end)` is called for
    each range read once its first chunk has opened (None: a released rendition, not audited)."""
    binding = media.Binding(recording.story_id, recording.id, recording.rendition)
    key = recordings.data_key(keyring, recording)
    file = recordings.path(root, recording)
    try:
        with file.open("rb") as source:
            length = media.plaintext_length(source)
    except FileNotFoundError:
        # A row without its file: the media folder is not the one the database expects.
        raise KeyProblem("a sealed recording's file is missing from the media folder") from None

    def read(start: int, end: int) -> Iterator[bytes]:
        if not 0 <= start <= end <= length:
            raise RangeNotSatisfiable(f"bytes {start} to {end} are not within the recording's {length} bytes",
                                      field="range")
        chunks = _decrypted(key, binding, file, start, end)
        # The first chunk is opened now: a tampered file is refused before any header is sent
        # or the read audited (a later chunk that fails cuts the response short instead).
        first = next(chunks, b"")
        if audited is not None:
            audited(start, end)
        return _resumed(first, chunks)

    return Opened(recording.id, recording.story_id, recording.media_type, length, read)


def _decrypted(key: bytes, binding: media.Binding, file: Path, start: int,
               end: int) -> Generator[bytes, None, None]:
    # Open until the response ends or is closed (a player that stops listening). A withdrawal,
    # or a takedown of a muted copy, removes the file: an answer still under way ends there,
    # short, rather than going on from the open file (a copy released in full is the sealed
    # original, which a takedown keeps: an answer begun before it runs to its end).
    with file.open("rb") as source:
        for piece in media.decrypt_range(key, binding, source, start, end):
            if os.fstat(source.fileno()).st_nlink == 0:
                return
            yield piece


def _resumed(first: bytes, rest: Generator[bytes, None, None]) -> Iterator[bytes]:
    try:
        if first:
            yield first
        yield from rest
    finally:
        rest.close()  # closes the file, even when the response is closed before its end
