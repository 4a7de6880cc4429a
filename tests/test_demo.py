"""`escrow demo`: a browsable archive's data, set up in one command (here without serving)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import escrow, sql


def test_demo_sets_up_accounts_and_stories_at_every_stage(tmp_path: Path) -> None:
    home = tmp_path / "instance"

    result = escrow(home, "demo", "--no-serve")

    assert result.exit_code == 0, result.output
    assert "12 sample stories added; released 8, already released 0, failed 0, due for review 1" in result.output
    logins = re.findall(r"^  (\S+@demo\.escrow)\s+(\S+)\s+(\w+)$", result.output, re.MULTILINE)
    assert sorted(role for _, _, role in logins) == ["admin", "admin", "organizer", "organizer", "researcher"]
    listed = escrow(home, "stories", "list").output
    assert listed.count("released") == 8 and "due-for-review" in listed and "indefinite" in listed
    again = escrow(home, "demo", "--no-serve")  # new passwords, no second set of stories
    assert "0 sample stories added" in again.output
    assert escrow(home, "index", "verify").exit_code == 0


def test_the_demo_has_spanish_stories_found_by_spanish_words_with_spanish_stand_ins(tmp_path: Path) -> None:
    home = tmp_path / "instance"
    assert escrow(home, "demo", "--no-serve").exit_code == 0

    found = json.loads(escrow(home, "search", "organizacion", "--json").output)
    titles = {hit["title"] for hit in found}
    assert "La organización empezó en la lavandería" in titles and "Las hojas de firmas" in titles
    [pseudonymized] = sql(home, "SELECT narrator, transcript FROM released_stories WHERE title = 'Las hojas de firmas'")
    assert pseudonymized[0] == "Persona narradora con seudónimo"
    assert "Persona A" in pseudonymized[1] and "Empleador 1" not in pseudonymized[1]  # its chosen stand-in: el hotel
    assert "el hotel" in pseudonymized[1] and "Lucía" not in pseudonymized[1]
    [redacted] = sql(home, "SELECT transcript FROM released_stories WHERE title = 'Nos cambiaron los turnos'")
    assert "[suprimido]" in redacted[0] and "[redacted]" not in redacted[0]
