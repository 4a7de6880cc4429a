"""The reading room on the web: search released stories, read one, cite it.

Everything here comes from the reading-room table and its index: released, already
redacted copies. A sealed, withdrawn or unknown id is the same 404 for everyone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user

from archive.errors import InvalidInput
from archive.services import reading
from archive.services.reading import Filters, IndexMissing, ReleasedStory
from archive.services.stories import LEVELS
from archive.web import context
from archive.web.auth import login_manager
from archive.web.display import sentence

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
    page = args.get("page", "1")
    page_number = int(page) if page.isdigit() and 0 < int(page) <= 1000 else 1
    results, status = None, 200
    archive = context.archive()
    if problem:
        status = 400
    elif query:
        # The service brings this node's index in step first: a release or takedown made on
        # another machine shows here within ESCROW_INDEX_SYNC_SECONDS.
        try:
            results = reading.search(archive, query, page=page_number, per_page=PER_PAGE, filters=filters)
        except IndexMissing:
            problem, status = "Search is being rebuilt. Please try again in a few minutes.", 503
        except InvalidInput as error:
            problem, status = sentence(str(error)) + ".", 400
    recent = [] if query else reading.recent(archive, RECENT)
    body = render_template("search.html", query=query, filters=filters, results=results, problem=problem,
                           facets=reading.facets(archive), recent=recent, per_page=PER_PAGE,
                           empty=(results is None or not results.total) and not reading.released_any(archive))
    return (body, status) if status != 200 else body


def _filters() -> tuple[Filters, str | None]:
    args = request.args
    year_text = (args.get("year") or "").strip()
    if year_text and not (year_text.isdigit() and len(year_text) == 4):
        return Filters(), "The interview year must be four digits, like 2019."
    level = (args.get("level") or "").strip() or None
    if level and level not in LEVELS:
        return Filters(), "Choose a redaction level from the list."
    return Filters(tag=(args.get("tag") or "").strip()[:60] or None,
                               language=(args.get("language") or "").strip()[:35] or None,
                               year=int(year_text) if year_text else None, level=level), None



@bp.route("/stories/<story_id>")
def story(story_id: str) -> str:
    released = reading.released(context.archive(), story_id)
    return render_template("story.html", story=released, citation=citation(released))


def citation(story: ReleasedStory) -> str:
    """A ready-to-copy citation of the released copy."""
    year = story.interview_date[:4] or "n.d."
    by = f", interviewed by {story.interviewer}" if story.interviewer else ""
    # The configured public address; unset, this machine's own (its Host is one of localhost's).
    root = context.archive().config.base_url or request.url_root.rstrip("/")
    url = root + f"/stories/{story.id}"
    return (f"{story.narrator}, \u201c{story.title}\u201d ({year}){by}. Escrow oral-history archive, "
            f"released {story.released_at:%Y-%m-%d}, {story.redaction_level} copy. {url}")
