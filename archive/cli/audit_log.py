"""The audit log: verify, show, anchor."""

from __future__ import annotations

import json
from typing import Any

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import audit_log
from archive.services.audit_log import Anchor
from archive.times import format_instant, parse_instant


@cli.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.option("--anchor", "anchor_text", help="An anchor kept off the machine (SEQ:HASH from 'audit anchor').")
def audit_verify(anchor_text: str | None) -> None:
    """Check every entry of the chain, its head and its anchors; exit 1 naming the first broken entry."""
    kept = Anchor.parse(anchor_text) if anchor_text else None
    count, last = audit_log.verify(base.archive(), kept)
    click.echo(f"audit log intact: {base.counted(count, 'entry', 'entries')}"
               + (f", anchored at entry {last.seq}" if last else ", never anchored (run 'escrow audit anchor')"))


@audit_group.command("anchor")
def audit_anchor() -> None:
    """Anchor the chain's head and print it: keep the line off this machine."""
    mark = audit_log.anchor(base.archive())
    click.echo(f"anchored audit head {mark}")
    click.echo(f"keep this line off this machine; check with: escrow audit verify --anchor {mark}")


@audit_group.command("show")
@click.option("--story", "story_id", help="Only entries about this story.")
@click.option("--since", "since_text", help="Only entries from this ISO 8601 date or instant on.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def audit_show(story_id: str | None, since_text: str | None, as_json: bool) -> None:
    """Print entries in chain order (who, what, which story, when; never story content).

    Reading the log is itself recorded in it.
    """
    since = parse_instant(since_text) if since_text else None
    shown = audit_log.show(base.archive(), audit_log.SYSTEM, story_id=story_id, since=since, since_text=since_text)
    rows: list[dict[str, Any]] = [{"seq": s.entry.seq, "at": format_instant(s.entry.at), "actor": s.entry.actor,
             "action": s.entry.action, "story": s.entry.story_id, "detail": s.detail} for s in shown]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        detail = " ".join(f"{k}={v}" for k, v in row["detail"].items())
        click.echo(f"{row['seq']:>6}  {row['at']}  {row['actor']:<24}  {row['action']:<20}  "
                   f"{row['story'] or '-':<16}  {detail}")
    click.echo(base.counted(len(rows), "entry", "entries"))
