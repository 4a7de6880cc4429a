"""`escrow users add`: argon2id hashes; clear errors for duplicates, unknown roles, empty passwords."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archive import create_app, services
from archive.config import Config
from archive.services import authentication
from archive.storage import database
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


def test_unless_asked_otherwise_hashes_use_the_standard_parameters(archive_home: Path) -> None:
    added = escrow(archive_home, "users", "add", "s@example.org", "--role", "researcher", "--password-stdin",
                   input="a long enough password\n", env={"ESCROW_PASSWORD_COST": ""})

    assert added.exit_code == 0, added.output
    [(_, _, hashed)] = _users(archive_home)
    assert "$m=65536,t=3,p=4$" in hashed


def test_the_test_suites_cheap_hashes_cannot_serve_and_an_unknown_cost_is_refused(archive_home: Path) -> None:
    serving = escrow(archive_home, "serve", "--port", "0")
    unknown = escrow(archive_home, "stories", "list", env={"ESCROW_PASSWORD_COST": "cheap"})

    assert serving.exit_code == 1 and "for the test suite only" in serving.output
    assert unknown.exit_code == 1 and "ESCROW_PASSWORD_COST must be 'standard'" in unknown.output


def test_a_cheap_hash_is_made_standard_when_its_owner_signs_in(archive_home: Path, config: Config) -> None:
    assert escrow(archive_home, "users", "add", "c@example.org", "--role", "researcher", "--password-stdin",
                  input="a long enough password\n").exit_code == 0
    app = create_app(dataclasses.replace(config, password_cost="standard"))
    with app.app_context():
        archive = services.current()
        wrong = authentication.sign_in(archive, "c@example.org", "not it", "127.0.0.1")
        right = authentication.sign_in(archive, "c@example.org", "a long enough password", "127.0.0.1")
        database.db.session.remove()
        database.db.engine.dispose()
    app.extensions["escrow.index"].close()

    assert wrong is None and right is not None
    [(_, _, hashed)] = _users(archive_home)
    assert "$m=65536,t=3,p=4$" in hashed
