"""Only the archive's own host names are answered: a Host header is matched as DNS matches
names, without regard to case, with any port, an IPv6 address in any of its spellings.

A check in front of Flask (WSGI middleware) rather than Flask's TRUSTED_HOSTS, which compares
case-sensitively and cuts an IPv6 literal at its first colon (so `[::1]` never matched).
Nothing else reaches a page for a host the archive is not: not a link built with it, not a
cache keyed on it. The refusal repeats nothing of what was sent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?")
REFUSED = "This archive does not answer to that host name.\n"


def name(host: str) -> str | None:
    """A Host header's (or a configured host's) name as compared: lower case, without its
    port or the root's trailing dot, an IPv6 address in its shortest form; None if it is not
    a host name."""
    match = _HOST.fullmatch(host)
    if match is None or (match.group(2) is not None and not 0 < int(match.group(2)) < 65536):
        return None
    found = match.group(1).lower()
    if found.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(found[1:-1]).compressed}]"
        except ValueError:
            return None
    found = found[:-1] if found.endswith(".") else found
    return found if found and ".." not in found and not found.startswith(".") else None


def _server(environ: WSGIEnvironment) -> str:
    """The address the request reached, for a request without a Host header (HTTP/1.0)."""
    server = str(environ.get("SERVER_NAME", ""))
    return f"[{server}]" if ":" in server and not server.startswith("[") else server


class OnlyOurHosts:
    """WSGI middleware: a request for any other host name is a plain-text 400."""

    def __init__(self, app: WSGIApplication, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(n for n in (name(h) for h in hosts) if n is not None)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        host = environ["HTTP_HOST"] if "HTTP_HOST" in environ else _server(environ)  # "" is no name
        if name(host) in self.hosts:
            return self.app(environ, start_response)
        refusal = Response(REFUSED, 400, mimetype="text/plain",
                           headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        return refusal(environ, start_response)
