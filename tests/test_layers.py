"""The doors (web, command line) reach the archive only through the service layer.

Read mechanically from the source: no view or command imports the vault, the release gate,
the reading room's internals, the audit log or the locks, so every rule an operation keeps
(its transaction, its locks, its audit entries) is kept for every door alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import archive

PACKAGE = Path(archive.__file__).parent
DOORS = sorted([*(PACKAGE / "web").glob("*.py"), *(PACKAGE / "cli").glob("*.py")])
# What a door may import of the archive: the operations, and the plain words they speak (their
# messages, and where the catalogues of their translations are).
ALLOWED = ("archive.services", "archive.errors", "archive.times", "archive.users", "archive.config",
           "archive.app", "archive.web", "archive.cli", "archive.messages", "archive.paths")
ALLOWED_NAMES = {"archive": {"services", "db"}}
# The command line's frame closes connections and checks an instance exists, no more.
DATABASE_FRAME = {"base.py"}


def imports(path: Path) -> list[str]:
    """Every archive module a file imports (top level or inside functions), as dotted names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ALLOWED_NAMES:
                found += [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
    return [name for name in found if name == "archive" or name.startswith("archive.")]


def test_the_doors_are_found() -> None:
    assert len(DOORS) >= 15 and any(p.name == "admin.py" for p in DOORS)


@pytest.mark.parametrize("path", DOORS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_door_imports_only_the_service_layer(path: Path) -> None:
    wrong = [name for name in imports(path)
             if not (name.startswith(ALLOWED) or (name == "archive.db" and path.name in DATABASE_FRAME))]
    assert not wrong, f"{path.name} reaches past the service layer: {wrong}"


def test_the_check_catches_a_door_that_reaches_into_the_vault(tmp_path: Path) -> None:
    door = tmp_path / "view.py"
    door.write_text("def view():\n    from archive.vault.models import Story\n    from archive.release import locks\n")

    assert imports(door) == ["archive.vault.models", "archive.release"]


# -- one owner of every transaction ------------------------------------------------------------

# Where a database transaction may be committed: the unit of work, and the database's own
# maintenance (a shred's checkpoint and VACUUM run after the unit's commit, outside it).
COMMITTERS = {"units.py", "dialect.py"}
# Receivers of a `.commit()` that is not a database transaction's: Whoosh's index writer.
NOT_A_TRANSACTION = {("index.py", "writer")}
MODULES = sorted(PACKAGE.rglob("*.py"))


def commits(path: Path) -> list[str]:
    """Every `X.commit(...)` call in a file that commits a database transaction, as 'X:line'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
            receiver = ast.unparse(node.func.value)
            if (path.name, receiver) not in NOT_A_TRANSACTION:
                found.append(f"{receiver}:{node.lineno}")
    return found


def test_the_modules_are_found() -> None:
    assert any(p.name == "units.py" for p in MODULES) and any(p.name == "gate.py" for p in MODULES)
    assert commits(PACKAGE / "units.py") == [f"self.session:{_line(PACKAGE / 'units.py', 'self.session.commit()')}"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_unit_of_work_commits(path: Path) -> None:
    wrong = [] if path.name in COMMITTERS else commits(path)
    assert not wrong, (f"{path.relative_to(PACKAGE)} commits a transaction itself ({wrong}): register the "
                       "work on the unit of work (archive/units.py) and let its operation commit")


def test_the_check_catches_a_room_that_commits(tmp_path: Path) -> None:
    room = tmp_path / "gate.py"
    room.write_text("def release(unit):\n    unit.session.commit()\n    writer.commit()\n")

    assert commits(room) == ["unit.session:2", "writer:3"]  # a writer outside index.py counts too


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)
