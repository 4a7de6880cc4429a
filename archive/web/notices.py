"""Each person's notices: the list, its count in every page's header, and the interface
language remembered for the e-mails that reach them outside a page (the one they sign in
with, or switch to while signed in: a choice they made, not a guess from each request)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, user_logged_in
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from archive.services import notices
from archive.web import context, i18n
from archive.web.auth import roles
from archive.web.display import when
from archive.web.forms import ActionForm

bp = Blueprint("notices", __name__)
TOLD = ("organizer", "admin")  # who is told anything (researchers have no stories)


@bp.get("/notices")
@roles(*TOLD)
def listing() -> str:
    shown = notices.listing(context.archive(), context.user())
    return render_template("notices.html", notices=[(item, _sentence(item)) for item in shown],
                           seen_form=ActionForm(prefix="seen"))


@bp.post("/notices/seen")
@roles(*TOLD)
def seen() -> Response:
    if not ActionForm(prefix="seen").validate_on_submit():
        abort(400)
    notices.mark_seen(context.archive(), context.user())
    return redirect(url_for("notices.listing"))


def _sentence(item: notices.Shown) -> Markup:
    """What the notice says, in the interface's language, its instant as every page writes one."""
    return Markup(escape(gettext(notices.sentence(item.kind).msgid))) % {"id": item.story_id,
                                                                           "when": when(item.instant)}


@bp.app_context_processor
def _count() -> dict[str, Any]:
    """The signed-in organizer's or admin's unseen notices, for the header."""
    try:
        if not current_user.is_authenticated or current_user.role not in TOLD:
            return {}
        return {"notice_count": notices.unseen(context.archive(), current_user)}
    except Exception:  # noqa: BLE001 - a count must never break a page (an error page of a database that is down)
        return {}


@bp.before_app_request
def _remember_switch() -> None:
    """A signed-in organizer or admin who switches the interface's language chooses their e-mails' too."""
    asked = request.args.get(i18n.CHOSEN)
    if asked in i18n.LANGUAGES and current_user.is_authenticated and current_user.role in TOLD \
            and current_user.language != asked:
        notices.prefer_language(context.archive(), context.user(), asked)


@user_logged_in.connect
def _remember_at_sign_in(app: Flask, user: Any) -> None:
    """Signing in keeps the language the person signs in with, for their e-mails."""
    if user.role in TOLD and user.language != i18n.language():
        notices.prefer_language(context.archive(), user, i18n.language())
