"""How the pages show instants: in the viewer's zone, with UTC beside.

The zone comes from a `tz` cookie that static/tz.js sets from the browser; without
JavaScript (or with a zone the server does not know) pages show UTC alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request
from markupsafe import Markup, escape


def viewer_zone() -> ZoneInfo | None:
    """The viewer's zone from the cookie, if it names a real one."""
    name = request.cookies.get("tz", "")
    if not name or len(name) > 64 or name == "UTC" or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def when(moment: datetime | None, empty: str = "indefinitely") -> Markup:
    """A <time> element: local time and zone, then UTC."""
    if moment is None:
        return Markup(escape(empty))
    utc = moment.astimezone(UTC)
    text = f"{utc:%Y-%m-%d %H:%M} UTC"
    zone = viewer_zone()
    if zone is not None:
        local = utc.astimezone(zone)
        text = f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({text})"
    return Markup('<time datetime="{}">{}</time>').format(utc.strftime("%Y-%m-%dT%H:%M:%SZ"), text)


def sentence(message: str) -> str:
    """A service's message as a sentence for a page: capitalised."""
    return message[:1].upper() + message[1:]
