"""Setting an archive up: init, demo, users."""

from __future__ import annotations

import sys

import click

from archive import audit, db, demo, users
from archive.cli import base
from archive.cli.base import cli
from archive.config import Config
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
def demo_command() -> None:
    """Initialise, add demo users and sample stories, and print the demo logins."""
    config = base.config()
    init_archive(config)
    session = db.db.session()
    ring = base.unlocked(session)
    logins, seeded = base.commit(session, lambda: demo.seed(session, ring))
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
    session = base.open_session()
    user = base.commit(session, lambda: users.add(session, email, role, password))
    click.echo(f"added {user.role} {user.email}")
