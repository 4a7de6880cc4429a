"""Every page in English and in Spanish: chosen by the switch (kept in the session, through
signing in and out), then by the browser's Accept-Language, then English; `<html lang>`
follows the interface, a story's own words carry the story's language.

A page left partly in English is caught three ways: the catalogue's English sentences must not
appear on a Spanish page, nor English's commonest words (which most unmarked sentences carry),
nor any piece of text the English page shows identically, unless it is data (an address, an
id, a number, a tag, a record's code) or a name that is the same in both languages; text
marked as in another language (a story's words, the audit log's records) is not the page's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from archive.storage.paths import TRANSLATIONS
from tests.web.conftest import PASSWORD, ROLES, World, sign_in
from tests.web.test_policy import VISITORS, _may, _values

# Pages that are not HTML for a person (files, feeds, the API) or that change what later pages see.
NOT_PAGES = {"static", "reading.export", "reading.recording", "reading.captions", "organizer.recording",
             "oai.endpoint", "api.search", "api.story", "api.vocabularies", "api.openapi", "bulk.upcoming",
             "narrator.story"}  # without a narrator's session, it leads to the narrator's sign-in (/n), seen here
# English's commonest words: an unmarked English sentence holds some; no Spanish one does.
# (Lower case, or capitalised at a sentence's start: OR and NOT are the query language's, in any language.)
_WORDS = ("the and of to your you is are this that with for from not by have was will may it on at an or be can "
          "its there here been when only which each who").split()
ENGLISH = re.compile(r"\b(" + "|".join(f"{w}|{w.capitalize()}" for w in _WORDS) + r")\b")


def _catalogue() -> list[tuple[str, str]]:
    with (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        found = read_po(file)
    return [(m.id, m.string) for m in found if isinstance(m.id, str) and m.id and isinstance(m.string, str)]


CATALOGUE = _catalogue()
# Sentences (three words or more, no placeholder) whose Spanish differs: either language's
# sample, looked for on the other's pages.
SENTENCES = [(en, es) for en, es in CATALOGUE if len(en.split()) >= 3 and "%(" not in en and en != es]


class _Text(HTMLParser):
    """A page's readable text (and the attributes a person reads), leaving out what is marked
    as being in another language than the page's."""

    READ_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt", "label")
    VOID = {"meta", "link", "input", "br", "img", "track", "source", "hr", "col", "wbr", "area", "base", "embed"}

    def __init__(self, page_language: str) -> None:
        super().__init__()
        self.page_language = page_language
        self.stack: list[bool] = []  # per open element: inside another language, or a script
        self.parts: list[str] = []
        self.html_lang: str | None = None

    def _other(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_lang = values.get("lang")
        lang = values.get("lang")
        other = self._other() or tag in ("script", "style", "code", "pre") \
            or (lang is not None and lang.split("-")[0] != self.page_language)
        if not other:
            self.parts += [v for k, v in attrs if k in self.READ_ATTRIBUTES and v]
            if tag == "input" and values.get("type") in ("submit", "button"):
                self.parts.append(values.get("value") or "")
        if tag not in self.VOID:
            self.stack.append(other)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._other():
            self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def read(page: str, language: str) -> tuple[str | None, str]:
    """The page's <html lang> and its text in the page's language."""
    parser = _Text(language)
    parser.feed(page)
    return parser.html_lang, parser.text()


def _pages(app: Flask, world: World, visitor: str) -> Iterator[str]:
    """Every page (GET, HTML) the visitor may see, as paths."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        if rule.endpoint in NOT_PAGES or "GET" not in (rule.methods or ()):
            continue
        if visitor not in _may(app, rule.endpoint, "GET"):
            continue
        yield adapter.build(rule.endpoint, {a: _values(rule.endpoint, a, world) for a in rule.arguments})
    yield "/search?q=laundry"  # results, a snippet and a story's language
    yield "/search?q=%22unclosed"  # a refused query's message
    yield "/search?q=laundry&year=19"  # a refused filter's message
    yield "/no/such/page"  # the 404 page


class _Pieces(_Text):
    """The page's pieces of text, each as one string (what a template writes between tags)."""

    def handle_data(self, data: str) -> None:
        if not self._other() and data.strip():
            self.parts.append(" ".join(data.split()))


def pieces(page: str, language: str) -> set[str]:
    parser = _Pieces(language)
    parser.feed(page)
    return set(parser.parts)


# The same in both languages: names, and the fixtures' data (tags, the audit log's actor).
SAME = {"Escrow", "BibTeX", "CSL-JSON", "OHMS XML", "RIS (EndNote, Zotero)", "no", "hotel", "strike", "system"}
DATA = re.compile(r"[^A-Za-z]*|\(?[\w.+-]+@[\w.-]+\)?|[a-z0-9]{16}|[a-z_]+\.[a-z_]+|.* · Escrow")


def _same_as_english(english: str, spanish: str) -> list[str]:
    """What the Spanish page shows exactly as the English one does, data and names aside."""
    return sorted(p for p in pieces(english, "en") & pieces(spanish, "es") if p not in SAME and not DATA.fullmatch(p))


def _english_left(text: str) -> list[str]:
    found = [en for en, _ in SENTENCES if en in text]
    return found + sorted({m.group(0) for m in ENGLISH.finditer(text)})


def _visit(client: FlaskClient, web_app: Flask, world: World, visitor: str, **headers: str) -> dict[str, str]:
    if visitor != "anonymous":
        sign_in(client, world.user_ids[visitor])
    pages = {}
    for path in _pages(web_app, world, visitor):
        response = client.get(path, headers=headers)
        assert response.status_code in (200, 400, 404), (path, response.status_code)
        pages[path] = response.get_data(as_text=True)
    return pages


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_page_in_spanish_by_accept_language_has_no_english_left(web_app: Flask, client: FlaskClient,
                                                                      world: World, visitor: str) -> None:
    pages = _visit(client, web_app, world, visitor, **{"Accept-Language": "en;q=0.5, es-MX;q=0.9"})

    assert len(pages) >= 4
    for path, page in pages.items():
        lang, text = read(page, "es")
        assert lang == "es", path
        assert _english_left(text) == [], (path, text)


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_page_in_spanish_by_the_switch_and_english_unchanged_without_it(
        web_app: Flask, client: FlaskClient, world: World, visitor: str) -> None:
    english = _visit(client, web_app, world, visitor)  # no Accept-Language: English
    client.get("/search?lang=es")  # the switch, kept in the session
    spanish = _visit(client, web_app, world, visitor)

    assert english.keys() == spanish.keys()
    for path in english:
        lang, text = read(english[path], "en")
        assert lang == "en", path
        assert [es for _, es in SENTENCES if es in text] == [], path  # nothing of the Spanish catalogue
        lang, text = read(spanish[path], "es")
        assert lang == "es" and _english_left(text) == [], (path, text)
        assert _same_as_english(english[path], spanish[path]) == [], path


def test_the_switch_outranks_accept_language_and_survives_signing_in_and_out(client: FlaskClient,
                                                                             world: World) -> None:
    spanish_browser = {"Accept-Language": "es"}
    assert 'lang="es"' in client.get("/login", headers=spanish_browser).get_data(as_text=True)

    client.get("/login?lang=en", headers=spanish_browser)
    assert '<html lang="en">' in client.get("/login", headers=spanish_browser).get_data(as_text=True)
    client.get("/login?lang=es")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    signed_in = client.post("/login", data={"csrf_token": token.group(1), "email": ROLES["researcher"][0],
                                            "password": PASSWORD}, follow_redirects=True)
    assert '<html lang="es">' in signed_in.get_data(as_text=True)
    logout = re.search(r'name="logout-csrf_token" type="hidden" value="([^"]+)"', signed_in.get_data(as_text=True))
    assert logout is not None
    signed_out = client.post("/logout", data={"logout-csrf_token": logout.group(1)}, follow_redirects=True)

    page = signed_out.get_data(as_text=True)
    assert '<html lang="es">' in page and "Ha cerrado la sesión." in page


@pytest.mark.parametrize("header, language", [
    ("es", "es"), ("es-MX,es;q=0.9,en;q=0.8", "es"), ("en-GB,en;q=0.9,es;q=0.8", "en"),
    ("fr-FR,fr;q=0.9,es;q=0.5,en;q=0.4", "es"), ("fr,de", "en"), ("", "en"), ("*", "en"),
    ("es;q=0, en", "en"), ("garbage;;;q=x", "en"),
])
def test_accept_language_is_weighted_and_english_is_the_last_resort(client: FlaskClient, header: str,
                                                                    language: str) -> None:
    page = client.get("/login", headers={"Accept-Language": header})

    assert page.status_code == 200 and f'<html lang="{language}">' in page.get_data(as_text=True)
    assert "Accept-Language" in page.headers["Vary"]


def test_an_unknown_lang_is_ignored(client: FlaskClient) -> None:
    page = client.get("/login?lang=xx%3Cscript%3E", headers={"Accept-Language": "es"}).get_data(as_text=True)

    assert '<html lang="es">' in page and "<script>" not in page.replace('<script src=', '')


def test_a_spanish_story_carries_its_language_on_an_english_page_and_languages_are_named(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    page = client.get(f"/stories/{world.released_id}").get_data(as_text=True)
    spanish = client.get(f"/stories/{world.released_id}?lang=es").get_data(as_text=True)

    assert '<h1 lang="en">' in page and '<div class="transcript" lang="en">' in page
    assert "<dt>Language</dt><dd>English</dd>" in page
    assert "<dt>Idioma</dt><dd>inglés</dd>" in spanish
    assert '<option value="en">inglés</option>' in client.get("/search?lang=es").get_data(as_text=True)


def test_form_errors_and_refusals_are_in_spanish(web_app: Flask, client: FlaskClient, world: World) -> None:
    web_app.config["WTF_CSRF_ENABLED"] = False
    client.get("/search?lang=es")
    empty_login = client.post("/login", data={"email": "", "password": ""}).get_data(as_text=True)
    wrong_login = client.post("/login", data={"email": "x@example.org", "password": "nope"}).get_data(as_text=True)
    sign_in(client, world.user_ids["organizer"])
    refused = client.post("/submit", data={"title": "", "narrator": "Rosa", "transcript": "[[foo:x]]",
                                           "embargo_date": "2090-01-01", "redaction_level": "pseudonymized",
                                           "recording_release": "none", "language": "es"}).get_data(as_text=True)
    extend = client.post(f"/my/stories/{world.sealed_id}/extend", data={"extend-until": "2000-01-01",
                                                                         "extend-reason": "r"})

    assert "Este campo es obligatorio." in empty_login
    assert "Ese correo y esa contraseña no corresponden a ninguna cuenta." in wrong_login
    assert "El relato no se selló: corrija el campo marcado abajo." in refused
    assert "Título está vacío." in refused
    assert extend.status_code == 400
    assert "no está en el futuro: una prórroga debe terminar después de ahora." in extend.get_data(as_text=True)


def test_a_preview_shows_each_level_with_the_story_s_stand_ins_whatever_the_interface(
        web_app: Flask, client: FlaskClient, world: World) -> None:
    web_app.config["WTF_CSRF_ENABLED"] = False
    sign_in(client, world.user_ids["organizer"])
    story = {"title": "Noche", "narrator": "Rosa Example", "transcript": "Vi a [[person:Maria Lopez]] en "
             "[[org:Hotel Bahía]].", "embargo_date": "2090-01-01", "redaction_level": "pseudonymized",
             "recording_release": "none", "preview": "1"}
    for interface in ("en", "es"):
        spanish = client.post(f"/submit?lang={interface}", data={**story, "language": "es"}).get_data(as_text=True)
        english = client.post(f"/submit?lang={interface}", data={**story, "language": "en"}).get_data(as_text=True)

        assert "<ins>Persona A</ins>" in spanish and "<ins>Empleador 1</ins>" in spanish
        assert "<ins>[suprimido]</ins>" in spanish and "<ins>Person A</ins>" not in spanish
        assert "<ins>[redacted]</ins>" not in spanish
        assert "<ins>Person A</ins>" in english and "<ins>[redacted]</ins>" in english
        assert "<ins>Persona A</ins>" not in english
        assert 'class="transcript released-text" lang="es">Vi a' in spanish
        assert 'class="transcript released-text" lang="en">Vi a' in english


def test_the_switch_links_to_this_page_and_no_address_a_visitor_chose(client: FlaskClient, world: World) -> None:
    page = client.get(f"/stories/{world.released_id}?_scheme=javascript&_external=1&_anchor=x&q=a%22b").get_data(
        as_text=True)
    links = re.findall(r'<a href="([^"]*)" lang="(en|es)" hreflang', page)

    assert [lang for _, lang in links] == ["en", "es"]
    for href, lang in links:
        assert href.startswith(f"/stories/{world.released_id}?") and f"lang={lang}" in href
        assert "javascript" not in href and "_external" not in href and "#" not in href and '"' not in href
