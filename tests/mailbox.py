"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd), on a port chosen free, that keeps
every message it accepts; stopped and started again on the same port to play a server that is down."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A port of 127.0.0.1 no one listens on now (aiosmtpd cannot be given port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """What the server accepted: every message's raw bytes, in order."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            self.raw.append(bytes(envelope.original_content or envelope.content))
        return "250 OK"

    @property
    def url(self) -> str:
        """The ESCROW_SMTP_URL of this server (no TLS: it listens on this machine only)."""
        return f"smtp://127.0.0.1:{self.port}?tls=none&from=escrow@archive.example.org"

    def start(self) -> None:
        """Listen (again) on the mailbox's port."""
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: the server is down."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        """Every message accepted so far, parsed."""
        with self._lock:
            raw = list(self.raw)
        return [message_from_bytes(data, policy=policy.default) for data in raw]  # type: ignore[misc]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages()]
