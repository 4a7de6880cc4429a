"""Build hook: the translation catalogues (.po, kept in git and in the source distribution) are
compiled into the wheel (.mo), so `pip install .` serves every language with no further step.

An editable install compiles them beside their .po files (git ignores the .mo); after editing
a .po, `pybabel compile -d archive/translations` does the same (and the test suite does it
for itself when a .po is newer than its .mo).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CATALOGS = Path("archive") / "translations"


def compile_catalogs(source: Path, target: Path) -> list[Path]:
    """Compile every <lang>/LC_MESSAGES/*.po under `source` to the same place under `target`;
    fuzzy entries are left out (they fall back to English). Returns the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as file:
            catalog = read_po(file, locale=po.parent.parent.name)
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as file:
            write_mo(file, catalog)
        written.append(mo)
    return written


class CatalogHook(BuildHookInterface):  # type: ignore[misc]
    """Compiles the catalogues when a wheel is built."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        source = Path(self.root) / CATALOGS
        if version == "editable":  # the package is imported from the checkout: compile in place
            compile_catalogs(source, source)
            return
        self._built = tempfile.TemporaryDirectory(prefix="escrow-catalogs-")
        target = Path(self._built.name)
        for mo in compile_catalogs(source, target):
            build_data["force_include"][str(mo)] = str(CATALOGS / mo.relative_to(target))

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        built = getattr(self, "_built", None)
        if built is not None:
            built.cleanup()
