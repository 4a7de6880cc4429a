"""The `escrow` command: a Flask CLI group, so `escrow routes` and `escrow db upgrade` work too.

Commands are thin: parse, call a service, commit, echo a count or a table. A domain
error becomes one line on stderr and exit status 1; bad usage exits 2 (click).
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive import audit, db, demo, reading_room, users
from archive.app import create_app
from archive.config import Config
from archive.errors import EscrowError
from archive.reading_room import room, search
from archive.release import gate, locks
from archive.times import format_instant, parse_instant, utcnow
from archive.vault import imports, keys, rotation, stories
from archive.vault.keys import Keyring


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
            raise Failure(f"database error ({type(error).__name__}); nothing was changed") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            # An unexpected error's message may quote data; show its class only.
            # ESCROW_TRACEBACK=1 re-raises it for a developer at a terminal.
            if os.environ.get("ESCROW_TRACEBACK") == "1":
                raise
            raise Failure(f"internal error ({type(error).__name__}); nothing was changed") from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            return super().list_commands(ctx)
        except EscrowError as error:  # pragma: no cover - only on a broken instance
            click.echo(f"escrow: {error}", err=True)
            return sorted(self.commands)


cli = EscrowGroup(
    create_app=create_app, load_dotenv=False, set_debug_flag=False,
    help="Escrow: sealed oral histories, released on their date. ARCHIVE_HOME picks the instance.",
)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="escrow")


def _config() -> Config:
    return current_app.config["ESCROW_CONFIG"]


def _session() -> Session:
    db.require_initialised(_config().database_url)
    _close_on_exit()
    return db.db.session()


def _close_on_exit() -> None:
    # Close the engine's connections when the command ends, so SQLite checkpoints its
    # write-ahead log and the command leaves no open handle behind (tests run many).
    engine = db.db.engine
    click.get_current_context().call_on_close(engine.dispose)


def _unlocked(session: Session) -> Keyring:
    return keys.unlock(session, _config())


def _commit(session: Session, work: Callable[[], Any]) -> Any:
    try:
        result = work()
        session.commit()
        return result
    except BaseException:
        session.rollback()
        raise


@cli.command("init")
def init_command() -> None:
    """Create the instance folder, migrate the database, write the master key (0600)."""
    config = _config()
    fresh = init_archive(config)
    click.echo(f"{'initialised' if fresh else 'already initialised'} archive at {config.home}")
    if fresh and config.master_key is None:
        click.echo(f"master key: {config.key_file} (mode 0600) - store a copy apart from database backups")


def init_archive(config: Config) -> bool:
    """Set up the archive once; return False if it already was. Never replaces a key."""
    config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    _close_on_exit()
    db.upgrade()
    db.make_private(config.database_url)
    session = db.db.session()
    if keys.is_registered(session):
        keys.unlock(session, config)
        return False
    if config.master_key is not None or config.key_file.exists():
        ring = keys.load(config)
    else:
        ring = keys.generate()
        keys.write_file(config.key_file, ring)

    def work() -> None:
        keys.register(session, ring)
        audit.record(session, ring.audit_key, audit.SYSTEM, "archive.init")

    _commit(session, work)
    return True


@cli.command("demo")
def demo_command() -> None:
    """Initialise, add demo users and sample stories, and print the demo logins."""
    config = _config()
    init_archive(config)
    session = db.db.session()
    ring = _unlocked(session)
    logins, seeded = _commit(session, lambda: demo.seed(session, ring))
    click.echo(f"demo archive at {config.home}: {seeded} sample stories added")
    click.echo("demo logins (email / password / role):")
    for email, password, role in logins:
        click.echo(f"  {email:<28} {password:<16} {role}")
    click.echo("try: escrow stories list  |  escrow audit verify")


# -- users -----------------------------------------------------------------

@cli.group("users")
def users_group() -> None:
    """Manage accounts."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", required=True, help="organizer | researcher | admin")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(email: str, role: str, password_stdin: bool) -> None:
    """Add an account (argon2id password)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    session = _session()
    user = _commit(session, lambda: users.add(session, email, role, password))
    click.echo(f"added {user.role} {user.email}")


# -- stories ---------------------------------------------------------------

@cli.group("stories")
def stories_group() -> None:
    """Sealed stories: import and list (never their content)."""


@stories_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "as_email", required=True, help="The acting organizer or admin.")
def stories_import(file: Path, as_email: str) -> None:
    """Seal every story of a JSON Lines file, or none if any line is bad."""
    session = _session()
    ring = _unlocked(session)
    actor = users.by_email(session, as_email)
    try:
        with file.open(encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise Failure(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise Failure(f"{file}: not UTF-8 text") from None
    sealed = _commit(session, lambda: imports.import_lines(session, ring, actor, lines, str(file)))
    click.echo(f"sealed {len(sealed)} stories")


@stories_group.command("list")
@click.option("--status", help="sealed | due-for-review | released | withdrawn")
def stories_list(status: str | None) -> None:
    """List ids, status, embargo and redaction level, never content."""
    session = _session()
    rows = stories.listing(session, status.replace("-", "_") if status else None)
    click.echo(f"{'id':<16}  {'status':<14}  {'embargo until (UTC)':<20}  {'level':<13}  review")
    for story in rows:
        click.echo(f"{story.id:<16}  {story.status.replace('_', '-'):<14}  "
                   f"{format_instant(story.embargo_until):<20}  {story.redaction_level:<13}  "
                   f"{'yes' if story.release_review else 'no'}")
    click.echo(f"{len(rows)} stories")


# -- audit -----------------------------------------------------------------

@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every entry of the chain and its head; exit 1 naming the first broken entry."""
    session = _session()
    ring = _unlocked(session)
    count = audit.verify(session, ring.audit_key)
    click.echo(f"audit log intact: {count} entries")


@stories_group.command("release")
@click.argument("story_id")
@click.option("--as", "as_email", required=True, help="The acting admin.")
def stories_release(story_id: str, as_email: str) -> None:
    """Release a story that waits for review."""
    session = _session()
    ring = _unlocked(session)
    actor = users.by_email(session, as_email)
    with locks.publisher(_config().home):
        gate.release_reviewed(session, ring, reading_room.index(), actor, story_id)
    click.echo(f"released {story_id}")


def _take_back_command(name: str, action: Callable[..., Any], done: str) -> None:
    @stories_group.command(name)
    @click.argument("story_id")
    @click.option("--reason", required=True, help="Why; it goes into the audit log.")
    @click.option("--as", "as_email", required=True, help="The acting admin.")
    def command(story_id: str, reason: str, as_email: str) -> None:
        session = _session()
        ring = _unlocked(session)
        actor = users.by_email(session, as_email)
        with locks.publisher(_config().home):
            action(session, ring, reading_room.index(), actor, story_id, reason)
        click.echo(f"{done} {story_id}")

    command.__doc__ = action.__doc__


_take_back_command("takedown", gate.takedown, "taken down (sealed, embargo indefinite):")
_take_back_command("withdraw", gate.withdraw, "withdrawn (data key destroyed):")


# -- release ---------------------------------------------------------------

def _instant(value: str | None) -> Any:
    return parse_instant(value) if value else utcnow()


@cli.command("publish-due")
@click.option("--now", "now_text", help="Release as if it were this instant (ISO 8601).")
@click.option("--dry-run", is_flag=True, help="List what would be released; change nothing.")
def publish_due_command(now_text: str | None, dry_run: bool) -> None:
    """Release every story whose embargo has come; exactly once, crash-safe."""
    now = _instant(now_text)
    session = _session()
    ring = _unlocked(session)
    if dry_run:
        due = gate.due(session, now)
        for story in due:
            what = "review" if story.release_review else "release"
            click.echo(f"{story.id}  {format_instant(story.embargo_until)}  {story.redaction_level:<13}  {what}")
        click.echo(f"would release {sum(not s.release_review for s in due)}, "
                   f"hold for review {sum(s.release_review for s in due)} (dry run, nothing changed)")
        return
    with locks.publisher(_config().home):
        total = len(gate.due(session, now))
        if sys.stdout.isatty() and total:
            with click.progressbar(length=total, label="releasing", file=sys.stderr) as bar:
                summary = gate.publish_due(session, ring, reading_room.index(), now=now,
                                           progress=bar.update)
        else:
            summary = gate.publish_due(session, ring, reading_room.index(), now=now)
    click.echo(summary.line())
    if summary.failed:
        raise Failure(f"{summary.failed} stories could not be opened: {', '.join(summary.failures[:10])}")


@cli.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {id, title, snippet}.")
@click.option("--page", default=1, type=click.IntRange(1, 10_000))
def search_command(query: str, as_json: bool, page: int) -> None:
    """Search the reading room as a researcher would."""
    _session()
    results = search.search(reading_room.index(), query, page=page)
    if as_json:
        click.echo(json.dumps([{"id": h.id, "title": h.title, "snippet": h.snippet}
                               for h in results.hits], ensure_ascii=False))
        return
    for hit in results.hits:
        click.echo(f"{hit.id}  {hit.title}\n    {_plain(hit.snippet)}")
    click.echo(f"{results.total} results")


def _plain(snippet: str) -> str:
    """A highlighted HTML snippet as terminal text, matches in *stars*."""
    text = re.sub(r"<mark[^>]*>(.*?)</mark>", r"*\1*", snippet)
    return html.unescape(re.sub(r"\s+", " ", text))


@cli.group("index")
def index_group() -> None:
    """The search index: a cache of the reading-room table."""


@index_group.command("rebuild")
def index_rebuild() -> None:
    """Recreate the index from the reading-room table."""
    session = _session()
    with locks.publisher(_config().home):
        count = room.rebuild(session, reading_room.index())
    click.echo(f"index rebuilt: {count} released stories")


@index_group.command("sync")
def index_sync() -> None:
    """Add missing and purge stale documents, without a full rebuild."""
    session = _session()
    with locks.publisher(_config().home):
        report = room.sync(session, reading_room.index())
    click.echo(f"index synced: added {report.added}, removed {report.removed}")


@index_group.command("verify")
def index_verify() -> None:
    """Check the index holds exactly the released stories' released text, and nothing else."""
    session = _session()
    problems = gate.verify(session, reading_room.index())
    if problems:
        raise Failure(f"index differs from the reading room ({len(problems)}): {'; '.join(problems[:5])}")
    click.echo("index verified: it holds exactly the released stories")


@cli.group("keys")
def keys_group() -> None:
    """The master key ring."""


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under a new master key (payloads are not re-encrypted)."""
    session = _session()
    ring = _unlocked(session)
    with locks.publisher(_config().home):
        result = rotation.rotate(session, _config(), ring, audit.SYSTEM)
    verb = "finished rotating" if result.resumed else "rotated"
    click.echo(f"{verb} to master key version {result.version}: {result.rewrapped} data keys re-wrapped")
