"""OAI-PMH resumption tokens: a list's window (its bounds, the harvest's pinned instant, the
keyset position and counts), signed and timestamped with the app's key, so a harvester can
carry it but not forge, alter or keep it past its lifetime (ESCROW_OAI_TOKEN_SECONDS)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from archive.messages import N_
from archive.times import utcnow
from archive.web.oai.envelope import Problem

TOKEN_SECONDS = 24 * 3600  # ESCROW_OAI_TOKEN_SECONDS overrides it
TOKEN_SALT = "escrow.oai.resumption"
MAX_TOKEN = 2000
STORY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class Window:
    """A list request's bounds: [since, before), answered as of `pinned`, past `after`."""

    since: datetime | None
    before: datetime
    pinned: datetime
    after: tuple[datetime, str] | None = None
    cursor: int = 0
    size: int = 0  # the list's size when the token was made (each page counts it again)


class _Signer(TimestampSigner):
    """Token timestamps by the provider's clock (ESCROW_OAI_CLOCK, for tests of expiry)."""

    def get_timestamp(self) -> int:
        return int(now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    secret = current_app.secret_key
    if not secret:  # the app answers 503 before any view while it has no key ring
        raise RuntimeError("no secret key")
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT, signer=_Signer)


def dump(verb: str, window: Window) -> str:
    """A signed, timestamped token: the verb, the bounds, the keyset position and counts."""
    assert window.after is not None
    payload = {"v": verb, "s": window.since.isoformat() if window.since else None,
               "b": window.before.isoformat(), "r": window.pinned.isoformat(),
               "d": window.after[0].isoformat(), "i": window.after[1], "c": window.cursor, "n": window.size}
    return str(_serializer().dumps(payload))


def load(verb: str, token: str) -> Window:
    """The window a token continues; badResumptionToken if forged, damaged, expired or another verb's."""
    echo = {"verb": verb}
    try:
        if len(token) > MAX_TOKEN:
            raise BadData("too long")
        data = _serializer().loads(token, max_age=token_seconds())
        if not isinstance(data, dict) or data.get("v") != verb:
            raise BadData("another verb's")
        since = None if data["s"] is None else _instant(data["s"])
        story_id, cursor, size = data["i"], data["c"], data["n"]
        if not (isinstance(story_id, str) and STORY_ID.fullmatch(story_id) and type(cursor) is int
                and type(size) is int and 0 < cursor and 0 < size):
            raise BadData("malformed")
        return Window(since, _instant(data["b"]), _instant(data["r"]), (_instant(data["d"]), story_id),
                       cursor, size)
    except SignatureExpired:
        raise Problem("badResumptionToken", N_("This resumption token has expired: start the list again."),
                       echo) from None
    except (BadData, KeyError, TypeError, ValueError, OverflowError):
        raise Problem("badResumptionToken", N_("This resumption token is not valid here."), echo) from None


def _instant(text: Any) -> datetime:
    moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    if moment is None or moment.utcoffset() != timedelta(0):
        raise ValueError("not a UTC instant")
    return moment


def now() -> datetime:
    clock: Callable[[], datetime] = current_app.config.get("ESCROW_OAI_CLOCK") or utcnow
    return clock()


def token_seconds() -> int:
    seconds = current_app.config.get("ESCROW_OAI_TOKEN_SECONDS", TOKEN_SECONDS)
    return seconds if isinstance(seconds, int) else TOKEN_SECONDS
