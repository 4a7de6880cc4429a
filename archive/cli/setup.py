"""Setting an archive up: init, demo, users."""

from __future__ import annotations

import sys

import click

from archive.cli import base, notices, serve
from archive.cli.base import cli
from archive.services import accounts, setup


@cli.command("init")
def init_command() -> None:
    """Create the instance folder, migrate the database, write the master key (0600)."""
    config = base.config()
    base.close_on_exit()
    fresh = setup.init(config)
    click.echo(f"{'initialised' if fresh else 'already initialised'} archive at {config.home}")
    if fresh and config.master_key is None:
        click.echo(f"master key: {config.key_file} (mode 0600) - store a copy apart from database backups")


@cli.command("demo")
@serve.serve_options
@click.option("--no-serve", is_flag=True, help="Set up and print the logins, but do not serve.")
@click.option("--every", type=click.IntRange(1, 3600), default=60, show_default=True,
              help="Seconds between two runs of the scheduler beside the server (releases and notices).")
def demo_command(host: str, port: int, workers: int, no_serve: bool, every: int) -> None:
    """Initialise, add demo users and sample stories, release the due ones, print the logins, serve."""
    config = base.config()
    base.close_on_exit()
    setup.init(config)
    made = setup.seed_demo(base.archive())
    seeded = base.counted(made.seeded, "sample story", "sample stories")
    click.echo(f"demo archive at {config.home}: {seeded} added; {made.summary.line()}")
    click.echo("demo logins (email / password / role):")
    for email, password, role in made.logins:
        click.echo(f"  {email:<28} {password:<16} {role}")
    if no_serve:
        click.echo("try: escrow serve  |  escrow stories list  |  escrow audit verify")
        return
    base.dispose()  # the workers open their own connections
    click.echo(f"open http://{host}:{port}/ (Ctrl-C to stop)")
    # Due stories are released and notices sent while the demo serves, with no command.
    with notices.beside(every):
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
    """Add an account (argon2id password); audited as done from the command line."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    user = accounts.add(base.archive(), None, email, role, password)
    click.echo(f"added {user.role} {user.email}")
