"""A non-editable install from the wheel works on its own: migrations and templates ship inside."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
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
    where = subprocess.run([sys.executable, "-c", "import archive.storage.paths as p; print(p.MIGRATIONS)"],
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


def test_ci_installs_into_a_virtualenv_of_its_own_never_the_demos() -> None:
    """The README's first command serves the demo from a virtualenv; its second (CI) must not
    reinstall the archive into that one under the running server (it broke the demo: its
    stylesheet 404, its OpenAPI document 500)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first, second = re.search(r"```sh\n(.+)\n(.+)\n```", readme).groups()  # type: ignore[union-attr]
    [demo] = re.findall(r"python3 -m venv (\S+)", first)
    ci = (ROOT / second.split()[-1]).read_text(encoding="utf-8")
    made = re.findall(r"python3 -m venv (\S+)", ci)

    assert second == "bash .ci/run" and made
    assert demo not in made and not re.search(rf"(^|[\s\"']){re.escape(demo)}/", ci, re.MULTILINE), made


def test_every_path_pyproject_names_exists() -> None:
    """The files and folders the build names (and any file a comment points to) are there."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = tomllib.loads(text)
    hatch = project["tool"]["hatch"]["build"]["targets"]
    named = [project["project"]["readme"], *hatch["sdist"]["include"], *hatch["wheel"]["packages"],
             *hatch["wheel"]["force-include"], *project["tool"]["pytest"]["ini_options"]["testpaths"]]
    named += re.findall(r"#.*?\b([\w./-]+\.(?:md|py|toml|txt|cfg))\b", text)

    assert [path for path in named if not (ROOT / path).exists()] == []


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_lists_every_escrow_command() -> None:
    """Each command of `escrow` is in the README's list of commands (Flask-Migrate's `db` group as
    one: the README names the `escrow db upgrade` an operator runs)."""
    import click

    from archive.cli import cli

    def paths(group: click.Group, prefix: list[str], ctx: click.Context) -> list[str]:
        found = []
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group) and prefix + [name] != ["escrow", "db"]:
                found += paths(command, [*prefix, name], ctx)
            else:
                found.append(" ".join([*prefix, name]))
        return found

    block = _readme().split("## The command line", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    listed = set()
    for line in block.splitlines():
        first, *others = line.split("#", 1)[0].split(" | ")
        words = first.split()
        listed |= {" ".join(words[:2]), " ".join(words[:3])}
        listed |= {" ".join([*words[:2], other.split()[0]]) for other in others}

    assert [command for command in paths(cli, ["escrow"], click.Context(cli)) if command not in listed] == []


def test_the_readmes_contents_list_every_section_and_only_those() -> None:
    readme = _readme()
    sections = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    listed = re.findall(r"^- \[(.+?)\]\(#([\w-]+)\)", readme.split("## ", 1)[0], re.MULTILINE)

    assert [title for title, _ in listed] == sections
    assert [anchor for _, anchor in listed] == [re.sub(r"[^\w -]", "", t).lower().replace(" ", "-") for t in sections]
