"""Releasing and searching: publish-due, search, the index, the key ring."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta

import click

from archive.cli import base
from archive.cli.base import cli
from archive.services import Archive, keyring, notices, reading, releases
from archive.services import index as node_index
from archive.times import format_instant, parse_duration, parse_instant


@cli.command("publish-due")
@click.option("--now", "now_text", help="Release as if it were this instant (ISO 8601).")
@click.option("--dry-run", is_flag=True, help="List what would be released; change nothing.")
@click.option("--check", is_flag=True,
              help="Release nothing; exit 1 if a story has been due for longer than --grace (monitoring).")
@click.option("--grace", "grace_text", default="2h", show_default=True, help="For --check: e.g. 30m, 2h, 1d.")
def publish_due_command(now_text: str | None, dry_run: bool, check: bool, grace_text: str) -> None:
    """Release every story whose embargo has come; exactly once, crash-safe.

    One story that cannot be released stays sealed and is named on stderr; every other due
    story is released, and the run exits 1. --now may be earlier than the clock (a late run
    catching up is the same run), later only with --dry-run.
    """
    now = parse_instant(now_text) if now_text else None
    if check and dry_run:
        raise click.UsageError("--check and --dry-run are two different questions: give one")
    archive = base.archive()
    if check:
        _check(archive, parse_duration(grace_text), grace_text, now)
        return
    if dry_run:
        due = releases.due(archive, now)
        for story in due:
            what = "review" if story.release_review else "release"
            click.echo(f"{story.id}  {format_instant(story.embargo_until)}  {story.redaction_level:<13}  {what}")
        click.echo(f"would release {sum(not s.release_review for s in due)}, "
                   f"hold for review {sum(s.release_review for s in due)} (dry run, nothing changed)")
        return
    total = releases.due_count(archive, now) if sys.stdout.isatty() else 0
    if total:
        with click.progressbar(length=total, label="releasing", file=sys.stderr) as bar:
            summary = releases.publish_due(archive, now, progress=bar.update)
    else:
        summary = releases.publish_due(archive, now)
    sent = notices.run(archive, now)  # the same timer arms and sends notices
    # One summary line for logs; what notices did, when e-mail was sent or failed.
    click.echo(summary.line() + (f"; {sent.line()}" if sent.sent or sent.failed else ""))
    _kept_sealed({item.story_id: item.cause for item in summary.recordings_refused})
    if summary.stuck:
        for item in summary.stuck:
            click.echo(f"escrow: {item.story_id} stays sealed: its release failed ({item.cause}); "
                       "see 'escrow audit show --story ID'", err=True)
        raise base.Failure(f"{base.counted(summary.failed, 'due story', 'due stories')} could not be released; "
                           "every other one was")


@cli.command("redact-again")
@click.option("--dry-run", is_flag=True, help="Name the released copies that would change; change nothing.")
def redact_again_command(dry_run: bool) -> None:
    """Redact every released story again with this version's rules (after an upgrade).

    A released copy that comes out different, because this version hides more, is replaced:
    in the reading room, in search (its old text purged from the index files), for OAI-PMH
    harvesters (stamped now), and its muted recording is made again. Each is audited. A new
    copy that would show a word its old copy hid is not written: the story is named.
    """
    archive = base.archive()
    total = releases.released_count(archive) if sys.stdout.isatty() else 0
    if total:
        with click.progressbar(length=total, label="redacting", file=sys.stderr) as bar:
            done = releases.redact_again(archive, apply=not dry_run, progress=bar.update)
    else:
        done = releases.redact_again(archive, apply=not dry_run)
    stuck = {item.story_id: item.cause for item in done.stuck}
    if dry_run:
        for story_id in done.changed:
            if story_id not in stuck:
                click.echo(story_id)
        click.echo(f"would replace {len(done.changed) - len(stuck.keys() & set(done.changed))} of {done.checked} "
                   "released copies (dry run, nothing changed)")
    else:
        click.echo(f"replaced {done.replaced} of {done.checked} released copies")
    for story_id, cause in stuck.items():
        why = ("its new copy would show a word its released copy hides" if cause == releases.REVEALS
               else f"redacting it again failed ({cause})")
        click.echo(f"escrow: {story_id} keeps its released copy: {why}; see 'escrow audit show --story ID'", err=True)
    if stuck and not dry_run:
        raise base.Failure(f"{len(stuck)} released copies were not replaced; every other one that changed was")


def _kept_sealed(refused: dict[str, str]) -> None:
    """Name each released story whose recording stays sealed: the text went out as its narrator
    chose, the voice did not (the safe side, so not a failure of the run; an admin should know)."""
    for story_id, reason in refused.items():
        click.echo(f"escrow: {story_id} is released but its recording stays sealed: "
                   f"{releases.why_kept_sealed(reason)}; see 'escrow audit show --story {story_id}'", err=True)


def _check(archive: Archive, grace: timedelta, grace_text: str, now: datetime | None) -> None:
    health = releases.check(archive, grace, now)
    _kept_sealed(health.recordings_refused)
    unsent = notices.unsent(archive, grace, now)
    if unsent.count:
        click.echo(f"escrow: {base.counted(unsent.count, 'notice', 'notices')} armed more than {grace_text} ago "
                   f"could not be sent (the oldest armed {format_instant(unsent.oldest)}, last error "
                   f"{unsent.error}): is ESCROW_SMTP_URL's server reachable? They are kept and retried", err=True)
    # Held and cooling-off stories are the narrators' choices, not failures of the run: named
    # on stderr for the admins, whatever the exit status.
    for story_id, kind in health.held.items():
        who = "an admin clears it" if kind == "objection" else "its organizer marks the words and clears it"
        click.echo(f"escrow: {story_id} is held by its narrator ({kind}) until {who}", err=True)
    for story_id, until in health.cooling.items():
        click.echo(f"escrow: {story_id} is withdrawn by its narrator, cooling off until {format_instant(until)}; "
                   "then publish-due destroys it", err=True)
    if health.stuck:
        named = "; ".join(f"{i} failed to release ({cause})" for i, cause in list(health.stuck.items())[:10])
        raise base.Failure(f"{base.counted(len(health.overdue), 'story', 'stories')} overdue by more than "
                           f"{grace_text}: {named}: "
                           "fix or withdraw them; 'escrow audit show --story ID' has the failure")
    if health.overdue:
        oldest = health.overdue[0]
        raise base.Failure(
            f"{base.counted(len(health.overdue), 'story', 'stories')} overdue by more than {grace_text}; the oldest, "
            f"{oldest.id}, was due "
            f"{format_instant(oldest.embargo_until)}: is the publish-due timer running?")
    if unsent.count:
        raise base.Failure(f"{base.counted(unsent.count, 'notice', 'notices')} could not be sent")
    waiting = health.waiting_review
    click.echo(f"ok: no story overdue by more than {grace_text}"
               + (f"; {waiting} due for review by an admin" if waiting else ""))


@cli.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {id, title, snippet: {text, matches}}, matches as [start, end] offsets.")
@click.option("--page", default=1, type=click.IntRange(1, 10_000))
def search_command(query: str, as_json: bool, page: int) -> None:
    """Search the reading room as a researcher would (after bringing this node's index in step)."""
    listing = reading.search(base.archive(), query, page=page)
    if as_json:
        click.echo(json.dumps([{"id": found.story.id, "title": found.story.title,
                                "snippet": {"text": found.snippet.text,
                                            "matches": [list(m) for m in found.snippet.matches]}}
                               for found in listing.found], ensure_ascii=False))
        return
    for found in listing.found:
        click.echo(f"{found.story.id}  {found.story.title}\n    {_starred(found.snippet)}")
    click.echo(f"{listing.total} results")


def _starred(snippet: reading.Snippet) -> str:
    """A snippet as terminal text: each match in *stars*, the text on one line."""
    text, index, out = snippet.text, 0, []
    for start, end in snippet.matches:
        out += [text[index:start], "*", text[start:end], "*"]
        index = end
    out.append(text[index:])
    return " ".join("".join(out).split())


@cli.group("index")
def index_group() -> None:
    """The search index: this node's cache of the reading-room table, or the database's own.

    Which one is ESCROW_SEARCH's choice (auto: the database's on PostgreSQL)."""


@index_group.command("rebuild")
def index_rebuild() -> None:
    """Recreate the index from the reading-room table."""
    count = node_index.rebuild(base.archive())
    click.echo(f"index rebuilt: {base.counted(count, 'released story', 'released stories')}")


@index_group.command("sync")
def index_sync() -> None:
    """Bring this node's index in step with the reading-room table, without a full rebuild."""
    report = node_index.sync(base.archive())
    if report.shared:
        click.echo("search is in the database, shared by every node: nothing to bring in step "
                   f"(vectors written for {report.added} released copies that had none; pending purges finished)")
    else:
        click.echo(f"index synced: added {report.added}, removed {report.removed}")


@index_group.command("verify")
def index_verify() -> None:
    """Check the index holds exactly the released stories' released text, and nothing else, and
    that the media folder holds no file that no recording needs (`escrow recordings sweep`)."""
    problems = node_index.verify(base.archive())
    if problems:
        raise base.Failure(f"verify found {len(problems)} problems: {'; '.join(problems[:5])}")
    click.echo("index verified: it holds exactly the released stories")


@cli.group("keys")
def keys_group() -> None:
    """The master key ring."""


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under a new master key (payloads are not re-encrypted) and switch
    the audit log to a new audit key."""
    result = keyring.rotate(base.archive())
    verb = "finished rotating" if result.resumed else "rotated"
    rewrapped = base.counted(result.rewrapped, "data key", "data keys")
    click.echo(f"{verb} to master key version {result.version}: {rewrapped} re-wrapped; the audit log is "
               f"under audit key version {result.audit_version}; every web session has ended (people sign in again)")
