"""The admin's pages: the embargo calendar, reviews, early-release requests, stories, users, audit log.

Every action goes through the same services as the command line, so the same rules
hold: a second admin approves, only admins take stories back, everything is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from archive.errors import EscrowError, IncompleteShred, InvalidInput
from archive.messages import N_, ROLE_NAMES
from archive.services import accounts, embargoes, narrators, stories
from archive.services import audit_log as records
from archive.services.stories import Story
from archive.times import parse_instant, utcnow
from archive.web import context
from archive.web.auth import roles
from archive.web.display import sentence
from archive.web.forms import ActionForm, EarlyReleaseForm, ExtendForm, ReasonForm, UserForm
from archive.web.i18n import said

bp = Blueprint("admin", __name__, url_prefix="/admin")
UPCOMING_DAYS = 30
AUDIT_PAGE = 100


@bp.route("")
@roles("admin")
def dashboard() -> str:
    archive = context.archive()
    return render_template(
        "admin/dashboard.html", days=UPCOMING_DAYS, upcoming=embargoes.upcoming(archive, UPCOMING_DAYS),
        review=stories.due_for_review(archive), requests=embargoes.pending(archive),
        grants=accounts.pending_grants(archive), narrated=narrators.waiting(archive), me=context.user(),
        action=ActionForm(),
        deny=ReasonForm(prefix="deny"), now=utcnow())  # the calendar marks what is overdue


def _act(work: Callable[[], Any], done: str, back: str, *, form: Any = None, **back_args: Any) -> Response:
    """Run one admin action from a POSTed form and say how it went (the operation commits or rolls back)."""
    form = form or ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        work()
        flash(gettext(done), "info")
    except IncompleteShred as error:  # the change is committed; an old copy is left to clear
        flash(gettext(done), "info")
        flash(gettext("Not finished: %(reason)s.", reason=said(error)), "error")
    except EscrowError as error:
        flash(gettext("Nothing was changed: %(reason)s.", reason=said(error)), "error")
    return redirect(url_for(back, **back_args))


@bp.route("/requests/<request_id>/approve", methods=["POST"])
@roles("admin")
def approve(request_id: str) -> Response:
    return _act(lambda: embargoes.approve(context.archive(), context.user(), request_id),
                N_("Approved: the new embargo is in force; a story due now is released by the next run."),
                "admin.dashboard")


@bp.route("/requests/<request_id>/deny", methods=["POST"])
@roles("admin")
def deny(request_id: str) -> Response:
    form = ReasonForm(prefix="deny")
    return _act(lambda: embargoes.deny(context.archive(), context.user(), request_id, form.reason.data or ""),
                N_("Denied."), "admin.dashboard", form=form)


def _story(story_id: str) -> Story:
    return stories.managed(context.archive(), context.user(), story_id)


@bp.route("/stories/<story_id>")
@roles("admin")
def story(story_id: str) -> str:
    found = _story(story_id)
    return render_template("admin/story.html", story=found, action=ActionForm(),
                           extend=ExtendForm(prefix="extend"), takedown=ReasonForm(prefix="takedown"),
                           withdraw=ReasonForm(prefix="withdraw"), early=EarlyReleaseForm(prefix="early"),
                           pending=embargoes.waiting(context.archive(), found.id), me=context.user(),
                           narrator_record=narrators.record(context.archive(), context.user(), found.id))


@bp.route("/stories/<story_id>/clear-hold", methods=["POST"])
@roles("admin")
def clear_hold(story_id: str) -> Response:
    return _act(lambda: narrators.clear(context.archive(), context.user(), story_id),
                N_("The narrator's hold is lifted: the story is released when it is due."), "admin.story",
                story_id=_story(story_id).id)


@bp.route("/stories/<story_id>/request", methods=["POST"])
@roles("admin")
def request_release(story_id: str) -> Response:
    """Ask to release a sealed story early (an indefinite one too): a second admin approves it
    on the dashboard, as DESIGN's two-admin rule wants; the request is audited."""
    form = EarlyReleaseForm(prefix="early")
    return _act(lambda: embargoes.request(context.archive(), context.user(), story_id, form.release_at(),
                                          form.reason.data or ""),
                N_("Asked: a second admin approves it on the admin home page, and the next release run then "
                   "releases the story."), "admin.story", form=form, story_id=_story(story_id).id)


@bp.route("/stories/<story_id>/release", methods=["POST"])
@roles("admin")
def release(story_id: str) -> Response:
    return _act(lambda: stories.release_reviewed(context.archive(), context.user(), story_id),
                N_("Released to the reading room."), "admin.story", story_id=_story(story_id).id)


@bp.route("/stories/<story_id>/extend", methods=["POST"])
@roles("admin")
def extend(story_id: str) -> Response:
    form = ExtendForm(prefix="extend")
    return _act(lambda: embargoes.extend(context.archive(), context.user(), story_id, form.new_embargo(),
                                         form.reason.data or ""),
                N_("The embargo is extended."), "admin.story", form=form, story_id=_story(story_id).id)


def _take_back(story_id: str, action: Callable[..., Any], prefix: str, done: str) -> Response:
    form = ReasonForm(prefix=prefix)
    return _act(lambda: action(context.archive(), context.user(), story_id, form.reason.data or ""),
                done, "admin.story", form=form, story_id=_story(story_id).id)


@bp.route("/stories/<story_id>/takedown", methods=["POST"])
@roles("admin")
def takedown(story_id: str) -> Response:
    return _take_back(story_id, stories.takedown, "takedown",
                      N_("Taken down: gone from the reading room and sealed indefinitely."))


@bp.route("/stories/<story_id>/withdraw", methods=["POST"])
@roles("admin")
def withdraw(story_id: str) -> Response:
    return _take_back(story_id, stories.withdraw, "withdraw",
                      N_("Withdrawn: the data key is destroyed and the story can never be read again."))


@bp.route("/users", methods=["GET", "POST"])
@roles("admin")
def users_page() -> Response | str | tuple[str, int]:
    form = UserForm()
    archive = context.archive()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            added = accounts.add(archive, context.user(), form.email.data or "", form.role.data or "",
                                 form.password.data or "")
        except EscrowError as error:
            form.form_errors.append(gettext("Not added: %(reason)s.", reason=said(error)))
            return _users_page(form, 400)
        flash(gettext("Added %(role)s %(email)s.", role=gettext(ROLE_NAMES[added.role]), email=added.email)
              if added.active else
              gettext("Added %(email)s, disabled until a second admin approves the admin role.", email=added.email),
              "info")
        return redirect(url_for("admin.users_page"))
    return _users_page(form)


def _users_page(form: UserForm, status: int = 200) -> Any:
    archive = context.archive()
    body = render_template("admin/users.html", form=form, users=accounts.listing(archive), action=ActionForm(),
                           grants=accounts.pending_grants(archive), me=context.user())
    return (body, status) if status != 200 else body


def _set_active(user_id: int, active: bool) -> Response:
    def work() -> None:
        changed = accounts.set_active(context.archive(), context.user(), user_id, active)
        if active and not changed.active:
            flash(gettext("%(email)s is an admin: enabling it waits for a second admin's approval.",
                          email=changed.email), "info")

    done = N_("Done.") if active else N_("Account disabled: its sessions have ended and its API tokens are revoked.")
    return _act(work, done, "admin.users_page")


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@roles("admin")
def disable(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@roles("admin")
def enable(user_id: int) -> Response:
    return _set_active(user_id, True)


@bp.route("/grants/<int:grant_id>/approve", methods=["POST"])
@roles("admin")
def approve_grant(grant_id: int) -> Response:
    return _act(lambda: accounts.decide_grant(context.archive(), context.user(), grant_id, True),
                N_("Approved: the account is an admin now."), "admin.users_page")


@bp.route("/grants/<int:grant_id>/deny", methods=["POST"])
@roles("admin")
def deny_grant(grant_id: int) -> Response:
    return _act(lambda: accounts.decide_grant(context.archive(), context.user(), grant_id, False),
                N_("Denied: the account stays disabled."), "admin.users_page")


@bp.route("/audit")
@roles("admin")
def audit_log() -> Any:
    archive = context.archive()
    try:
        where = _audit_filter()
    except InvalidInput as error:
        return render_template("admin/audit.html", entries=[], verified=None, problem=None, anchor=None,
                               where=records.Filter(), args={}, older=None, bad=sentence(said(error))), 400
    verified, problem, anchor = records.status(archive)
    shown = records.show(archive, context.user().email, limit=AUDIT_PAGE, where=where)
    entries = [(s.entry, s.detail) for s in shown]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    older = entries[-1][0].seq if len(entries) == AUDIT_PAGE else None
    return render_template("admin/audit.html", entries=entries, verified=verified, problem=problem,
                           anchor=anchor, where=where, args=args, older=older, bad=None)


def _audit_filter() -> records.Filter:
    """The page's filters from the query string; a bad date or page number is refused."""
    args = request.args

    def text(name: str, size: int) -> str | None:
        return (args.get(name) or "").strip()[:size] or None

    since, until, before = text("since", 40), text("until", 40), text("before", 12)
    if before is not None and not before.isdigit():
        raise InvalidInput(N_("the page to show is an entry number"))
    end = parse_instant(until) if until else None
    if end is not None and until is not None and len(until) == len("2031-01-01"):
        end += timedelta(days=1)  # "to" a day: through its end
    return records.Filter(story_id=text("story", 32), actor=text("actor", 254), action=text("action", 64),
                          since=parse_instant(since) if since else None, until=end,
                          before=int(before) if before else None)
