"""The `escrow` command speaks only of itself and starts without the archive's engine.

Start-up is shown by what a run imports, never by timing it (scripts/bench_startup.py
measures the time): `escrow --help` and `--version` load no Flask, SQLAlchemy, Whoosh,
cryptography, numpy or Alembic; every command is listed from one table, each found in the
module it names.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pytest

from archive.cli import base, cli
from tests.helpers import escrow, one

HEAVY = ("flask", "werkzeug", "jinja2", "sqlalchemy", "whoosh", "cryptography", "numpy", "alembic",
         "flask_migrate", "argon2", "psycopg", "soundfile", "gunicorn")

# Runs `escrow ARGS` as the console script does, in a fresh interpreter, then writes down every
# module that was imported.
_RUN = """
import json, sys
from archive.cli import main
out, sys.argv = sys.argv[1], ["escrow", *sys.argv[2:]]
try:
    main()
except SystemExit as end:
    status = end.code
with open(out, "w") as file:
    json.dump({"status": status, "modules": sorted(sys.modules)}, file)
"""


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], int, list[str]]:
    env = {**os.environ, "ARCHIVE_HOME": str(tmp_path / "none")}
    env.pop("DATABASE_URL", None)
    out = tmp_path / "imported.json"
    ran = subprocess.run([sys.executable, "-c", _RUN, str(out), *args], env=env, capture_output=True, text=True,
                         timeout=120)
    found = json.loads(out.read_text())
    return ran, found["status"], found["modules"]


def _heavy(modules: list[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in modules} & set(HEAVY))


@pytest.mark.parametrize(("args", "exit_status"), [(["--help"], 0), (["--version"], 0), ([], 2)],
                         ids=["--help", "--version", "no-arguments"])
def test_help_and_version_load_none_of_the_archives_engine(tmp_path: Path, args: list[str],
                                                          exit_status: int) -> None:
    ran, status, modules = _run(tmp_path, *args)

    assert (status or 0) == exit_status, ran.stderr
    assert "Commands:" in ran.stdout + ran.stderr or args == ["--version"]
    assert _heavy(modules) == []
    assert not [name for name in modules if name.startswith("archive.") and name not in
                ("archive.cli", "archive.cli.base", "archive.config", "archive.errors", "archive.times",
                 "archive.messages")]


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """The same run, for a command that opens the archive, does load them: the check can fail."""
    ran, status, modules = _run(tmp_path, "stories", "list")

    assert status == 1 and "run 'escrow init' first" in ran.stderr
    assert {"flask", "sqlalchemy"} <= set(_heavy(modules))


def test_help_lists_escrows_own_commands_and_version_is_escrows(tmp_path: Path) -> None:
    env = {**os.environ, "ARCHIVE_HOME": str(tmp_path / "none")}
    command = [sys.executable, "-c", "from archive.cli import main; main()"]

    helped = subprocess.run([*command, "--help"], env=env, capture_output=True, text=True, timeout=120)
    versioned = subprocess.run([*command, "--version"], env=env, capture_output=True, text=True, timeout=120)

    listed = helped.stdout.split("Commands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("  ") and line[2] != " "]
    assert names == sorted(base.COMMANDS)
    for flasks in ("routes", "shell", " run ", "--app", "--env-file", "--debug", "Flask version"):
        assert flasks not in helped.stdout
    assert versioned.stdout == f"escrow {version('escrow-archive')}\n"


def test_every_command_is_found_in_its_module_with_the_summary_the_list_shows() -> None:
    ctx = click.Context(cli)
    for name, (module, summary) in base.COMMANDS.items():
        command = cli.get_command(ctx, name)

        assert command is not None and command.name == name, name
        assert command.callback is not None and command.callback.__module__ in (
            f"archive.cli.{module}", "flask_migrate.cli"), name
        assert command.get_short_help_str(limit=1000) == summary


def test_no_command_is_registered_without_its_line_in_the_table() -> None:
    """A command a module registers but COMMANDS does not name could never be run: it is not found."""
    for path in sorted(Path(base.__file__).parent.glob("*.py")):
        importlib.import_module(f"archive.cli.{path.stem}")

    assert sorted(cli.commands) == sorted(base.COMMANDS)


def test_an_unknown_command_is_refused_without_loading_a_module(tmp_path: Path) -> None:
    ran, status, modules = _run(tmp_path, "publish")

    assert status == 2 and "No such command 'publish'" in ran.stderr
    assert _heavy(modules) == []


def test_escrow_db_upgrade_runs_flask_migrate_on_the_archives_own_database(archive_home: Path) -> None:
    from alembic.script import ScriptDirectory

    from archive.storage.paths import MIGRATIONS

    upgraded = escrow(archive_home, "db", "upgrade")
    current = escrow(archive_home, "db", "current")

    assert upgraded.exit_code == 0 and current.exit_code == 0
    assert one(archive_home, "SELECT version_num FROM alembic_version") \
        == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_a_database_error_is_still_one_line_when_the_command_loaded_sqlalchemy(archive_home: Path) -> None:
    """The frame no longer imports SQLAlchemy to recognise its errors; a command that meets one
    still gets one line naming only its class."""
    broken = escrow(archive_home, "stories", "list",
                    env={"DATABASE_URL": "postgresql+psycopg://nobody:wrong@127.0.0.1:1/none"})

    assert broken.exit_code == 1
    assert broken.output.startswith("escrow: database error (OperationalError); nothing was changed"), broken.output
    assert "wrong" not in broken.output and "Traceback" not in broken.output
