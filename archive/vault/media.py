"""Recordings sealed at rest: streaming AES-256-GCM in chunks, the STREAM construction.

A sealed file is a header followed by chunks (Hoang, Reyhanitabar, Rogaway and Vizár 2015,
as in Tink's AES-GCM-HKDF streaming and age's payload):

    header  = MAGIC (8) | version (1) | chunk size (4, big-endian) | salt (16) | nonce prefix (7)
    chunk i = AES-256-GCM(file key, nonce_i, plaintext chunk i, aad) = ciphertext | tag (16)
    nonce_i = nonce prefix (7) | i (4, big-endian) | 1 if i is the last chunk else 0 (1)
    aad     = header | binding (story, recording, rendition, format version)
    file key = HKDF-SHA256(recording's data key, salt, info=binding)

Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds 0 to
`chunk size` (an empty recording is one empty last chunk), so the chunk layout, and the
plaintext length, follow from the header and the file's size alone, and a range is served
by decrypting only the chunks that hold it. What each piece stops:

- the counter in the nonce: reordering, duplicating or dropping a chunk in the middle;
- the last-chunk flag: truncation at a chunk boundary (the new final chunk was sealed as
  not last) and appending (the old last chunk is then read as not last);
- the header in every chunk's associated data: a changed chunk size, version or prefix;
- the binding in the associated data and the key derivation: a file copied to another
  story, recording or rendition (say, the original served as the muted copy);
- the per-file salt and random prefix: chunks spliced between two files under the same data
  key (their keys and nonces differ), and nonce reuse across the files of one data key,
  which the per-file key makes a matter of a 128-bit salt colliding, not a 56-bit prefix.

Failures are one error, `RecordingTampered`, whose message says nothing about the content.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archive.errors import InvalidInput, KeyProblem

CHUNK = 1 << 20
MAX_CHUNK = 1 << 26  # a header claiming more is refused before anything that large is read
MAGIC = b"\x89ESCRWM\n"  # not ASCII text, and a line ending that text-mode transfers would mangle
VERSION = 1
KEY_BYTES = 32
TAG_BYTES = 16
SALT_BYTES = 16
PREFIX_BYTES = 7
MAX_CHUNKS = 1 << 32  # the counter's four bytes
_HEADER = struct.Struct(f">{len(MAGIC)}sBI{SALT_BYTES}s{PREFIX_BYTES}s")
HEADER_BYTES = _HEADER.size
_NONCE = struct.Struct(f">{PREFIX_BYTES}sIB")


class RecordingTampered(KeyProblem):
    """A sealed recording failed authentication: altered, truncated, moved, or the wrong key.

    A KeyProblem, like a story payload that fails to unseal (crypto.unseal): an operator's
    matter, which the web shows as a 503 without detail.
    """


class RangeNotSatisfiable(InvalidInput):
    """A byte range outside the recording (HTTP's 416)."""


@dataclass(frozen=True)
class Binding:
    """What a sealed file belongs to: its story, its recording and which rendition it is."""

    story_id: str
    recording_id: str
    rendition: str  # "original", "muted", ...

    def encode(self) -> bytes:
        """The binding as associated data: the format version, then each field length-prefixed."""
        parts = [f"escrow/media/v{VERSION}".encode()]
        parts += [value.encode() for value in (self.story_id, self.recording_id, self.rendition)]
        return b"".join(struct.pack(">I", len(part)) + part for part in parts)


@dataclass(frozen=True)
class Sealed:
    """What `encrypt_stream` wrote: plaintext bytes in, file bytes out, chunks."""

    plaintext_length: int
    ciphertext_length: int
    chunks: int


@dataclass(frozen=True)
class _Header:
    chunk_size: int
    salt: bytes
    prefix: bytes
    raw: bytes


def _file_aead(key: bytes, binding: Binding, salt: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError("a recording's data key is 256 bits")
    info = binding.encode()
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(key))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return _NONCE.pack(prefix, index, last)


def encrypt_stream(key: bytes, binding: Binding, chunks: Iterable[bytes], out: BinaryIO,
                   chunk_size: int = CHUNK) -> Sealed:
    """Seal pieces of any sizes into `out` as header and chunks, holding one chunk beside the one sealed.

    With the caller's current piece that is at most about three chunks in memory, whatever the length.
    `out` is a buffered binary file (its writes are whole).
    """
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be 1 to {MAX_CHUNK} bytes")
    salt, prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
    header = _HEADER.pack(MAGIC, VERSION, chunk_size, salt, prefix)
    aead = _file_aead(key, binding, salt)
    aad = header + binding.encode()
    out.write(header)
    written = len(header)
    count = length = 0

    def seal(chunk: bytes | memoryview, last: bool) -> None:
        nonlocal written, count, length
        if count >= MAX_CHUNKS:
            raise InvalidInput("the recording is too large to seal at this chunk size")
        sealed = aead.encrypt(_nonce(prefix, count, last), chunk, aad)
        out.write(sealed)
        written += len(sealed)
        length += len(chunk)
        count += 1

    # A full chunk is held back until more input shows it is not the last. Immutable input is
    # held by reference (no copy); anything else is copied, as the caller may reuse its buffer.
    # The copy buffer is made only when needed, so aligned immutable input never has one.
    buffer: bytearray | None = None
    filled = 0
    held: memoryview | None = None
    for piece in chunks:
        view = memoryview(piece).cast("B")
        while view:
            if held is not None:
                seal(held, last=False)
                held = None
            if filled == 0 and len(view) >= chunk_size and isinstance(piece, bytes):
                held, view = view[:chunk_size], view[chunk_size:]
                continue
            if buffer is None:
                buffer = bytearray(chunk_size)
            take = min(chunk_size - filled, len(view))
            buffer[filled:filled + take] = view[:take]
            filled += take
            view = view[take:]
            if filled == chunk_size:
                held, filled = memoryview(buffer), 0
    tail = memoryview(buffer)[:filled] if buffer is not None else b""
    seal(held if held is not None else tail, last=True)
    return Sealed(plaintext_length=length, ciphertext_length=written, chunks=count)


def sealed_size(plaintext: int, chunk_size: int = CHUNK) -> int:
    """The bytes a sealed file of `plaintext` bytes takes: the header, and a tag per chunk."""
    return HEADER_BYTES + plaintext + TAG_BYTES * max(1, -(-plaintext // chunk_size))


def _tampered(what: str) -> RecordingTampered:
    return RecordingTampered(f"a sealed recording failed authentication ({what}): "
                             "it was altered, truncated or moved, or this is the wrong key")


def _read_header(source: BinaryIO) -> tuple[_Header, int]:
    """The header, and the file's length in bytes."""
    source.seek(0)
    raw = source.read(HEADER_BYTES)
    if len(raw) != HEADER_BYTES:
        raise _tampered("no header")
    magic, version, chunk_size, salt, prefix = _HEADER.unpack(raw)
    if magic != MAGIC:
        raise _tampered("not a sealed recording")
    if version != VERSION:
        raise _tampered(f"unknown format version {version}")
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise _tampered("impossible chunk size")
    size = source.seek(0, io.SEEK_END)
    return _Header(chunk_size, salt, prefix, raw), size


@dataclass(frozen=True)
class _Layout:
    header: _Header
    chunks: int
    last_sealed: int  # bytes of the last chunk on disk, tag included

    @property
    def plaintext_length(self) -> int:
        return (self.chunks - 1) * self.header.chunk_size + self.last_sealed - TAG_BYTES


def _layout(source: BinaryIO) -> _Layout:
    header, size = _read_header(source)
    body, sealed_chunk = size - HEADER_BYTES, header.chunk_size + TAG_BYTES
    # Every chunk but the last is full and the last holds a tag at least, so the count is the
    # ceiling; a body with no chunk at all, or a last piece shorter than a tag, is cut short.
    chunks = -(-body // sealed_chunk)
    last_sealed = body - (chunks - 1) * sealed_chunk
    if chunks == 0 or last_sealed < TAG_BYTES or chunks > MAX_CHUNKS:
        raise _tampered("cut short")
    return _Layout(header, chunks, last_sealed)


def chunk_size(source: BinaryIO) -> int:
    """The plaintext bytes of every chunk but the last, from the file's header."""
    return _layout(source).header.chunk_size


def plaintext_length(source: BinaryIO) -> int:
    """The recording's length in bytes, from the header and file size (checked as it is decrypted)."""
    return _layout(source).plaintext_length


def _open(key: bytes, binding: Binding, source: BinaryIO, layout: _Layout, first: int,
          stop: int) -> Iterator[bytes]:
    """Decrypt chunks [first, stop), reading only those; the final chunk is opened as last."""
    header = layout.header
    aead = _file_aead(key, binding, header.salt)
    aad = header.raw + binding.encode()
    sealed_chunk = header.chunk_size + TAG_BYTES
    for index in range(first, stop):
        last = index == layout.chunks - 1
        expected = layout.last_sealed if last else sealed_chunk
        source.seek(HEADER_BYTES + index * sealed_chunk)
        data = source.read(expected)
        if len(data) != expected:
            raise _tampered("cut short while reading")
        try:
            plain = aead.decrypt(_nonce(header.prefix, index, last), data, aad)
        except InvalidTag:
            raise _tampered(f"chunk {index}") from None
        yield plain


def decrypt_range(key: bytes, binding: Binding, source: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Plaintext bytes [start, end), decrypting only the chunks that hold them.

    The header and range are checked now, so a refusal comes before any byte is sent; the
    chunks are decrypted as the result is iterated, each authenticated before it is yielded.
    """
    layout = _layout(source)
    if not 0 <= start <= end <= layout.plaintext_length:
        raise RangeNotSatisfiable(f"bytes {start} to {end} are not within the recording's "
                                  f"{layout.plaintext_length} bytes", field="range")
    return _slices(key, binding, source, layout, start, end)


def _slices(key: bytes, binding: Binding, source: BinaryIO, layout: _Layout, start: int,
            end: int) -> Iterator[bytes]:
    if start == end:
        return
    size = layout.header.chunk_size
    first, final = start // size, (end - 1) // size
    for index, plain in enumerate(_open(key, binding, source, layout, first, final + 1), start=first):
        base = index * size
        yield plain[max(start - base, 0):min(end - base, len(plain))]


def decrypt_all(key: bytes, binding: Binding, source: BinaryIO) -> Iterator[bytes]:
    """Every plaintext byte, chunk by chunk, the last verified as last (an empty recording too)."""
    layout = _layout(source)
    return (plain for plain in _open(key, binding, source, layout, 0, layout.chunks) if plain)
