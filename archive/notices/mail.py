"""E-mail: the SMTP server ESCROW_SMTP_URL names, and each letter written in its reader's language.

The URL says how to reach the server, through the standard library's smtplib:

- `smtps://USER:PASSWORD@HOST:465` TLS from the first byte (SMTP_SSL),
- `smtp://USER:PASSWORD@HOST:587` STARTTLS before anything is said (the default: the
  connection is refused if the server does not offer it),
- `smtp://HOST:25?tls=none` no TLS at all, allowed only to 127.0.0.1 / localhost (a relay on
  the machine itself),

with `?from=ADDRESS` for the sender (default: escrow@ the host of the archive's address, or
of the server). USER and PASSWORD are percent-encoded; without them nothing is authenticated.

A letter says the story's id, an instant, what happened and a link: never its text, title,
names or reasons, which the outbox does not even hand it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from urllib.parse import parse_qs, unquote, urlsplit

from babel.support import NullTranslations, Translations

from archive.errors import InvalidInput
from archive.messages import N_, Message
from archive.notices.kinds import DIGEST, KINDS
from archive.notices.outbox import Letter
from archive.storage.paths import TRANSLATIONS

LANGUAGES = ("en", "es")
TIMEOUT = 30  # seconds for the server to answer each step
LOCAL = ("127.0.0.1", "localhost", "::1")

SUBJECT = N_("Escrow: a notice about story %(id)s")
DIGEST_SUBJECT = N_("Escrow: what is released in the next 30 days")
SEE = N_("See it in the archive: %(link)s")
NOTHING_DUE = N_("Nothing is due to be released in the next 30 days.")
DUE_LINE = N_("Story %(id)s: %(when)s")
WHY = N_("You receive this because you have an account at this archive. This message holds no "
         "story's content: only its id, an instant and what happened.")


@dataclass(frozen=True)
class Server:
    """Where and how to send: from ESCROW_SMTP_URL (never shown with its password)."""

    host: str
    port: int
    tls: str  # 'ssl', 'starttls' or 'none'
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def server(url: str, *, archive_host: str | None = None) -> Server:
    """The server an ESCROW_SMTP_URL names; InvalidInput, without the URL (it may hold a
    password), if it is not one."""
    parts = urlsplit(url.strip())
    query = parse_qs(parts.query)
    tls = {"smtps": "ssl", "smtp": "starttls"}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if tls is None or not parts.hostname or port == -1:
        raise InvalidInput("ESCROW_SMTP_URL must look like smtps://USER:PASSWORD@HOST:465 or "
                           "smtp://USER:PASSWORD@HOST:587 (STARTTLS)")
    if query.get("tls") == ["none"]:
        if parts.hostname not in LOCAL:
            raise InvalidInput("ESCROW_SMTP_URL: tls=none is allowed only to a server on this machine (127.0.0.1)")
        tls = "none"
    sender = (query.get("from") or [f"escrow@{archive_host or parts.hostname}"])[0]
    return Server(parts.hostname, port or (465 if tls == "ssl" else 587 if tls == "starttls" else 25), tls,
                  sender, unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None)


@cache
def _translations(language: str) -> NullTranslations:
    if language == LANGUAGES[0] or language not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language], domain="messages")


def say(message: Message, language: str | None, **values: object) -> str:
    """A message in a language (English if none or unknown), with its values."""
    text = _translations(language or LANGUAGES[0]).gettext(message.msgid)
    return text % {**message.values, **values} if (message.values or values) else text


def _instant(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def write(letter: Letter, sender: str, base_url: str | None) -> EmailMessage:
    """The message for one claimed delivery, in its reader's language."""
    lang = letter.language
    link = (base_url or "") + "/notices"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = letter.to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if letter.kind == DIGEST:
        message["Subject"] = say(DIGEST_SUBJECT, lang)
        lines = [say(KINDS[DIGEST].says, lang, when=_instant(letter.instant)), ""]
        lines += [say(DUE_LINE, lang, id=story_id, when=_instant(until)) for story_id, until in letter.upcoming]
        if not letter.upcoming:
            lines.append(say(NOTHING_DUE, lang))
    else:
        message["Subject"] = say(SUBJECT, lang, id=letter.story_id)
        lines = [say(KINDS[letter.kind].says, lang, id=letter.story_id, when=_instant(letter.instant))]
    lines += ["", say(SEE, lang, link=link), "", "-- ", say(WHY, lang)]
    message.set_content("\n".join(lines) + "\n")
    message["Content-Language"] = lang if lang in LANGUAGES else LANGUAGES[0]  # (set_content clears Content-*)
    return message


Connect = Callable[[Server], smtplib.SMTP]


def connect(where: Server) -> smtplib.SMTP:
    """An SMTP session, TLS and login as the server's URL says."""
    if where.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(where.host, where.port, timeout=TIMEOUT,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(where.host, where.port, timeout=TIMEOUT)
        if where.tls == "starttls":
            client.starttls(context=ssl.create_default_context())
    if where.user is not None:
        client.login(where.user, where.password or "")
    return client


def send(where: Server, messages: Sequence[tuple[int, EmailMessage]],
         opened: Connect = connect) -> dict[int, str | None]:
    """Send each (key, message) over one session; for each key None once the server accepted it,
    or the class of the error (a server that cannot be reached fails every one)."""
    outcomes: dict[int, str | None] = {}
    if not messages:
        return outcomes
    try:
        client = opened(where)
    except (OSError, smtplib.SMTPException) as error:
        return {key: type(error).__name__ for key, _ in messages}
    try:
        for key, message in messages:
            try:
                client.send_message(message)
                outcomes[key] = None
            except smtplib.SMTPServerDisconnected as error:
                outcomes.update({k: type(error).__name__ for k, _ in messages if k not in outcomes})
                break
            except (OSError, smtplib.SMTPException) as error:
                outcomes[key] = type(error).__name__
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return outcomes
