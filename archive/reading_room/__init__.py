"""The reading room: released, already-redacted copies and the Whoosh index built from them.

Only this package imports whoosh; it never imports the vault.
"""

from __future__ import annotations

from flask import Flask, current_app

from archive.config import Config
from archive.reading_room.index import Index
from archive.reading_room.postings import use_memory

__all__ = ["INDEX_FOLDER", "Index", "index", "init_app", "use_memory"]

INDEX_FOLDER = "index"


def init_app(app: Flask) -> None:
    """Give the app its index handle (one per process, its searcher reused)."""
    config: Config = app.config["ESCROW_CONFIG"]
    app.extensions["escrow.index"] = Index(config.home / INDEX_FOLDER)


def index() -> Index:
    """The current app's index handle."""
    return current_app.extensions["escrow.index"]
