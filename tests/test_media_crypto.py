"""Recordings sealed in chunks (archive.vault.media): round trips, ranges, and every attack on the file.

The files are small and their chunks tiny (CHUNK bytes), so a test can flip every bit, cut at
every length and swap every pair of chunks of a several-chunk file.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import random
import tracemalloc
import wave
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from archive.errors import InvalidInput, KeyProblem
from archive.vault import media
from archive.vault.media import Binding, RangeNotSatisfiable, RecordingTampered

CHUNK = 64
SEALED = CHUNK + media.TAG_BYTES
KEY = bytes(range(32))
BINDING = Binding("story-1", "rec-1", "original")
CANARY = b"CANARY-maria-lopez-"  # a plaintext no error message may echo
MAGICS = (b"RIFF", b"fLaC", b"OggS", b"ID3")


def seal(data: bytes, *, pieces: list[bytes] | None = None, key: bytes = KEY, binding: Binding = BINDING,
         chunk_size: int = CHUNK) -> bytes:
    """The sealed file for `data` (given as `pieces` when set)."""
    out = io.BytesIO()
    sealed = media.encrypt_stream(key, binding, [data] if pieces is None else pieces, out, chunk_size=chunk_size)
    blob = out.getvalue()
    assert sealed.ciphertext_length == len(blob)
    return blob


def unseal(blob: bytes, *, key: bytes = KEY, binding: Binding = BINDING) -> bytes:
    """Every plaintext byte of a sealed file."""
    return b"".join(media.decrypt_all(key, binding, io.BytesIO(blob)))


def read_range(blob: bytes, start: int, end: int, *, key: bytes = KEY, binding: Binding = BINDING) -> bytes:
    """Plaintext bytes [start, end) of a sealed file."""
    return b"".join(media.decrypt_range(key, binding, io.BytesIO(blob), start, end))


def assert_refused(blob: bytes, *, key: bytes = KEY, binding: Binding = BINDING) -> None:
    """Opening the file raises RecordingTampered, and nothing of the plaintext is in the message."""
    with pytest.raises(RecordingTampered) as refused:
        unseal(blob, key=key, binding=binding)
    message = str(refused.value).encode()
    assert CANARY[:6] not in message and KEY.hex().encode() not in message


def chunks_of(blob: bytes) -> list[bytes]:
    """A sealed file's chunks, as stored."""
    body = blob[media.HEADER_BYTES:]
    return [body[i:i + SEALED] for i in range(0, len(body), SEALED)]


def plaintext(size: int) -> bytes:
    """Recognisable plaintext: the canary repeated, then cut to `size`."""
    return (CANARY * (size // len(CANARY) + 1))[:size]


def wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV file holding a 440 Hz tone."""
    frames = b"".join(int(12000 * math.sin(2 * math.pi * 440 * i / rate)).to_bytes(2, "little", signed=True)
                      for i in range(int(seconds * rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return out.getvalue()


class Sink:
    """A write-only file that keeps nothing, for measuring the encryptor alone."""

    def write(self, data: Any) -> int:
        return len(data)


# Round trips


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK, 5 * CHUNK + 7])
def test_round_trip_around_chunk_boundaries(size: int) -> None:
    data = plaintext(size)
    blob = seal(data)
    assert unseal(blob) == data
    assert media.plaintext_length(io.BytesIO(blob)) == size
    assert read_range(blob, 0, size) == data
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) == media.HEADER_BYTES + size + chunks * media.TAG_BYTES


def test_encrypt_reports_plaintext_and_file_lengths() -> None:
    out = io.BytesIO()
    sealed = media.encrypt_stream(KEY, BINDING, [plaintext(100), plaintext(100)], out, chunk_size=CHUNK)
    assert sealed == media.Sealed(plaintext_length=200, ciphertext_length=len(out.getvalue()), chunks=4)


def test_empty_recording_is_a_header_and_one_empty_last_chunk() -> None:
    blob = seal(b"", pieces=[])
    assert len(blob) == media.HEADER_BYTES + media.TAG_BYTES
    assert unseal(blob) == b""
    assert_refused(blob[:media.HEADER_BYTES])


def test_a_reused_input_buffer_is_copied_not_held() -> None:
    """A reader filling one bytearray over and over (readinto) still seals what it read each time."""
    expected = [bytes([i]) * CHUNK for i in range(6)]

    def reader() -> Iterator[bytearray]:
        buffer = bytearray(CHUNK)
        for block in expected:
            buffer[:] = block
            yield buffer

    assert unseal(seal(b"", pieces=list(reader()))) != b"".join(expected)  # the list holds one buffer, 6 times
    out = io.BytesIO()
    media.encrypt_stream(KEY, BINDING, reader(), out, chunk_size=CHUNK)
    assert unseal(out.getvalue()) == b"".join(expected)


piece_kinds = st.sampled_from([bytes, bytearray, memoryview])


@given(data=st.binary(max_size=700), cuts=st.lists(st.integers(0, 700), max_size=12),
       kinds=st.lists(piece_kinds, min_size=13, max_size=13), chunk_size=st.integers(1, 100))
def test_any_input_split_into_any_pieces_round_trips(data: bytes, cuts: list[int], kinds: list[type],
                                                     chunk_size: int) -> None:
    edges = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    pieces = [kind(data[a:b]) for kind, (a, b) in zip(kinds, itertools.pairwise(edges), strict=False)]
    blob = seal(data, pieces=pieces, chunk_size=chunk_size)
    assert unseal(blob) == data
    assert len(blob) == media.HEADER_BYTES + len(data) + max(1, -(-len(data) // chunk_size)) * media.TAG_BYTES


@given(data=st.binary(max_size=500), chunk_size=st.integers(1, 80), picks=st.data())
def test_any_range_is_the_same_slice_of_the_plaintext(data: bytes, chunk_size: int, picks: st.DataObject) -> None:
    blob = seal(data, chunk_size=chunk_size)
    start = picks.draw(st.integers(0, len(data)))
    end = picks.draw(st.integers(start, len(data)))
    assert read_range(blob, start, end) == data[start:end]


def test_a_range_reads_only_the_chunks_that_hold_it() -> None:
    blob = seal(plaintext(10 * CHUNK))
    damaged = bytearray(blob)
    for index in (0, 1, 5, 9):  # every chunk but 2, 3 and 4 is damaged
        damaged[media.HEADER_BYTES + index * SEALED] ^= 1
    assert read_range(bytes(damaged), 2 * CHUNK + 3, 5 * CHUNK) == plaintext(10 * CHUNK)[2 * CHUNK + 3:5 * CHUNK]
    with pytest.raises(RecordingTampered):
        read_range(bytes(damaged), 2 * CHUNK, 5 * CHUNK + 1)


@pytest.mark.parametrize(("start", "end"), [(0, 3 * CHUNK + 1), (-1, 5), (10, 9), (3 * CHUNK + 1, 3 * CHUNK + 1)])
def test_a_range_past_the_recording_is_refused_before_any_chunk_is_read(start: int, end: int) -> None:
    blob = seal(plaintext(3 * CHUNK))
    with pytest.raises(RangeNotSatisfiable) as refused:
        media.decrypt_range(KEY, BINDING, io.BytesIO(blob), start, end)  # not iterated: refused at the call
    assert isinstance(refused.value, InvalidInput) and CANARY[:6].decode() not in str(refused.value)


def test_an_empty_range_at_the_end_is_empty() -> None:
    blob = seal(plaintext(3 * CHUNK))
    assert read_range(blob, 3 * CHUNK, 3 * CHUNK) == b""


# Attacks on the stored file


def test_tamper_error_is_a_key_problem() -> None:
    """So the web's one mapping shows it as an operator's matter (503), without detail."""
    assert issubclass(RecordingTampered, KeyProblem)


def test_every_single_flipped_bit_is_detected_header_included() -> None:
    blob = seal(plaintext(3 * CHUNK + 5))
    for bit in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert_refused(bytes(flipped))


@given(data=st.binary(max_size=300), chunk_size=st.integers(1, 64), picks=st.data())
def test_a_flipped_bit_in_any_file_is_detected(data: bytes, chunk_size: int, picks: st.DataObject) -> None:
    blob = bytearray(seal(data, chunk_size=chunk_size))
    bit = picks.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    assert_refused(bytes(blob))


def test_truncation_at_every_length_is_detected() -> None:
    """Every cut: inside the header, at each chunk boundary and mid-chunk."""
    blob = seal(plaintext(4 * CHUNK))
    for length in range(len(blob)):
        assert_refused(blob[:length])


def test_a_file_cut_at_a_chunk_boundary_never_serves_a_complete_tail() -> None:
    data = plaintext(4 * CHUNK)
    blob = seal(data)
    for chunks in (1, 2, 3):
        cut = blob[:media.HEADER_BYTES + chunks * SEALED]
        length = media.plaintext_length(io.BytesIO(cut))
        assert length == chunks * CHUNK
        if chunks > 1:  # what it still holds before its final chunk is authentic, and served
            assert read_range(cut, 0, CHUNK - 1) == data[:CHUNK - 1]
        with pytest.raises(RecordingTampered):
            read_range(cut, length - 1, length)


@given(data=st.binary(min_size=1, max_size=300), chunk_size=st.integers(1, 64), picks=st.data())
def test_any_truncation_or_extension_is_detected(data: bytes, chunk_size: int, picks: st.DataObject) -> None:
    blob = seal(data, chunk_size=chunk_size)
    assert_refused(blob[:picks.draw(st.integers(0, len(blob) - 1))])
    assert_refused(blob + picks.draw(st.binary(min_size=1, max_size=2 * (chunk_size + media.TAG_BYTES))))


def test_every_swap_of_two_chunks_is_detected() -> None:
    data = plaintext(5 * CHUNK)  # full chunks only, so a swap keeps every length in place
    blob = seal(data)
    header, chunks = blob[:media.HEADER_BYTES], chunks_of(blob)
    for i, j in itertools.combinations(range(len(chunks)), 2):
        swapped = list(chunks)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        assert_refused(header + b"".join(swapped))
        with pytest.raises(RecordingTampered):
            read_range(header + b"".join(swapped), i * CHUNK, i * CHUNK + 1)


def test_a_duplicated_or_dropped_chunk_is_detected() -> None:
    blob = seal(plaintext(4 * CHUNK + 9))
    header, chunks = blob[:media.HEADER_BYTES], chunks_of(blob)
    for i in range(len(chunks)):
        assert_refused(header + b"".join(chunks[:i + 1] + chunks[i:]))
        assert_refused(header + b"".join(chunks[:i] + chunks[i + 1:]))


def test_a_chunk_spliced_from_another_file_under_the_same_key_is_detected() -> None:
    data = plaintext(4 * CHUNK)
    first, second = seal(data), seal(data)  # same key, binding and plaintext: only salt and prefix differ
    assert first != second
    for i in range(4):
        spliced = chunks_of(first)
        spliced[i] = chunks_of(second)[i]
        assert_refused(first[:media.HEADER_BYTES] + b"".join(spliced))
    assert_refused(second[:media.HEADER_BYTES] + first[media.HEADER_BYTES:])


@pytest.mark.parametrize("other", [Binding("story-2", "rec-1", "original"), Binding("story-1", "rec-2", "original"),
                                   Binding("story-1", "rec-1", "muted"), Binding("story-1rec-1", "", "original"),
                                   Binding("story-", "1rec-1", "original")])
def test_a_file_opened_under_another_binding_is_refused(other: Binding) -> None:
    blob = seal(plaintext(2 * CHUNK + 3))
    assert_refused(blob, binding=other)
    with pytest.raises(RecordingTampered):
        read_range(blob, 0, 1, binding=other)


def test_a_file_opened_with_the_wrong_key_is_refused() -> None:
    blob = seal(plaintext(2 * CHUNK + 3))
    assert_refused(blob, key=os.urandom(32))
    with pytest.raises(RecordingTampered):
        read_range(blob, CHUNK, CHUNK + 1, key=os.urandom(32))


def test_a_file_that_is_not_a_sealed_recording_is_refused() -> None:
    assert_refused(wav())
    assert_refused(b"")


# What is at rest


@pytest.mark.parametrize("magic", MAGICS)
def test_a_sealed_file_holds_no_magic_bytes_and_no_run_of_the_plaintext(monkeypatch: pytest.MonkeyPatch,
                                                                        magic: bytes) -> None:
    # Salt and prefix from a seeded generator, so the ciphertext (and this test) is deterministic:
    # a random 3-byte "ID3" turns up by chance in about one 16 MB stretch of ciphertext in each.
    monkeypatch.setattr(media.os, "urandom", random.Random(16).randbytes)
    recording = wav() if magic == b"RIFF" else magic + wav()[4:]
    blob = seal(recording, chunk_size=1024)
    assert recording.startswith(magic) and unseal(blob) == recording
    assert not any(m in blob for m in MAGICS)
    runs = {recording[i:i + 8] for i in range(len(recording) - 8)}
    assert not any(blob[i:i + 8] in runs for i in range(len(blob) - 8))


class NonceLog:
    """AESGCM that records every (key, nonce) it seals under."""

    log: list[tuple[bytes, bytes]] = []

    def __init__(self, key: bytes) -> None:
        self.key, self.inner = key, AESGCM(key)

    def encrypt(self, nonce: bytes, data: Any, aad: bytes) -> bytes:
        NonceLog.log.append((self.key, nonce))
        return self.inner.encrypt(nonce, data, aad)


def test_nonces_never_repeat_across_chunks_or_files(monkeypatch: pytest.MonkeyPatch) -> None:
    NonceLog.log = []
    monkeypatch.setattr(media, "AESGCM", NonceLog)
    for size in (0, 1, CHUNK, 4 * CHUNK + 1) * 5:
        before = len(NonceLog.log)
        seal(plaintext(size))
        nonces = [nonce for _, nonce in NonceLog.log[before:]]
        prefix = nonces[0][:media.PREFIX_BYTES]
        assert [n[:media.PREFIX_BYTES] for n in nonces] == [prefix] * len(nonces)
        assert [int.from_bytes(n[7:11]) for n in nonces] == list(range(len(nonces)))
        assert [n[11] for n in nonces] == [0] * (len(nonces) - 1) + [1]
    assert len({nonce for _, nonce in NonceLog.log}) == len(NonceLog.log)
    assert len({key for key, _ in NonceLog.log}) == 20  # a key of its own for each file, from one data key


# Memory


def test_sealing_a_long_stream_holds_a_few_chunks_at_most() -> None:
    chunk_size = 256 * 1024

    def recording() -> Iterator[bytes]:
        for i in range(64):
            yield bytes([i]) * chunk_size

    def odd_pieces() -> Iterator[bytearray]:  # unaligned and mutable: the copying path
        for i in range(64):
            yield bytearray([i]) * (chunk_size - 1000)

    for source in (recording, odd_pieces):
        tracemalloc.start()
        try:
            sealed = media.encrypt_stream(KEY, BINDING, source(), Sink(), chunk_size=chunk_size)  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert sealed.chunks >= 63
        assert peak < 4 * chunk_size + 64 * 1024, (source.__name__, peak)


def test_reading_a_long_recording_holds_a_few_chunks_at_most(tmp_path: Any) -> None:
    chunk_size = 256 * 1024
    path = tmp_path / "sealed"
    with path.open("wb") as out:
        media.encrypt_stream(KEY, BINDING, (bytes([i]) * chunk_size for i in range(64)), out, chunk_size=chunk_size)
    with path.open("rb") as source:
        tracemalloc.start()
        try:
            total = sum(len(plain) for plain in media.decrypt_all(KEY, BINDING, source))
            total += sum(len(plain) for plain in media.decrypt_range(KEY, BINDING, source, 5, 60 * chunk_size))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert total == 64 * chunk_size + 60 * chunk_size - 5
    assert peak < 4 * chunk_size + 64 * 1024, peak
