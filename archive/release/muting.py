"""The muted derivative of a recording: every given time range silent, everything else kept.

Each range is exactly zero; a raised-cosine fade-out ends where it starts and a fade-in starts
where it ends (`fade` seconds each, outside the range), so nothing the range held leaks into
the fades and the cut does not click. Outside the ranges and their fades the samples are
unchanged: PCM_16 and 8-bit sources are read as int16 and PCM_24 as int32 (libsndfile
left-aligns 24 bits in it), and written back at the same depth, bit for bit. Every other
encoding (Vorbis, Opus, MP3, float, PCM_32, ADPCM...) is decoded as float and written as
PCM_16, or PCM_24 for the high-resolution ones (float, PCM_32), clipped.

The output is a WAV stream made as it is read, for the chunked encryptor, which cannot seek:
the header goes first, with sizes computed from the frame count libsndfile reports, so the
header is written here (libsndfile writes a WAV header with empty sizes and seeks back to
fill them in on close, which a stream cannot do). A decoder that yields fewer frames than it
reported (an MP3 without a frame index, a truncated file) is padded with silence and one that
yields more is cut, so the stream always matches its header. Memory is one block of frames,
whatever the recording's length. The source is only read and seeked.
"""

from __future__ import annotations

import bisect
import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import soundfile

from archive.errors import InvalidInput

MEDIA_TYPE = "audio/wav"
# Subtypes whose samples are kept bit for bit: read as this dtype, written at this depth.
EXACT = {"PCM_S8": ("int16", 2), "PCM_U8": ("int16", 2), "PCM_16": ("int16", 2), "PCM_24": ("int32", 3)}
HIGH_RESOLUTION = {"PCM_32", "FLOAT", "DOUBLE"}
# WAVE_FORMAT_EXTENSIBLE's speaker masks for the usual layouts; 0 (unassigned) otherwise.
CHANNEL_MASKS = {1: 0x4, 2: 0x3, 3: 0x7, 4: 0x33, 6: 0x3F, 8: 0x63F}
PCM_GUID = bytes.fromhex("0100000000001000800000aa00389b71")
RIFF_LIMIT = 0xFFFFFFFF


class Source(Protocol):
    """What the recording is read from: a binary file, or the vault's decrypting reader."""

    def read(self, size: int = -1, /) -> bytes | None: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


class Refused(InvalidInput):
    """The muted copy cannot be made safely; `reason` is a fixed word for the audit log (never
    the recording's bytes or the story's text)."""

    reason = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="recording")


class UnreadableAudio(Refused):
    """The recording cannot be decoded as audio (never quotes its bytes)."""

    reason = "unreadable"

    def __init__(self, message: str = "the recording cannot be read as audio") -> None:
        super().__init__(message)


class TooLong(Refused):
    """The muted copy would be larger than a WAV file can say it is."""

    reason = "too_long"


def output(subtype: str) -> tuple[str, int]:
    """The dtype a source of this subtype is read as, and the bytes of each written sample."""
    return EXACT.get(subtype, ("float32", 3 if subtype in HIGH_RESOLUTION else 2))


def fits(frames: int, channels: int, subtype: str, limit: int | None = None) -> bool:
    """Whether the muted copy of a recording of this shape fits in one WAV file (RIFF sizes are
    32 bits: 4 GiB; `limit`, for tests, in its place)."""
    data = frames * channels * output(subtype)[1]
    return 80 + data <= (RIFF_LIMIT if limit is None else limit)  # the largest header is 68 bytes


@dataclass(frozen=True)
class Muted:
    """The derivative: its WAV bytes as an iterator (header first) and what is known up front."""

    pieces: Iterator[bytes]
    media_type: str
    frames: int
    rate: int
    channels: int
    length: int
    subtype: str


def mute(source: Source, silences: Sequence[tuple[float, float]], *, fade: float = 0.05,
         block: int = 65536, limit: int | None = None) -> Muted:
    """Make the muted derivative of the recording in `source` (read and seeked, never written);
    TooLong if it would not fit in a WAV file (`limit` bytes in place of 4 GiB, for tests)."""
    if fade < 0 or not math.isfinite(fade) or block < 1:
        raise ValueError("fade must be a finite number of seconds >= 0 and block at least 1")
    frames, rate, channels, subtype = _probe(source)
    dtype, width = output(subtype)
    data = frames * channels * width
    if not fits(frames, channels, subtype, limit):
        raise TooLong("the recording is too long to release as a WAV file (4 GiB)")
    header = wav_header(frames, rate, channels, width)
    length = len(header) + data + data % 2
    ranges = normalise(silences, rate, frames)
    margin = round(fade * rate)
    pieces = _pieces(source, header, frames, channels, dtype, width, _Envelope(ranges, margin), block)
    return Muted(pieces, MEDIA_TYPE, frames, rate, channels, length, "PCM_24" if width == 3 else "PCM_16")


def normalise(silences: Sequence[tuple[float, float]], rate: int, frames: int) -> list[tuple[int, int]]:
    """The ranges as sorted, disjoint [start, end) frame intervals inside the recording."""
    duration = frames / rate
    clamped = []
    for start, end in silences:
        if math.isnan(start) or math.isnan(end):
            raise InvalidInput("a silence's start and end must be numbers of seconds", field="silences")
        # Clamp in seconds first: an infinite end is the recording's end, not an overflow.
        first, last = (min(frames, round(min(max(t, 0.0), duration) * rate)) for t in (start, end))
        if last > first:
            clamped.append((first, last))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(clamped):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def wav_header(frames: int, rate: int, channels: int, width: int) -> bytes:
    """A RIFF/WAVE header for integer PCM of a known length; WAVE_FORMAT_EXTENSIBLE when the
    format needs it (more than two channels or more than 16 bits), as Microsoft's spec says."""
    data = frames * channels * width
    align = channels * width
    basic = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, width * 8)
    if channels > 2 or width > 2:
        extension = struct.pack("<HHI", 22, width * 8, CHANNEL_MASKS.get(channels, 0)) + PCM_GUID
        fmt = struct.pack("<H", 0xFFFE) + basic[2:] + extension
    else:
        fmt = basic
    riff = 4 + 8 + len(fmt) + 8 + data + data % 2  # a chunk of odd size is followed by a pad byte
    return b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + \
        b"data" + struct.pack("<I", data)


def _probe(source: Source) -> tuple[int, int, int, str]:
    try:
        source.seek(0)
        with soundfile.SoundFile(source) as audio:
            frames, rate, channels, subtype = audio.frames, audio.samplerate, audio.channels, audio.subtype
    except (soundfile.SoundFileError, RuntimeError, TypeError, ValueError) as error:
        raise UnreadableAudio() from error
    if frames < 0 or rate < 1 or channels < 1:
        raise UnreadableAudio()
    return frames, rate, channels, subtype


class _Envelope:
    """The gain of each frame: 0 inside a range, a raised-cosine ramp over `margin` frames on
    either side, 1 elsewhere; where two ranges' fades meet, the lower of the two. Applied in
    place to a block, touching only the frames it changes."""

    def __init__(self, ranges: list[tuple[int, int]], margin: int) -> None:
        self._ranges, self._margin = ranges, margin
        self._reach = [end + margin for _, end in ranges]  # sorted, as the ranges are disjoint

    def apply(self, samples: npt.NDArray[Any], first: int) -> None:
        """Scale the block of frames starting at frame `first`."""
        last, margin, ranges = first + len(samples), self._margin, self._ranges
        index = bisect.bisect_right(self._reach, first)
        while index < len(ranges) and ranges[index][0] - margin < last:
            start, end = ranges[index]
            if max(start, first) < min(end, last):
                samples[max(start, first) - first : min(end, last) - first] = 0
            if margin:
                # The fade-out also carries the previous range's fade-in where the two meet (no
                # farther range can be nearer); the fade-in stops where the next fade-out begins.
                previous = ranges[index - 1][1] if index else None
                fade_out = max(start - margin, previous if previous is not None else start - margin)
                self._scale(samples, first, fade_out, start, start, previous)
                following = ranges[index + 1][0] - margin if index + 1 < len(ranges) else end + margin
                self._scale(samples, first, end, min(end + margin, max(end, following)), None, end)
            index += 1

    def _scale(self, samples: npt.NDArray[Any], first: int, low: int, high: int, before: int | None,
               after: int | None) -> None:
        low, high = max(low, first), min(high, first + len(samples))
        if low >= high:
            return
        position = np.arange(low, high)
        gain = np.ones(high - low)
        if before is not None:  # frames count down to a range's start at `before`
            gain = np.minimum(gain, self._ramp(before - position))
        if after is not None:  # frames count up from 1 at a range's end at `after`
            gain = np.minimum(gain, self._ramp(position - after + 1))
        part = samples[low - first : high - first]
        if part.dtype == np.int32:  # 24 bits left-aligned: scale the 24-bit value
            part[:] = np.rint((part >> 8) * gain[:, None]).astype(np.int32) << 8
        elif part.dtype == np.int16:
            part[:] = np.rint(part * gain[:, None])
        else:
            part *= gain[:, None]

    def _ramp(self, distance: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        # cos(pi) is exactly -1, so a frame a full margin away keeps a gain of exactly 1.0.
        return 0.5 - 0.5 * np.cos(np.pi * np.minimum(distance, self._margin) / self._margin)


def _pieces(source: Source, header: bytes, frames: int, channels: int, dtype: str, width: int,
            envelope: _Envelope, block: int) -> Iterator[bytes]:
    yield header
    buffer = np.empty((block, channels), dtype=dtype)
    done = 0
    try:
        source.seek(0)
        with soundfile.SoundFile(source) as audio:
            while done < frames:
                wanted = min(block, frames - done)
                samples = audio.read(wanted, dtype=dtype, always_2d=True, out=buffer[:wanted])
                if len(samples) < wanted:  # the decoder reported more frames than it holds
                    buffer[len(samples) : wanted] = 0
                    samples = buffer[:wanted]
                envelope.apply(samples, done)
                yield _encode(samples, width)
                done += wanted
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise UnreadableAudio() from error
    if (frames * channels * width) % 2:
        yield b"\0"


def _encode(samples: npt.NDArray[Any], width: int) -> bytes:
    if samples.dtype == np.int16:
        return samples.astype("<i2", copy=False).tobytes()
    if samples.dtype == np.int32:
        # Little-endian int32 holding 24 bits in its top three bytes: those bytes are the sample.
        return samples.astype("<i4", copy=False).view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()
    scale = 1 << (8 * width - 1)
    values = np.clip(np.rint(samples * np.float32(scale)), -scale, scale - 1)
    if width == 2:
        return values.astype("<i2").tobytes()
    return values.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
