"""The narrator's own door: a codename typed into one field (posted, never in a URL), and one
page for their story, without an account.

The narrator's session is the browser's session cookie (no expiry date: it ends when the
browser closes), carries the story's id and the codename's session key, never an account,
and ends after NARRATOR_IDLE unused or NARRATOR_LIFETIME in all, or at once when the codename
is revoked or replaced. Signing in ends any account's session in the same browser.

A wrong, a revoked and a random codename get the same page, the same status and the same work
on the server (services/narrators.sign_in).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from archive.errors import EscrowError, InvalidInput, NotFound, Throttled
from archive.messages import N_
from archive.services import narrators
from archive.services.narrators import Narrator
from archive.web import context, i18n
from archive.web.display import sentence
from archive.web.forms import ActionForm, AskForm, CodenameForm, DelayForm, NarratorTextForm, ProtectForm, WithdrawForm
from archive.web.i18n import said

bp = Blueprint("narrator", __name__, url_prefix="/n")
STORY, KEY, SINCE, SEEN = "escrow_narrator", "escrow_narrator_key", "escrow_narrator_since", "escrow_narrator_seen"
NARRATOR_IDLE = 15 * 60
NARRATOR_LIFETIME = 60 * 60
FAILED = N_("Those words do not open a story here. Check them against your card and try again.")


def _narrator() -> Narrator | None:
    """The narrator of this browser session, while it is alive."""
    story_id, key, since, seen = session.get(STORY), session.get(KEY), session.get(SINCE), session.get(SEEN)
    now = time.time()
    if not isinstance(story_id, str) or not isinstance(key, str) or not isinstance(since, int | float) \
            or not isinstance(seen, int | float) or not 0 <= now - since < NARRATOR_LIFETIME \
            or not 0 <= now - seen < NARRATOR_IDLE:
        return None
    session[SEEN] = round(now, 3)
    return Narrator(story_id, key)


def _leave() -> None:
    for name in (STORY, KEY, SINCE, SEEN):
        session.pop(name, None)


@bp.route("", methods=["GET", "POST"])
def sign_in() -> Any:
    form = CodenameForm()
    if request.method == "GET":
        if _narrator() is not None:
            return redirect(url_for("narrator.story"))
        return render_template("narrator/sign_in.html", form=form)
    if not form.validate_on_submit():
        abort(400)
    try:
        found = narrators.sign_in(context.archive(), form.codename.data or "", request.remote_addr or "unknown")
    except Throttled as error:
        flash(said(error), "error")
        return render_template("narrator/sign_in.html", form=CodenameForm(formdata=None)), 429, \
            {"Retry-After": str(error.retry_after)}
    if found is None:
        flash(gettext(FAILED), "error")
        return render_template("narrator/sign_in.html", form=CodenameForm(formdata=None))
    i18n.clear_session()  # no account's session, nor anything from before, carries over
    session.permanent = False  # a browser-session cookie: gone when the browser closes
    now = round(time.time(), 3)
    session[STORY], session[KEY], session[SINCE], session[SEEN] = found.story_id, found.session_key, now, now
    return redirect(url_for("narrator.story"))


@bp.post("/leave")
def leave() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    _leave()
    flash(gettext("You have left your story's page. Nothing of it stays in this browser."), "info")
    return redirect(url_for("narrator.sign_in"))


def _gone() -> Response:
    _leave()
    flash(gettext("Your session has ended. Type your codename again to return."), "info")
    return redirect(url_for("narrator.sign_in"))


@bp.get("/story")
def story() -> Any:
    narrator = _narrator()
    if narrator is None:
        return _gone()
    return _page(narrator)


def _page(narrator: Narrator, status: int = 200, **forms: Any) -> Any:
    try:
        shown = narrators.page(context.archive(), narrator)
    except NotFound:
        return _gone()
    story = shown.story
    protect = forms.get("protect") or ProtectForm(prefix="protect", formdata=None,
                                                  data={"level": story.redaction_level,
                                                        "recording": story.recording_release})
    body = render_template(
        "narrator/page.html", page=shown, story=story, levels=narrators.LEVELS,
        recordings=narrators.RECORDING_RELEASES,
        delay=forms.get("delay") or DelayForm(prefix="delay", formdata=None), protect=protect,
        hold=forms.get("hold") or NarratorTextForm(prefix="hold", formdata=None),
        words=forms.get("words") or NarratorTextForm(prefix="words", formdata=None),
        ask=forms.get("ask") or AskForm(prefix="ask", formdata=None),
        note=forms.get("note") or NarratorTextForm(prefix="note", formdata=None),
        withdraw=forms.get("withdraw") or WithdrawForm(prefix="withdraw", formdata=None),
        plain=ActionForm(formdata=None), error=forms.get("error"))
    return body, status


def _act(name: str, form: Any, work: Callable[[Narrator], object], done: str) -> Any:
    """Run one of the narrator's actions from its form; on a refusal, the page again with the
    reason beside the form, and nothing changed."""
    narrator = _narrator()
    if narrator is None:
        return _gone()
    if not form.validate_on_submit():
        abort(400)
    try:
        work(narrator)
    except NotFound:
        return _gone()
    except EscrowError as error:
        return _page(narrator, 400, **{name: form, "error": (name, sentence(said(error)))})
    flash(gettext(done), "info")
    return redirect(url_for("narrator.story"))


@bp.post("/delay")
def delay() -> Any:
    form = DelayForm(prefix="delay")
    return _act("delay", form, lambda n: narrators.delay(context.archive(), n, form.new_embargo(),
                                                         form.reason.data or ""),
                N_("Done: your story stays sealed until the new date."))


@bp.post("/protect")
def protect() -> Any:
    form = ProtectForm(prefix="protect")

    def work(narrator: Narrator) -> object:
        if form.level.data not in narrators.LEVELS or form.recording.data not in narrators.RECORDING_RELEASES:
            raise InvalidInput(N_("choose one of the levels offered"))
        return narrators.protect(context.archive(), narrator, form.level.data, form.recording.data,
                                 form.reason.data or "")

    return _act("protect", form, work, N_("Done: your story is kept more protected from now on."))


@bp.post("/object")
def object_() -> Any:
    form = NarratorTextForm(prefix="hold")
    return _act("hold", form, lambda n: narrators.hold(context.archive(), n, "object", form.text.data or ""),
                N_("Done: your story will not be released until an admin has looked at your objection."))


@bp.post("/words")
def words() -> Any:
    form = NarratorTextForm(prefix="words")
    return _act("words", form, lambda n: narrators.hold(context.archive(), n, "words", form.text.data or ""),
                N_("Done: your story is held; the organizer will mark those words before it can be released."))


@bp.post("/ask")
def ask() -> Any:
    form = AskForm(prefix="ask")

    def work(narrator: Narrator) -> object:
        until = form.earlier()
        kind = "earlier" if until is not None else "looser"
        return narrators.ask(context.archive(), narrator, kind, until, form.level.data or None,
                             form.reason.data or "")

    return _act("ask", form, work, N_("Sent: the organizer will take your request to the admins. "
                                      "Nothing changes until two admins agree."))


@bp.post("/note")
def note() -> Any:
    form = NarratorTextForm(prefix="note")
    return _act("note", form, lambda n: narrators.note(context.archive(), n, form.text.data or ""),
                N_("Sent: your note is sealed with your story for the organizer."))


@bp.post("/withdraw")
def withdraw() -> Any:
    form = WithdrawForm(prefix="withdraw")

    def work(narrator: Narrator) -> object:
        if not form.sure.data:
            raise InvalidInput(N_("tick the box to confirm: nothing was changed"))
        return narrators.withdraw(context.archive(), narrator, form.reason.data or "")

    return _act("withdraw", form, work, N_("Done: your story is out of the archive's public rooms and sealed. "
                                           "You can undo this until the date shown."))


@bp.post("/undo")
def undo() -> Any:
    return _act("plain", ActionForm(), lambda n: narrators.undo(context.archive(), n),
                N_("Done: your story is back as it was before you withdrew it."))
