"""The reading room and the organizer's submit journey in Spanish, on a phone's width (390 px), in
Debian's chromium driven by Playwright against `escrow serve` on 127.0.0.1: a browser that asks
for Spanish gets every page in Spanish, a Spanish story is found without its accents and is
released with Spanish stand-ins, and nothing runs off the side of the screen."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.helpers import escrow
from tests.web.conftest import PASSWORD
from tests.web.test_browser import SCREENSHOTS, browser, release_now, site  # noqa: F401 - fixtures

WIDTH = 390


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def _spanish_page(browser: Browser) -> Page:  # noqa: F811 - the fixture, passed on
    context = browser.new_context(viewport={"width": WIDTH, "height": 844}, locale="es-MX",
                                  extra_http_headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    return context.new_page()


def test_an_organizer_seals_a_spanish_story_and_a_researcher_finds_it_in_spanish(
        browser: Browser, site: str, archive_home: Path) -> None:  # noqa: F811 - fixtures
    page = _spanish_page(browser)
    try:
        page.goto(f"{site}/login")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        page.get_by_label("Correo electrónico").fill("org@example.org")
        page.get_by_label("Contraseña").fill(PASSWORD)
        page.get_by_role("button", name="Iniciar sesión").click()
        expect(page.get_by_role("heading", name="Mis relatos")).to_be_visible()
        _fits(page)

        page.get_by_role("link", name="Enviar un relato").click()
        expect(page.get_by_role("heading", name="Enviar un relato")).to_be_visible()
        page.get_by_label("Título", exact=True).fill("La organización de la lavandería")
        page.get_by_label("Nombre de quien narra", exact=True).fill("Rosa Martínez")
        page.get_by_label("Transcripción", exact=True).fill(
            "Doblaba sábanas con [[person:Lucía Fernández]] en [[org:Hotel Bahía]]. Así empezó la organización.")
        page.get_by_label("Resumen", exact=True).fill("Una trabajadora recuerda la organización sindical.")
        page.get_by_label("Código de idioma", exact=True).fill("es")
        page.get_by_label("Sellado hasta", exact=False).first.fill("2031-01-01")
        page.get_by_label("Seudonimizado", exact=False).check()
        page.get_by_role("button", name="Ver cada nivel antes").click()
        expect(page.get_by_role("heading", name="Lo que mostraría la sala de lectura")).to_be_visible()
        preview = page.locator("article.preview.chosen")
        expect(preview.locator("ins", has_text="Persona A")).to_be_visible()
        expect(preview.locator("ins", has_text="Empleador 1")).to_be_visible()
        _fits(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"submit-preview-es-{WIDTH}.png"), full_page=True)

        page.get_by_role("button", name="Sellar el relato").click()
        expect(page.get_by_text(re.compile(r"Sellado\. El relato [a-z2-7]{16} está cifrado"))).to_be_visible()
        assert page.locator(".status").first.inner_text() == "sellado"
        story_id = re.search(r"/my/stories/([a-z2-7]{16})$", page.url).group(1)  # type: ignore[union-attr]
        _fits(page)
        page.get_by_role("button", name=re.compile("Cerrar sesión")).click()
        expect(page.locator(".flash")).to_have_text("Ha cerrado la sesión.")

        release_now(archive_home, story_id)
        assert escrow(archive_home, "publish-due").output.startswith("released 1")

        page.goto(f"{site}/")
        expect(page.get_by_role("heading", name="Sala de lectura")).to_be_visible()
        page.get_by_label("Buscar en los relatos publicados").fill("ORGANIZACION")
        page.get_by_role("button", name="Buscar", exact=True).click()
        expect(page.get_by_role("heading", name="1 relato encontrado")).to_be_visible()
        hit = page.locator("ol.results li").first
        expect(hit).to_have_attribute("lang", "es")
        expect(hit.locator("mark").first).to_have_text(re.compile("organización", re.IGNORECASE))
        _fits(page)
        page.screenshot(path=str(SCREENSHOTS / f"search-es-{WIDTH}.png"), full_page=True)

        hit.get_by_role("link").click()
        expect(page.locator("h1")).to_have_attribute("lang", "es")
        expect(page.locator(".transcript")).to_have_attribute("lang", "es")
        expect(page.locator(".transcript")).to_contain_text("con Persona A en Empleador 1")
        expect(page.locator("dl.meta")).to_contain_text("español")
        expect(page.locator("dl.meta")).to_contain_text("Persona narradora con seudónimo")
        assert "Lucía" not in page.content() and "Bahía" not in page.content()
        _fits(page)
        page.screenshot(path=str(SCREENSHOTS / f"story-es-{WIDTH}.png"), full_page=True)

        page.get_by_role("link", name="English", exact=True).click()  # the switch: this page in English
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="Transcript")).to_be_visible()
        expect(page.locator(".transcript")).to_contain_text("con Persona A en Empleador 1")  # the story's own words
        page.goto(f"{site}/search")  # the choice is kept, though the browser asks for Spanish
        expect(page.get_by_role("heading", name="Reading room")).to_be_visible()
    finally:
        page.context.close()
