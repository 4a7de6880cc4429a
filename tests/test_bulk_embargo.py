"""Bulk embargo changes: a CSV applied all or nothing, with the rules of one change, each row
audited with its reason sealed; a dry run that changes nothing; upcoming's CSV loads back unchanged."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.errors import InvalidInput
from archive.times import format_instant, utcnow
from archive.vault import bulk
from tests.helpers import add_users, assert_no_canary, canaries, database_rows, escrow, one, sql, story, write_lines

ORG, OTHER, ADMIN = "org@example.org", "other@example.org", "admin@example.org"


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (OTHER, "organizer"), (ADMIN, "admin"))


def seal(home: Path, count: int, days: int = 20, owner: str = ORG) -> list[str]:
    before = {row[0] for row in sql(home, "SELECT id FROM stories")}
    until = format_instant(utcnow() + timedelta(days=days))
    file = write_lines(home.parent / f"s{len(list(home.parent.glob('s*.jsonl')))}.jsonl",
                       *(story(title=f"Story {n}", embargo_until=until) for n in range(count)))
    assert escrow(home, "stories", "import", str(file), "--as", owner).exit_code == 0
    return sorted({row[0] for row in sql(home, "SELECT id FROM stories")} - before)


def csv_file(home: Path, rows: list[tuple[str, str, str]], name: str = "changes.csv") -> Path:
    path = home.parent / name
    path.write_text("story_id,embargo_until,reason\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows),
                    encoding="utf-8")
    return path


def later(days: int) -> str:
    return format_instant(utcnow() + timedelta(days=days))


def test_a_hundred_rows_apply_together_each_audited_with_its_reason_sealed(home: Path) -> None:
    ids = seal(home, 100)
    [reason] = canaries(1)
    path = csv_file(home, [(i, later(400), f"narrator {reason} asked") for i in ids])

    done = escrow(home, "embargo", "bulk", str(path), "--as", ORG)

    assert done.exit_code == 0, done.output
    assert "extended 100, requested 0, unchanged 0" in done.output
    entries = sql(home, "SELECT story_id, detail FROM audit_log WHERE action = 'embargo.extend'")
    assert sorted(story_id for story_id, _ in entries) == ids
    assert all(json.loads(detail)["reason_sealed"] for _, detail in entries)
    path.unlink()
    assert_no_canary(home, reason)


@pytest.mark.parametrize("bad", [("zzzzunknownzzzz", later(400), "r"), ("{id}", "2031-13-45", "r"),
                                 ("{id}", later(400), ""), ("{id}", "2001-01-01", "r")],
                         ids=["unknown story", "malformed date", "no reason", "date in the past"])
def test_a_bad_row_in_the_middle_changes_nothing_and_is_named(home: Path, bad: tuple[str, str, str]) -> None:
    ids = seal(home, 100)
    rows = [(i, later(400), "safer") for i in ids]
    rows[49] = (bad[0].format(id=ids[49]), bad[1], bad[2])
    before = database_rows(home)

    done = escrow(home, "embargo", "bulk", str(csv_file(home, rows)), "--as", ORG)

    assert done.exit_code == 1
    assert "line 51" in done.output and "nothing was changed" in done.output
    assert database_rows(home) == before


def test_a_dry_run_shows_the_difference_and_changes_nothing(home: Path) -> None:
    ids = seal(home, 3)
    current = dict(line.split(",")[:2] for line in escrow(home, "embargo", "upcoming", "--csv").output.splitlines()[1:])
    path = csv_file(home, [(ids[0], later(400), "safer"), (ids[1], later(2), "sooner"), (ids[2], current[ids[2]], "")])
    before = database_rows(home)

    done = escrow(home, "embargo", "bulk", str(path), "--as", ORG, "--dry-run")

    assert done.exit_code == 0, done.output
    assert f"{ids[0]}  {current[ids[0]]} -> " in done.output and f"{ids[1]}  " in done.output
    assert ids[2] not in done.output
    assert "would be extended 1, would be requested 1, unchanged 1 (dry run, nothing changed)" in done.output
    assert database_rows(home) == before


def test_an_earlier_date_becomes_a_pending_request_never_a_lift(home: Path) -> None:
    [story_id] = seal(home, 1, days=200)
    embargo_before = one(home, "SELECT embargo_until FROM stories")

    done = escrow(home, "embargo", "bulk", str(csv_file(home, [(story_id, later(1), "the campaign won")])),
                  "--as", ORG)

    assert done.exit_code == 0 and "requested 1" in done.output
    assert one(home, "SELECT embargo_until FROM stories") == embargo_before
    assert one(home, "SELECT state FROM embargo_requests WHERE story_id = :id", id=story_id) == "pending"
    assert escrow(home, "publish-due").output.startswith("released 0,")


def test_upcomings_csv_loads_back_unchanged(home: Path) -> None:
    seal(home, 100)
    exported = escrow(home, "embargo", "upcoming", "--days", "60", "--csv")
    assert exported.exit_code == 0 and len(exported.output.splitlines()) == 101
    path = home.parent / "upcoming.csv"
    path.write_text(exported.output, encoding="utf-8")
    before = database_rows(home)

    done = escrow(home, "embargo", "bulk", str(path), "--as", ADMIN)

    assert done.exit_code == 0, done.output
    assert "extended 0, requested 0, unchanged 100" in done.output
    assert database_rows(home) == before
    assert escrow(home, "embargo", "upcoming", "--days", "60", "--csv").output == exported.output


def test_an_organizer_cannot_change_another_organizers_story(home: Path) -> None:
    mine = seal(home, 2)
    [theirs] = seal(home, 1, owner=OTHER)
    before = database_rows(home)

    done = escrow(home, "embargo", "bulk", str(csv_file(home, [(mine[0], later(400), "a"), (theirs, later(400), "b"),
                                                               (mine[1], later(400), "c")])), "--as", ORG)

    assert done.exit_code == 1 and "line 3: no story" in done.output
    assert database_rows(home) == before


def test_a_file_without_the_header_or_with_a_story_twice_is_refused(home: Path) -> None:
    [story_id] = seal(home, 1)
    headless = home.parent / "headless.csv"
    headless.write_text(f"{story_id},{later(400)},r\n", encoding="utf-8")
    twice = csv_file(home, [(story_id, later(400), "a"), (story_id, later(500), "b")])

    assert "line 1: the header" in escrow(home, "embargo", "bulk", str(headless), "--as", ORG).output
    refused = escrow(home, "embargo", "bulk", str(twice), "--as", ORG)
    assert refused.exit_code == 1 and "line 3: story" in refused.output and "on line 2 already" in refused.output


@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: ("story_id,embargo_until,reason\n" + t).encode()))
def test_any_file_is_read_or_refused_with_a_message(data: bytes) -> None:
    try:
        rows = bulk.parse(data)
    except InvalidInput as error:
        assert str(error)
        return
    assert all(row.line >= 2 for row in rows)
