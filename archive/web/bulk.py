"""The admin's bulk embargo page: paste the CSV that `escrow embargo upcoming --csv` writes (or
download it here), see the difference, apply it all or not at all.

The CSV is a form field, read in memory: never an uploaded file, which Werkzeug may spool to a
temporary file, and its reasons (sealed once applied) must not reach the disk in the clear.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from archive.errors import EscrowError
from archive.services import embargoes
from archive.web import context
from archive.web.auth import roles
from archive.web.i18n import said

bp = Blueprint("bulk", __name__, url_prefix="/admin/embargoes")


class BulkForm(FlaskForm):
    """A CSV of story_id,embargo_until,reason rows, and whether to look first or apply."""

    rows = TextAreaField(_l("Rows (story_id,embargo_until,reason), the first line the header"),
                         validators=[InputRequired(), Length(max=400_000)])
    preview = SubmitField(_l("Show the difference"))
    apply = SubmitField(_l("Apply every row"))


@bp.route("/bulk", methods=["GET", "POST"])
@roles("admin")
def bulk() -> Any:
    form = BulkForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("admin/bulk.html", form=form, changes=None, error=None), status
    dry_run = not form.apply.data
    try:
        changes = embargoes.bulk(context.archive(), context.user(), (form.rows.data or "").encode("utf-8"),
                                 dry_run=dry_run)
    except EscrowError as error:
        return render_template("admin/bulk.html", form=form, changes=None, error=said(error)), 400
    if dry_run:
        return render_template("admin/bulk.html", form=form, changes=changes, error=None)
    counts = {what: sum(c.what == what for c in changes) for what in ("extended", "requested", "unchanged")}
    flash(gettext("Applied: %(extended)s extended, %(requested)s requested (a second admin decides each), "
                  "%(unchanged)s unchanged.", **{k: str(v) for k, v in counts.items()}), "info")
    return redirect(url_for("admin.dashboard"))


@bp.get("/upcoming.csv")
@roles("admin")
def upcoming() -> Response:
    body = embargoes.upcoming_csv(context.archive(), None)  # every sealed story
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=embargoes.csv", "Cache-Control": "no-store"})
