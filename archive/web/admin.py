"""The admin's pages: the embargo calendar, reviews, early-release requests, stories, users, audit log.

Every action goes through the same services as the command line, so the same rules
hold: a second admin approves, only admins take stories back, everything is audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from archive import audit, users
from archive.errors import EscrowError, IncompleteShred, NotFound, TamperDetected
from archive.release import gate, locks
from archive.times import utcnow
from archive.users import User
from archive.vault import embargo, stories
from archive.vault.keys import Keyring
from archive.vault.models import Story
from archive.web import context
from archive.web.auth import roles
from archive.web.forms import ActionForm, ExtendForm, ReasonForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")
UPCOMING_DAYS = 30
AUDIT_PAGE = 100


@bp.route("")
@roles("admin")
def dashboard() -> str:
    db = context.session()
    now = utcnow()
    return render_template(
        "admin/dashboard.html", now=now, days=UPCOMING_DAYS,
        upcoming=embargo.upcoming(db, now=now, days=UPCOMING_DAYS),
        review=stories.listing(db, "due_for_review"), requests=embargo.pending(db, now=now),
        me=context.user(), action=ActionForm(), deny=ReasonForm(prefix="deny"))


def _act(work: Callable[[Session, Keyring, User], Any], done: str, back: str, *,
         form: Any = None, **back_args: Any) -> Response:
    """Run one admin action from a POSTed form: commit and say so, or roll back and say why."""
    form = form or ActionForm()
    if not form.validate_on_submit():
        abort(400)
    db = context.session()
    try:
        work(db, context.keyring(), context.user())
        db.commit()
        flash(done, "info")
    except IncompleteShred as error:  # the change is committed; an old copy is left to clear
        flash(done, "info")
        flash(f"Not finished: {error}.", "error")
    except EscrowError as error:
        db.rollback()
        flash(f"Nothing was changed: {error}.", "error")
    return redirect(url_for(back, **back_args))


@bp.route("/requests/<request_id>/approve", methods=["POST"])
@roles("admin")
def approve(request_id: str) -> Response:
    return _act(lambda db, ring, me: embargo.approve(db, ring, me, request_id, now=utcnow()),
                "Approved: the new embargo is in force; a story due now is released by the next run.",
                "admin.dashboard")


@bp.route("/requests/<request_id>/deny", methods=["POST"])
@roles("admin")
def deny(request_id: str) -> Response:
    form = ReasonForm(prefix="deny")
    return _act(lambda db, ring, me: embargo.deny(db, ring, me, request_id, form.reason.data or "", now=utcnow()),
                "Denied.", "admin.dashboard", form=form)


def _story(story_id: str) -> Story:
    try:
        return stories.get_for(context.session(), context.user(), story_id)
    except NotFound:
        abort(404)


@bp.route("/stories/<story_id>")
@roles("admin")
def story(story_id: str) -> str:
    return render_template("admin/story.html", story=_story(story_id), action=ActionForm(),
                           extend=ExtendForm(prefix="extend"), takedown=ReasonForm(prefix="takedown"),
                           withdraw=ReasonForm(prefix="withdraw"))


@bp.route("/stories/<story_id>/release", methods=["POST"])
@roles("admin")
def release(story_id: str) -> Response:
    def work(db: Session, ring: Keyring, me: User) -> None:
        with locks.publisher(context.config().home, context.engine()):
            gate.release_reviewed(db, ring, context.index(), me, story_id)

    return _act(work, "Released to the reading room.", "admin.story", story_id=_story(story_id).id)


@bp.route("/stories/<story_id>/extend", methods=["POST"])
@roles("admin")
def extend(story_id: str) -> Response:
    form = ExtendForm(prefix="extend")
    return _act(lambda db, ring, me: embargo.extend(
        db, ring, me, story_id, form.new_embargo(), form.reason.data or "",
        now=utcnow()), "The embargo is extended.", "admin.story", form=form, story_id=_story(story_id).id)


def _take_back(story_id: str, action: Callable[..., Any], prefix: str, done: str) -> Response:
    form = ReasonForm(prefix=prefix)

    def work(db: Session, ring: Keyring, me: User) -> None:
        with locks.publisher(context.config().home, context.engine()):
            action(db, ring, context.index(), me, story_id, form.reason.data or "")

    return _act(work, done, "admin.story", form=form, story_id=_story(story_id).id)


@bp.route("/stories/<story_id>/takedown", methods=["POST"])
@roles("admin")
def takedown(story_id: str) -> Response:
    return _take_back(story_id, gate.takedown, "takedown",
                      "Taken down: gone from the reading room and sealed indefinitely.")


@bp.route("/stories/<story_id>/withdraw", methods=["POST"])
@roles("admin")
def withdraw(story_id: str) -> Response:
    return _take_back(story_id, gate.withdraw, "withdraw",
                      "Withdrawn: the data key is destroyed and the story can never be read again.")


@bp.route("/users", methods=["GET", "POST"])
@roles("admin")
def users_page() -> Response | str | tuple[str, int]:
    form = UserForm()
    db = context.session()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            added = users.add(db, form.email.data or "", form.role.data or "", form.password.data or "")
            audit.record(db, context.keyring().audit_key, context.user().email, "user.add",
                         email=added.email, role=added.role)
            db.commit()
        except EscrowError as error:
            db.rollback()
            form.form_errors.append(f"Not added: {error}.")
            return render_template("admin/users.html", form=form, users=users.listing(db),
                                   action=ActionForm(), me=context.user()), 400
        flash(f"Added {added.role} {added.email}.", "info")
        return redirect(url_for("admin.users_page"))
    return render_template("admin/users.html", form=form, users=users.listing(db), action=ActionForm(),
                           me=context.user())


def _set_active(user_id: int, active: bool) -> Response:
    def work(db: Session, ring: Keyring, me: User) -> None:
        changed = users.set_active(db, me, user_id, active)
        audit.record(db, ring.audit_key, me.email, "user.enable" if active else "user.disable", email=changed.email)

    return _act(work, "Account enabled." if active else "Account disabled: its sessions have ended.",
                "admin.users_page")


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@roles("admin")
def disable(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@roles("admin")
def enable(user_id: int) -> Response:
    return _set_active(user_id, True)


@bp.route("/audit")
@roles("admin")
def audit_log() -> str:
    db = context.session()
    ring = context.keyring()
    story_id = (request.args.get("story") or "").strip()[:32] or None
    try:
        verified, problem = audit.verify(db, ring.audit_key), None
    except TamperDetected as error:
        verified, problem = None, str(error)
    rows = audit.latest(db, story_id=story_id, limit=AUDIT_PAGE)
    entries = [(e, json.loads(e.detail)) for e in rows]
    audit.record(db, ring.audit_key, context.user().email, "audit.show", story_id, shown=len(entries))
    db.commit()
    return render_template("admin/audit.html", entries=entries, verified=verified, problem=problem,
                           story_id=story_id, anchor=audit.last_anchor(db))
