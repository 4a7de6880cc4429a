"""`escrow serve` as `escrow demo` runs it, without a proxy in front: clients that connect and
send nothing, or send half a request, do not keep anyone else waiting."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.processes import serving

# A bound, not a measurement: with sync workers the request waited for the worker timeout
# (about a minute); the note gives the time measured with scripts/bench_web.py.
BOUND = 10.0


@pytest.mark.parametrize("first_bytes", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"], ids=["idle", "slow"])
def test_two_silent_clients_do_not_stall_a_request(archive_home: Path, first_bytes: bytes) -> None:
    with serving(archive_home, workers=1) as site:
        address = urlsplit(site)
        silent = [socket.create_connection((address.hostname, address.port)) for _ in range(2)]
        try:
            for client in silent:
                client.sendall(first_bytes)
            with urllib.request.urlopen(f"{site}/search?q=strike", timeout=BOUND) as response:
                assert response.status == 200
                assert b"No stories are released yet" in response.read()
        finally:
            for client in silent:
                client.close()
