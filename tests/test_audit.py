"""The audit log's HMAC chain: intact verifies; an edit, deletion, reordering or cut tail does not."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.helpers import escrow, one, sql, story, write_lines


@pytest.fixture
def home(archive_home: Path, tmp_path: Path) -> Path:
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer",
           "--password-stdin", input="a long enough password\n")
    file = write_lines(tmp_path / "s.jsonl", *[story(title=f"t{i}") for i in range(5)])
    assert escrow(archive_home, "stories", "import", str(file), "--as", "org@example.org").exit_code == 0
    return archive_home


def _sql(home: Path, *statements: str) -> None:
    for statement in statements:
        sql(home, statement)


def test_an_intact_log_verifies(home: Path) -> None:
    result = escrow(home, "audit", "verify")

    assert result.exit_code == 0, result.output
    assert "audit log intact: 7 entries" in result.output  # init + the user added + 5 imports


def test_every_import_is_an_entry_without_content(home: Path) -> None:
    rows = sql(home, "SELECT actor, action, story_id, detail FROM audit_log ORDER BY seq")

    assert [r[1] for r in rows] == ["archive.init", "user.add"] + ["story.import"] * 5
    assert rows[1][0] == "command line"  # the operator added the account at the machine
    assert all(r[0] == "org@example.org" and r[2] for r in rows[2:])
    assert not any("Night shift" in r[3] or "Rosa" in r[3] for r in rows)


TAMPERING: dict[str, tuple[list[str], str]] = {
    "edited actor": (["UPDATE audit_log SET actor = 'someone@else.org' WHERE seq = 3"],
                     "audit entry 3 does not verify"),
    "edited action": (["UPDATE audit_log SET action = 'story.read' WHERE seq = 2"],
                      "audit entry 2 does not verify"),
    "edited time": (["UPDATE audit_log SET at = '2020-01-01 00:00:00.000000' WHERE seq = 4"],
                    "audit entry 4 does not verify"),
    "deleted row": (["DELETE FROM audit_log WHERE seq = 3"], "audit entry 3 is missing"),
    "reordered rows": ([
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 100",
    ], "audit entry 2 does not verify"),
    "truncated tail": (["DELETE FROM audit_log WHERE seq >= 5"], "entries were cut from the tail"),
    "emptied log": (["DELETE FROM audit_log"], "the audit log is empty"),
    "head removed": (["DELETE FROM audit_head"], "head record is missing"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_fails_verify_naming_the_entry(home: Path, case: str) -> None:
    statements, message = TAMPERING[case]
    _sql(home, *statements)

    result = escrow(home, "audit", "verify")

    assert result.exit_code == 1
    assert message in result.output, result.output
    assert result.output.count("\n") == 1


def test_a_recomputed_hash_without_the_key_still_fails(home: Path) -> None:

    # An attacker with the database but not the key can rehash with plain SHA-256, not HMAC.
    detail = one(home, "SELECT detail FROM audit_log WHERE seq = 2")
    forged = hashlib.sha256(detail.encode()).hexdigest()
    sql(home, "UPDATE audit_log SET hash = :forged WHERE seq = 2", forged=forged)

    result = escrow(home, "audit", "verify")

    assert result.exit_code == 1 and "audit entry 2 does not verify" in result.output
