"""How the pages show instants (in the viewer's zone, with UTC beside) and search snippets
(their matches marked).

The zone comes from a `tz` cookie that static/tz.js sets from the browser; without
JavaScript (or with a zone the server does not know) pages show UTC alone.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request
from flask_babel import gettext
from markupsafe import Markup, escape

from archive.services.reading import Snippet
from archive.web.i18n import moment

MARK = '<mark class="match term{}">{}</mark>'
TERM_CLASSES = 5  # as whoosh's HtmlFormatter: term0 to term4, reused in turn


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


def marked(snippets: Iterable[Snippet]) -> list[Markup]:
    """A page's snippets as HTML: the text escaped, each match in a <mark> whose class numbers
    its word, the same word with the same class in every snippet of the page."""
    seen: dict[str, int] = {}
    return [_marked(snippet, seen) for snippet in snippets]


def _marked(snippet: Snippet, seen: dict[str, int]) -> Markup:
    out, index = [], 0
    for start, end in snippet.matches:
        out.append(html.escape(snippet.text[index:start], quote=False))
        word = html.escape(snippet.text[start:end], quote=False)
        out.append(MARK.format(seen.setdefault(word, len(seen) % TERM_CLASSES), word))
        index = end
    out.append(html.escape(snippet.text[index:], quote=False))
    return Markup("".join(out))  # noqa: S704 - every piece of text is escaped above
