"""Benchmark the muted derivative of a one-hour FLAC interview against soundfile alone.

    .venv/bin/python scripts/bench_muting.py [--minutes 60] [--channels 1] [--runs 3]

A FLAC interview (44.1 kHz, 16-bit, a 440 Hz tone with seeded noise, so it hardly compresses) is
generated in blocks into a temporary folder (untimed). Per run, interleaved so the machine's
noise falls on all:

- mute: `archive.release.muting.mute` with 20 ranges of 2 to 20 s spread over the interview, its
  pieces consumed into a sink that discards them, and written to a file (the page cache, no
  fsync);
- as the release gate does it: the interview sealed beforehand (untimed) as the vault seals an
  upload, read through the vault's decrypting reader (`archive.vault.recordings.Reader`), muted,
  and its pieces sealed as they come (`archive.vault.media.encrypt_stream`) into a file under a
  second key, as the muted copy is written (no fsync, no database);
- soundfile alone: read 64k-frame blocks as int16 and write them with `soundfile.SoundFile` to a
  WAV file, the same decode and re-encode without muting; and the decode alone, to show its share.

The ratio is each median over soundfile's decode-and-write median. The temporary folder is
deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402  (the sibling benchmark)

from archive.release.muting import mute  # noqa: E402
from archive.vault import media  # noqa: E402
from archive.vault.recordings import Reader  # noqa: E402

RATE = 44_100
BLOCK = 65_536
RANGES = 20
# Fixed keys: what is timed is the cipher's work, not where its keys come from.
ORIGINAL = (bytes(range(32)), media.Binding("bench-story", "bench-original", "original"))
MUTED = (bytes(range(32, 64)), media.Binding("bench-story", "bench-muted", "muted"))


def write_interview(path: Path, minutes: float, channels: int) -> int:
    """Generate the FLAC interview block by block; return its frame count."""
    frames = round(minutes * 60 * RATE)
    rng = np.random.default_rng(16)
    step = RATE * 30
    with soundfile.SoundFile(path, "w", RATE, channels, "PCM_16", format="FLAC") as out:
        for first in range(0, frames, step):
            t = np.arange(first, min(frames, first + step)) / RATE
            signal = 0.5 * np.sin(2 * np.pi * 440 * t)[:, None] + rng.normal(0, 0.01, (len(t), channels))
            out.write(signal)
    return frames


def silences(seconds: float) -> list[tuple[float, float]]:
    """20 ranges of 2 to 20 s, one in each twentieth of the interview."""
    rng = random.Random(16)
    slot = seconds / RANGES
    spans = []
    for k in range(RANGES):
        length = min(rng.uniform(2, 20), slot / 2)
        start = k * slot + rng.uniform(0, slot - length)
        spans.append((start, start + length))
    return spans


def mute_to_sink(source: Path, spans: list[tuple[float, float]], _: Path) -> None:
    with source.open("rb") as file:
        total = 0
        result = mute(file, spans)
        for piece in result.pieces:
            total += len(piece)
    assert total == result.length


def mute_to_file(source: Path, spans: list[tuple[float, float]], target: Path) -> None:
    with source.open("rb") as file, target.open("wb") as out:
        for piece in mute(file, spans).pieces:
            out.write(piece)


def sealed(source: Path) -> Path:
    """Where the interview's sealed copy is (made by `seal_interview`)."""
    return source.with_suffix(".sealed")


def seal_interview(source: Path) -> None:
    """Seal the interview as an upload is sealed, chunk by chunk (untimed)."""
    key, binding = ORIGINAL
    with source.open("rb") as plain, sealed(source).open("wb") as out:
        media.encrypt_stream(key, binding, iter(lambda: plain.read(1 << 20), b""), out)


def mute_sealed(source: Path, spans: list[tuple[float, float]], target: Path) -> None:
    (key, binding), (muted_key, muted_binding) = ORIGINAL, MUTED
    with sealed(source).open("rb") as file, target.open("wb") as out:
        result = mute(Reader(key, binding, file), spans)
        written = media.encrypt_stream(muted_key, muted_binding, result.pieces, out)
    assert written.plaintext_length == result.length


def soundfile_reencode(source: Path, _: list[tuple[float, float]], target: Path) -> None:
    with soundfile.SoundFile(source) as audio, \
            soundfile.SoundFile(target, "w", audio.samplerate, audio.channels, "PCM_16", format="WAV") as out:
        for block in audio.blocks(BLOCK, dtype="int16"):
            out.write(block)


def soundfile_decode(source: Path, _: list[tuple[float, float]], __: Path) -> None:
    with soundfile.SoundFile(source) as audio:
        buffer = np.empty((BLOCK, audio.channels), dtype="int16")
        while len(audio.read(BLOCK, dtype="int16", out=buffer)):
            pass


KINDS: list[tuple[str, Callable[[Path, list[tuple[float, float]], Path], None]]] = [
    ("mute -> discarding sink", mute_to_sink),
    ("mute -> WAV file", mute_to_file),
    ("sealed -> mute -> sealed (gate)", mute_sealed),
    ("soundfile decode -> WAV file", soundfile_reencode),
    ("soundfile decode only", soundfile_decode),
]
BASELINE = "soundfile decode -> WAV file"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60, help="length of the interview (60)")
    parser.add_argument("--channels", type=int, default=1, choices=(1, 2), help="1 (mono) or 2 (1)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each kind (3)")
    args = parser.parse_args()
    if args.minutes <= 0 or args.runs < 1:
        parser.error("--minutes must be positive and --runs at least 1")

    print(f"machine: {platform.platform()} | {platform.machine()} | "
          f"python {platform.python_version()} ({sys.implementation.name}) | cpus {os.cpu_count()} | "
          f"libsndfile {soundfile.__libsndfile_version__}")
    seconds: dict[str, list[float]] = {label: [] for label, _ in KINDS}
    with tempfile.TemporaryDirectory(prefix="escrow-bench-muting-") as tmp:
        source, target = Path(tmp) / "interview.flac", Path(tmp) / "out.wav"
        started = time.perf_counter()
        frames = write_interview(source, args.minutes, args.channels)
        print(f"interview: {args.minutes:g} min, {args.channels} channel(s), {frames:,} frames, FLAC "
              f"{source.stat().st_size / 1e6:,.0f} MB (generated in {time.perf_counter() - started:.0f} s); "
              f"WAV out {frames * args.channels * 2 / 1e6:,.0f} MB; {RANGES} ranges muted")
        seal_interview(source)
        spans = silences(frames / RATE)
        for _ in range(args.runs):
            for label, run in KINDS:
                started = time.perf_counter()
                run(source, spans, target)
                seconds[label].append(time.perf_counter() - started)
                target.unlink(missing_ok=True)

    baseline = statistics.median(seconds[BASELINE])
    rows: list[tuple[object, ...]] = [
        (label, len(values), f"{statistics.median(values):.2f} s", f"{p95(values):.2f} s",
         f"{statistics.median(values) / baseline:.2f}")
        for label, values in seconds.items()
    ]
    print_table(rows)
    print("ratio: median time over soundfile's decode-and-write median (lower is faster); "
          f"p95 of {args.runs} runs is the slowest run")


if __name__ == "__main__":
    main()
