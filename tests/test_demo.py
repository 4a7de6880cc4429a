"""`escrow demo`: a browsable archive's data, set up in one command (here without serving)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import escrow


def test_demo_sets_up_accounts_and_stories_at_every_stage(tmp_path: Path) -> None:
    home = tmp_path / "instance"

    result = escrow(home, "demo", "--no-serve")

    assert result.exit_code == 0, result.output
    assert "7 sample stories added; released 4, already released 0, failed 0, due for review 1" in result.output
    logins = re.findall(r"^  (\S+@demo\.escrow)\s+(\S+)\s+(\w+)$", result.output, re.MULTILINE)
    assert sorted(role for _, _, role in logins) == ["admin", "admin", "organizer", "organizer", "researcher"]
    listed = escrow(home, "stories", "list").output
    assert listed.count("released") == 4 and "due-for-review" in listed and "indefinite" in listed
    again = escrow(home, "demo", "--no-serve")  # new passwords, no second set of stories
    assert "0 sample stories added" in again.output
    assert escrow(home, "index", "verify").exit_code == 0
