"""Journeys in a real browser: Debian's chromium, headless, driven by Playwright, against
`escrow serve` (gunicorn) on 127.0.0.1, on the same database and index the CLI uses."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from archive.times import format_instant, utcnow
from tests.helpers import escrow, one, story, write_lines
from tests.processes import serving
from tests.web.conftest import PASSWORD, tiny_wav

SCREENSHOTS = Path(os.environ.get("ESCROW_SCREENSHOTS", "build/screenshots"))
XSS = '<script>alert("x1")</script><img src=x onerror=alert("x2")>"><svg onload=alert("x3")>'
ACCOUNTS = (("org@example.org", "organizer"), ("reader@example.org", "researcher"),
            ("admin@example.org", "admin"), ("admin2@example.org", "admin"))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def site(archive_home: Path) -> Iterator[str]:
    """`escrow serve` on a free port of 127.0.0.1; its address once gunicorn says it listens."""
    for email, role in ACCOUNTS:
        added = escrow(archive_home, "users", "add", email, "--role", role, "--password-stdin",
                       input=PASSWORD + "\n")
        assert added.exit_code == 0, added.output
    with serving(archive_home) as address:
        yield address


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, site: str, email: str) -> None:
    page.goto(f"{site}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def sign_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.wait_for_load_state()


def submit_story(page: Page, site: str, **fields: str) -> str:
    page.goto(f"{site}/submit")
    values = {"Title": "Night laundry", "Narrator's name": "Rosa Example",
              "Transcript": "I folded sheets beside [[person:Maria Lopez]] at [[org:Harbor Hotel]].",
              "Summary": "A laundry worker on the night shift.", **fields}
    for label, value in values.items():
        page.get_by_label(label, exact=False).first.fill(value)
    page.get_by_label("Sealed until").fill("2031-01-01")
    page.get_by_label("Pseudonymized", exact=False).check()
    page.get_by_role("button", name="Seal the story").click()
    page.wait_for_load_state()
    match = re.search(r"/my/stories/([a-z2-7]{16})$", page.url)
    assert match, page.content()[:3000]
    return match.group(1)


def release_now(archive_home: Path, story_id: str) -> None:
    """An early release, asked by one admin and approved by another (the form takes future dates only)."""
    asked = escrow(archive_home, "embargo", "request", story_id, "--until", "now", "--reason", "narrator agreed",
                   "--as", "admin2@example.org")
    assert asked.exit_code == 0, asked.output
    approved = escrow(archive_home, "embargo", "approve", asked.output.split()[1], "--as", "admin@example.org")
    assert approved.exit_code == 0, approved.output


def test_a_story_goes_from_an_organizers_form_to_a_researchers_search(page: Page, site: str,
                                                                      archive_home: Path) -> None:
    sign_in(page, site, "org@example.org")
    story_id = submit_story(page, site)
    expect(page.get_by_text("Sealed. Story")).to_be_visible()
    assert page.locator(".status").first.inner_text() == "sealed"
    other_id = submit_story(page, site, Title="Still sealed")
    sign_out(page)

    escrow(archive_home, "embargo", "extend", other_id, "--until", "2099-01-01", "--reason", "not yet",
           "--as", "admin@example.org")
    release_now(archive_home, story_id)
    released = escrow(archive_home, "publish-due")
    assert released.output.startswith("released 1"), released.output

    sign_in(page, site, "reader@example.org")
    page.goto(f"{site}/search")
    page.get_by_label("Search released stories").fill("sheets")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 story found")).to_be_visible()
    page.get_by_role("link", name="Night laundry").click()
    text = page.locator("article").inner_text()
    assert "I folded sheets beside Person A at Employer 1." in text
    assert "Maria Lopez" not in text and "Rosa" not in text and "Harbor" not in text
    assert page.url.endswith(f"/stories/{story_id}")

    response = page.goto(f"{site}/stories/{other_id}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_a_recording_chosen_on_the_submit_page_is_sealed_with_the_story(page: Page, site: str,
                                                                       archive_home: Path, tmp_path: Path) -> None:
    """Chromium sends the form's fields before the file (the order the server reads it in); a
    preview sends no file; sealing seals both."""
    (tmp_path / "interview.wav").write_bytes(tiny_wav(frames=8000))
    sign_in(page, site, "org@example.org")
    page.goto(f"{site}/submit")
    page.get_by_label("Title", exact=True).fill("Night laundry")
    page.get_by_label("Narrator's name").fill("Rosa Example")
    page.get_by_label("Transcript", exact=True).fill("I folded sheets beside [[person:Maria Lopez]].")
    page.get_by_label("Sealed until").fill("2031-01-01")
    page.get_by_label("Recording of the interview").set_input_files(tmp_path / "interview.wav")
    page.get_by_role("button", name="Preview each level").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="What the reading room would show")).to_be_visible()
    assert one(archive_home, "SELECT count(*) FROM stories") == 0
    assert one(archive_home, "SELECT count(*) FROM recordings") == 0

    page.get_by_label("Recording of the interview").set_input_files(tmp_path / "interview.wav")
    page.get_by_role("button", name="Seal the story").click()
    page.wait_for_load_state()

    expect(page.get_by_text("and its recording are encrypted")).to_be_visible()
    story_id = str(one(archive_home, "SELECT id FROM stories"))
    assert page.url.endswith(f"/my/stories/{story_id}")
    assert one(archive_home, "SELECT count(*) FROM recordings WHERE story_id = :id", id=story_id) == 1


def test_an_admin_approves_another_admins_early_release_request(page: Page, site: str,
                                                                archive_home: Path) -> None:
    sign_in(page, site, "org@example.org")
    story_id = submit_story(page, site)
    sign_out(page)
    asked = escrow(archive_home, "embargo", "request", story_id, "--until", "now", "--reason", "narrator agreed",
                   "--as", "admin2@example.org")
    assert asked.exit_code == 0, asked.output
    request_id = asked.output.split()[1]

    sign_in(page, site, "admin@example.org")
    page.goto(f"{site}/admin")
    page.get_by_role("button", name=f"Approve request {request_id}").click()
    page.wait_for_load_state()

    expect(page.get_by_text("Approved: the new embargo is in force")).to_be_visible()
    assert escrow(archive_home, "publish-due").output.startswith("released 1")
    response = page.goto(f"{site}/stories/{story_id}")
    assert response is not None and response.status == 200


# A chosen stand-in may not repeat a hidden name (the span's words "script", "alert", "img"...), so its
# payload uses other words.
STAND_IN_XSS = "<b onmouseover=confirm(3)>\" onfocus=confirm(4) x=\""


def test_a_stored_script_in_every_field_stays_inert(page: Page, site: str, archive_home: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[func-returns-value]
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text
            else None)
    sign_in(page, site, "org@example.org")
    fields = {"Title": f"Payload {XSS}", "Narrator's name": f"Narrator {XSS}",
              "Transcript": f"Words {XSS} and [[person:{XSS}|stand {STAND_IN_XSS}]]", "Summary": f"Summary {XSS}",
              "Interviewer": XSS, "Place of the interview": XSS,
              "Tags, separated by commas": "<svg onload=alert(\"t\")>",
              "Private notes": XSS}
    page.goto(f"{site}/submit")
    for label, value in fields.items():
        page.get_by_label(label, exact=False).first.fill(value)
    page.get_by_label("Sealed until").fill("2031-01-01")
    page.get_by_role("radio", name="Full — everything as written").check()
    page.get_by_role("button", name="Preview each level").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="What the reading room would show")).to_be_visible()
    story_id = submit_story(page, site, **fields)
    page.get_by_role("button", name="Open the sealed content").click()
    page.wait_for_load_state()
    sign_out(page)
    release_now(archive_home, story_id)
    assert escrow(archive_home, "publish-due").output.startswith("released 1")

    for path in (f"/stories/{story_id}", "/search?q=payload", "/search?q=words", "/"):
        response = page.goto(f"{site}{path}")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.locator("script:not([src])").count() == 0
    page.goto(f"{site}/stories/{story_id}")
    # Shown as text: the chosen stand-in's markup (the payload's own words are parts of hidden
    # names here, the narrator's among them, so they are scrubbed at this level).
    assert f"stand {STAND_IN_XSS}" in page.locator("article").inner_text()

    assert dialogs == []
    assert violations == []  # nothing even tried to run


@pytest.mark.parametrize("width", [375, 1280])
def test_screenshots_of_search_and_submit(browser: Browser, site: str, archive_home: Path, width: int) -> None:
    escrow(archive_home, "demo", "--no-serve")  # sample stories, released ones among them
    context = browser.new_context(viewport={"width": width, "height": 900})
    shot = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        shot.goto(f"{site}/search?q=hotel")
        expect(shot.get_by_role("heading", name=re.compile("stories found"))).to_be_visible()
        shot.screenshot(path=str(SCREENSHOTS / f"search-{width}.png"), full_page=True)
        assert shot.evaluate("document.documentElement.scrollWidth") <= width  # nothing runs off the side
        sign_in(shot, site, "org@example.org")
        shot.goto(f"{site}/submit")
        shot.screenshot(path=str(SCREENSHOTS / f"submit-{width}.png"), full_page=True)
        assert shot.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


def test_the_reading_room_plays_a_muted_recording_with_its_captions(page: Page, site: str, archive_home: Path,
                                                                    tmp_path: Path) -> None:
    """Debian's chromium decodes the released muted copy (the audio element reaches canplay)
    and loads its captions track, with the archive's Content-Security-Policy in force."""
    captions = ("WEBVTT\n\n00:00:00.000 --> 00:00:00.400\nI am [[person:Rosa Canaryname7]].\n\n"
                "00:00:00.500 --> 00:00:00.900\nWe struck in May.\n")
    data = {**story(captions=captions, redaction_level="redacted", recording_release="muted",
                    embargo_until="2020-01-01")}
    del data["transcript"]
    assert escrow(archive_home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)),
                  "--as", "org@example.org").exit_code == 0
    story_id = str(one(archive_home, "SELECT id FROM stories"))
    (tmp_path / "a.wav").write_bytes(tiny_wav(frames=8000))
    assert escrow(archive_home, "stories", "attach", story_id, str(tmp_path / "a.wav"),
                  "--as", "org@example.org").exit_code == 0
    assert escrow(archive_home, "publish-due").output.startswith("released 1,")

    page.goto(f"{site}/stories/{story_id}")
    # Waited for by their own events, in functions Playwright calls into the page (a string it
    # would evaluate is refused by the archive's Content-Security-Policy, as it should be).
    # An error event, or 20 s without the event (a load the page's policy blocks fires none),
    # fails the wait instead of leaving it hanging.
    waited = ("(element, event, ready) => ready(element) || new Promise((done, fail) => {"
              " element.addEventListener(event, () => done(true));"
              " element.addEventListener('error', () => fail(new Error(event + ': error')));"
              " setTimeout(() => fail(new Error(event + ': not within 20 s')), 20000); })")
    assert page.locator("audio").evaluate(
        f"a => ({waited})(a, 'canplay', e => e.readyState >= 3)")
    assert page.locator("audio track").evaluate(
        f"t => ({waited})(t, 'load', e => e.readyState === 2)")

    cues = page.evaluate("Array.from(document.querySelector('audio').textTracks[0].cues).map(c => c.text)")
    assert cues == ["I am [redacted].", "We struck in May."]
    assert "Canaryname7" not in page.content()


# Every box a person uses (a button, a link, a field, a cell) must lie within the viewport:
# one that runs off its side, or into a box that scrolls sideways, hides what it holds.
OFF_SCREEN = """width => Array.from(document.querySelectorAll(
    'main button, main a, main input, main select, main textarea, main td, main th, main label, main code'))
  .filter(e => e.getClientRects().length && !e.closest('.visually-hidden') && !e.classList.contains('visually-hidden'))
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.right > width + 0.5 || r.left < -0.5)
  .map(([e, r]) => e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 40)
                   + ' right=' + Math.round(r.right))"""
# A choice's button sits at the start of its own label, on the line of its text.
SCATTERED = """() => Array.from(document.querySelectorAll('label.check > input')).filter(input => {
  const box = input.getBoundingClientRect(), label = input.parentElement.getBoundingClientRect();
  return box.width > 40 || box.left - label.left > 2 || box.top < label.top - 2 || box.bottom > label.bottom + 2;
}).map(input => input.name + '=' + input.value)"""
# The citation shows all of its text, without a scroll bar of its own.
CUT = "e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1"


def _looked_at(shot: Page, name: str, width: int) -> None:
    """A full-page screenshot to look at (ESCROW_SCREENSHOTS), and nothing off the screen."""
    shot.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    assert shot.evaluate("document.documentElement.scrollWidth") <= width, name
    assert shot.evaluate(OFF_SCREEN, width) == [], name
    assert shot.evaluate(SCATTERED) == [], name


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_fits_the_screen_with_its_buttons_in_reach(browser: Browser, site: str, archive_home: Path,
                                                             width: int) -> None:
    """The pages with tables, forms of choices and the citation, at a phone's width and a
    desktop's: nothing runs off the side, no button is hidden in a box that scrolls sideways,
    the choices sit by their labels and the citation shows all its text."""
    escrow(archive_home, "demo", "--no-serve")  # released stories, and more accounts for the table
    released = str(one(archive_home, "SELECT id FROM released_stories WHERE redaction_level = 'pseudonymized'"))
    # The organizer's own sealed stories, one due within the admins' 30 days: the tables have rows.
    soon = format_instant(utcnow() + timedelta(days=5))
    mine = write_lines(archive_home.parent / "mine.jsonl",
                       story(title="The night the laundry walked out, told by the women of the second shift",
                             embargo_until=soon),
                       story(title="Kitchen", embargo_until=None))
    assert escrow(archive_home, "stories", "import", str(mine), "--as", "org@example.org").exit_code == 0
    context = browser.new_context(viewport={"width": width, "height": 900})
    shot = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        shot.goto(f"{site}/search?q=hotel")
        _looked_at(shot, "search", width)
        shot.goto(f"{site}/stories/{released}")
        _looked_at(shot, "story", width)
        assert shot.locator("#citation").inner_text().endswith(f"/stories/{released}")
        assert not shot.locator("#citation").evaluate(CUT)
        sign_in(shot, site, "org@example.org")
        shot.goto(f"{site}/submit")
        _looked_at(shot, "submit", width)
        for path, name in (("/my/stories", "my-stories"), ("/notices", "notices")):
            shot.goto(f"{site}{path}")
            _looked_at(shot, name, width)
        shot.goto(f"{site}/account")
        for name in ("a long name for the thesis scripts that read every night", "backup"):
            shot.get_by_label("Name (what the token is for", exact=False).fill(name)
            shot.get_by_label("Your password").fill(PASSWORD)
            shot.get_by_role("button", name="Create a token").click()
            shot.wait_for_load_state()
        shot.goto(f"{site}/account")
        expect(shot.get_by_role("button", name=re.compile("Revoke"))).to_have_count(2)
        _looked_at(shot, "account", width)
        shot.goto(f"{site}/search")
        sign_out(shot)
        sign_in(shot, site, "admin@example.org")
        for path, name in (("/admin", "admin"), ("/admin/users", "accounts"), ("/admin/embargoes/bulk", "bulk")):
            shot.goto(f"{site}{path}")
            _looked_at(shot, name, width)
        indefinite = one(archive_home, "SELECT id FROM stories WHERE status = 'sealed' AND embargo_until IS NULL")
        shot.goto(f"{site}/admin/stories/{indefinite}")
        expect(shot.get_by_role("button", name="Ask a second admin to release it")).to_be_visible()
        _looked_at(shot, "admin-story", width)
    finally:
        context.close()
