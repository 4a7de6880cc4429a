"""Benchmark sealed recordings (archive.vault.media) against raw AES-GCM on the same chunks.

    .venv/bin/python scripts/bench_media.py [--mib 256] [--repeats 5]

Each pass moves MIB MiB in 1 MiB chunks (a pool of 8 random chunks, cycled: AES-GCM's speed
does not depend on the bytes). Per repeat, interleaved so the machine's noise falls on all:

- seal: `encrypt_stream` into a file in a temporary folder (the page cache, no fsync), and
  into a sink that discards, against `AESGCM.encrypt` per chunk with a counter nonce and
  nothing else (and, to show the disk's share, the same raw sealing written to a file);
- open: `decrypt_all` of that file, from the file and from memory, against
  `AESGCM.decrypt` per chunk.

The ratio is the median throughput over raw AES-GCM's median in the same direction; the
issue asks for at least 0.8. The temporary folder is deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import p95, print_table  # noqa: E402  (the sibling benchmark)

from archive.vault import crypto, media  # noqa: E402

POOL = 8
BINDING = media.Binding("bench-story", "bench-recording", "original")


class Sink:
    """A write-only file that keeps nothing."""

    def write(self, data: Any) -> int:
        return len(data)


def pieces(pool: list[bytes], count: int) -> Iterator[bytes]:
    """COUNT chunks from the pool, as a reader handing over 1 MiB reads would."""
    for index in range(count):
        yield pool[index % POOL]


def raw_encrypt(key: bytes, pool: list[bytes], count: int) -> None:
    """AESGCM.encrypt per chunk with a counter nonce, nothing else."""
    aead = AESGCM(key)
    for index in range(count):
        aead.encrypt(index.to_bytes(12, "big"), pool[index % POOL], None)


def raw_encrypt_to_file(key: bytes, pool: list[bytes], count: int, path: Path) -> None:
    """The same, each sealed chunk written to a file: the disk's share of `seal file`."""
    aead = AESGCM(key)
    with path.open("wb") as out:
        for index in range(count):
            out.write(aead.encrypt(index.to_bytes(12, "big"), pool[index % POOL], None))


def raw_decrypt(key: bytes, sealed: list[bytes], count: int) -> None:
    """AESGCM.decrypt per chunk with a counter nonce, nothing else."""
    aead = AESGCM(key)
    for index in range(count):
        aead.decrypt((index % POOL).to_bytes(12, "big"), sealed[index % POOL], None)


def drain(chunks: Iterator[bytes]) -> int:
    """Consume a decryption; the bytes it yielded."""
    return sum(len(chunk) for chunk in chunks)


def open_in_memory(key: bytes, sealed: bytes) -> float:
    """Seconds to decrypt a whole sealed file held in memory."""
    source = io.BytesIO(sealed)
    start = time.perf_counter()
    drain(media.decrypt_all(key, BINDING, source))
    return time.perf_counter() - start


def seconds(run: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB per pass (256)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes of each kind (5)")
    args = parser.parse_args()
    if args.mib < 1 or args.repeats < 1:
        parser.error("--mib and --repeats must be at least 1")

    print(f"machine: {platform.platform()} | {platform.machine()} | "
          f"python {platform.python_version()} ({sys.implementation.name}) | cpus {os.cpu_count()}")
    count, total = args.mib, args.mib * media.CHUNK
    key = crypto.new_key()
    pool = [os.urandom(media.CHUNK) for _ in range(POOL)]
    raw_sealed = [AESGCM(key).encrypt(i.to_bytes(12, "big"), chunk, None) for i, chunk in enumerate(pool)]
    times: dict[str, list[float]] = {name: [] for name in
                                     ("seal file", "seal sink", "seal raw", "seal raw-file", "open file", "open memory",
                                      "open raw")}
    with tempfile.TemporaryDirectory(prefix="escrow-bench-media-") as tmp:
        path = Path(tmp) / "recording.sealed"

        def seal_file() -> None:
            with path.open("wb") as out:
                media.encrypt_stream(key, BINDING, pieces(pool, count), out)

        def open_file() -> None:
            with path.open("rb") as source:
                assert drain(media.decrypt_all(key, BINDING, source)) == total

        seal_file()  # warm up, and the file the first `open` reads
        for _ in range(args.repeats):
            times["seal raw"].append(seconds(lambda: raw_encrypt(key, pool, count)))
            times["seal sink"].append(seconds(
                lambda: media.encrypt_stream(key, BINDING, pieces(pool, count), Sink())))  # type: ignore[arg-type]
            times["seal file"].append(seconds(seal_file))
            times["seal raw-file"].append(seconds(lambda: raw_encrypt_to_file(key, pool, count, Path(tmp) / "raw")))
            times["open raw"].append(seconds(lambda: raw_decrypt(key, raw_sealed, count)))
            times["open file"].append(seconds(open_file))
            times["open memory"].append(open_in_memory(key, path.read_bytes()))
        size = path.stat().st_size
    print(f"data: {args.mib} MiB per pass in {media.CHUNK // 1024} KiB chunks, {args.repeats} passes each; "
          f"sealed file {size:,} bytes ({size - total:,} of header and tags); temporary folder deleted")

    def rate(values: list[float]) -> float:
        return total / 1e6 / values

    rows: list[tuple[object, ...]] = []
    labels = {
        "seal file": "seal, encrypt_stream to a file, MB/s",
        "seal sink": "seal, encrypt_stream discarded, MB/s",
        "seal raw": "seal, raw AESGCM per chunk, MB/s",
        "seal raw-file": "seal, raw AESGCM per chunk to a file, MB/s",
        "open file": "open, decrypt_all from the file, MB/s",
        "open memory": "open, decrypt_all from memory, MB/s",
        "open raw": "open, raw AESGCM per chunk, MB/s",
    }
    for name, label in labels.items():
        values = times[name]
        raw = statistics.median(times[name.split()[0] + " raw"])
        rows.append((label, len(values), f"{rate(statistics.median(values)):,.0f}", f"{rate(p95(values)):,.0f}",
                     f"{raw / statistics.median(values):.2f}"))
    print_table(rows)
    print("MB = 10^6 bytes; p95: the throughput of the 95th-percentile (slow) pass; "
          "ratio: throughput over raw AES-GCM's in the same direction (the issue asks >= 0.80).")


if __name__ == "__main__":
    main()
