"""A large recording uploaded through the organizer's web page: the server's peak memory and
time, against a bare Flask page that reads the same body and throws it away, in the same run.

    .venv/bin/python scripts/bench_upload.py [--mib 1024]

Each server is its own process on 127.0.0.1, one request at a time: the archive's app and the
bare page on werkzeug, and the archive as it is served, `escrow serve --workers 1` (gunicorn,
signed in through its login form, the CSRF tokens taken from its pages), through the story
page's upload and through the submit page with a new story. A server's peak resident memory
is its VmHWM from /proc after the upload, reset just before it (for gunicorn, its worker's),
and its resident memory before is its VmRSS once it has answered a first request; signing
in's own peak (argon2's 64 MiB, about 156 MiB for a gunicorn worker) is not the upload's. The upload is a WAV of MIB
mebibytes (noise), sent as a multipart form streamed from the file, as a browser sends it.
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
from urllib.parse import urlencode

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


def _reset_peak(pid: int) -> None:
    """VmHWM starts again from VmRSS (Linux's clear_refs 5): the peak is then the upload's own,
    not signing in's (argon2 takes 64 MiB for a moment)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _status(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) * 1024 if found else 0


def _start(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, kind, str(port)], env=env)
    _wait_listening(process, port, f"the {kind} server")
    return process, port


def _wait_listening(process: subprocess.Popen[bytes], port: int, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited") from None
            time.sleep(0.05)  # waiting for a process to listen, not synchronising a test
    raise RuntimeError(f"{name} did not listen")


def _cookie(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = f"email={EMAIL}&password={PASSWORD.replace(' ', '+').replace(',', '%2C')}"
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie") or ""
    conn.close()
    return cookie.split(";", 1)[0]


def _get(port: int, path: str, cookie: str = "") -> tuple[str, str]:
    """A page's text and the session cookie it sets (or the one sent)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return text, (response.getheader("Set-Cookie") or cookie).split(";", 1)[0]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def _signed_in(port: int) -> str:
    """Sign in through the login form, as a browser does; the session cookie."""
    page, cookie = _get(port, "/login")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = urlencode({"csrf_token": _csrf(page), "email": EMAIL, "password": PASSWORD})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 302:
        raise RuntimeError(f"signing in answered {response.status}")
    return (response.getheader("Set-Cookie") or "").split(";", 1)[0]


def _part(name: str, value: str) -> str:
    return f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"


def _upload(port: int, path: str, wav: Path, cookie: str, fields: dict[str, str] | None = None) -> tuple[int, float]:
    # The fields (the token first) come before the file, as the pages' forms send them.
    head = ("".join(_part(name, value) for name, value in (fields or {"csrf_token": "bench"}).items()) +
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
    conn.request("POST", path, body(), {
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
        _reset_peak(process.pid)
        status, seconds = _upload(port, f"/my/stories/{story_id}/recording", wav, cookie)
        return before, _status(process.pid, "VmHWM"), seconds, status
    finally:
        process.terminate()
        process.wait(timeout=30)


SUBMITTED = {"title": "Bench", "narrator": "N", "transcript": "T", "embargo_date": "2090-01-01",
             "redaction_level": "redacted", "recording_release": "none", "language": "en"}


def _measure_served(env: dict[str, str], story_id: str, wav: Path) -> list[tuple[int, int, float, int]]:
    """`escrow serve --workers 1`: the story page's upload, then the submit page's (each in a fresh
    server, so each peak is its own)."""
    escrow = str(Path(sys.executable).with_name("escrow"))
    served = {k: v for k, v in env.items() if k != "ESCROW_PASSWORD_COST"}  # serve refuses cheap hashes
    found = []
    for door in ("story page", "submit page"):
        port = _port()
        master = subprocess.Popen([escrow, "serve", "--workers", "1", "--port", str(port)], env=served,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_listening(master, port, "escrow serve")
            cookie = _signed_in(port)
            worker = int(Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()[0])
            if door == "story page":
                page, cookie = _get(port, f"/my/stories/{story_id}", cookie)  # (the token is in the session)
                before = _status(worker, "VmRSS")
                _reset_peak(worker)
                status, seconds = _upload(port, f"/my/stories/{story_id}/recording", wav, cookie,
                                          {"csrf_token": _csrf(page)})
            else:
                page, cookie = _get(port, "/submit", cookie)
                before = _status(worker, "VmRSS")
                _reset_peak(worker)
                status, seconds = _upload(port, "/submit", wav, cookie, {"csrf_token": _csrf(page), **SUBMITTED})
            found.append((before, _status(worker, "VmHWM"), seconds, status))
        finally:
            master.terminate()
            master.wait(timeout=60)
    return found


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
        page, submit = _measure_served(env, story_id, wav)
        bare = _measure("bare", env, story_id, wav)
        spooled = sorted(p.name for p in (tmp / "spool").iterdir())
        sealed = max(p.stat().st_size for p in (tmp / "instance" / "media").glob("*.sealed"))

    mib = 2**20
    rows: list[tuple[object, ...]] = [
        (f"archive upload of {args.mib} MiB: peak RSS, MiB (status {ours[3]})", 1, f"{ours[1] / mib:.0f}",
         f"{(ours[1] - ours[0]) / mib:.0f} above its start", f"{ours[1] / bare[1]:.2f}"),
        ("bare Flask page reading the same body: peak RSS, MiB", 1, f"{bare[1] / mib:.0f}",
         f"{(bare[1] - bare[0]) / mib:.0f} above its start", "1.00"),
        (f"escrow serve, story page: worker's peak RSS, MiB (status {page[3]})", 1, f"{page[1] / mib:.0f}",
         f"{(page[1] - page[0]) / mib:.0f} above its start", f"{page[1] / bare[1]:.2f}"),
        (f"escrow serve, submit page with the story: peak RSS, MiB (status {submit[3]})", 1,
         f"{submit[1] / mib:.0f}", f"{(submit[1] - submit[0]) / mib:.0f} above its start",
         f"{submit[1] / bare[1]:.2f}"),
        ("archive upload: seconds (encrypted, checked as audio)", 1, f"{ours[2]:.1f}", "-", f"{ours[2] / bare[2]:.2f}"),
        ("escrow serve: seconds, story page / submit page", 1, f"{page[2]:.1f}", f"{submit[2]:.1f}",
         f"{page[2] / bare[2]:.2f} / {submit[2] / bare[2]:.2f}"),
        ("bare page: seconds", 1, f"{bare[2]:.1f}", "-", "1.00"),
        ("sealed file (each), MiB", 1, f"{sealed / mib:.0f}", "-", "-"),
        ("files spooled to TMPDIR", 1, len(spooled), "-", "-"),
    ]
    print_table(rows)
    print("columns: what | n | value | second value | ratio to the bare page")


if __name__ == "__main__":
    main()
