"""A narrator's walk through their own door in Spanish, on a phone's width (390 px), in Debian's
chromium driven by Playwright against `escrow serve` on 127.0.0.1: the codename typed from the
card, the preview of what would be released, a later date, and consent withdrawn."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.helpers import escrow, one, story, write_lines
from tests.web.test_browser import SCREENSHOTS, browser, site  # noqa: F401 - fixtures
from tests.web.test_browser_spanish import WIDTH, _fits, _spanish_page


def test_a_narrator_signs_in_previews_delays_and_withdraws_in_spanish(
        browser: Browser, site: str, archive_home: Path) -> None:  # noqa: F811 - fixtures
    line = write_lines(archive_home.parent / "es.jsonl", story(
        language="es", title="La lavandería", narrator="Rosa Martínez", embargo_until="2031-01-01",
        transcript="Doblaba sábanas con [[person:Lucía Fernández]] en [[org:Hotel Bahía]].",
        summary="Una trabajadora recuerda la organización."))
    assert escrow(archive_home, "stories", "import", str(line), "--as", "org@example.org").exit_code == 0
    story_id = str(one(archive_home, "SELECT id FROM stories"))
    # With the parameters `escrow serve` hashes with (the suite's CLI runs with the cheap ones).
    issued = escrow(archive_home, "narrator", "issue", story_id, "--as", "org@example.org",
                    env={"ESCROW_PASSWORD_COST": "standard"})
    codename = issued.stdout.strip()
    assert len(codename.split()) == 7

    page = _spanish_page(browser)
    try:
        page.goto(f"{site}/n")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.get_by_role("heading", name="Su relato")).to_be_visible()
        _fits(page)
        page.get_by_label("Su nombre clave (las palabras de su tarjeta)").fill(codename.upper().replace(" ", "-"))
        page.get_by_role("button", name="Abrir mi relato").click()
        assert codename.split()[0] not in page.url

        expect(page.get_by_text("Su relato está sellado hasta")).to_be_visible()
        preview = page.locator("article.preview.chosen")
        expect(preview.locator("ins", has_text="Persona A")).to_be_visible()
        expect(preview.locator("ins", has_text="Empleador 1")).to_be_visible()
        _fits(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"narrator-es-{WIDTH}.png"), full_page=True)

        page.get_by_label("Mantenerlo sellado hasta (fecha)").fill("2040-06-01")
        page.get_by_role("button", name="Mantenerlo sellado hasta esta fecha").click()
        expect(page.locator(".flash")).to_have_text("Hecho: su relato sigue sellado hasta la nueva fecha.")
        assert str(one(archive_home, "SELECT embargo_until FROM stories")).startswith("2040-06-01")
        _fits(page)

        page.get_by_role("button", name="Retirar mi relato").click()  # the box is not ticked: nothing changes
        expect(page.get_by_text("Marque la casilla para confirmar")).to_be_visible()
        page.get_by_label("Sí, retirar mi relato del archivo").check()
        page.get_by_role("button", name="Retirar mi relato").click()
        expect(page.get_by_text("Retiró su consentimiento.")).to_be_visible()
        expect(page.get_by_role("button", name="Deshacer: dejar mi relato como estaba")).to_be_visible()
        assert one(archive_home, "SELECT status FROM stories") == "withdrawn"
        _fits(page)
        page.screenshot(path=str(SCREENSHOTS / f"narrator-withdrawn-es-{WIDTH}.png"), full_page=True)

        page.get_by_role("button", name="Salir de esta página").click()
        expect(page.get_by_role("button", name="Abrir mi relato")).to_be_visible()
        page.goto(f"{site}/n/story")
        expect(page.get_by_role("button", name="Abrir mi relato")).to_be_visible()
    finally:
        page.context.close()
