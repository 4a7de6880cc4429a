"""Notices: a scheduler run by hand (publish-due runs one too), and the scheduler that runs beside the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask

from archive import services
from archive.app import create_app
from archive.cli import base
from archive.cli.base import cli
from archive.errors import EscrowError
from archive.services import notices, releases
from archive.times import parse_instant


@cli.group("notices")
def notices_group() -> None:
    """Notices before a lift and after a change: arm them, send them."""


@notices_group.command("run")
@click.option("--now", "now_text", help="Arm and send as if it were this instant (ISO 8601, not later than the clock).")
def run(now_text: str | None) -> None:
    """Arm every notice whose window has come, then send what waits (when ESCROW_SMTP_URL is set)."""
    done = notices.run(base.archive(), parse_instant(now_text) if now_text else None)
    click.echo(done.line())
    if done.failed:
        raise base.Failure(f"{base.counted(done.failed, 'notice', 'notices')} could not be sent; "
                           "they are kept and tried again by the next run")


@cli.command("scheduler")
@click.option("--every", type=click.IntRange(1, 86_400), default=60, show_default=True,
              help="Seconds between two runs.")
@click.option("--parent", type=int, hidden=True, help="Stop when this process (the demo's server) is gone.")
def scheduler(every: int, parent: int | None) -> None:
    """Run publish-due (releases and notices) every N seconds until stopped: for `escrow demo`, or a
    container with no timer (a systemd timer or cron is the usual way: see README)."""
    config = base.config()
    app = create_app(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    every_text = base.counted(every, "second", "seconds")
    click.echo(f"scheduler: publish-due and notices every {every_text} (pid {os.getpid()})")
    while not stop.is_set():
        click.echo(f"scheduler: {tick(app)}")
        deadline = time.monotonic() + every
        # Waits in slices of a second at most, to notice its parent gone (a killed demo).
        while not stop.is_set() and time.monotonic() < deadline:
            if parent is not None and os.getppid() != parent:
                return
            stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))


def tick(app: Flask) -> str:
    """One scheduler run, in an app context of its own: release what is due, arm and send notices.
    A failure is one line, and the next tick runs all the same."""
    with app.app_context():
        try:
            archive = services.current()
            summary = releases.publish_due(archive)
            sent = notices.run(archive)
            return f"{summary.line()}; {sent.line()}"
        except EscrowError as error:
            return f"failed: {error}"
        except Exception as error:  # noqa: BLE001 - the message may quote data: its class only
            return f"failed ({type(error).__name__}); the next run tries again"


@contextmanager
def beside(every: int = 60) -> Iterator[subprocess.Popen[bytes]]:
    """`escrow scheduler` as a child process for the block (the demo's server), stopped with it."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; from archive.cli import main; sys.argv[0] = 'escrow'; "
                              "main()", "scheduler", "--every", str(every), "--parent", str(os.getpid())])
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
