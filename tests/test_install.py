"""A non-editable install from the wheel works on its own: migrations and templates ship inside."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("escrow_archive-*.whl"))


def test_the_wheel_ships_migrations_templates_and_the_console_script(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert "archive/migrations/env.py" in names
    assert any(n.startswith("archive/migrations/versions/0001_") for n in names)
    assert "archive/templates/base.html" in names and "archive/templates/admin/dashboard.html" in names
    assert "archive/web/static/style.css" in names and "archive/web/static/tz.js" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "escrow = archive.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_command_initialises_an_archive_outside_the_checkout(wheel: Path,
                                                                           tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target), "ARCHIVE_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    run = [str(target / "bin" / "escrow")]

    init = subprocess.run([*run, "init"], cwd=tmp_path, env=env, capture_output=True, text=True)
    where = subprocess.run([sys.executable, "-c", "import archive.paths as p; print(p.MIGRATIONS)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)

    assert init.returncode == 0, init.stderr
    assert where.stdout.strip().startswith(str(target))
    assert (tmp_path / "home" / "escrow.db").is_file()


def test_a_failure_is_one_line_on_stderr_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "ARCHIVE_HOME": str(tmp_path / "none")}
    env.pop("DATABASE_URL", None)
    escrow = Path(sys.executable).parent / "escrow"

    result = subprocess.run([str(escrow), "stories", "list"], env=env, capture_output=True, text=True)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "run 'escrow init' first" in result.stderr
