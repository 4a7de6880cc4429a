"""How the pages show instants: in the viewer's zone, with UTC beside.

The zone comes from a `tz` cookie that static/tz.js sets from the browser; without
JavaScript (or with a zone the server does not know) pages show UTC alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request
from flask_babel import gettext
from markupsafe import Markup, escape

from archive.web.i18n import moment


def viewer_zone() -> ZoneInfo | None:
    """The viewer's zone from the cookie, if it names a real one."""
    name = request.cookies.get("tz", "")
    if not name or len(name) > 64 or name == "UTC" or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def when(instant: datetime | None, empty: str | None = None) -> Markup:
    """A <time> element: local time and zone, then UTC, written as the interface's language
    writes dates; `empty` (by default "indefinitely") for no instant."""
    if instant is None:
        return Markup(escape(gettext("indefinitely") if empty is None else empty))
    utc = instant.astimezone(UTC)
    text = f"{moment(utc)} UTC"
    zone = viewer_zone()
    if zone is not None:
        local = utc.astimezone(zone)
        text = f"{moment(local, zone)} {local.tzname()} ({moment(utc)} UTC)"
    return Markup('<time datetime="{}">{}</time>').format(utc.strftime("%Y-%m-%dT%H:%M:%SZ"), text)


def sentence(message: str) -> str:
    """A service's message as a sentence for a page: capitalised, and ended by a full stop unless
    it ends with its own (never two: "agreed..")."""
    message = message.strip()
    if message and message[-1] not in ".?!…":
        message += "."
    return message[:1].upper() + message[1:]
