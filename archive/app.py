"""The application factory: the only place where the archive is wired together."""

from __future__ import annotations

from flask import Flask

from archive import db, models, reading_room, users, web  # noqa: F401  (models: complete the metadata)
from archive.config import Config
from archive.errors import KeyProblem
from archive.paths import TEMPLATES
from archive.vault import keys

STATIC = web.__path__[0] + "/static"


def create_app(config: Config | None = None) -> Flask:
    """Create the archive application; refuse a master key file open to others."""
    config = config or Config.from_env()
    if config.master_key is None:
        keys.check_file_mode(config.key_file)
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=STATIC,
                instance_path=str(config.home))
    app.config.from_mapping(config.to_flask())
    users.use_cost(config.password_cost)
    reading_room.use_memory(config.search_cache)
    app.secret_key = _session_secret(config)
    db.init_app(app)
    reading_room.init_app(app)
    web.init_app(app, proxy_hops=config.proxy_hops)
    return app


def _session_secret(config: Config) -> bytes | None:
    # Before `escrow init` there is no key ring: no sessions either (pages say so).
    try:
        return keys.session_secret(keys.load(config))
    except KeyProblem:
        return None
