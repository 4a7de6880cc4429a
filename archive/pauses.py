"""Named points where a test holds a running process, to force an interleaving (tests only).

A test that needs another process stopped at a known moment (a publisher between two
batches, an extension about to begin its transaction) starts it with ESCROW_PAUSE_DIR naming
a folder, and makes a FIFO there named for the point. The process, on reaching the point,
opens the FIFO and waits until the test has opened it too (the test then knows it is there)
and closed it again (the test is done). A point without its FIFO, or a process without
ESCROW_PAUSE_DIR, passes at once: in production this is one environment lookup.

Nothing is read from the FIFO, and nothing of the archive is written to it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

ENV = "ESCROW_PAUSE_DIR"


def at(point: str) -> None:
    """Wait here while a test holds this point (see the module docstring)."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    fifo = Path(folder) / point
    try:
        # Only a folder of this user's that no one else may write in, and a FIFO in it: no one
        # else can hold a process here.
        owner = Path(folder).stat()
        if owner.st_uid != os.getuid() or owner.st_mode & 0o022 or not stat.S_ISFIFO(fifo.lstat().st_mode):
            return
    except FileNotFoundError:
        return
    with fifo.open("rb") as held:  # returns once the test has opened its end
        held.read()  # returns once the test has closed it
