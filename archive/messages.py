"""Messages a person reads, marked for translation where they are written and translated by the
door that shows them.

The rooms and services never import Flask, so they cannot ask for the reader's language. They
raise their errors with `N_(...)` (or `Nn_(...)` for a count): a `Message`, which is the
English sentence itself (what `str()` gives the command line, which stays English, and the
logs) and also remembers its catalogue id and values. The web door (`archive.web.i18n`)
turns it into the reader's language with the same catalogue as its templates; pybabel
extracts both markers (babel.cfg).

Values are %-style placeholders, `%(limit)s`, never f-strings: the translated sentence puts
them where its own grammar wants them. A value that is itself a Message is translated too;
whole numbers are written with thousands separators (1,000 in English, as the reader's
locale writes them on the web): pass a line number or a year as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Message(str):
    """An English message that knows its catalogue id (and plural form) and its values."""

    msgid: str
    plural: str | None
    count: int | None
    values: Mapping[str, Any]

    def __new__(cls, msgid: str, plural: str | None = None, count: int | None = None,
                values: Mapping[str, Any] | None = None) -> Message:
        values = dict(values or {})
        template = plural if plural is not None and count != 1 else msgid
        english = {k: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v for k, v in values.items()}
        self = super().__new__(cls, template % english if values else template)
        self.msgid, self.plural, self.count, self.values = msgid, plural, count, values
        return self

    def __reduce__(self) -> Any:  # pickled (by a child process's error) as the Message it is
        return (Message, (self.msgid, self.plural, self.count, dict(self.values)))


def N_(msgid: str, **values: Any) -> Message:  # noqa: N802 - gettext's own name for a marker
    """Mark a message for translation; it reads as English until a door translates it."""
    return Message(msgid, values=values)


def Nn_(singular: str, plural: str, count: int, **values: Any) -> Message:  # noqa: N802
    """Mark a message with a count: the singular or plural form (English's rule until a door
    translates it with the reader's language's rule). `count` is also the value `%(count)s`."""
    return Message(singular, plural, count, {"count": count, **values})


# The archive's codes as a page names them (a story's status, a redaction level, a role),
# English until a door translates them.
STATUS_NAMES = {"sealed": N_("sealed"), "due_for_review": N_("due for review"), "released": N_("released"),
                "withdrawn": N_("withdrawn")}
LEVEL_NAMES = {"full": N_("full"), "pseudonymized": N_("pseudonymized"), "redacted": N_("redacted"),
               "summary": N_("summary")}
ROLE_NAMES = {"organizer": N_("organizer"), "researcher": N_("researcher"), "admin": N_("admin")}
# What a narrator did or was told on their door (vault/narrators.py), as the pages name it.
NARRATOR_ACTIONS = {"delay": N_("kept sealed longer"), "protect": N_("chose more protection"),
                    "words": N_("asked for more words to be hidden"), "object": N_("said not yet"),
                    "earlier": N_("asked for an earlier release"), "looser": N_("asked to show more"),
                    "withdraw": N_("withdrew consent"), "undo": N_("undid the withdrawal"),
                    "note": N_("left a note"), "cleared": N_("hold cleared"),
                    "destroyed": N_("destroyed after the cooling-off"), "to_narrator": N_("note to the narrator")}
HOLD_NAMES = {"objection": N_("held: the narrator said not yet"), "words": N_("held: words to hide")}
