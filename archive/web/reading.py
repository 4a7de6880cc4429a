"""The reading room on the web: search released stories, read one, cite it.

Everything here comes from the reading-room table and its index: released, already
redacted copies. A sealed, withdrawn or unknown id is the same 404 for everyone.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from archive.errors import InvalidInput
from archive.reading_room import room
from archive.reading_room import search as room_search
from archive.reading_room.index import IndexMissing
from archive.reading_room.models import ReleasedStory
from archive.release import locks
from archive.web import context
from archive.web.display import sentence

bp = Blueprint("reading", __name__)
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
    config = context.config()
    # This node's index follows the reading-room table: a release or takedown made on
    # another machine shows here within ESCROW_INDEX_SYNC_SECONDS.
    room.sync_if_stale(context.session(), context.index(), config.index_sync_seconds, locks.node(config.home))
    try:
        facets = room_search.facets(context.index())
    except IndexMissing:
        facets = room_search.Facets([], [], [], [])
    if problem:
        status = 400
    elif query:
        try:
            results = room_search.search(context.index(), query, page=page_number, per_page=PER_PAGE,
                                         filters=filters)
        except IndexMissing:
            problem, status = "Search is being rebuilt. Please try again in a few minutes.", 503
        except InvalidInput as error:
            problem, status = sentence(str(error)) + ".", 400
    recent = [] if query else _recent()
    body = render_template("search.html", query=query, filters=filters, results=results, problem=problem,
                           facets=facets, recent=recent, per_page=PER_PAGE)
    return (body, status) if status != 200 else body


def _filters() -> tuple[room_search.Filters, str | None]:
    args = request.args
    year_text = (args.get("year") or "").strip()
    if year_text and not (year_text.isdigit() and len(year_text) == 4):
        return room_search.Filters(), "The interview year must be four digits, like 2019."
    level = (args.get("level") or "").strip() or None
    if level and level not in ("full", "pseudonymized", "redacted", "summary"):
        return room_search.Filters(), "Choose a redaction level from the list."
    return room_search.Filters(tag=(args.get("tag") or "").strip()[:60] or None,
                               language=(args.get("language") or "").strip()[:35] or None,
                               year=int(year_text) if year_text else None, level=level), None



def _recent() -> list[ReleasedStory]:
    query = select(ReleasedStory).order_by(ReleasedStory.released_at.desc(), ReleasedStory.id).limit(RECENT)
    return list(context.session().scalars(query))


@bp.route("/stories/<story_id>")
def story(story_id: str) -> str:
    released = context.session().get(ReleasedStory, story_id) if len(story_id) <= 32 else None
    if released is None:
        abort(404)
    return render_template("story.html", story=released, citation=citation(released))


def citation(story: ReleasedStory) -> str:
    """A ready-to-copy citation of the released copy."""
    year = story.interview_date[:4] or "n.d."
    by = f", interviewed by {story.interviewer}" if story.interviewer else ""
    url = request.url_root.rstrip("/") + f"/stories/{story.id}"
    return (f"{story.narrator}, \u201c{story.title}\u201d ({year}){by}. Escrow oral-history archive, "
            f"released {story.released_at:%Y-%m-%d}, {story.redaction_level} copy. {url}")
