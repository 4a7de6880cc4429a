"""`escrow db`: Flask-Migrate's commands (`escrow db upgrade` after an upgrade), on the archive's app.

Flask's own commands are not kept: `run` is a development server (`escrow serve` is the
archive's), `shell` an interpreter holding the master key outside every audited operation,
and `routes` a developer's listing (`flask --app archive.app routes` still prints it).
"""

from __future__ import annotations

from typing import Any

import click
from flask_migrate.cli import db as flask_migrate

from archive.cli import base
from archive.cli.base import cli


class _Migrations(click.Group):
    """Flask-Migrate's group, run in the archive's application (made from the environment)."""

    def invoke(self, ctx: click.Context) -> Any:
        base.app(migrations=True)  # Flask-Migrate's commands find it as current_app, not look for one
        base.close_on_exit()
        return super().invoke(ctx)


cli.add_command(_Migrations("db", commands=flask_migrate.commands, params=flask_migrate.params,
                            callback=flask_migrate.callback, help=base.COMMANDS["db"][1]))
