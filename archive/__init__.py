"""Escrow: an oral-history archive that keeps testimonies sealed until their embargo date."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """`from archive import create_app`, imported when asked for: a process that needs one part
    of the archive (the index purge's child process) does not load the whole web app."""
    if name == "create_app":
        from archive.app import create_app
        return create_app
    raise AttributeError(f"module 'archive' has no attribute {name!r}")
