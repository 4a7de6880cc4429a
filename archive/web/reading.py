"""The reading room on the web: search released stories, read one, cite it.

Everything here comes from the reading-room table and its index: released, already
redacted copies. A sealed, withdrawn or unknown id is the same 404 for everyone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext
from flask_login import current_user

from archive.errors import InvalidInput, NotFound
from archive.messages import LEVEL_NAMES, N_
from archive.services import exports, reading, recordings
from archive.services.reading import Filters, IndexMissing, ReleasedStory
from archive.web import context, streaming
from archive.web.auth import login_manager
from archive.web.display import marked, sentence
from archive.web.i18n import said

bp = Blueprint("reading", __name__)


@bp.before_request
def _visibility() -> Any:
    """An archive with access agreements (ESCROW_READING_ROOM=signed-in) shows released
    stories to signed-in accounts only; a public one (the default) to everyone."""
    if context.archive().config.reading_room == "signed-in" and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None
PER_PAGE = 10
RECENT = 10


@bp.route("/")
def home() -> str | tuple[str, int]:
    return search()


@bp.route("/search")
def search() -> str | tuple[str, int]:
    args = request.args
    query = (args.get("q") or "").strip()
    filters, problem = _filters()
    try:  # a page past the end, or not a number, is the first (a link's, not a person's, mistake)
        page_number, _ = reading.paging(args.get("page"), None)
    except InvalidInput:
        page_number = 1
    results, status = None, 200
    archive = context.archive()
    if problem:
        status = 400
    elif query or filters != Filters():  # the filters alone narrow the whole reading room
        # The service brings this node's index in step first (once for the page, filters
        # included): a release or takedown made on another machine shows here at once
        # (ESCROW_INDEX_SYNC_SECONDS, 0 by default).
        try:
            results = reading.search(archive, query, page=page_number, per_page=PER_PAGE, filters=filters)
        except IndexMissing:
            problem, status = gettext("Search is being rebuilt. Please try again in a few minutes."), 503
        except InvalidInput as error:
            problem, status = sentence(said(error)), 400
    recent = [] if query or results is not None else reading.recent(archive, RECENT)
    hits = list(zip(results.found, marked(f.snippet for f in results.found), strict=True)) if results else []
    body = render_template("search.html", query=query, filters=filters, results=results, hits=hits,
                           problem=problem, facets=reading.facets(archive), recent=recent, per_page=PER_PAGE,
                           empty=(results is None or not results.total) and not reading.released_any(archive))
    return (body, status) if status != 200 else body


def _filters() -> tuple[Filters, str | None]:
    args = request.args
    try:  # checked in the service, as the API's are
        return reading.filters(tag=args.get("tag"), language=args.get("language"), year=args.get("year"),
                               level=args.get("level")), None
    except InvalidInput as error:
        return Filters(), sentence(said(error))



@bp.route("/stories/<story_id>")
def story(story_id: str) -> str:
    released = reading.released(context.archive(), story_id)
    return render_template("story.html", story=released, citation=citation(released),
                           exports=exports.offered(released))


@bp.route("/stories/<story_id>/recording")
def recording(story_id: str) -> Response:
    """The released rendition of the story's recording (muted, or the original at level full),
    with byte ranges; the same 404 as the story page for a story that releases none."""
    return streaming.ranged(recordings.open_released(context.archive(), story_id))


@bp.route("/stories/<story_id>/captions.vtt")
def captions(story_id: str) -> Response:
    """The released timed transcript, for the player's captions track."""
    released = reading.released(context.archive(), story_id)
    if released.captions is None:
        raise NotFound(N_("no such story in the reading room"))
    return Response(released.captions, content_type="text/vtt; charset=utf-8")


@bp.route("/stories/<story_id>/export/<fmt>")
def export(story_id: str, fmt: str) -> Response:
    """A released story as a file to save (citation, OHMS XML, transcript); 404 as the story page."""
    made = exports.render(context.archive(), story_id, fmt, _root_url())
    if request.if_none_match.contains_weak(made.etag):
        response = Response(status=304)
    else:
        response = Response(made.body, content_type=made.mimetype)
        response.headers.set("Content-Disposition", "attachment", filename=made.filename)
    response.set_etag(made.etag)
    return response


def citation(story: ReleasedStory) -> str:
    """A ready-to-copy citation of the released copy, its words in the interface's language (the
    title and narrator as released)."""
    values = {"narrator": story.narrator, "title": story.title, "year": story.interview_date[:4] or gettext("n.d."),
              "interviewer": story.interviewer, "released": f"{story.released_at:%Y-%m-%d}",
              "level": gettext(LEVEL_NAMES.get(story.redaction_level, story.redaction_level)),
              "url": exports.story_url(_root_url(), story.id)}
    if story.interviewer:
        return gettext("%(narrator)s, \u201c%(title)s\u201d (%(year)s), interviewed by %(interviewer)s. Escrow "
                       "oral-history archive, released %(released)s, %(level)s copy. %(url)s", **values)
    return gettext("%(narrator)s, \u201c%(title)s\u201d (%(year)s). Escrow oral-history archive, released "
                   "%(released)s, %(level)s copy. %(url)s", **values)


def _root_url() -> str:
    # The configured public address; unset, this machine's own (its Host is one of localhost's).
    return context.archive().config.base_url or request.url_root.rstrip("/")
