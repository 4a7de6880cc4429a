"""Serving the web archive under gunicorn (archive.web.worker's threads), never Flask's development server."""

from __future__ import annotations

import os
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from archive.app import create_app
from archive.cli import base
from archive.cli.base import cli
from archive.config import Config
from archive.web import worker


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run in-process with our options; each worker builds its own app."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(Config.from_env())


THREADS = 4  # per worker, running the application on complete requests (and at most half on uploads)


def default_workers() -> int:
    """One worker per core, at most sixteen (each with THREADS threads, for requests waiting
    on the database or the disk). Searching is work for the processor: with more workers
    than cores, sixteen clients' searches were time-sliced against each other and a slow one
    took the longest (two cores, 10,000 stories: five workers 113 requests/s with a p99 of
    829 ms, three 144 and 570 ms, two 128 and 216 ms; scripts/bench_scale.py). With one per
    core, a request beyond what the cores can run waits in the listen queue, in order."""
    return min(16, os.cpu_count() or 1)


def run(host: str, port: int, workers: int) -> None:
    """Serve until stopped (Ctrl-C or SIGTERM); never with the test suite's cheap password hashes."""
    if base.config().password_cost != "standard":
        raise base.Failure("ESCROW_PASSWORD_COST=test makes passwords cheap to guess and is for the test "
                           "suite only: unset it to serve")
    # archive.web.worker: gthread with every request read in the worker's event loop, so a slow
    # or idle client costs a socket, never a thread (the module says how, and what it bounds).
    # No keep-alive: a kept-alive connection stays with the worker that accepted it, so sixteen
    # busy clients piled onto a few workers while others idled (23 requests/s and a p99 of 11 s
    # on two cores, against 72 and 1 s without; scripts/bench_scale.py). Each request is
    # accepted anew, by a worker with a thread free to take it; the proxy in front keeps its
    # clients' connections. worker_connections bounds the sockets a worker holds while their
    # requests arrive or their connections close.
    _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "worker_class": worker.Worker, "threads": THREADS,
               "worker_connections": 1000, "keepalive": 0, "timeout": 30,
               "graceful_timeout": 20, "limit_request_line": 8190, "errorlog": "-", "loglevel": "info",
               "proc_name": "escrow", "forwarded_allow_ips": "127.0.0.1",
               "control_socket_disable": True}).run()


def serve_options(command: Any) -> Any:
    """--host, --port and --workers, shared by serve and demo."""
    command = click.option("--workers", type=click.IntRange(1, 64), default=default_workers, show_default=True,
                           help=f"gunicorn worker processes ({THREADS} threads each).")(command)
    command = click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)(command)
    return click.option("--host", default="127.0.0.1", show_default=True,
                        help="Address to listen on (127.0.0.1: this machine only).")(command)


@cli.command("serve")
@serve_options
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web archive with gunicorn."""
    click.echo(f"serving the archive at http://{host}:{port}/ (Ctrl-C to stop)")
    run(host, port, workers)
