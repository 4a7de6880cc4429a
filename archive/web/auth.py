"""Signing in and out: argon2id, the same answer for an unknown email and a wrong password,
failures throttled in the database (every worker counts alike), a fresh session at every
sign-in that a sign-out ends everywhere, audited. The account page, where a researcher also
makes and revokes personal API tokens (shown once, when made)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from archive.accounts.users import User
from archive.errors import Conflict, InvalidInput, NotFound, Throttled
from archive.messages import N_
from archive.services import authentication, tokens
from archive.web import context, i18n
from archive.web.display import sentence
from archive.web.forms import ActionForm, LoginForm, TokenForm
from archive.web.i18n import said

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
FAILED = N_("That email and password do not match an account.")

F = TypeVar("F", bound=Callable[..., Any])


# What a session carries beside the user id: the account's session generation when it
# signed in, the instant it signed in (an absolute lifetime) and its last request (idle).
GENERATION, SINCE, SEEN = "escrow_generation", "escrow_since", "escrow_seen"


@login_manager.user_loader
def _load(user_id: str) -> User | None:
    """The session's account, if the session is still alive: of the account's current
    generation (no sign-out, disable, new password, new role or key rotation since), signed
    with the newest master key's signing key, younger than the absolute lifetime and used
    within the idle timeout. Otherwise the visitor is anonymous.

    The idle clock is exact: every request of a live session writes its instant into the
    cookie. That costs no write of its own: Flask sends a permanent session's cookie again
    on every response anyway (SESSION_REFRESH_EACH_REQUEST), so only its value changes, and
    nothing is written on the server.
    """
    if not user_id.isdigit():
        return None
    now = time.time()
    since, seen = session.get(SINCE), session.get(SEEN)
    config = current_app.config
    key = current_app.signing()  # type: ignore[attr-defined]
    if key is None or not isinstance(since, int | float) or not isinstance(seen, int | float) \
            or not 0 <= now - since < config["PERMANENT_SESSION_LIFETIME"].total_seconds() \
            or not 0 <= now - seen < config["ESCROW_IDLE_SECONDS"]:
        return None
    user = authentication.active(context.archive(), int(user_id), session.get(GENERATION), key.version)
    if user is not None:
        session[SEEN] = round(now, 3)
    return user


def start_session(user: User) -> None:
    """A fresh session for a signed-in account: nothing from before sign-in carries over."""
    i18n.clear_session()
    login_user(user)
    session.permanent = True
    now = round(time.time(), 3)
    session[GENERATION], session[SINCE], session[SEEN] = user.session_generation, now, now


def roles(*allowed: str) -> Callable[[F], F]:
    """Guard a view: anonymous visitors go to sign-in; other roles get 403."""
    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                from flask import abort
                abort(403)
            return view(*args, **kwargs)
        return guarded  # type: ignore[return-value]
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authentication.sign_in(context.archive(), form.email.data or "", form.password.data or "",
                                   request.remote_addr or "unknown")
        except Throttled as error:
            # (The address is the proxy's unless ESCROW_PROXY_HOPS says how many to trust.)
            flash(said(error), "error")
            return render_template("login.html", form=form), 429, {"Retry-After": str(error.retry_after)}
        if user is not None:
            start_session(user)
            return redirect(_next_page() or url_for(_home(user)))
        flash(gettext(FAILED), "error")
    return render_template("login.html", form=form)


def _home(user: User) -> str:
    return {"admin": "admin.dashboard", "organizer": "organizer.my_stories"}.get(user.role, "reading.search")


def _next_page() -> str | None:
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    # Only a path on this site: never an open redirect.
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return None


@bp.route("/account")
def account() -> Response | str:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return _account_page(TokenForm(prefix="token", formdata=None))


def _account_page(form: TokenForm, new: tokens.NewToken | None = None) -> str:
    me = context.user()
    return render_template("account.html", me=me, since=session.get(SINCE), token_form=form, new=new,
                           tokens=tokens.listing(context.archive(), me), revoke=ActionForm(prefix="revoke"),
                           api_root=url_for("api.search", _external=True).rsplit("/", 1)[0])


@bp.route("/account/tokens", methods=["POST"])
def create_token() -> Response | str | tuple[str, int]:
    """Make a token and show it in this response only: never in a flash (a flash rides in the
    session cookie) nor after a redirect; the page is no-store, like every other."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            new = tokens.create(context.archive(), context.user(), form.name.data or "", form.password.data or "",
                                request.remote_addr or "unknown")
        except (InvalidInput, Conflict) as error:
            wrong = form.password if getattr(error, "field", None) == "password" else form.name
            wrong.errors = [*wrong.errors, sentence(said(error))]
        else:
            return _account_page(TokenForm(prefix="token", formdata=None), new)
    return _account_page(form), 400


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int) -> Response:
    """Revoke one of one's own tokens. Someone else's, an unknown or an already revoked token
    changes nothing and says so on the account page (one message for another's and an unknown
    id, so ids cannot be probed)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not ActionForm(prefix="revoke").validate_on_submit():
        abort(400)
    try:
        revoked = tokens.revoke(context.archive(), context.user(), token_id)
        flash(gettext("Revoked %(prefix)s…: it no longer opens the API.", prefix=revoked.prefix), "info")
    except (NotFound, Conflict) as error:
        flash(gettext("Nothing was changed: %(reason)s.", reason=said(error)), "error")
    return redirect(url_for("auth.account"))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if current_user.is_authenticated:
        authentication.sign_out(context.archive(), current_user._get_current_object())
    logout_user()
    i18n.clear_session()
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("reading.search"))
