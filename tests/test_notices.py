"""Notices: armed once per (story, kind, instant) by any scheduler run, however late; sent by
e-mail to a real SMTP server on 127.0.0.1, once each, holding nothing of a story but its id.

The clock is the tests': `--now` in the past (a run may go by an earlier instant, never a later
one), so the stories' embargoes are set a little before the real clock, and the runs walk up
to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from archive.times import format_instant, utcnow
from tests.helpers import add_users, canaries, escrow, one, sql, story, write_lines
from tests.mailbox import Mailbox
from tests.processes import Pauses, finish, started

ORG, OTHER, ADMIN, ADMIN2 = "org@example.org", "other@example.org", "admin@example.org", "admin2@example.org"
LIFTS = "SELECT kind, count(*) FROM notices WHERE kind LIKE 'lift%' GROUP BY kind ORDER BY kind"


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (OTHER, "organizer"), (ADMIN, "admin"), (ADMIN2, "admin"))


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


def seal(home: Path, embargo: datetime, *, owner: str = ORG, count: int = 1, **fields: object) -> list[str]:
    """Import `count` stories with one embargo, owned by `owner`; their ids."""
    before = {row[0] for row in sql(home, "SELECT id FROM stories")}
    file = write_lines(home.parent / f"s{len(list(home.parent.glob('s*.jsonl')))}.jsonl",
                       *(story(embargo_until=format_instant(embargo), **fields) for _ in range(count)))
    result = escrow(home, "stories", "import", str(file), "--as", owner)
    assert result.exit_code == 0, result.output
    return sorted({row[0] for row in sql(home, "SELECT id FROM stories")} - before)


def run(home: Path, at: datetime | None, mailbox: Mailbox | None = None, *, code: int = 0) -> str:
    """A scheduler run at `at` (None: the clock)."""
    env = {"ESCROW_SMTP_URL": mailbox.url} if mailbox else {}
    result = escrow(home, "notices", "run", *(["--now", format_instant(at)] if at else []), env=env)
    assert result.exit_code == code, result.output
    return result.output


def told(mailbox: Mailbox, story_id: str) -> list[str]:
    """The bodies of the messages about one story (not the admins' digests, which list it)."""
    subject = f"Escrow: a notice about story {story_id}"
    return [str(m.get_content()) for m in mailbox.messages() if m["Subject"] == subject]


def lifts(home: Path) -> list[tuple[str, int]]:
    return [(kind, int(count)) for kind, count in sql(home, LIFTS)]


def test_the_30_7_and_1_day_notices_arrive_exactly_once_each(home: Path, mailbox: Mailbox) -> None:
    lift = utcnow() - timedelta(hours=1)  # the runs walk up to it with --now
    [story_id] = seal(home, lift)

    run(home, lift - timedelta(days=31), mailbox)
    assert lifts(home) == []
    for days in (30, 7, 1):
        at = lift - timedelta(days=days) + timedelta(minutes=1)
        run(home, at, mailbox)
        run(home, at, mailbox)  # a second run at the same instant arms and sends nothing
        run(home, at + timedelta(hours=2), mailbox)

    assert lifts(home) == [("lift_1", 1), ("lift_30", 1), ("lift_7", 1)]
    bodies = told(mailbox, story_id)
    assert len(bodies) == 3
    assert sum("in 30 days" in b for b in bodies) == sum("in 7 days" in b for b in bodies) == \
        sum("tomorrow" in b for b in bodies) == 1
    assert all(m["To"] == ORG for m in mailbox.messages() if m["Subject"] == f"Escrow: a notice about story {story_id}")


def test_a_run_after_a_three_day_outage_catches_up_once(home: Path, mailbox: Mailbox) -> None:
    lift = utcnow() - timedelta(hours=1)
    [story_id] = seal(home, lift)
    run(home, lift - timedelta(days=8), mailbox)  # the 30-day notice, late but once
    # Down from 8 days before the lift to 5 days before: the 7-day window opened meanwhile.
    run(home, lift - timedelta(days=5), mailbox)
    run(home, lift - timedelta(days=5) + timedelta(minutes=1), mailbox)
    # Down again for three days across the 1-day window; back after the lift instant, not yet released.
    run(home, lift - timedelta(days=1) - timedelta(hours=12), mailbox)
    run(home, lift + timedelta(minutes=30), mailbox)

    assert lifts(home) == [("lift_30", 1), ("lift_7", 1)]  # the 1-day window passed unseen: not sent late
    bodies = told(mailbox, story_id)
    assert sorted(b.splitlines()[0].split(" released ")[1].split(",")[0] for b in bodies) == ["in 30 days",
                                                                                              "in 7 days"]


def test_a_run_that_missed_every_window_arms_each_once(home: Path, mailbox: Mailbox) -> None:
    lift = utcnow() - timedelta(hours=1)
    seal(home, lift)

    run(home, lift - timedelta(hours=20), mailbox)
    run(home, lift - timedelta(hours=19), mailbox)

    assert lifts(home) == [("lift_1", 1), ("lift_30", 1), ("lift_7", 1)]
    assert len([m for m in mailbox.messages() if "will be released" in str(m.get_content())]) == 3


def test_an_extension_arms_the_windows_of_its_new_instant(home: Path, mailbox: Mailbox) -> None:
    soon = utcnow() + timedelta(days=3)
    [story_id] = seal(home, soon)
    run(home, None, mailbox)
    assert lifts(home) == [("lift_30", 1), ("lift_7", 1)]

    later = utcnow() + timedelta(days=20)
    extended = escrow(home, "embargo", "extend", story_id, "--until", format_instant(later), "--reason", "safer",
                      "--as", ORG)
    assert extended.exit_code == 0, extended.output
    run(home, None, mailbox)
    run(home, None, mailbox)

    assert lifts(home) == [("lift_30", 2), ("lift_7", 1)]  # the new instant's 30-day window, once
    instants = sql(home, "SELECT instant FROM notices WHERE kind = 'lift_30' ORDER BY instant")
    assert len({str(i[0])[:16] for i in instants}) == 2
    assert len(told(mailbox, story_id)) == 3


def test_only_sealed_stories_with_a_date_are_told(home: Path) -> None:
    lift = utcnow() - timedelta(hours=1)
    seal(home, lift, count=2)
    file = write_lines(home.parent / "indefinite.jsonl", story(embargo_until=None))
    assert escrow(home, "stories", "import", str(file), "--as", ORG).exit_code == 0
    released = escrow(home, "publish-due")
    assert released.exit_code == 0 and released.output.startswith("released 2,")

    run(home, lift - timedelta(minutes=30))

    assert lifts(home) == []  # released already: no "will be released" after the fact
    assert one(home, "SELECT count(*) FROM notices WHERE kind = 'released'") == 2
    assert one(home, "SELECT count(*) FROM notice_deliveries d JOIN notices n ON n.id = d.notice_id "
                     "WHERE n.kind = 'released'") == 2


def test_without_smtp_the_notices_stay_in_the_archive(home: Path) -> None:
    seal(home, utcnow() + timedelta(days=2))
    output = run(home, None)

    assert "armed 3" in output and "sent 0" in output  # two windows and the digest
    assert {row[0] for row in sql(home, "SELECT mail FROM notice_deliveries")} == {"none"}


def test_a_takedown_and_a_decision_are_told_once(home: Path, mailbox: Mailbox) -> None:
    [story_id] = seal(home, utcnow() - timedelta(hours=1))
    assert escrow(home, "publish-due", env={"ESCROW_SMTP_URL": mailbox.url}).exit_code == 0
    taken = escrow(home, "stories", "takedown", story_id, "--reason", "asked", "--as", ADMIN)
    assert taken.exit_code == 0, taken.output
    [other] = seal(home, utcnow() + timedelta(days=90))
    asked = escrow(home, "embargo", "request", other, "--until", "now", "--reason", "early", "--as", ORG)
    assert asked.exit_code == 0, asked.output
    request_id = one(home, "SELECT id FROM embargo_requests")
    assert escrow(home, "embargo", "deny", request_id, "--reason", "no", "--as", ADMIN).exit_code == 0
    run(home, None, mailbox)
    run(home, None, mailbox)

    assert one(home, "SELECT count(*) FROM notices WHERE kind IN ('released', 'taken_down', 'request_denied')") == 3
    subjects = [str(m["Subject"]) for m in mailbox.messages()]
    assert subjects.count(f"Escrow: a notice about story {story_id}") == 2  # released, taken down
    assert subjects.count(f"Escrow: a notice about story {other}") == 1  # denied: the requester is its owner


def test_a_held_story_tells_its_organizer_and_every_admin(home: Path, mailbox: Mailbox) -> None:
    [story_id] = seal(home, utcnow() - timedelta(hours=1), release_review=True)
    assert escrow(home, "publish-due", env={"ESCROW_SMTP_URL": mailbox.url}).exit_code == 0

    held = [m for m in mailbox.messages() if "waits for an admin's review" in str(m.get_content())]
    assert sorted(m["To"] for m in held) == sorted([ADMIN, ADMIN2, ORG])
    assert all(story_id in str(m.get_content()) for m in held)


def test_a_down_smtp_server_delays_notices_and_loses_none(home: Path, mailbox: Mailbox) -> None:
    seal(home, utcnow() + timedelta(days=2), count=3)
    mailbox.stop()
    start = utcnow() - timedelta(hours=1)
    failed = run(home, start, mailbox, code=1)
    assert "could not be sent" in failed
    run(home, start + timedelta(seconds=30), mailbox, code=0)  # backing off: nothing tried, nothing lost
    assert one(home, "SELECT count(*) FROM notice_deliveries WHERE mail = 'pending'") == 8  # 3 x 2 windows, 2 digests
    checked = escrow(home, "publish-due", "--check", "--grace", "1m")
    assert checked.exit_code == 1 and "8 notices" in checked.output and "could not be sent" in checked.output

    mailbox.start()
    run(home, start + timedelta(minutes=2), mailbox)

    assert len(mailbox.messages()) == 8
    assert one(home, "SELECT count(*) FROM notice_deliveries WHERE mail = 'sent'") == 8
    run(home, start + timedelta(minutes=30), mailbox)
    assert len(mailbox.messages()) == 8  # and none twice
    assert escrow(home, "publish-due", "--check").exit_code == 0


def test_no_message_holds_the_story_text_title_names_or_reasons(home: Path, mailbox: Mailbox) -> None:
    words = canaries(7)
    title, narrator, person, place, summary, reason, request = words
    [story_id] = seal(home, utcnow() + timedelta(days=2), title=f"The {title}", narrator=f"Rosa {narrator}",
                      transcript=f"I met [[person:{person}]] in [[place:{place}]].", summary=summary,
                      release_review=True)
    run(home, None, mailbox)
    assert escrow(home, "embargo", "extend", story_id, "--until", format_instant(utcnow() + timedelta(days=5)),
                  "--reason", f"because {reason}", "--as", ORG).exit_code == 0
    assert escrow(home, "embargo", "request", story_id, "--until", "now", "--reason", f"for {request}",
                  "--as", ORG).exit_code == 0
    request_id = one(home, "SELECT id FROM embargo_requests")
    assert escrow(home, "embargo", "approve", request_id, "--as", ADMIN).exit_code == 0
    assert escrow(home, "publish-due", env={"ESCROW_SMTP_URL": mailbox.url}).exit_code == 0
    run(home, None, mailbox)

    kinds = {row[0] for row in sql(home, "SELECT DISTINCT kind FROM notices")}
    assert {"lift_30", "lift_7", "request_approved", "held", "digest"} <= kinds
    raw = b"\n".join(mailbox.raw)
    assert story_id.encode() in raw
    assert not [w for w in words if w.encode() in raw or w.lower().encode() in raw.lower()]


def test_two_schedulers_at_once_send_each_notice_once(home: Path, mailbox: Mailbox, tmp_path: Path) -> None:
    """Real processes: the first holds its claimed batch unsent (after its claim's commit) while
    the second runs whole; then the first sends. Every delivery arrives once."""
    seal(home, utcnow() + timedelta(days=2), count=60)
    pauses = Pauses(tmp_path / "pauses")
    pauses.hold("notices.claimed")
    smtp = {"ESCROW_SMTP_URL": mailbox.url}
    try:
        with started(home, "notices", "run", env={**smtp, **pauses.env}) as first:
            pauses.reached("notices.claimed", alive=first)
            with started(home, "notices", "run", env=smtp) as second:
                code, output = finish(second)
                assert code == 0, output
            pauses.release("notices.claimed")
            code, output = finish(first)
            assert code == 0, output
    finally:
        pauses.close()

    letters = [(str(m["To"]), str(m.get_content())) for m in mailbox.messages()]
    assert len(letters) == 60 * 2 + 2  # two windows a story, and a digest for each admin
    assert len(set(letters)) == len(letters)
    assert one(home, "SELECT count(*) FROM notice_deliveries WHERE mail = 'sent'") == len(letters)


def test_a_notice_is_written_in_its_readers_language(home: Path, mailbox: Mailbox) -> None:
    [story_id] = seal(home, utcnow() + timedelta(days=2))
    sql(home, "UPDATE users SET language = 'es' WHERE email = :email", email=ORG)
    run(home, None, mailbox)

    [letter] = [m for m in mailbox.messages() if m["To"] == ORG and "7 días" in str(m.get_content())]
    assert letter["Subject"] == f"Escrow: un aviso sobre el relato {story_id}"
    assert str(letter.get_content()).startswith(f"El relato {story_id} se publicará dentro de 7 días")
    assert letter["Content-Language"] == "es"
    digests = [m for m in mailbox.messages() if m["To"] == ADMIN]
    assert [m["Subject"] for m in digests] == ["Escrow: what is released in the next 30 days"]
    assert story_id in str(digests[0].get_content())
