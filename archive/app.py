"""The application factory: the only place where the archive is wired together."""

from __future__ import annotations

from flask import Flask

from archive import db, models, reading_room  # noqa: F401  (models: complete the metadata)
from archive.config import Config
from archive.paths import TEMPLATES
from archive.vault import keys


def create_app(config: Config | None = None) -> Flask:
    """Create the archive application; refuse a master key file open to others."""
    config = config or Config.from_env()
    if config.master_key is None:
        keys.check_file_mode(config.key_file)
    app = Flask(__name__, template_folder=str(TEMPLATES), instance_path=str(config.home))
    app.config.from_mapping(config.to_flask())
    db.init_app(app)
    reading_room.init_app(app)
    return app
