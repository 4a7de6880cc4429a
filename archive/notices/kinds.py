"""What a notice can say: one line per kind.

A kind names what happened (or will), who is told besides the story's organizer, and, for a
window before a lift, how long before the embargo's instant it opens. Its sentences say the
story's id and an instant, nothing else of the story. Adding a kind is adding one line here
and arming it where it happens (`outbox.arm`), or giving it a window (`before`), which the
scheduler then arms for every sealed story; its sentences go into the catalogues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from archive.messages import N_, Message


@dataclass(frozen=True)
class Kind:
    """A kind of notice: `says` is its sentence (with %(id)s, the story, and %(when)s, the
    instant); `before`, the window before a lift that arms it; `admins`, whether every admin
    is told too."""

    name: str
    says: Message
    before: timedelta | None = None
    admins: bool = False


KINDS = {kind.name: kind for kind in (
    Kind("lift_30", N_("Story %(id)s will be released in 30 days, at %(when)s."), before=timedelta(days=30)),
    Kind("lift_7", N_("Story %(id)s will be released in 7 days, at %(when)s."), before=timedelta(days=7)),
    Kind("lift_1", N_("Story %(id)s will be released tomorrow, at %(when)s."), before=timedelta(days=1)),
    Kind("released", N_("Story %(id)s was released into the reading room (its embargo: %(when)s).")),
    Kind("held", N_("Story %(id)s reached its date (%(when)s) and waits for an admin's review."), admins=True),
    Kind("taken_down", N_("Story %(id)s was taken down from the reading room (%(when)s): it is sealed again.")),
    Kind("request_approved", N_("The early release of story %(id)s asked for at %(when)s was approved.")),
    Kind("request_denied", N_("The early release of story %(id)s asked for at %(when)s was denied.")),
    Kind("digest", N_("What is released in the next 30 days, as of %(when)s."), admins=True),
)}
WINDOWS = tuple(kind for kind in KINDS.values() if kind.before is not None)
DIGEST = "digest"
