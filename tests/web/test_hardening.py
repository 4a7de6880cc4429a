"""Headers on every response, friendly error pages without traces, CSRF, size limits, quiet logs."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from archive import create_app
from archive.config import Config
from tests.helpers import canaries, escrow
from tests.web.conftest import World, sign_in

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _hardened(headers: dict[str, str] | object) -> None:
    csp = headers["Content-Security-Policy"]  # type: ignore[index]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for name, value in REQUIRED.items():
        assert headers[name] == value, name  # type: ignore[index]


@pytest.fixture
def boom(web_app: Flask) -> str:
    """A route that fails with story text in its exception, as a bug might."""
    secret = canaries(1)[0]

    def fail() -> str:
        raise RuntimeError(f"decrypted transcript: {secret}")

    web_app.add_url_rule("/boom", "boom", fail)
    return secret


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/search", 200), ("GET", "/login", 200), ("GET", "/nowhere", 404), ("GET", "/stories/nosuch", 404),
    ("POST", "/search", 405), ("GET", "/logout", 405), ("POST", "/login", 400),
])
def test_every_response_is_hardened(client: FlaskClient, world: World, method: str, path: str,
                                    status: int) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    _hardened(response.headers)
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_failure_is_a_generic_500_and_the_log_holds_no_story_text(client: FlaskClient, world: World, boom: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.get("/boom")

    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong" in page
    _hardened(response.headers)
    assert boom not in page and "Traceback" not in page and "RuntimeError" not in page
    assert boom not in caplog.text and "Traceback" not in caplog.text
    assert "unhandled RuntimeError on GET /boom" in caplog.text


def test_an_oversized_post_is_a_friendly_413(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    response = client.post("/submit", data={"transcript": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413 and "larger than the archive accepts" in response.get_data(as_text=True)
    _hardened(response.headers)


def test_a_form_without_its_token_is_refused_and_changes_nothing(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    response = client.post(f"/my/stories/{world.sealed_id}/extend",
                           data={"extend-until": "2099-01-01", "extend-reason": "forged"})
    assert response.status_code == 400 and "Reload the page" in response.get_data(as_text=True)
    assert "2090-01-01" in client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)


def test_pages_are_never_framed_and_static_files_may_be_cached(client: FlaskClient, world: World) -> None:
    page = client.get("/search")
    assert page.headers["X-Frame-Options"] == "DENY"
    static = client.get("/static/style.css")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"
    static.close()


@pytest.mark.parametrize("value", ["lots", "9", "-1"])
def test_a_bad_proxy_setting_is_one_line(archive_home: Path, value: str) -> None:
    result = escrow(archive_home, "stories", "list", env={"ESCROW_PROXY_HOPS": value})
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "ESCROW_PROXY_HOPS must be a number of proxies from 0 to 5" in result.output


def test_behind_one_trusted_proxy_the_forwarded_scheme_makes_cookies_secure(config: Config) -> None:
    app = create_app(replace(config, proxy_hops=1))
    client = app.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" in response.headers["Set-Cookie"]
    untrusted = create_app(config).test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in untrusted.headers["Set-Cookie"]
