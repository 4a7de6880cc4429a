"""Domain errors: every failure a user can cause or meet, with a message safe to show.

Messages never carry story content or key material; the boundary (CLI, web) shows
them as one line and exits or responds without a traceback.
"""

from __future__ import annotations


class EscrowError(Exception):
    """Base of every error the archive reports to a person."""

    exit_code = 1


class InvalidInput(EscrowError):
    """Input that does not parse or validate; nothing was changed.

    `field` names the input it is about, when there is one, so a form can show the
    message next to it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(EscrowError):
    """No such thing, or one the actor may not know exists (the same to them)."""


class Forbidden(EscrowError):
    """The actor is known to exist and the thing is visible, but the action is not theirs."""


class Conflict(EscrowError):
    """The request clashes with the current state (a duplicate, a wrong status)."""


class KeyProblem(EscrowError):
    """The master key is missing, damaged, too open or not this archive's."""


class NotInitialised(EscrowError):
    """The instance folder or its database has not been set up with `escrow init`."""


class TamperDetected(EscrowError):
    """The audit log's hash chain does not verify."""


class IncompleteShred(EscrowError):
    """Data was destroyed, but an old copy of it may remain in the database's own files."""


class Throttled(EscrowError):
    """Too many attempts in a short time; `retry_after` says in how many seconds to try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NoRoom(InvalidInput):
    """An upload the archive has no room for (a story's recordings, an account's share, the
    disk's margin); nothing was kept."""
