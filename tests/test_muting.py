"""The muted derivative of a recording (archive.release.muting): silent inside every range, bit for
bit the original outside the ranges and their fades, streamed without seeking in bounded memory.

Recordings are generated here: a 440 Hz tone with a little seeded noise, written by soundfile.
"""

from __future__ import annotations

import io
import math
import struct
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import InvalidInput
from archive.release import muting
from archive.release.muting import Muted, UnreadableAudio, mute, wav_header
from archive.vault import media
from archive.vault.recordings import Reader

RATE = 44_100
SECONDS = 2.0
FADE = 0.05
CANARY = b"CANARY-maria-lopez-"  # bytes no error message may echo
# The dtype libsndfile gives a subtype's samples exactly in (24 bits left-aligned in int32).
EXACT = {"PCM_16": "int16", "PCM_24": "int32"}


def tone(frames: int, channels: int, rate: int = RATE, *, seed: int = 7, offset: int = 0) -> npt.NDArray[np.float64]:
    """A 440 Hz tone at half scale plus a little seeded noise, frames × channels."""
    t = (np.arange(frames) + offset) / rate
    noise = np.random.default_rng(seed).normal(0, 0.01, (frames, channels))
    return 0.5 * np.sin(2 * np.pi * 440 * t)[:, None] + noise


def recording(fmt: str = "WAV", subtype: str = "PCM_16", channels: int = 1, *, rate: int = RATE,
              seconds: float = SECONDS) -> bytes:
    """A generated recording's file bytes."""
    out = io.BytesIO()
    soundfile.write(out, tone(round(rate * seconds), channels, rate), rate, subtype=subtype, format=fmt)
    return out.getvalue()


def samples(data: bytes, dtype: str) -> npt.NDArray[Any]:
    """A file's samples as libsndfile decodes them, frames × channels."""
    values, _ = soundfile.read(io.BytesIO(data), dtype=dtype, always_2d=True)
    return values


def muted(data: bytes, silences: Sequence[tuple[float, float]], **options: Any) -> tuple[Muted, bytes]:
    """The derivative and its bytes, checking the pieces add up to the length announced."""
    result = mute(io.BytesIO(data), silences, **options)
    pieces = list(result.pieces)
    assert sum(len(piece) for piece in pieces) == result.length
    return result, b"".join(pieces)


def frames_of(silences: Sequence[tuple[float, float]], rate: int, frames: int) -> list[tuple[int, int]]:
    """The ranges in frames as the test understands them: clamped, empty ones dropped, unmerged."""
    def clamp(t: float) -> int:
        return min(frames, round(min(max(t, 0.0), frames / rate) * rate))

    return [(clamp(a), clamp(b)) for a, b in silences if clamp(b) > clamp(a)]


def assert_muted(before: npt.NDArray[Any], after: npt.NDArray[Any], silences: Sequence[tuple[float, float]],
                 rate: int, fade: float = FADE) -> None:
    """Zero inside every range, never louder in the margins, identical everywhere else."""
    assert after.shape == before.shape and after.dtype == before.dtype
    margin = round(fade * rate)
    untouched = np.ones(len(before), dtype=bool)
    for start, end in frames_of(silences, rate, len(before)):
        inside = after[start:end]
        assert not inside.any()
        assert rms_dbfs(inside, before.dtype) < -60
        untouched[max(0, start - margin) : end + margin] = False
        edges = np.r_[max(0, start - margin) : start, end : min(len(before), end + margin)]
        assert (np.abs(after[edges].astype(np.int64)) <= np.abs(before[edges].astype(np.int64))).all()
    assert np.array_equal(after[untouched], before[untouched])


def expected_16_bit(before: npt.NDArray[np.int16], silences: Sequence[tuple[float, float]], rate: int,
                    fade: float = FADE) -> npt.NDArray[np.int16]:
    """The derivative computed frame by frame from the definition: the lowest gain any range gives
    (0 inside, a raised cosine over the margin on each side), unmerged ranges taken one by one."""
    margin = round(fade * rate)
    position = np.arange(len(before))
    gain = np.ones(len(before))
    for start, end in frames_of(silences, rate, len(before)):
        distance = np.where(position < start, start - position, np.maximum(0, position - end + 1))
        ramp = (0.5 - 0.5 * np.cos(np.pi * np.minimum(distance, margin) / margin) if margin
                else (distance > 0).astype(np.float64))
        gain = np.minimum(gain, ramp)
    return np.rint(before * gain[:, None]).astype(np.int16)


def rms_dbfs(values: npt.NDArray[Any], dtype: np.dtype[Any]) -> float:
    """The RMS of integer samples in dBFS (-inf for silence)."""
    if values.size == 0:
        return -math.inf
    full = float(np.iinfo(dtype).max)
    rms = math.sqrt(float(np.mean((values.astype(np.float64) / full) ** 2)))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


LOSSLESS = [
    ("WAV", "PCM_16", 1),
    ("WAV", "PCM_16", 2),
    ("WAV", "PCM_24", 1),
    ("WAV", "PCM_24", 2),
    ("FLAC", "PCM_16", 1),
    ("FLAC", "PCM_16", 2),
    ("FLAC", "PCM_24", 2),
]


@pytest.mark.parametrize(("fmt", "subtype", "channels"), LOSSLESS)
def test_range_is_silent_and_everything_outside_its_fades_is_bit_identical(fmt: str, subtype: str,
                                                                          channels: int) -> None:
    data = recording(fmt, subtype, channels)
    result, out = muted(data, [(0.8, 1.2)])
    info = soundfile.info(io.BytesIO(out))
    assert (result.media_type, info.format, info.subtype) == ("audio/wav", "WAV" if subtype == "PCM_16" and
                                                              channels <= 2 else "WAVEX", subtype)
    assert (info.frames, info.samplerate, info.channels) == (round(RATE * SECONDS), RATE, channels)
    assert (result.frames, result.rate, result.channels, result.subtype) == (info.frames, RATE, channels, subtype)
    assert_muted(samples(data, EXACT[subtype]), samples(out, EXACT[subtype]), [(0.8, 1.2)], RATE)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_fades_fall_to_the_range_and_rise_after_it_monotonically(subtype: str) -> None:
    data = recording("WAV", subtype, 1)
    _, out = muted(data, [(0.8, 1.2)])
    before, after = samples(data, "float64")[:, 0], samples(out, "float64")[:, 0]
    margin, start, end = round(FADE * RATE), round(0.8 * RATE), round(1.2 * RATE)
    loud = np.abs(before) > 0.2  # where the gain can be read from the samples precisely
    quantum = 2.0 ** -(15 if subtype == "PCM_16" else 23)
    tolerance = 2 * quantum / 0.2
    fall = np.arange(start - margin, start)
    gains_out = (after[fall] / before[fall])[loud[fall]]
    rise = np.arange(end, end + margin)
    gains_in = (after[rise] / before[rise])[loud[rise]]
    for gains, direction in ((gains_out, -1), (gains_in, 1)):
        assert len(gains) > margin // 3
        assert ((gains >= -tolerance) & (gains <= 1 + tolerance)).all()
        assert (direction * np.diff(gains) >= -tolerance).all()
    assert gains_out[0] > 0.95 and gains_out[-1] < 0.05 and gains_in[0] < 0.05 and gains_in[-1] > 0.95


NORMALISED = {
    "at the start": [(0.0, 0.3)],
    "at the end": [(1.7, 2.0)],
    "overlapping": [(0.5, 0.9), (0.8, 1.2)],
    "unsorted": [(1.5, 1.7), (0.2, 0.4)],
    "nested": [(0.5, 1.5), (0.7, 0.8)],
    "past the end": [(1.8, 99.0)],
    "wholly past the end": [(5.0, 6.0)],
    "negative": [(-5.0, 0.2)],
    "wholly negative": [(-2.0, -1.0)],
    "zero length": [(1.0, 1.0)],
    "backwards": [(1.2, 0.8)],
    "infinite": [(-math.inf, 0.1), (1.9, math.inf)],
    "the whole recording": [(0.0, SECONDS)],
    "fades that meet": [(0.5, 0.55), (0.6, 0.65)],
    "none": [],
}


@pytest.mark.parametrize("silences", NORMALISED.values(), ids=NORMALISED.keys())
def test_ranges_are_clamped_merged_and_sorted(silences: list[tuple[float, float]]) -> None:
    data = recording("WAV", "PCM_16", 2)
    _, out = muted(data, silences)
    before, after = samples(data, "int16"), samples(out, "int16")
    assert_muted(before, after, silences, RATE)
    assert np.array_equal(after, expected_16_bit(before, silences, RATE))


@pytest.mark.parametrize("silences", [[(1.0, 1.0)], [(5.0, 6.0)], [(-2.0, -1.0)], []])
def test_nothing_to_mute_gives_the_same_samples(silences: list[tuple[float, float]]) -> None:
    data = recording("FLAC", "PCM_24", 1)
    _, out = muted(data, silences)
    assert np.array_equal(samples(out, "int32"), samples(data, "int32"))


def test_no_fade_mutes_exactly_the_range() -> None:
    data = recording("WAV", "PCM_16", 1)
    _, out = muted(data, [(0.5, 0.6)], fade=0)
    before, after = samples(data, "int16"), samples(out, "int16")
    start, end = round(0.5 * RATE), round(0.6 * RATE)
    assert not after[start:end].any()
    assert np.array_equal(after[:start], before[:start]) and np.array_equal(after[end:], before[end:])


@pytest.mark.parametrize(("fmt", "subtype", "rate"), [
    ("OGG", "VORBIS", RATE), ("OGG", "OPUS", 48_000), ("MP3", "MPEG_LAYER_III", RATE), ("WAV", "PCM_U8", RATE),
    ("WAV", "IMA_ADPCM", RATE),
])
def test_lossy_and_8_bit_inputs_come_out_as_16_bit_wav_silent_inside(fmt: str, subtype: str, rate: int) -> None:
    data = recording(fmt, subtype, 2, rate=rate)
    result, out = muted(data, [(0.8, 1.2)])
    info = soundfile.info(io.BytesIO(out))
    assert (info.format, info.subtype, result.subtype) == ("WAV", "PCM_16", "PCM_16")
    assert (info.frames, info.samplerate, info.channels) == (soundfile.info(io.BytesIO(data)).frames, rate, 2)
    after = samples(out, "int16")
    inside = after[round(0.8 * rate) : round(1.2 * rate)]
    assert not inside.any() and rms_dbfs(inside, np.dtype(np.int16)) < -60
    assert rms_dbfs(after[: round(0.7 * rate)], np.dtype(np.int16)) > -10  # the tone is still there


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_32"])
def test_high_resolution_inputs_come_out_as_24_bit_and_clipped(subtype: str) -> None:
    frames = round(RATE * SECONDS)
    signal = tone(frames, 1) * (4.0 if subtype == "FLOAT" else 1.0)  # a float file may exceed full scale
    source = io.BytesIO()
    soundfile.write(source, signal, RATE, subtype=subtype, format="WAV")
    result, out = muted(source.getvalue(), [(0.8, 1.2)])
    assert (soundfile.info(io.BytesIO(out)).subtype, result.subtype) == ("PCM_24", "PCM_24")
    after = samples(out, "float64")[:, 0]
    assert not after[round(0.8 * RATE) : round(1.2 * RATE)].any()
    expected = np.clip(signal[:, 0], -1, 1)
    head = slice(0, round(0.7 * RATE))
    assert np.abs(after[head] - expected[head]).max() <= 2.0**-23 * 1.01


def test_output_is_a_stream_header_first_in_blocks() -> None:
    data = recording("WAV", "PCM_24", 2)
    result = mute(io.BytesIO(data), [(0.5, 0.6)], block=4096)
    header = next(result.pieces)
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and header[-8:-4] == b"data"
    assert struct.unpack("<I", header[4:8])[0] == result.length - 8
    assert struct.unpack("<I", header[-4:])[0] == result.frames * 2 * 3
    rest = list(result.pieces)
    assert len(rest) == math.ceil(result.frames / 4096)
    assert all(len(piece) <= 4096 * 2 * 3 for piece in rest)


@pytest.mark.parametrize(("channels", "width", "frames"), [(1, 3, 1001), (3, 2, 500), (6, 3, 10), (5, 2, 7)])
def test_headers_of_every_shape_parse_and_odd_data_is_padded(channels: int, width: int, frames: int) -> None:
    data = np.arange(frames * channels * width, dtype=np.uint8).tobytes()
    file = wav_header(frames, 8000, channels, width) + data + b"\0" * (len(data) % 2)
    assert len(file) % 2 == 0 and struct.unpack("<I", file[4:8])[0] == len(file) - 8
    info = soundfile.info(io.BytesIO(file))
    assert (info.frames, info.channels, info.samplerate) == (frames, channels, 8000)
    assert info.subtype == ("PCM_24" if width == 3 else "PCM_16")


def test_odd_sized_24_bit_mono_derivative_matches_its_length() -> None:
    data = recording("WAV", "PCM_24", 1, seconds=22_051 / RATE)
    result, out = muted(data, [(0.1, 0.2)])
    assert result.frames % 2 == 1 and len(out) == result.length and len(out) % 2 == 0
    assert_muted(samples(data, "int32"), samples(out, "int32"), [(0.1, 0.2)], RATE)


SHORT = recording("WAV", "PCM_16", 2, rate=8000, seconds=1.0)
SHORT_SAMPLES = samples(SHORT, "int16")
times = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(silences=st.lists(st.tuples(times, times), max_size=5), fade=st.sampled_from([0.0, 0.001, 0.02, 0.05]),
       block=st.sampled_from([1, 97, 1000, 65536]))
def test_any_ranges_are_silent_inside_and_identical_outside_their_fades(
        silences: list[tuple[float, float]], fade: float, block: int) -> None:
    result, out = muted(SHORT, silences, fade=fade, block=block)
    assert result.frames == len(SHORT_SAMPLES)
    after = samples(out, "int16")
    assert_muted(SHORT_SAMPLES, after, silences, 8000, fade)
    assert np.array_equal(after, expected_16_bit(SHORT_SAMPLES, silences, 8000, fade))


class ReadOnlySource:
    """A file that records how it is used and fails on any write."""

    def __init__(self, file: Any) -> None:
        self._file, self.calls = file, set[str]()

    def read(self, size: int = -1) -> bytes:
        self.calls.add("read")
        data: bytes = self._file.read(size)
        return data

    def readinto(self, buffer: Any) -> int:
        self.calls.add("readinto")
        count: int = self._file.readinto(buffer)
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.calls.add("seek")
        position: int = self._file.seek(offset, whence)
        return position

    def tell(self) -> int:
        self.calls.add("tell")
        position: int = self._file.tell()
        return position

    def write(self, data: bytes) -> int:
        raise AssertionError("the source was written")


def write_long_recording(path: Path, minutes: float) -> None:
    """A stereo 44.1 kHz PCM_16 WAV of the given length, generated in blocks."""
    block = RATE * 10
    frames = round(minutes * 60 * RATE)
    with soundfile.SoundFile(path, "w", RATE, 2, "PCM_16", format="WAV") as out:
        for first in range(0, frames, block):
            out.write(tone(min(block, frames - first), 2, seed=first, offset=first))


def peak_while_muting(path: Path) -> tuple[int, set[str]]:
    """tracemalloc's peak while muting the file, its pieces counted and dropped, never joined."""
    with path.open("rb") as file:
        source = ReadOnlySource(file)
        tracemalloc.start()
        try:
            seconds = soundfile.info(str(path)).duration
            result = mute(source, [(seconds * k / 10, seconds * k / 10 + 3) for k in range(10)])
            total = 0
            for piece in result.pieces:
                total += len(piece)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert total == result.length
    return peak, source.calls


def test_memory_is_bounded_whatever_the_length_and_the_source_only_read(tmp_path: Path) -> None:
    short, long = tmp_path / "one-minute.wav", tmp_path / "ten-minutes.wav"
    write_long_recording(short, 1)
    write_long_recording(long, 10)
    assert long.stat().st_size > 100 * 2**20
    short_peak, _ = peak_while_muting(short)
    long_peak, calls = peak_while_muting(long)
    assert long_peak < 20 * 2**20
    assert long_peak < short_peak + 2**20  # ten times the audio, not ten times the memory
    assert calls <= {"read", "readinto", "seek", "tell"}


@pytest.mark.parametrize("data", [
    b"", CANARY * 100, b"RIFF\x10\x00\x00\x00WAVEfmt " + CANARY, b"fLaC" + CANARY * 10, b"OggS" + CANARY * 10,
    b"ID3\x03\x00\x00\x00\x00\x00\x00" + CANARY * 10,
], ids=["empty", "text", "broken wav", "broken flac", "broken ogg", "broken mp3"])
def test_what_is_not_audio_is_refused_without_echoing_it(data: bytes) -> None:
    with pytest.raises(UnreadableAudio) as refused:
        mute(io.BytesIO(data), [(0.0, 1.0)])
    assert isinstance(refused.value, InvalidInput)
    assert "CANARY" not in str(refused.value) and "CANARY" not in repr(refused.value.args)
    assert refused.value.field == "recording"


def test_a_flac_cut_short_fails_midway_with_the_domain_error() -> None:
    data = recording("FLAC", "PCM_16", 2)
    result = mute(io.BytesIO(data[: len(data) // 2]), [(0.1, 0.2)], block=4096)
    with pytest.raises(UnreadableAudio):
        for _ in result.pieces:
            pass


def test_an_mp3_shorter_than_it_claims_is_padded_to_match_its_header() -> None:
    data = recording("MP3", "MPEG_LAYER_III", 1)
    result, out = muted(data[: len(data) // 2], [(0.1, 0.2)])
    assert soundfile.info(io.BytesIO(out)).frames == result.frames


def test_a_silence_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(InvalidInput, match="numbers of seconds"):
        mute(io.BytesIO(recording()), [(math.nan, 1.0)])


def test_a_recording_too_long_for_a_wav_header_is_refused_before_any_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(muting, "_probe", lambda source: (2**31, RATE, 1, "PCM_16"))  # 2^32 bytes of data
    with pytest.raises(muting.TooLong, match="too long"):
        mute(io.BytesIO(recording()), [])
    monkeypatch.setattr(muting, "_probe", lambda source: (2**31 - 100, RATE, 1, "PCM_16"))
    assert mute(io.BytesIO(recording()), []).length == 44 + 2 * (2**31 - 100)


def test_a_sealed_recording_is_muted_through_the_vaults_decrypting_reader() -> None:
    key, binding = bytes(range(32)), media.Binding("story-1", "rec-1", "original")
    data = recording("FLAC", "PCM_16", 2)
    sealed = io.BytesIO()
    media.encrypt_stream(key, binding, [data], sealed, chunk_size=4096)
    result = mute(Reader(key, binding, sealed), [(0.8, 1.2)])
    out = b"".join(result.pieces)
    assert_muted(samples(data, "int16"), samples(out, "int16"), [(0.8, 1.2)], RATE)
