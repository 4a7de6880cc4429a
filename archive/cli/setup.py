"""Setting an archive up: init, demo, users."""

from __future__ import annotations

import sys

import click

from archive import audit, db, demo, reading_room, users
from archive.cli import base, serve
from archive.cli.base import cli
from archive.config import Config
from archive.release import gate, locks
from archive.times import utcnow
from archive.vault import keys


@cli.command("init")
def init_command() -> None:
    """Create the instance folder, migrate the database, write the master key (0600)."""
    config = base.config()
    fresh = init_archive(config)
    click.echo(f"{'initialised' if fresh else 'already initialised'} archive at {config.home}")
    if fresh and config.master_key is None:
        click.echo(f"master key: {config.key_file} (mode 0600) - store a copy apart from database backups")


def init_archive(config: Config) -> bool:
    """Set up the archive once; return False if it already was. Never replaces a key."""
    config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    base.close_on_exit()
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

    base.commit(session, work)
    return True


@cli.command("demo")
@serve.serve_options
@click.option("--no-serve", is_flag=True, help="Set up and print the logins, but do not serve.")
def demo_command(host: str, port: int, workers: int, no_serve: bool) -> None:
    """Initialise, add demo users and sample stories, release the due ones, print the logins, serve."""
    config = base.config()
    init_archive(config)
    session = db.db.session()
    ring = base.unlocked(session)
    logins, seeded = base.commit(session, lambda: demo.seed(session, ring))
    with locks.publisher(config.home):
        summary = gate.publish_due(session, ring, reading_room.index(), now=utcnow())
    click.echo(f"demo archive at {config.home}: {seeded} sample stories added; {summary.line()}")
    click.echo("demo logins (email / password / role):")
    for email, password, role in logins:
        click.echo(f"  {email:<28} {password:<16} {role}")
    if no_serve:
        click.echo("try: escrow serve  |  escrow stories list  |  escrow audit verify")
        return
    db.db.engine.dispose()  # the workers open their own connections
    click.echo(f"open http://{host}:{port}/ (Ctrl-C to stop)")
    serve.run(host, port, workers)


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
    session = base.open_session()
    user = base.commit(session, lambda: users.add(session, email, role, password))
    click.echo(f"added {user.role} {user.email}")
