"""The reading room: released, already-redacted copies and their search (a Whoosh index built
from them, or PostgreSQL's: engines.py).

Only this package imports whoosh; it never imports the vault.
"""

from __future__ import annotations

from flask import Flask, current_app

from archive.config import Config
from archive.reading_room.engines import Search, choose
from archive.reading_room.index import Index
from archive.reading_room.postings import use_memory

__all__ = ["INDEX_FOLDER", "Index", "Search", "index", "init_app", "search_backend", "use_memory"]

INDEX_FOLDER = "index"


def init_app(app: Flask) -> None:
    """Give the app its search backend and index handle (one per process, its searcher reused;
    the folder is made only if the backend is Whoosh's)."""
    config: Config = app.config["ESCROW_CONFIG"]
    app.extensions["escrow.index"] = Index(config.home / INDEX_FOLDER)
    app.extensions["escrow.search"] = choose(config, app.extensions["escrow.index"])


def index() -> Index:
    """The current app's index handle."""
    return current_app.extensions["escrow.index"]


def search_backend() -> Search:
    """The current app's search backend."""
    return current_app.extensions["escrow.search"]
