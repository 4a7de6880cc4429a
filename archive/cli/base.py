"""The `escrow` command's frame: a Flask CLI group that turns errors into one clear line.

Commands are thin: parse, call a service, commit, echo a count or a table. A domain
error becomes one line on stderr and exit status 1; bad usage exits 2 (click).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy.exc import SQLAlchemyError

from archive import db, services
from archive.app import create_app
from archive.config import Config
from archive.errors import EscrowError
from archive.services import Archive
from archive.times import parse_instant, utcnow
from archive.users import User

REASON_HELP = "Why; it goes into the audit log, sealed with the story. Do not name people in it."


def counted(count: int, singular: str, plural: str) -> str:
    """A count with its noun, singular for one ("1 story", "2 stories"). The command line is the
    operator's door and stays in English (the web archive is translated; see archive/web/i18n.py)."""
    return f"{count} {singular if count == 1 else plural}"


class Failure(click.ClickException):
    """A one-line failure with exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"escrow: {self.format_message()}", err=True)


class EscrowGroup(FlaskGroup):
    """FlaskGroup that turns domain and database errors into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EscrowError as error:
            raise Failure(str(error)) from None
        except SQLAlchemyError as error:
            # The driver's message can quote SQL parameters; show only its class.
            raise Failure(f"database error ({type(error).__name__}); {_what_changed(ctx)}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            # An unexpected error's message may quote data; show its class only.
            # ESCROW_TRACEBACK=1 re-raises it for a developer at a terminal.
            if os.environ.get("ESCROW_TRACEBACK") == "1":
                raise
            raise Failure(f"internal error ({type(error).__name__}); {_what_changed(ctx)}") from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            return super().list_commands(ctx)
        except EscrowError as error:  # pragma: no cover - only on a broken instance
            click.echo(f"escrow: {error}", err=True)
            return sorted(self.commands)


_ARCHIVE = "escrow.archive"  # the command's Archive, in click's context (shared by nested contexts)


def _what_changed(ctx: click.Context) -> str:
    """What a command that failed had done: nothing, unless one of its units of work committed
    (a publish-due that released batches before it stopped: they stay released)."""
    archive = ctx.meta.get(_ARCHIVE)
    if archive is not None and archive.changed:
        return "what the command had saved before the error is kept; run it again to finish"
    return "nothing was changed"


cli = EscrowGroup(
    create_app=create_app, load_dotenv=False, set_debug_flag=False,
    help="Escrow: sealed oral histories, released on their date. ARCHIVE_HOME picks the instance.",
)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="escrow")


def config() -> Config:
    """The running archive's configuration."""
    return current_app.config["ESCROW_CONFIG"]


def archive() -> Archive:
    """The archive a command works on, initialised; its connections closed when the command ends."""
    close_on_exit()
    db.require_initialised(config().database_url)
    return _remembered(services.current())


def fresh_archive() -> Archive:
    """The archive of a command that may find no database yet (restore)."""
    return _remembered(services.current())


def _remembered(archive: Archive) -> Archive:
    click.get_current_context().meta[_ARCHIVE] = archive
    return archive


def dispose() -> None:
    """Close the database's connections now (before serving: each worker opens its own)."""
    db.db.engine.dispose()


def close_on_exit() -> None:
    # Close the engine's connections when the command ends, so SQLite checkpoints its
    # write-ahead log and the command leaves no open handle behind (tests run many).
    # The session first, so no connection it holds outlives the engine.
    engine = db.db.engine

    def close() -> None:
        db.db.session.remove()
        engine.dispose()

    click.get_current_context().call_on_close(close)


def instant(value: str | None) -> datetime:
    """An instant given on the command line, or now."""
    return parse_instant(value) if value else utcnow()


def actor(archive: Archive, email: str) -> User:
    """The acting user named by --as: the operator at the machine acts as anyone (see README)."""
    return archive.user(email)
