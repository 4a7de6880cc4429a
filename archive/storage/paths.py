"""Where the templates and migrations are (inside the wheel, or at the top of a checkout), and the
translation catalogues (inside the package: the wheel holds them compiled)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # archive/


def _resource(name: str) -> Path:
    packaged = _PACKAGE / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name


TEMPLATES = _resource("templates")
MIGRATIONS = _resource("migrations")
TRANSLATIONS = _PACKAGE / "translations"
