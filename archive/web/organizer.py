"""The organizer's pages: submit a story (with a preview of each level), and their own stories.

A story's content is shown to its own organizer only on a deliberate "open", which is
audited; the list shows control columns (and the released title, once released).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from archive.errors import EscrowError, InvalidInput
from archive.services import embargoes, stories
from archive.services.stories import Draft, Story
from archive.times import parse_instant
from archive.web import context
from archive.web.auth import roles
from archive.web.display import sentence
from archive.web.forms import ActionForm, EarlyReleaseForm, ExtendForm, StoryForm

bp = Blueprint("organizer", __name__)
SUBMITTERS = ("organizer", "admin")
# A form field for each story field the services name in their errors.
FORM_FIELD = {"embargo_until": "embargo_date"}


@bp.route("/submit", methods=["GET", "POST"])
@roles(*SUBMITTERS)
def submit() -> Response | str | tuple[str, int]:
    form = StoryForm()
    if request.method == "GET":
        return render_template("submit.html", form=form, previews=None, form_error=None)
    if not form.validate_on_submit():
        return render_template("submit.html", form=form, previews=None, form_error=None), 400
    try:
        draft = stories.parse(_story_data(form))
    except InvalidInput as error:
        return _refill(form, error)
    if "preview" in request.form:
        return render_template("submit.html", form=form, previews=stories.previews(draft),
                               chosen=draft.redaction_level, form_error=None)
    sealed = stories.submit(context.archive(), context.user(), draft)
    flash(f"Sealed. Story {sealed.id} is encrypted and waits for its date.", "info")
    return redirect(url_for("organizer.my_story", story_id=sealed.id))


def _story_data(form: StoryForm) -> dict[str, Any]:
    date = (form.embargo_date.data or "").strip()
    if form.indefinite.data:
        until = None
    elif not date:
        raise InvalidInput("give the date the story may be released, or choose indefinitely",
                           field="embargo_until")
    else:
        # A date already past would be released by the next run without a word: refused here.
        # (A date that does not parse is left to the story's own check, which names the field.)
        try:
            when = parse_instant(date)
        except InvalidInput:
            when = None
        embargoes.future_only(when)
        until = date
    return {
        "title": form.title.data or "", "narrator": form.narrator.data or "",
        "transcript": (form.transcript.data or "").replace("\r\n", "\n"), "summary": form.summary.data or "",
        "interviewer": form.interviewer.data or "", "interview_date": form.interview_date.data or "",
        "place": form.place.data or "", "language": form.language.data or "",
        "tags": [t for t in (form.tags.data or "").split(",") if t.strip()], "notes": form.notes.data or "",
        "embargo_until": until, "redaction_level": form.redaction_level.data,
        "release_review": bool(form.release_review.data),
    }


def _refill(form: StoryForm, error: InvalidInput) -> tuple[str, int]:
    name = FORM_FIELD.get(error.field or "", error.field or "")
    field = getattr(form, name, None)
    message = str(error)
    if field is not None:
        field.errors = [*field.errors, sentence(message)]
        form_error = "The story was not sealed: correct the field marked below."
    else:
        form_error = f"The story was not sealed: {message}."
    return render_template("submit.html", form=form, previews=None, form_error=form_error), 400



@bp.route("/my/stories")
@roles(*SUBMITTERS)
def my_stories() -> str:
    mine, titles = stories.mine(context.archive(), context.user())
    return render_template("my_stories.html", stories=mine, titles=titles)


def _own(story_id: str) -> Story:
    """The signed-in organizer's own story, or the same 404 as for an unknown id."""
    return stories.own(context.archive(), context.user(), story_id)


@bp.route("/my/stories/<story_id>")
@roles(*SUBMITTERS)
def my_story(story_id: str) -> str:
    return _story_page(_own(story_id))


def _story_page(story: Story, *, content: Draft | None = None, status: int = 200,
                extend: ExtendForm | None = None, early: EarlyReleaseForm | None = None) -> Any:
    body = render_template("my_story.html", story=story, content=content,
                           pending=embargoes.waiting(context.archive(), story.id),
                           me=context.user(),
                           open_form=ActionForm(), extend=extend or ExtendForm(prefix="extend"),
                           early=early or EarlyReleaseForm(prefix="early"))
    return (body, status) if status != 200 else body


@bp.route("/my/stories/<story_id>/open", methods=["POST"])
@roles(*SUBMITTERS)
def open_story(story_id: str) -> Any:
    story = _own(story_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        content = stories.open_sealed(context.archive(), context.user(), story.id)
    except EscrowError as error:
        flash(f"The story could not be opened: {error}.", "error")
        return redirect(url_for("organizer.my_story", story_id=story.id))
    return _story_page(story, content=content)



@bp.route("/my/stories/<story_id>/extend", methods=["POST"])
@roles(*SUBMITTERS)
def extend(story_id: str) -> Any:
    story = _own(story_id)
    form = ExtendForm(prefix="extend")
    return _change(story, form, lambda: embargoes.extend(
        context.archive(), context.user(), story.id, form.new_embargo(), form.reason.data or ""),
        "The embargo is extended.", extend=form)


@bp.route("/my/stories/<story_id>/request", methods=["POST"])
@roles(*SUBMITTERS)
def request_release(story_id: str) -> Any:
    story = _own(story_id)
    form = EarlyReleaseForm(prefix="early")
    return _change(story, form, lambda: embargoes.request(
        context.archive(), context.user(), story.id, form.release_at(), form.reason.data or ""),
        "Your request is waiting for an admin's approval.", early=form)


@bp.route("/my/stories/<story_id>/requests/<request_id>/cancel", methods=["POST"])
@roles(*SUBMITTERS)
def cancel_request(story_id: str, request_id: str) -> Any:
    story = _own(story_id)
    return _change(story, ActionForm(), lambda: embargoes.cancel(context.archive(), context.user(), request_id),
                   "Your request is taken back; the embargo stays as it was.")


def _change(story: Story, form: Any, work: Any, done: str, **forms: Any) -> Any:
    """Run an embargo change from a form; on a refusal, show the page again with the reason."""
    if not form.validate_on_submit():
        abort(400)
    try:
        work()
    except EscrowError as error:
        form.form_errors.append(sentence(str(error)) + ".")
        return _story_page(story, status=400, **forms)
    flash(done, "info")
    return redirect(url_for("organizer.my_story", story_id=story.id))
