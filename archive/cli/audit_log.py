"""The audit log: verify, show, anchor."""

from __future__ import annotations

import click

from archive import audit
from archive.cli import base
from archive.cli.base import cli


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every entry of the chain and its head; exit 1 naming the first broken entry."""
    session = base.open_session()
    ring = base.unlocked(session)
    count = audit.verify(session, ring.audit_key)
    click.echo(f"audit log intact: {count} entries")
