"""The JSON API (/api/v1/): the reading room for scripts.

Read-only: search, one released story (with its citation and an ETag), the filter
vocabularies, and the OpenAPI document (openapi.json beside this module) that describes
every shape here, errors included. Access follows the reading room's rule: a public room is
open to anyone; a signed-in one to a session or a personal API token (`Authorization: Bearer
esc_...`). Tokens are checked here only, never by the sign-in machinery, so a token opens the
API and no page or form. A token that is presented and opens nothing is refused even where
the room is public, and counts against the address as a failed sign-in. Errors are JSON
(security.py), and a sealed, withdrawn or unknown id is the same 404 for every caller.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from archive.services import exports, reading, tokens
from archive.services.reading import IndexMissing, ReleasedStory, Snippet
from archive.times import format_instant
from archive.web import context
from archive.web.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")
DOCUMENT = Path(__file__).with_name("openapi.json")
SHAPE = "1"  # part of every story's ETag: bump it when the story's JSON changes shape


@bp.before_request
def _access() -> Response | None:
    """A presented token must open the API (else 401, or 429 past the throttle); without one,
    a signed-in reading room needs a session."""
    archive = context.archive()
    secret = context.bearer()
    if secret is not None:
        if not secret:
            return json_error(401, gettext("Send a personal API token as 'Authorization: Bearer <token>'."),
                              {"WWW-Authenticate": 'Bearer error="invalid_request"'})
        # (The address is the proxy's unless ESCROW_PROXY_HOPS says how many to trust.)
        if tokens.authenticate(archive, secret, request.remote_addr or "unknown") is None:
            return json_error(401, gettext("That token opens nothing: it is revoked, mistyped, or its account is "
                                           "disabled."),
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None
    if archive.config.reading_room == "signed-in" and not current_user.is_authenticated:
        return json_error(401)
    return None


@bp.get("/search")
def search() -> Response:
    args = request.args
    filters = reading.filters(tag=args.get("tag"), language=args.get("language"), year=args.get("year"),
                              level=args.get("level"))
    page, per_page = reading.paging(args.get("page"), args.get("per_page"))
    try:
        listing = reading.search(context.archive(), args.get("q") or "", page=page, per_page=per_page,
                                 filters=filters, past_the_end="empty")
    except IndexMissing:
        return json_error(503, gettext("Search is being rebuilt. Try again in a few minutes."))
    root = _root()
    return _json({"total": listing.total, "page": listing.page, "per_page": listing.per_page,
                  "hits": [_hit(found.story, found.snippet, root) for found in listing.found]})


def _hit(story: ReleasedStory, snippet: Snippet, root: str) -> dict[str, Any]:
    return {"id": story.id, "title": story.title, "narrator": story.narrator, "level": story.redaction_level,
            "year": story.interview_year, "language": story.language, "tags": story.tag_list,
            "url": exports.story_url(root, story.id),
            "snippet": {"text": snippet.text, "matches": [list(m) for m in snippet.matches]}}


@bp.get("/stories/<story_id>")
def story(story_id: str) -> Response:
    archive = context.archive()
    released = reading.released(archive, story_id)  # sealed, withdrawn, unknown: one NotFound
    root = _root()
    version = "\0".join([SHAPE, exports.EXPORT_VERSION, released.content_hash,
                         format_instant(released.released_at), root])
    etag = hashlib.sha256(version.encode()).hexdigest()[:40]
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    body: dict[str, Any] = {
        "id": released.id, "title": released.title, "narrator": released.narrator, "summary": released.summary,
        "transcript": released.transcript, "interview_date": released.interview_date or None,
        "year": released.interview_year, "language": released.language, "tags": released.tag_list,
        "redaction_level": released.redaction_level, "released_at": format_instant(released.released_at),
        "url": exports.story_url(root, released.id), "citation": exports.citation(released, root),
    }
    # Left out when empty rather than sent blank: a blank says nothing the absence does not.
    body.update({name: value for name in ("interviewer", "place") if (value := getattr(released, name))})
    response = _json(body)
    response.set_etag(etag)
    return response


@bp.get("/vocabularies")
def vocabularies() -> Response:
    facets = reading.facets(context.archive())
    return _json({"tags": facets.tags, "languages": facets.languages, "years": facets.years,
                  "levels": facets.levels})


@bp.get("/openapi.json")
def openapi() -> Response:
    return Response(_document(), mimetype="application/json")


@cache
def _document() -> bytes:
    # Read once per process: the package ships it beside this module.
    return DOCUMENT.read_bytes()


def _root() -> str:
    # The configured public address; unset, this machine's own (as the story page's citation).
    return context.archive().config.base_url or request.url_root.rstrip("/")


def _json(data: dict[str, Any]) -> Response:
    return jsonify(data)
