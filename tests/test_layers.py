"""The archive's structure as a contract, read mechanically from the source.

Layers, from the outside in (DESIGN.md draws them; the README's "Layout" lists the modules):

    doors       archive.web, archive.cli          parse, call one service operation, render
    services    archive.services                  the operations: a unit of work, locks, audit
    rooms       archive.vault                     sealed stories, keys, ciphertext
                archive.release                   the gate: reads the vault, writes the room
                archive.reading_room              released copies and their search index
                archive.notices                   the outbox of notices (ids, instants, links)
                archive.audit, archive.accounts   the audit chain; users and API tokens
                archive.transcripts               text alone: markup, WebVTT, names, characters
    storage     archive.storage                   database, dialects, paths, locks, unit of work
    words       archive.errors, .times, .messages, .config, .pauses

A module imports only its own layer's neighbours and the layers below it, and each room keeps
its own rules: the reading room never sees the vault (nothing sealed can reach what it
stores), only the vault touches ciphertext, only the reading room touches Whoosh, only the
unit of work commits. Every rule has a self-test that a violation is caught.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import archive

PACKAGE = Path(archive.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)

DOORS = ("archive.web", "archive.cli")
ROOMS = ("archive.vault", "archive.release", "archive.reading_room", "archive.notices", "archive.audit",
         "archive.accounts", "archive.transcripts")
WORDS = ("archive.errors", "archive.times", "archive.messages", "archive.config", "archive.pauses")
FRAME = ("archive.app", "archive.models")  # the app factory, and every model in one place for Alembic

# What each part may import of the archive (prefixes; a module may always import its own package).
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    # a door: the operations and the plain words they speak; the app and the other doors; where
    # the templates and catalogues are; the signed-in user's class (Flask-Login loads it).
    "archive.web": ("archive.services", *WORDS, *FRAME, *DOORS, "archive.storage.paths", "archive.accounts.users"),
    "archive.cli": ("archive.services", *WORDS, *FRAME, *DOORS, "archive.storage.paths", "archive.accounts.users"),
    "archive.services": ("archive.services", *ROOMS, "archive.storage", *WORDS),
    "archive.release": ("archive.release", "archive.vault", "archive.reading_room", "archive.notices", "archive.audit",
                        "archive.accounts", "archive.transcripts", "archive.storage", *WORDS),
    "archive.vault": ("archive.vault", "archive.notices.outbox", "archive.audit", "archive.accounts",
                      "archive.transcripts", "archive.storage", *WORDS),
    # notices read a story's control columns (its id, status and embargo), never its content
    "archive.notices": ("archive.notices", "archive.vault.models", "archive.accounts", "archive.audit",
                        "archive.storage", *WORDS),
    "archive.reading_room": ("archive.reading_room", "archive.transcripts", "archive.storage", *WORDS),
    "archive.accounts": ("archive.accounts", "archive.audit", "archive.storage", *WORDS),
    "archive.audit": ("archive.audit", "archive.storage", *WORDS),
    "archive.transcripts": ("archive.transcripts", "archive.errors", "archive.messages"),
    "archive.storage": ("archive.storage", *WORDS),
    "archive.errors": ("archive.messages",),
    "archive.times": ("archive.errors", "archive.messages"),
    "archive.messages": (),
    "archive.config": ("archive.errors", "archive.messages", "archive.storage.paths"),
    "archive.pauses": (),
    "archive.app": ("archive",),
    "archive.models": ROOMS + ("archive.storage",),
    "archive": ("archive.app",),
}
# Exceptions, each with its reason.
EXCEPTIONS = {
    # the command line's frame closes connections and checks that an instance exists
    ("archive.cli.base", "archive.storage.database"),
}
# Third-party packages that belong to one part alone.
OWNED = {
    "whoosh": ("archive.reading_room",),
    # Flask: the doors and the app; Flask-SQLAlchemy's frame; the request's archive (services'
    # one bridge to the app); the reading room's init_app.
    "flask": (*DOORS, "archive.app", "archive.storage.database", "archive.services.context", "archive.reading_room"),
    "flask_sqlalchemy": ("archive.storage.database",),
    "flask_migrate": ("archive.storage.database", "archive.cli"),
    "flask_login": DOORS,
    "flask_wtf": DOORS,
    "flask_babel": (*DOORS, "archive.app"),
    "werkzeug": DOORS,
    "cryptography": ("archive.vault",),
}
# Only the vault touches ciphertext: its envelopes and data keys.
CIPHERTEXT = "archive.vault.crypto"


@dataclass(frozen=True)
class Import:
    name: str  # the dotted module (a `from pkg import module` counts as pkg.module)
    line: int
    relative: bool = False


def dotted(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = PACKAGE.parent / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(source: str) -> list[Import]:
    """Every import of a file, top level or inside functions; those under `if TYPE_CHECKING:` are
    annotations, not dependencies, and are left out."""
    tree = ast.parse(source)
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING") for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append(Import("." * node.level + (node.module or ""), node.lineno, relative=True))
                continue
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                found.append(Import(whole if _is_module(whole) else node.module or "", node.lineno))
    return found


def _part(name: str) -> str:
    """The part of the contract a module belongs to: the longest key of MAY_IMPORT it is in."""
    keys = [k for k in MAY_IMPORT if name == k or name.startswith(k + ".")]
    return max(keys, key=len)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(module: str, source: str) -> list[str]:
    """What a module of this dotted name, with this source, breaks of the contract."""
    wrong = []
    part = _part(module)
    for found in imports(source):
        name, where = found.name, f"line {found.line}"
        if found.relative:
            wrong.append(f"{where}: relative import {name!r} (import by the whole dotted name)")
            continue
        top = name.split(".")[0]
        if top in OWNED and not _within(module, OWNED[top]):
            wrong.append(f"{where}: imports {name}, which only {', '.join(OWNED[top])} may")
        if top != "archive":
            continue
        if name == CIPHERTEXT and not _within(module, ("archive.vault",)):
            wrong.append(f"{where}: touches ciphertext ({name}); only the vault may")
        if (module, name) in EXCEPTIONS or _within(name, (part,)) or name == "archive":
            continue
        if not _within(name, MAY_IMPORT[part]):
            wrong.append(f"{where}: {part} may not import {name}")
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_keeps_the_contract(path: Path) -> None:
    wrong = violations(dotted(path), path.read_text(encoding="utf-8"))
    assert not wrong, f"{path.relative_to(PACKAGE)} breaks the layers: " + "; ".join(wrong)


def test_the_modules_are_found_in_every_part() -> None:
    parts = {_part(dotted(p)) for p in MODULES}
    assert parts == set(MAY_IMPORT), set(MAY_IMPORT) - parts


@pytest.mark.parametrize(("module", "source", "caught"), [
    ("archive.web.admin", "from archive.vault.models import Story\n",
     "archive.web may not import archive.vault.models"),
    ("archive.cli.stories", "def f():\n    from archive.release import gate\n", "may not import archive.release.gate"),
    ("archive.web.reading", "from archive.storage import database\n", "may not import archive.storage.database"),
    ("archive.services.stories", "from archive.web import context\n", "archive.services may not import archive.web"),
    ("archive.vault.stories", "from archive.services import context\n",
     "archive.vault may not import archive.services"),
    ("archive.reading_room.room", "from archive.vault import stories\n", "may not import archive.vault.stories"),
    ("archive.reading_room.copies", "import archive.release.gate\n", "may not import archive.release.gate"),
    ("archive.transcripts.names", "from archive.storage.units import Unit\n", "may not import archive.storage.units"),
    ("archive.storage.units", "from archive.vault.keys import Keyring\n", "may not import archive.vault.keys"),
    ("archive.release.gate", "from archive.vault import crypto\n", "touches ciphertext"),
    ("archive.services.reading", "import whoosh.index\n", "only archive.reading_room may"),
    ("archive.vault.keys", "from flask import g\n", "imports flask"),
    ("archive.vault.keys", "from . import crypto\n", "relative import"),
])
def test_the_contract_catches_a_violation(module: str, source: str, caught: str) -> None:
    assert any(caught in wrong for wrong in violations(module, source)), violations(module, source)


def test_the_contract_lets_typing_only_imports_pass() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from archive.vault.keys import Keyring\n"
    assert violations("archive.storage.units", source) == []


# -- one owner of every transaction ------------------------------------------------------------

# Where a database transaction may be committed: the unit of work, and the database's own
# maintenance (a shred's checkpoint and VACUUM run after the unit's commit, outside it).
COMMITTERS = {"units.py", "dialect.py"}
# Receivers of a `.commit()` that is not a database transaction's: Whoosh's index writer.
NOT_A_TRANSACTION = {("index.py", "writer")}


def commits(path: Path) -> list[str]:
    """Every `X.commit(...)` call in a file that commits a database transaction, as 'X:line'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
            receiver = ast.unparse(node.func.value)
            if (path.name, receiver) not in NOT_A_TRANSACTION:
                found.append(f"{receiver}:{node.lineno}")
    return found


def test_the_unit_of_work_commits_once() -> None:
    units = PACKAGE / "storage" / "units.py"
    assert commits(units) == [f"self.session:{_line(units, 'self.session.commit()')}"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_unit_of_work_commits(path: Path) -> None:
    wrong = [] if path.name in COMMITTERS else commits(path)
    assert not wrong, (f"{path.relative_to(PACKAGE)} commits a transaction itself ({wrong}): register the "
                       "work on the unit of work (archive/storage/units.py) and let its operation commit")


def test_the_check_catches_a_room_that_commits(tmp_path: Path) -> None:
    room = tmp_path / "gate.py"
    room.write_text("def release(unit):\n    unit.session.commit()\n    writer.commit()\n")

    assert commits(room) == ["unit.session:2", "writer:3"]  # a writer outside index.py counts too


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)
