"""Headers on every response, and error pages that never show a trace or story text.

Under /api/ every error is JSON instead, `{"error": {"status": N, "message": "..."}}` (the
shape the OpenAPI document describes), with the same care: a fixed message for 404 and 5xx,
a domain error's safe message for the rest. At /oai, whose protocol errors are XML answers
(status 200), an HTTP-level refusal (401, 413, 429, 5xx) is one line of plain text, as its
401 always was: a harvester logs it as it is, with no page to parse.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.wrappers import Response

from archive.errors import (
    Conflict,
    EscrowError,
    Forbidden,
    InvalidInput,
    KeyProblem,
    NotFound,
    NotInitialised,
    Throttled,
)
from archive.messages import N_
from archive.web.display import sentence
from archive.web.i18n import said

log = logging.getLogger("escrow.web")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; connect-src 'self'; media-src 'self'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
TITLES = {400: N_("That request could not be read"), 401: N_("Please sign in"), 403: N_("Not allowed"),
          404: N_("Not found"), 405: N_("Not allowed here"), 408: N_("Too slow"), 413: N_("Too large"),
          429: N_("Too many attempts"), 500: N_("Something went wrong"), 503: N_("Not available")}
MESSAGES = {
    400: N_("The form could not be read. Go back, reload the page and try again."),
    403: N_("Your account may not do this."),
    404: N_("There is no page here."),
    405: N_("This page does not take that kind of request."),
    408: N_("What you sent arrived too slowly: nothing of it was kept. Try again."),
    413: N_("What you sent is larger than the archive accepts. Shorten it and try again."),
    429: N_("Too many attempts in a short time. Wait a minute and try again."),
    500: N_("The archive could not finish this request. Nothing was changed. Try again later."),
    503: N_("The archive is not set up yet."),
}
API_MESSAGES = {
    400: N_("The request could not be read."),
    401: N_("Sign in, or send a personal API token as 'Authorization: Bearer <token>'."),
    403: N_("Your account may not do this."),
    404: N_("There is no such story or endpoint here."),
    405: N_("This endpoint does not take that method."),
    408: N_("The request arrived too slowly."),
    413: N_("The request is larger than the archive accepts."),
    429: N_("Too many attempts in a short time. Wait a minute and try again."),
    500: N_("The archive could not finish this request. Try again later."),
    503: N_("The archive cannot answer right now. Try again later."),
}


# Large answers of nothing but released content, which a proxy may spool to disk to free a
# thread for the next request sooner.
PROXY_MAY_BUFFER = frozenset({"reading.recording"})


def init_app(app: Flask) -> None:
    """Register the headers and the error pages."""
    app.after_request(_harden)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(EscrowError, domain_error)
    app.register_error_handler(Exception, _unexpected)


def _harden(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not (request.path.startswith("/static/") and response.status_code in (200, 206, 304)):
        # Nothing the archive renders is cached by a browser or proxy: a researcher's
        # results, an organizer's list, an error page alike (a 404 under /static/ is
        # rendered with the visitor's session too). A static file that exists is cacheable.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        response.vary.add("Cookie")
        if request.endpoint not in PROXY_MAY_BUFFER:
            # nginx writes a response to a temporary file, in the clear, when its client reads
            # slower than the archive answers: an organizer's sealed story or recording must
            # not be, so it passes straight through (a slow client holds a thread instead).
            response.headers["X-Accel-Buffering"] = "no"
    return response


def error_page(status: int, message: str | None = None) -> tuple[str, int]:
    """The one generic page for an error status."""
    title = gettext(TITLES.get(status, N_("Error")))
    body = render_template("error.html", status=status, title=title, stay=False,
                           message=message or (gettext(MESSAGES[status]) if status in MESSAGES else title))
    return body, status


def is_api() -> bool:
    """Whether the request is the JSON API's (its blueprint, or a path under /api/ that no
    route matched), whose errors are JSON."""
    return request.blueprint == "api" or request.path.startswith("/api/")


def is_oai() -> bool:
    """Whether the request is the OAI-PMH provider's (its route, or its path with a method the
    route does not take), whose HTTP-level errors are plain text."""
    return request.blueprint == "oai" or request.path == "/oai"


def text_error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A one-line plain-text error (the OAI-PMH provider's HTTP-level refusals)."""
    text = message or (gettext(API_MESSAGES[status]) if status in API_MESSAGES
                       else gettext(TITLES.get(status, N_("Error"))) + ".")
    return Response(text + "\n", status, mimetype="text/plain", headers=headers)


def json_error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The API's one error shape; 401 says how to authenticate (RFC 6750)."""
    response = jsonify(error={"status": status, "message": message or gettext(API_MESSAGES.get(status, N_("Error.")))})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    response.headers.update(headers or {})
    return response


def _csrf_error(error: CSRFError) -> Response | tuple[str, int]:
    if is_api():
        return json_error(400)
    return error_page(400, gettext("The form had expired or came from elsewhere. Reload the page and try again."))


def _http_error(error: HTTPException) -> Response | tuple[str, int]:
    if isinstance(error, SecurityError):
        # A Host header Werkzeug cannot read (web/hosts.py refuses other hosts before): no page can be built
        # for a site it is not, and nothing of what the visitor sent is repeated.
        return Response(gettext("This archive does not answer to that host name.") + "\n", 400, mimetype="text/plain")
    status = error.code or 500
    if status < 400:  # a routing redirect (a missing trailing slash) is not an error
        return error.get_response()
    if is_api() or is_oai():
        allow = {k: v for k, v in error.get_headers() if k == "Allow"}  # a 405 says what is allowed
        return json_error(status, None, allow) if is_api() else text_error(status, None, allow)
    if status == 401:
        return error_page(404) if current_user.is_authenticated else _to_login()
    return error_page(status)


# Each domain error's status; its message is safe to show (errors.py promises it).
STATUS = ((NotFound, 404), (Forbidden, 403), (KeyProblem, 503), (NotInitialised, 503),
          (InvalidInput, 400), (Conflict, 400), (Throttled, 429))


def domain_error(error: EscrowError) -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """The page for a refusal no view turned into a form message: one mapping for every view.

    Not found is the shared 404 (a sealed story and an unknown id look the same); a key
    problem is an operator's matter, shown without its detail.
    """
    status = next((code for kind, code in STATUS if isinstance(error, kind)), 500)
    if (is_api() or is_oai()) and status not in (500, 503):
        retry = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else {}
        message = None if status == 404 else sentence(said(error))
        return json_error(status, message, retry) if is_api() else text_error(status, message, retry)
    if status == 404:
        return error_page(404)
    if status == 503:
        log.error("key or setup problem: %s", type(error).__name__)
        if is_api():
            return json_error(503)
        if is_oai():
            return text_error(503)
        return error_page(503, gettext("The archive cannot open its vault right now. An operator has to look at it."))
    if status == 500:
        return _unexpected(error)
    if isinstance(error, Throttled):
        body, _ = error_page(429)
        return body, 429, {"Retry-After": str(error.retry_after)}
    return error_page(status, sentence(said(error)))


def _to_login() -> Response:
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def _unexpected(error: Exception) -> Response | tuple[str, int]:
    # Only the class and the route: a message or traceback could quote story text.
    log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.url_rule)
    if is_oai():
        return text_error(500)
    return json_error(500) if is_api() else error_page(500)
