"""Alembic environment: runs the archive's migrations on the app's engine."""

from __future__ import annotations

from alembic import context
from flask import current_app

from archive.storage.database import Base

config = context.config


def run_migrations_online() -> None:
    """Run migrations with a connection from the app's engine."""
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL without a database (`escrow db upgrade --sql`)."""
    context.configure(url=str(current_app.extensions["migrate"].db.engine.url),
                      target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
