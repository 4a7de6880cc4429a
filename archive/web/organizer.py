"""The organizer's pages: submit a story (with a preview of each level), and their own stories.

A story's content is shown to its own organizer only on a deliberate "open", which is
audited; the list shows control columns (and the released title, once released).

A recording is uploaded, on the submit page with its story or later on the story's page, as
a multipart body read part by part from the request stream and sealed as it arrives
(archive/web/uploads.py), and played back decrypted range by range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Field, File
from werkzeug.wrappers import Response

from archive.errors import EscrowError, InvalidInput, NoRoom, Throttled
from archive.messages import N_
from archive.services import embargoes, narrators, recordings, stories
from archive.services.stories import Draft, Story
from archive.times import parse_instant
from archive.web import context, streaming, uploads, worker
from archive.web.auth import roles
from archive.web.display import sentence
from archive.web.forms import ActionForm, EarlyReleaseForm, ExtendForm, NarratorTextForm, StoryForm
from archive.web.i18n import number, said, translated

bp = Blueprint("organizer", __name__)
SUBMITTERS = ("organizer", "admin")
# A form field for each story field the services name in their errors.
FORM_FIELD = {"embargo_until": "embargo_date"}


@bp.route("/submit", methods=["GET", "POST"])
@roles(*SUBMITTERS)
def submit() -> Any:
    """Seal a story typed into the form, with its recording if one is chosen.

    Exempt from CSRFProtect, which would parse a multipart body into `request.form` and spool
    the recording to a temporary file: the form's own token is checked, before the file. A
    body with a recording is read in order as it arrives: every field, then the file, which is
    sealed as it streams in, then the button pressed (a browser sends it after the file): a
    preview asked for there keeps nothing of the file. (The form's preview button sends no
    file at all.)
    """
    if request.method == "GET":
        return render_template("submit.html", form=StoryForm(), previews=None, form_error=None)
    if request.mimetype != "multipart/form-data":
        return _submitted(StoryForm(), request.form, None)
    limit = context.archive().config.max_recording
    request.max_content_length = limit + uploads.FORM_BYTES + uploads.OVERHEAD  # this request's own limit
    try:
        parts = uploads.multipart_parts(max_parts=uploads.MAX_FORM_PARTS)
        fields, recording = uploads.form_fields(parts)
    except uploads.Refused as refused:
        return _unread(str(refused), refused.status)
    except RequestEntityTooLarge:
        return _unread(_too_large(limit), 413)
    except worker.BodyTooSlow:
        return _unread("The form arrived too slowly: nothing was kept. Try again.", 408)
    except (BadRequest, ValueError):  # a body cut short, or not multipart framing
        return _unread(gettext("The form could not be read: nothing was kept. Try again."), 400)
    if recording is None:
        return _submitted(StoryForm(formdata=fields), fields, None)
    return _submitted(StoryForm(formdata=fields), fields, uploads.file_bytes(parts), lambda: _seal_asked(parts))


def _seal_asked(parts: Iterator[Field | File | Data]) -> bool:
    """After the file: whether its fields (the button pressed) ask to seal rather than to
    preview. Another file is refused."""
    after, another = uploads.form_fields(parts)
    if another is not None:
        raise uploads.Refused(gettext("The form could not be read: nothing was kept."))
    return "preview" not in after


def _submitted(form: StoryForm, fields: Any, recording: Iterator[bytes] | None,
               seal_asked: Callable[[], bool] = lambda: True) -> Any:
    """Validate the form's story; preview it, or seal it with the recording's pieces if any
    (unless the fields after them ask for a preview)."""
    if not form.validate_on_submit():
        uploads.drain()
        if "csrf_token" in form.errors:  # (CSRFProtect, which says this for every other form, is off here)
            # An empty form: what came from elsewhere is not put before the organizer to seal.
            return _unsealed(StoryForm(formdata=None), gettext("The form had expired or came from elsewhere: the "
                                                               "story was not sealed. Reload the page and try "
                                                               "again."), 400)
        return _unsealed(form, None, 400)
    try:
        draft = stories.parse(_story_data(form))
    except InvalidInput as error:
        return _refill(form, error)
    if "preview" in fields:
        uploads.drain()  # a recording sent with a preview is not read, and not kept
        return render_template("submit.html", form=form, previews=stories.previews(draft),
                               chosen=draft.redaction_level, form_error=None)
    limit = context.archive().config.max_recording
    counted = uploads.Counted(recording or iter(()))
    try:
        sealed = stories.submit(context.archive(), context.user(), draft,
                                recording=None if recording is None else counted, still_wanted=seal_asked,
                                expected=request.content_length, framing=uploads.FORM_BYTES + uploads.OVERHEAD)
    except uploads.Refused as refused:
        return _recording_refused(form, str(refused), refused.status)
    except RequestEntityTooLarge:
        return _recording_refused(form, _too_large(limit), 413)
    except (Throttled, NoRoom) as error:
        return _recording_refused(form, _said(error), _status(error), _retry(error))
    except InvalidInput as error:  # only the recording can be refused now: the story was checked
        if counted.arrived > limit:
            return _recording_refused(form, _too_large(limit), 413)
        return _recording_refused(form, _said(error), 400)
    except worker.BodyTooSlow:
        return _recording_refused(form, translated(SLOW), 408)
    except (BadRequest, ValueError):  # a body cut short, or not multipart framing
        return _recording_refused(form, gettext("The upload could not be read: nothing was kept. Try again."), 400)
    if sealed is None:  # a preview asked for after the file: the recording was not kept
        return render_template("submit.html", form=form, previews=stories.previews(draft),
                               chosen=draft.redaction_level, form_error=None)
    if recording is None:
        flash(gettext("Sealed. Story %(id)s is encrypted and waits for its date.", id=sealed.id), "info")
    else:
        flash(gettext("Sealed. Story %(id)s and its recording are encrypted and wait for the story's date.",
                      id=sealed.id), "info")
    return redirect(url_for("organizer.my_story", story_id=sealed.id))


def _unread(message: str, status: int) -> Any:
    uploads.drain()
    return _unsealed(StoryForm(formdata=None), message, status)


def _recording_refused(form: StoryForm, message: str, status: int, retry: int | None = None) -> Any:
    uploads.drain()
    form.recording.errors = [message]
    return _unsealed(form, gettext("The story was not sealed: its recording was refused (see below). "
                                   "Choose the recording again."), status, retry)


def _unsealed(form: StoryForm, form_error: str | None, status: int, retry: int | None = None) -> Any:
    body = render_template("submit.html", form=form, previews=None, form_error=form_error)
    return (body, status) if retry is None else (body, status, {"Retry-After": str(retry)})


SLOW = N_("The recording arrived too slowly (the archive needs 64 KiB every few seconds): nothing was kept. "
          "Try again.")


def _said(error: EscrowError) -> str:
    return sentence(said(error))


def _status(error: EscrowError) -> int:
    """413 for what there is no room for, 429 for one upload too many at once."""
    return 429 if isinstance(error, Throttled) else 413


def _retry(error: EscrowError) -> int | None:
    return error.retry_after if isinstance(error, Throttled) else None


def _story_data(form: StoryForm) -> dict[str, Any]:
    date = (form.embargo_date.data or "").strip()
    if form.indefinite.data:
        until = None
    elif not date:
        raise InvalidInput(N_("give the date the story may be released, or choose indefinitely"),
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
        "captions": (form.captions.data or "").replace("\r\n", "\n"),
        "recording_release": form.recording_release.data,
    }


def _refill(form: StoryForm, error: InvalidInput) -> tuple[str, int]:
    name = FORM_FIELD.get(error.field or "", error.field or "")
    field = getattr(form, name, None)
    message = said(error)
    if field is not None:
        field.errors = [*field.errors, sentence(message)]
        form_error = gettext("The story was not sealed: correct the field marked below.")
    else:
        form_error = gettext("The story was not sealed: %(reason)s.", reason=message)
    uploads.drain()  # a recording sent with a story that is refused is not read, and not kept
    return _unsealed(form, form_error, 400)



@bp.route("/my/stories")
@roles(*SUBMITTERS)
def my_stories() -> str:
    return render_template("my_stories.html", mine=stories.mine(context.archive(), context.user()))


def _own(story_id: str) -> Story:
    """The signed-in organizer's own story, or the same 404 as for an unknown id."""
    return stories.own(context.archive(), context.user(), story_id)


@bp.route("/my/stories/<story_id>")
@roles(*SUBMITTERS)
def my_story(story_id: str) -> Any:
    return _story_page(_own(story_id))


def _story_page(story: Story, *, content: Draft | None = None, status: int = 200,
                extend: ExtendForm | None = None, early: EarlyReleaseForm | None = None,
                recording_error: str | None = None) -> Any:
    archive = context.archive()
    heard = [] if story.status == "withdrawn" else recordings.listing(archive, context.user(), story.id)
    body = render_template("my_story.html", story=story, content=content,
                           codename_issued=narrators.issued_at(archive, story.id),
                           narrator_record=narrators.record(archive, context.user(), story.id),
                           to_narrator=NarratorTextForm(prefix="to-narrator", formdata=None),
                           pending=embargoes.waiting(archive, story.id),
                           me=context.user(), recordings=heard, recording_error=recording_error,
                           # formdata=None: a refused upload's body is never parsed as a form.
                           open_form=ActionForm(formdata=None),
                           extend=extend or ExtendForm(prefix="extend", formdata=None),
                           early=early or EarlyReleaseForm(prefix="early", formdata=None))
    return body, status


@bp.route("/my/stories/<story_id>/open", methods=["POST"])
@roles(*SUBMITTERS)
def open_story(story_id: str) -> Any:
    story = _own(story_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        content = stories.open_sealed(context.archive(), context.user(), story.id)
    except EscrowError as error:
        flash(gettext("The story could not be opened: %(reason)s.", reason=said(error)), "error")
        return redirect(url_for("organizer.my_story", story_id=story.id))
    return _story_page(story, content=content)



@bp.route("/my/stories/<story_id>/extend", methods=["POST"])
@roles(*SUBMITTERS)
def extend(story_id: str) -> Any:
    story = _own(story_id)
    form = ExtendForm(prefix="extend")
    return _change(story, form, lambda: embargoes.extend(
        context.archive(), context.user(), story.id, form.new_embargo(), form.reason.data or ""),
        N_("The embargo is extended."), extend=form)


@bp.route("/my/stories/<story_id>/request", methods=["POST"])
@roles(*SUBMITTERS)
def request_release(story_id: str) -> Any:
    story = _own(story_id)
    form = EarlyReleaseForm(prefix="early")
    return _change(story, form, lambda: embargoes.request(
        context.archive(), context.user(), story.id, form.release_at(), form.reason.data or ""),
        N_("Your request is waiting for an admin's approval."), early=form)


@bp.route("/my/stories/<story_id>/requests/<request_id>/cancel", methods=["POST"])
@roles(*SUBMITTERS)
def cancel_request(story_id: str, request_id: str) -> Any:
    story = _own(story_id)
    return _change(story, ActionForm(), lambda: embargoes.cancel(context.archive(), context.user(), request_id),
                   N_("Your request is taken back; the embargo stays as it was."))


def _change(story: Story, form: Any, work: Any, done: str, **forms: Any) -> Any:
    """Run an embargo change from a form; on a refusal, show the page again with the reason."""
    if not form.validate_on_submit():
        abort(400)
    try:
        work()
    except EscrowError as error:
        form.form_errors.append(sentence(said(error)))
        if not forms:  # a button's form, not shown again: the reason goes above the page
            flash(gettext("Nothing was changed: %(reason)s.", reason=said(error)), "error")
        return _story_page(story, status=400, **forms)
    flash(gettext(done), "info")
    return redirect(url_for("organizer.my_story", story_id=story.id))


@bp.route("/my/stories/<story_id>/narrator/issue", methods=["POST"])
@roles(*SUBMITTERS)
def issue_codename(story_id: str) -> Any:
    """A new narrator codename, shown in this response only (never flashed, never after a
    redirect), with its printable card; the page is no-store like every other."""
    story = _own(story_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        issued = narrators.issue(context.archive(), context.user(), story.id)
    except EscrowError as error:
        flash(gettext("Nothing was changed: %(reason)s.", reason=said(error)), "error")
        return redirect(url_for("organizer.my_story", story_id=story.id))
    door = url_for("narrator.sign_in", _external=True)
    with force_locale(issued.language):  # the card is in the narrator's language, whatever the page's
        card = Markup(render_template("narrator/card_text.html", issued=issued, door=door))
    return render_template("narrator/card.html", story=story, issued=issued, card=card)


@bp.route("/my/stories/<story_id>/narrator/revoke", methods=["POST"])
@roles(*SUBMITTERS)
def revoke_codename(story_id: str) -> Any:
    story = _own(story_id)
    return _change(story, ActionForm(), lambda: narrators.revoke(context.archive(), context.user(), story.id),
                   N_("The narrator's codename no longer opens anything."))


@bp.route("/my/stories/<story_id>/narrator/note", methods=["POST"])
@roles(*SUBMITTERS)
def note_to_narrator(story_id: str) -> Any:
    story = _own(story_id)
    form = NarratorTextForm(prefix="to-narrator")
    return _change(story, form, lambda: narrators.write_to(context.archive(), context.user(), story.id,
                                                           form.text.data or ""),
                   N_("Your note is sealed with the story; the narrator sees it on their page."))


@bp.route("/my/stories/<story_id>/narrator/clear", methods=["POST"])
@roles(*SUBMITTERS)
def clear_hold(story_id: str) -> Any:
    story = _own(story_id)
    return _change(story, ActionForm(), lambda: narrators.clear(context.archive(), context.user(), story.id),
                   N_("The hold is lifted: the story is released when it is due."))


@bp.route("/my/stories/<story_id>/narrator/<action_id>/close", methods=["POST"])
@roles(*SUBMITTERS)
def close_narrator_request(story_id: str, action_id: str) -> Any:
    story = _own(story_id)
    return _change(story, ActionForm(), lambda: narrators.close(context.archive(), context.user(), story.id,
                                                                action_id),
                   N_("Marked as dealt with."))


@bp.route("/my/stories/<story_id>/recording", methods=["POST"])
@roles(*SUBMITTERS)
def attach_recording(story_id: str) -> Any:
    """Seal an uploaded recording to the organizer's own story as its body arrives.

    Exempt from CSRFProtect (which would parse the whole body into `request.form`, spooling
    the file to disk); the token is checked here, from the part that must come first.
    """
    story = _own(story_id)  # before a byte of the body is read: anyone else gets the 404
    limit = context.archive().config.max_recording
    # Flask 3.1: this request's own limit, above the app's 2 MB (the framing on top of the file).
    request.max_content_length = limit + uploads.OVERHEAD
    counted: uploads.Counted | None = None
    try:
        if story.status == "withdrawn":
            raise uploads.Refused(gettext("The story is withdrawn: nothing can be added to it, and nothing was kept."))
        # The token is checked as the service begins to read, once it has found room for the
        # recording (an account's uploads at once, its share, the disk): a refusal for room is
        # answered at once, not after the first MiB of the body arrives.
        counted = uploads.Counted(uploads.token_then_file(uploads.multipart_parts()))
        recording = recordings.attach(context.archive(), context.user(), story.id, counted,
                                      expected=request.content_length, framing=uploads.OVERHEAD)
    except uploads.Refused as refused:
        return _upload_refused(story, str(refused), refused.status)
    except RequestEntityTooLarge:
        return _upload_refused(story, _too_large(limit), 413)
    except (Throttled, NoRoom) as error:
        return _upload_refused(story, _said(error), _status(error), _retry(error))
    except InvalidInput as error:
        if counted is not None and counted.arrived > limit:
            return _upload_refused(story, _too_large(limit), 413)
        return _upload_refused(story, _said(error), 400)
    except worker.BodyTooSlow:
        return _upload_refused(story, translated(SLOW), 408)
    except (BadRequest, ValueError):  # a body cut short, or not multipart framing
        return _upload_refused(story, gettext("The upload could not be read: nothing was kept. Try again."), 400)
    flash(gettext("Recording %(id)s (%(type)s, %(size)s bytes) is sealed to this story.", id=recording.id,
                  type=recording.media_type, size=number(recording.size)), "info")
    return redirect(url_for("organizer.my_story", story_id=story.id))


def _too_large(limit: int) -> str:
    return gettext("The recording is larger than the archive accepts (%(size)s MiB): nothing was kept.",
                   size=number(limit // 2**20))


def _upload_refused(story: Story, message: str, status: int, retry: int | None = None) -> Any:
    body, status = _story_page(story, status=status, recording_error=message)
    return (body, status) if retry is None else (body, status, {"Retry-After": str(retry)})


@bp.get("/my/stories/<story_id>/recordings/<recording_id>")
@roles(*SUBMITTERS)
def recording(story_id: str, recording_id: str) -> Response:
    """The organizer's own sealed recording, decrypted chunk by chunk for the range asked (each
    read audited, folded per minute)."""
    return streaming.ranged(recordings.open_for_owner(context.archive(), context.user(), story_id, recording_id))
