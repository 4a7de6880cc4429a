"""The `escrow` command's frame: a click group that loads a command's module only to run it,
and turns errors into one clear line.

Commands are thin: parse, call a service, commit, echo a count or a table. A domain
error becomes one line on stderr and exit status 1; bad usage exits 2 (click).

Nothing heavy is imported here: `escrow --help`, `escrow --version` and a command's own
`--help` load neither Flask nor SQLAlchemy, Whoosh or cryptography (tests/test_cli_startup.py).
A command's module is imported when the command is asked for (`COMMANDS`), and the archive's
application is made when the command first needs it (`config()`, `archive()`).
"""

from __future__ import annotations

import importlib
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from archive.config import Config
from archive.errors import EscrowError
from archive.times import parse_instant, utcnow

if TYPE_CHECKING:
    from flask import Flask

    from archive.accounts.users import User
    from archive.services import Archive

# Every command of `escrow`: its name, the module under archive/cli/ that registers it on `cli`,
# and its line in `escrow --help` (the first sentence of its help; tests/test_cli_startup.py
# checks the two agree). A new command or group is one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("audit_log", "The hash-chained audit log."),
    "backup": ("backup", "Copies of the database: never the master key, which you keep apart."),
    "db": ("migrations", "The database's migrations (Flask-Migrate): 'escrow db upgrade' after an upgrade."),
    "demo": ("setup", "Initialise, add demo users and sample stories, release the due ones, print the "
                      "logins, serve."),
    "embargo": ("embargo", "Extend an embargo, request or approve an earlier release, list what is coming."),
    "export": ("export", "Released stories for other archives (never a sealed story)."),
    "index": ("release", "The search index: this node's cache of the reading-room table, or the database's own."),
    "init": ("setup", "Create the instance folder, migrate the database, write the master key (0600)."),
    "keys": ("release", "The master key ring."),
    "narrator": ("narrators", "Issue or revoke a narrator's codename; clear a narrator's hold."),
    "notices": ("notices", "Notices before a lift and after a change: arm them, send them."),
    "publish-due": ("release", "Release every story whose embargo has come; exactly once, crash-safe."),
    "recordings": ("stories", "Sealed recordings' files in the media folder."),
    "redact-again": ("release", "Redact every released story again with this version's rules (after an upgrade)."),
    "scheduler": ("notices", "Run publish-due (releases and notices) every N seconds until stopped: for `escrow "
                              "demo`, or a container with no timer (a systemd timer or cron is the usual way: see "
                              "README)."),
    "search": ("release", "Search the reading room as a researcher would (after bringing this node's index "
                          "in step)."),
    "serve": ("serve", "Serve the web archive with gunicorn."),
    "stories": ("stories", "Sealed stories: import and list (never their content)."),
    "users": ("setup", "Manage accounts."),
}

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


class EscrowGroup(click.Group):
    """The `escrow` group: its commands loaded when asked for, its errors one clear line each."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS.keys() | self.commands.keys())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            importlib.import_module(f"archive.cli.{COMMANDS[name][0]}")  # it registers its commands
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, from `COMMANDS`: `escrow --help` imports none of them."""
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EscrowError as error:
            raise Failure(str(error)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if _database_error(error):
                # The driver's message can quote SQL parameters; show only its class.
                raise Failure(f"database error ({type(error).__name__}); {_what_changed(ctx)}") from None
            # An unexpected error's message may quote data; show its class only.
            # ESCROW_TRACEBACK=1 re-raises it for a developer at a terminal.
            if os.environ.get("ESCROW_TRACEBACK") == "1":
                raise
            raise Failure(f"internal error ({type(error).__name__}); {_what_changed(ctx)}") from None


def _database_error(error: Exception) -> bool:
    """Whether `error` is SQLAlchemy's (which cannot be if the command never loaded SQLAlchemy)."""
    loaded = sys.modules.get("sqlalchemy.exc")
    return loaded is not None and isinstance(error, loaded.SQLAlchemyError)


_ARCHIVE = "escrow.archive"  # the command's Archive, in click's context (shared by nested contexts)


def _what_changed(ctx: click.Context) -> str:
    """What a command that failed had done: nothing, unless one of its units of work committed
    (a publish-due that released batches before it stopped: they stay released)."""
    archive = ctx.meta.get(_ARCHIVE)
    if archive is not None and archive.changed:
        return "what the command had saved before the error is kept; run it again to finish"
    return "nothing was changed"


cli = EscrowGroup(
    "escrow", help="Escrow: sealed oral histories, released on their date. ARCHIVE_HOME picks the instance.",
)
click.version_option(package_name="escrow-archive", prog_name="escrow",
                     message="%(prog)s %(version)s")(cli)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="escrow")


_APP = "escrow.app"  # the command's application, in click's context (shared by nested contexts)


def app(*, migrations: bool = False) -> Flask:
    """The archive's application, made (from the environment) the first time a command needs it
    and its context kept until the command ends: a command's --help never makes one. With
    `migrations`, it has Flask-Migrate too (`escrow db`)."""
    ctx = click.get_current_context()
    made: Flask | None = ctx.meta.get(_APP)
    if made is None:
        from archive.app import create_app

        made = ctx.meta[_APP] = create_app(doors=False)  # serve's workers make their own
        ctx.with_resource(made.app_context())
    if migrations:
        from archive.storage import database

        database.with_migrations(made)
    return made


def config() -> Config:
    """The running archive's configuration."""
    found: Config = app().config["ESCROW_CONFIG"]
    return found


def archive() -> Archive:
    """The archive a command works on, initialised; its connections closed when the command ends."""
    close_on_exit()
    from archive import services
    from archive.storage import database

    database.require_initialised(config().database_url)
    return _remembered(services.current())


def fresh_archive() -> Archive:
    """The archive of a command that may find no database yet (restore)."""
    app()
    from archive import services

    return _remembered(services.current())


def _remembered(archive: Archive) -> Archive:
    click.get_current_context().meta[_ARCHIVE] = archive
    return archive


def dispose() -> None:
    """Close the database's connections now (before serving: each worker opens its own)."""
    from archive.storage import database

    database.db.engine.dispose()


def close_on_exit() -> None:
    # Close the engine's connections when the command ends, so SQLite checkpoints its
    # write-ahead log and the command leaves no open handle behind (tests run many).
    # The session first, so no connection it holds outlives the engine.
    app()
    from archive.storage import database

    engine = database.db.engine

    def close() -> None:
        database.db.session.remove()
        engine.dispose()

    click.get_current_context().call_on_close(close)


def instant(value: str | None) -> datetime:
    """An instant given on the command line, or now."""
    return parse_instant(value) if value else utcnow()


def actor(archive: Archive, email: str) -> User:
    """The acting user named by --as: the operator at the machine acts as anyone (see README)."""
    return archive.user(email)
