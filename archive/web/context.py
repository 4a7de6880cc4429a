"""What a request works with: the archive (services.current) and the signed-in user."""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from archive import services
from archive.accounts.users import User
from archive.services import Archive


def archive() -> Archive:
    """The request's archive: session, config, key ring (unlocked once), index."""
    return services.current()


def user() -> User:
    """The signed-in user (views are guarded, so there is one)."""
    if not current_user.is_authenticated:
        abort(401)
    return current_user._get_current_object()


def bearer() -> str | None:
    """The secret of an 'Authorization: Bearer <token>' header; '' for any other Authorization
    header (malformed, or another scheme); None when there is none."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""
