"""The web archive: blueprints for sign-in, the reading room, organizers and admins.

`web` calls the vault, the release gate and the reading room; nothing calls `web`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from archive import services
from archive.messages import N_
from archive.web import admin, api, auth, bulk, errors, hosts, i18n, narrator, notices, oai, organizer, reading
from archive.web.display import when
from archive.web.forms import ActionForm

MAX_UPLOAD = 2 * 1024 * 1024  # a 1,000,000-character transcript fits; anything larger is a 413
csrf = CSRFProtect()


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask, *, proxy_hops: int = 0) -> None:
    """Wire the pages, forms, sign-in, throttling and hardening into the app."""
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD, SESSION_COOKIE_NAME="escrow_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=8),  # from sign-in
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    app.session_interface = _SessionInterface()
    if proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops)  # type: ignore[method-assign]
    app.wsgi_app = hosts.OnlyOurHosts(app.wsgi_app, app.config["ESCROW_HOSTS"])  # type: ignore[method-assign]
    i18n.init_app(app)
    csrf.init_app(app)
    auth.login_manager.init_app(app)
    auth.login_manager.login_view = "auth.login"
    auth.login_manager.login_message = N_("Please sign in to see that page.")
    auth.login_manager.localize_callback = gettext  # flashed in the language of the page that redirects
    for blueprint in (auth.bp, reading.bp, organizer.bp, admin.bp, api.bp, oai.bp, notices.bp, bulk.bp, narrator.bp):
        app.register_blueprint(blueprint)
    # Neither changes anything a forged form could abuse: OAI-PMH takes POST only as a
    # longer GET, and the API reads with a token in a header, never with a cookie alone.
    csrf.exempt(oai.bp)
    csrf.exempt(api.bp)
    csrf.exempt(organizer.attach_recording)  # streamed: it checks the token itself, before the file
    csrf.exempt(organizer.submit)  # likewise: its form's token is checked before the recording
    errors.init_app(app)
    app.before_request(_initialised)
    app.teardown_request(lambda _error: services.finish())
    app.jinja_env.filters["when"] = when
    app.context_processor(_globals)


def _initialised() -> Response | tuple[str, int] | None:
    # Without a key ring there is no session secret and nothing to serve yet.
    from flask import current_app

    if not current_app.secret_key and not request.path.startswith("/static/"):
        if errors.is_api():
            return errors.json_error(503, gettext("The archive is not set up yet."))
        if errors.is_oai():
            return errors.text_error(503, gettext("The archive is not set up yet."))
        return errors.error_page(503, gettext("The archive is not set up yet: run 'escrow init'."))
    return None


def _globals() -> dict[str, Any]:
    # formdata=None: never read the request body here (an error page for a 413 renders this too).
    return {"logout_form": ActionForm(prefix="logout", formdata=None)}
