"""Reasons people give (for a takedown, a withdrawal, an embargo change), sealed with the story.

A reason is free text ("Maria asked to pull it") and may name people, so it is kept only
as AES-256-GCM ciphertext under the story's own data key: in the audit log's entry and in
a request's row. Admins read it as long as the story exists; a withdrawal destroys the
data key and with it every reason ever given for that story. The audit chain covers the
ciphertext, so it keeps verifying after the shred.
"""

from __future__ import annotations

import base64
import binascii

from archive.errors import EscrowError, InvalidInput
from archive.messages import N_
from archive.vault import crypto
from archive.vault.keys import Keyring
from archive.vault.models import Story
from archive.vault.stories import data_key

MAX_REASON = 500
SHREDDED = "(destroyed with the story)"
UNREADABLE = "(cannot be read with this key ring)"


def clean(text: str) -> str:
    """A reason as it is kept: whitespace collapsed, present, not too long."""
    reason = " ".join(text.split())
    if not reason:
        raise InvalidInput(N_("give a reason (--reason): it goes into the audit log, sealed with the story"),
                           field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(N_("a reason may be at most %(limit)s characters", limit=MAX_REASON), field="reason")
    return reason


def _aad(story: Story) -> bytes:
    return f"escrow/reason/v1|story={story.id}|dek={story.dek_id}".encode()


def seal(keyring: Keyring, story: Story, reason: str) -> str:
    """The reason encrypted under the story's data key, as base64 text (nonce + ciphertext)."""
    nonce, sealed = crypto.seal(data_key(keyring, story), reason.encode(), _aad(story))
    return base64.b64encode(nonce + sealed).decode("ascii")


def read(keyring: Keyring, story: Story | None, sealed: str) -> str:
    """A sealed reason as text; a placeholder once the story's key is destroyed."""
    if story is None or story.wrapped_key is None:
        return SHREDDED
    try:
        blob = base64.b64decode(sealed, validate=True)
        plain = crypto.unseal(data_key(keyring, story), blob[:crypto.NONCE_BYTES],
                              blob[crypto.NONCE_BYTES:], _aad(story))
        return plain.decode()
    except (EscrowError, binascii.Error, ValueError):
        return UNREADABLE
