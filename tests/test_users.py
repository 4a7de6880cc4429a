"""`escrow users add`: argon2id hashes; clear errors for duplicates, unknown roles, empty passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import escrow, sql


def _users(home: Path) -> list[tuple[str, str, str]]:
    return [(e, r, h) for e, r, h in sql(home, "SELECT email, role, password_hash FROM users")]


def test_a_user_is_added_with_an_argon2id_hash(archive_home: Path) -> None:
    result = escrow(archive_home, "users", "add", "Ada@Example.org", "--role", "researcher",
                    "--password-stdin", input="a long enough password\n")

    assert result.exit_code == 0, result.output
    assert "added researcher ada@example.org" in result.output
    [(email, role, hashed)] = _users(archive_home)
    assert (email, role) == ("ada@example.org", "researcher")
    assert hashed.startswith("$argon2id$") and "a long enough password" not in hashed


def test_a_password_can_be_typed_at_a_prompt(archive_home: Path) -> None:
    result = escrow(archive_home, "users", "add", "p@example.org", "--role", "admin",
                    input="typed password\ntyped password\n")

    assert result.exit_code == 0, result.output
    assert "typed password" not in result.output


@pytest.mark.parametrize("args, password, message", [
    (["x@example.org", "--role", "editor"], "pw pw pw", "unknown role 'editor'"),
    (["x@example.org", "--role", "organizer"], "", "empty password"),
    (["x@example.org", "--role", "organizer"], "   ", "empty password"),
    (["not-an-email", "--role", "organizer"], "pw pw pw", "not an email address"),
])
def test_bad_user_input_is_one_line_and_adds_nobody(archive_home: Path, args: list[str],
                                                    password: str, message: str) -> None:
    result = escrow(archive_home, "users", "add", *args, "--password-stdin", input=password + "\n")

    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1
    assert _users(archive_home) == []


def test_a_duplicate_email_is_refused(archive_home: Path) -> None:
    escrow(archive_home, "users", "add", "x@example.org", "--role", "organizer",
           "--password-stdin", input="first password\n")

    result = escrow(archive_home, "users", "add", "X@example.org", "--role", "admin",
                    "--password-stdin", input="second password\n")

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert [(e, r) for e, r, _ in _users(archive_home)] == [("x@example.org", "organizer")]


def test_a_missing_role_is_a_usage_error(archive_home: Path) -> None:
    result = escrow(archive_home, "users", "add", "x@example.org", "--password-stdin", input="pw\n")

    assert result.exit_code == 2
    assert "Missing option '--role'" in result.output
