"""The application factory: the only place where the archive is wired together."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context

from archive import models, reading_room  # noqa: F401  (models: complete the metadata)
from archive.accounts import users
from archive.config import Config
from archive.storage import database
from archive.storage.paths import TEMPLATES
from archive.vault import keys

STATIC = str(Path(__file__).parent / "web" / "static")


class EscrowApp(Flask):
    """Flask, with its secret key taken from the key ring as it is now, not as it was at start.

    Session cookies, CSRF tokens and OAI-PMH resumption tokens are all signed with
    `secret_key`; after `escrow keys rotate` every serving process signs with the new ring's
    key at its next request and refuses what the old one signed. Within one request the key
    stays the one it began with.
    """

    @property  # type: ignore[override]
    def secret_key(self) -> bytes | None:
        signing = self.signing()
        return None if signing is None else signing.secret

    def signing(self) -> keys.Signing | None:
        """The signing key (and its master key version) of this request, or of now outside one."""
        source: keys.SigningKeys = self.extensions["escrow.signing"]
        if not has_request_context():
            return source.current()
        if "escrow_signing" not in g:
            g.escrow_signing = source.current()
        pinned: keys.Signing | None = g.escrow_signing
        return pinned


def create_app(config: Config | None = None, *, doors: bool = True) -> EscrowApp:
    """Create the archive application; refuse a master key file open to others.

    `doors=False` makes the app of a command, which needs the database, the key ring and the
    index: without the web's pages, and without Flask-Migrate (Alembic), which the commands
    that migrate add (`database.with_migrations`); neither is imported."""
    config = config or Config.from_env()
    if config.master_key is None:
        keys.check_file_mode(config.key_file)
    app = EscrowApp(__name__, template_folder=str(TEMPLATES), static_folder=STATIC,
                     instance_path=str(config.home))
    app.config.from_mapping(config.to_flask())
    users.use_cost(config.password_cost)
    reading_room.use_memory(config.search_cache)
    # Before `escrow init` there is no key ring: no sessions either (pages say so).
    app.extensions["escrow.signing"] = keys.SigningKeys(config)
    database.init_app(app)
    reading_room.init_app(app)
    if doors:
        from archive import web

        web.init_app(app, proxy_hops=config.proxy_hops)
        database.with_migrations(app)
    return app
