"""A large recording uploaded through the organizer's web page: the server's peak memory and
time, against a bare Flask page that reads the same body and throws it away, in the same run.

    .venv/bin/python scripts/bench_upload.py [--mib 1024]

Each server is its own process (werkzeug on 127.0.0.1, one request at a time); its peak
resident memory is its VmHWM from /proc after the upload, and its resident memory before
is its VmRSS once it has answered a first request. The upload is a WAV of MIB mebibytes
(noise), sent as a multipart form streamed from the file, as a browser sends it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import print_table  # noqa: E402

EMAIL, PASSWORD = "bench-org@example.org", "bench password, long enough"
BOUNDARY = "escrow-bench-boundary"
SERVER = r"""
import dataclasses, sys
from flask import Flask, request
from werkzeug.serving import make_server
kind, port = sys.argv[1], int(sys.argv[2])
if kind == "archive":
    from archive import create_app
    from archive.config import Config
    app = create_app(dataclasses.replace(Config.from_env(), max_recording=1 << 40))
    app.config["WTF_CSRF_ENABLED"] = False
else:
    app = Flask("bare")
    @app.post("/my/stories/<story_id>/recording")
    def upload(story_id):
        while request.stream.read(1 << 20):
            pass
        return "", 204
    @app.post("/login")
    def login():
        return "ok"
make_server("127.0.0.1", port, app, threaded=False).serve_forever()
"""


def _write_wav(path: Path, mib: int) -> None:
    data = mib * 2**20 - 44
    with path.open("wb") as out:
        out.write(b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " +
                  struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16) + b"data" + struct.pack("<I", data))
        left = data
        block = os.urandom(1 << 20)
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) * 1024 if found else 0


def _start(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, kind, str(port)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the {kind} server exited") from None
            time.sleep(0.05)  # waiting for a process to listen, not synchronising a test
    raise RuntimeError(f"the {kind} server did not listen")


def _cookie(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = f"email={EMAIL}&password={PASSWORD.replace(' ', '+').replace(',', '%2C')}"
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie") or ""
    conn.close()
    return cookie.split(";", 1)[0]


def _upload(port: int, story_id: str, wav: Path, cookie: str) -> tuple[int, float]:
    # The token's part comes first, as the page's form sends it (CSRF checking is off in the bench).
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nbench\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"recording\"; filename=\"a.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        with wav.open("rb") as source:
            yield from iter(lambda: source.read(1 << 20), b"")
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", f"/my/stories/{story_id}/recording", body(), {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Cookie": cookie,
        "Content-Length": str(len(head) + wav.stat().st_size + len(tail))})
    response = conn.getresponse()
    response.read()
    seconds = time.perf_counter() - start
    conn.close()
    return response.status, seconds


def _measure(kind: str, env: dict[str, str], story_id: str, wav: Path) -> tuple[int, int, float, int]:
    process, port = _start(kind, env)
    try:
        cookie = _cookie(port)
        before = _status(process.pid, "VmRSS")
        status, seconds = _upload(port, story_id, wav, cookie)
        return before, _status(process.pid, "VmHWM"), seconds, status
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    """Set up an archive with one story, upload to it and to the bare page, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="escrow-bench-upload-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "ARCHIVE_HOME": str(tmp / "instance"), "ESCROW_PASSWORD_COST": "test",
               "TMPDIR": str(tmp / "spool")}
        (tmp / "spool").mkdir()
        escrow = [str(Path(sys.executable).with_name("escrow"))]
        subprocess.run([*escrow, "init"], env=env, check=True, capture_output=True)
        subprocess.run([*escrow, "users", "add", EMAIL, "--role", "organizer", "--password-stdin"], env=env,
                       input=(PASSWORD + "\n").encode(), check=True, capture_output=True)
        (tmp / "s.jsonl").write_text('{"title": "Bench", "narrator": "N", "transcript": "T", '
                                     '"embargo_until": "2090-01-01", "redaction_level": "redacted"}\n')
        subprocess.run([*escrow, "stories", "import", str(tmp / "s.jsonl"), "--as", EMAIL], env=env, check=True,
                       capture_output=True)
        listed = subprocess.run([*escrow, "stories", "list"], env=env, check=True, capture_output=True, text=True)
        story_id = listed.stdout.splitlines()[1].split()[0]
        wav = tmp / "interview.wav"
        _write_wav(wav, args.mib)
        ours = _measure("archive", env, story_id, wav)
        bare = _measure("bare", env, story_id, wav)
        spooled = sorted(p.name for p in (tmp / "spool").iterdir())
        sealed = sum(p.stat().st_size for p in (tmp / "instance" / "media").glob("*.sealed"))

    mib = 2**20
    rows: list[tuple[object, ...]] = [
        (f"archive upload of {args.mib} MiB: peak RSS, MiB (status {ours[3]})", 1, f"{ours[1] / mib:.0f}",
         f"{(ours[1] - ours[0]) / mib:.0f} above its start", f"{ours[1] / bare[1]:.2f}"),
        ("bare Flask page reading the same body: peak RSS, MiB", 1, f"{bare[1] / mib:.0f}",
         f"{(bare[1] - bare[0]) / mib:.0f} above its start", "1.00"),
        ("archive upload: seconds (encrypted, checked as audio)", 1, f"{ours[2]:.1f}", "-", f"{ours[2] / bare[2]:.2f}"),
        ("bare page: seconds", 1, f"{bare[2]:.1f}", "-", "1.00"),
        ("sealed file, MiB", 1, f"{sealed / mib:.0f}", "-", "-"),
        ("files spooled to TMPDIR", 1, len(spooled), "-", "-"),
    ]
    print_table(rows)
    print("columns: what | n | value | second value | ratio to the bare page")


if __name__ == "__main__":
    main()
