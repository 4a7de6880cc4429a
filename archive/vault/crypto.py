"""Envelope encryption: AES-256-GCM payloads under per-story data keys, wrapped by the master key."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.errors import KeyProblem

NONCE_BYTES = 12
KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def payload_aad(story_id: str, version: int, dek_id: str) -> bytes:
    """Associated data binding a payload to its story, version, data key and field."""
    return f"escrow/payload/v1|story={story_id}|version={version}|dek={dek_id}|field=payload".encode()


def wrap_aad(story_id: str, dek_id: str, kek_version: int) -> bytes:
    """Associated data binding a wrapped data key to its story and master key version."""
    return f"escrow/dek/v1|story={story_id}|dek={dek_id}|kek={kek_version}".encode()


def recording_wrap_aad(recording_id: str, dek_id: str, kek_version: int) -> bytes:
    """Associated data binding a recording's wrapped data key to it and the master key version."""
    return f"escrow/recording-dek/v1|recording={recording_id}|dek={dek_id}|kek={kek_version}".encode()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt under `key` with a random 96-bit nonce; return (nonce, ciphertext+tag)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Decrypt and authenticate; a wrong key or moved ciphertext raises KeyProblem."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise KeyProblem("a ciphertext failed authentication: wrong key, or the row was altered") from None


def wrap(kek: bytes, dek: bytes, aad: bytes) -> bytes:
    """Wrap a data key under a master key: nonce followed by ciphertext+tag."""
    nonce, wrapped = seal(kek, dek, aad)
    return nonce + wrapped


def unwrap(kek: bytes, blob: bytes, aad: bytes) -> bytes:
    """Unwrap a data key wrapped by `wrap`."""
    try:
        return AESGCM(kek).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise KeyProblem(
            "a data key failed to unwrap: the master key does not match this archive"
        ) from None
