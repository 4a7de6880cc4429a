"""One publisher at a time: an exclusive lock file in the instance folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def publisher(home: Path) -> Iterator[None]:
    """Hold the instance's publisher lock; a second run waits until the first is done.

    The kernel drops the lock when the holder dies, so kill -9 never leaves it stuck.
    """
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / "publish.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
