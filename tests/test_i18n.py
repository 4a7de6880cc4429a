"""The translation catalogues: complete, in step with the code, consistent, and shipped compiled.

A string marked in the code or a template but not extracted, or extracted but not translated
(or left fuzzy), or translated with other placeholders than its English, fails here; a string
not marked at all fails tests/web/test_languages.py, which reads every page in Spanish.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

from archive.messages import N_, Message, Nn_
from archive.storage.paths import TRANSLATIONS
from archive.web.i18n import said, translated
from tests.helpers import escrow, story, write_lines

ROOT = Path(__file__).resolve().parent.parent
POT = TRANSLATIONS / "messages.pot"
SPANISH = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
PYBABEL = Path(sys.executable).parent / "pybabel"
# The commands README's "Translations" gives; the extraction is byte for byte what is committed.
EXTRACT = ["extract", "-F", "babel.cfg", "--no-location", "--sort-output", "--omit-header"]


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def test_the_committed_template_is_a_fresh_extraction(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run([str(PYBABEL), *EXTRACT, "-o", str(fresh), "."], cwd=ROOT, check=True, capture_output=True)

    assert fresh.read_text(encoding="utf-8") == POT.read_text(encoding="utf-8"), (
        "the catalogue template is out of date: run the extract and update commands in README's Translations")


def test_the_spanish_catalogue_has_every_message_translated_and_none_fuzzy_or_obsolete() -> None:
    template, spanish = _catalog(POT), _catalog(SPANISH)

    assert {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id} == \
        {m.id if isinstance(m.id, str) else m.id[0] for m in spanish if m.id}
    assert not spanish.obsolete
    for message in spanish:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        forms = [message.string] if isinstance(message.string, str) else list(message.string)
        assert forms and all(forms), message.id


def test_every_translation_keeps_its_placeholders_and_its_plural_forms() -> None:
    spanish = _catalog(SPANISH)

    assert spanish.num_plurals == 3  # CLDR's Spanish: one, many (millions), other
    problems = {message.id: [str(e) for e in message.check(spanish)] for message in spanish if message.id}
    assert {k: v for k, v in problems.items() if v} == {}
    formatted = [m for m in spanish if m.id and "%(" in (m.id if isinstance(m.id, str) else m.id[0])]
    assert formatted and all(m.python_format for m in formatted)  # the checkers above compared them


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True)
    return next(out.glob("escrow_archive-*.whl"))


def test_the_wheel_holds_the_spanish_catalogue_compiled(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        compiled = read_mo(archive.open("archive/translations/es/LC_MESSAGES/messages.mo"))

    assert compiled.get("Reading room") is not None and compiled.get("Reading room").string == "Sala de lectura"
    assert len([m for m in compiled if m.id]) == len([m for m in _catalog(SPANISH) if m.id])


def test_the_source_distribution_holds_the_catalogues_source_and_what_compiles_it(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    with tarfile.open(next(tmp_path.glob("escrow_archive-*.tar.gz"))) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}

    assert {"archive/translations/es/LC_MESSAGES/messages.po", "archive/translations/messages.pot",
            "babel.cfg", "hatch_build.py"} <= names
    assert not any(name.endswith(".mo") for name in names)  # built from the .po, by the wheel's hook


def test_an_installed_wheel_serves_spanish_with_no_further_step(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target), "ARCHIVE_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    assert subprocess.run([str(target / "bin" / "escrow"), "init"], env=env, cwd=tmp_path,
                          capture_output=True).returncode == 0
    serve = ("import archive.storage.paths as p; from archive import create_app; "
             f"assert str(p.TRANSLATIONS).startswith({str(target)!r}), p.TRANSLATIONS; "
             "page = create_app().test_client().get('/login', headers={'Accept-Language': 'es'}); "
             "print(page.get_data(as_text=True))")
    page = subprocess.run([sys.executable, "-c", serve], env=env, cwd=tmp_path, capture_output=True, text=True)

    assert page.returncode == 0, page.stderr
    assert '<html lang="es">' in page.stdout and "<h1>Iniciar sesión</h1>" in page.stdout


def test_a_service_message_is_english_for_the_command_line_and_translated_on_the_web() -> None:
    error = ValueError(N_("a query may be at most %(limit)s characters", limit=1256))
    counted = Nn_("%(count)s story found", "%(count)s stories found", 1_000_000)
    app = Flask(__name__)
    from archive.web import i18n
    i18n.init_app(app)

    assert str(error) == "a query may be at most 1,256 characters" and isinstance(error.args[0], Message)
    assert str(counted) == "1,000,000 stories found"
    with app.test_request_context("/?lang=es"):
        assert said(error) == "una búsqueda puede tener como mucho 1.256 caracteres"  # as Spanish groups them
        assert translated("not a message") == "not a message"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert said(error) == "a query may be at most 1,256 characters"


def test_the_command_line_stays_in_english_whatever_the_locale(archive_home: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's door: its messages are the ones its documentation and logs show."""
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    monkeypatch.setenv("LANGUAGE", "es")
    escrow(archive_home, "users", "add", "org@example.org", "--role", "organizer", "--password-stdin",
           input="a long enough password\n")
    bad = write_lines(tmp_path / "bad.jsonl", story(title="", language="es"))

    result = escrow(archive_home, "stories", "import", str(bad), "--as", "org@example.org")

    assert result.exit_code == 1 and "title is empty" in result.output
