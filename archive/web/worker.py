"""The gunicorn worker of `escrow serve`: requests are read in its event loop, never by a thread.

gunicorn's threaded worker (gthread) hands a connection to a thread once its first byte
arrives, and the thread then reads the rest of the request as slowly as the client sends it:
ten clients trickling `POST /oai` bodies, or twelve uploads through a proxy that does not
buffer them, held every thread and stalled searches for 14-20 s. Here the event loop reads
each request without a thread, the way a buffering proxy does:

- The request's head, and a body up to BUFFERED bytes, are read in the loop into memory
  (never a temporary file: a form's body may be a sealed story's text) and the request goes
  to a thread only once it is complete. A thread runs the application, never waits on a
  client's body.
- A larger body (a recording) goes to a thread once its head is read, paced (`Pace`): at
  most half the threads of a worker stream bodies at once, the rest answer everything else;
  past that the loop answers 503 without reading the body. The application bounds how many
  each account sends at once (services/recordings.py).
- Every body must keep arriving: all of the head within `window` seconds (20,
  ESCROW_BODY_SECONDS), and at least MIN_BYTES of body in every `window` seconds after it
  (Apache's mod_reqtimeout rule, measured per window so no early burst buys a long stall),
  or it is answered 408 (in the loop, or from the thread as `BodyTooSlow`).
- After its answer a connection is closed in the loop too: the rest of an unread body is
  read and thrown away at the same pace (a browser still sending an upload that was refused
  then sees the answer, not a reset connection), and a client that never closes its side
  costs a file descriptor, not gunicorn's blocking two-second drain in the loop.
- New connections are taken only while a thread is free, as before: a busy worker leaves
  them to another.

Written against gunicorn 27's gthread worker (TConn, its poller and thread pool); keep-alive
is off (archive.cli.serve), so each connection carries one request.
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.http.body import ChunkedReader, LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker
from werkzeug.exceptions import ClientDisconnected

BUFFERED = 4 * 2**20  # a body up to this size (every form but a recording's) is read whole in the loop
BUDGET = 256 * 2**20  # bytes of bodies a worker holds in memory at once; past it, 503
MAX_HEAD = 64 * 1024  # a head still without its end past this is refused (431) in the loop
MIN_BYTES = 64 * 1024  # of body, in every window (3.2 KiB/s at 20 s: slower than any real link)
READ = 256 * 1024
WINDOW = 20.0  # seconds (ESCROW_BODY_SECONDS)
# The environ key that says the server reads and discards what the application leaves of a
# body (a door that refuses an upload need not read the rest of it in its thread).
SERVER_DRAINS = "escrow.server_drains"


class BodyTooSlow(ClientDisconnected):
    """A request body that fell behind its pace (HTTP's 408): the application stops reading it."""

    code = 408
    description = "The request arrived too slowly: nothing of it was kept. Try again on a faster connection."


@dataclass
class Pace:
    """A body's pace: at least MIN_BYTES in every `window` seconds from `start` (or the rest of
    it, if less is left); `deadline` is when the current window ends."""

    window: float
    start: float = field(default_factory=time.monotonic)
    owed: int = MIN_BYTES  # bytes still due in the current window
    deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = self.start + self.window

    def arrived(self, count: int, now: float) -> None:
        """Count bytes that arrived; a window's due met opens the next one from now."""
        self.owed -= count
        if self.owed <= 0:
            self.owed, self.deadline = MIN_BYTES, now + self.window

    def late(self, now: float) -> bool:
        """Whether the window ended before its due arrived."""
        return now >= self.deadline


class _Paced:
    """The socket as a streamed body's reader sees it: each read waits only until the pace's
    window ends, then BodyTooSlow."""

    def __init__(self, sock: socket.socket, pace: Pace) -> None:
        self._sock, self._pace = sock, pace

    def recv(self, size: int) -> bytes:
        left = self._pace.deadline - time.monotonic()
        if left <= 0:
            raise BodyTooSlow()
        self._sock.settimeout(left)
        try:
            data = self._sock.recv(size)
        except TimeoutError:
            raise BodyTooSlow() from None
        finally:
            self._sock.settimeout(None)
        self._pace.arrived(len(data), time.monotonic())
        return data


@dataclass
class _Arriving:
    """A connection whose request is being read in the loop."""

    conn: TConn
    pace: Pace
    data: bytearray = field(default_factory=bytearray)
    head: int = 0  # bytes of the head, once it is complete
    need: int = 0  # bytes of head and body to hold before the request goes to a thread
    path: str = ""
    reserved: int = 0  # of the worker's BUDGET


@dataclass
class _Closing:
    """A connection answered, whose unread body is read and thrown away until the client ends it."""

    conn: TConn
    pace: Pace
    left: int | None  # bytes the client may still send (None: unknown)


def _answer(path: str, status: int, reason: str, message: str, retry_after: int | None = None) -> bytes:
    """A refusal the loop sends itself: JSON under /api/ (as the API's errors are), else plain text."""
    if path.startswith("/api/"):
        body, kind = json.dumps({"error": {"status": status, "message": message}}).encode(), "application/json"
    else:
        body, kind = (message + "\n").encode(), "text/plain; charset=utf-8"
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {kind}", f"Content-Length: {len(body)}",
             "Connection: close", "Cache-Control: no-store", "X-Content-Type-Options: nosniff"]
    if retry_after is not None:
        lines.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


TOO_SLOW = (408, "Request Timeout", "The request arrived too slowly: nothing of it was kept. "
                                    "Try again on a faster connection.", None)
TOO_LONG = (431, "Request Header Fields Too Large", "The request's head is longer than the archive reads.", None)
BUSY = (503, "Service Unavailable", "The archive is receiving as many uploads as it can at the moment: "
                                    "nothing was kept. Try again in a minute.", 60)


class Worker(ThreadWorker):
    """gthread with each request read, and each connection closed, in the event loop."""

    wsgi: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window = WINDOW
        self.busy = 0  # requests handed to threads and not finished
        self.streams = 0  # of those, the ones whose body streams in the thread
        self.held = 0  # bytes of BUDGET reserved by requests read in the loop
        self.arriving: dict[socket.socket, _Arriving] = {}
        self.closing: dict[socket.socket, _Closing] = {}
        self.max_streams = max(1, self.cfg.threads // 2)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        config = getattr(self.wsgi, "config", {}).get("ESCROW_CONFIG")
        if config is not None:
            self.window = float(config.body_seconds)
        app = self.wsgi

        def marked(environ: dict[str, Any], start_response: Any) -> Any:
            environ[SERVER_DRAINS] = True
            return app(environ, start_response)

        self.wsgi = marked

    # -- taking connections ------------------------------------------------------------------

    def set_accept_enabled(self, enabled: bool) -> None:
        # Only while a thread is free: a busy worker leaves new connections to another.
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, client, listener.getsockname())  # non-blocking
        arriving = _Arriving(conn, Pace(self.window))
        self.arriving[sock] = arriving
        self.poller.register(sock, selectors.EVENT_READ, partial(self._readable, arriving))

    def _readable(self, arriving: _Arriving, sock: socket.socket) -> None:
        try:
            data = sock.recv(READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client gave up
            self._forget(arriving)
            self._close(arriving.conn)
            return
        arriving.data += data
        try:
            self._advance(arriving, len(data))
        except Exception as error:  # noqa: BLE001 - the loop must outlive any one connection
            # The class only: a message may quote the request, and a form may be a sealed story.
            self.log.error("A request could not be read in the event loop (%s)", type(error).__name__)
            self._forget(arriving)
            self._close(arriving.conn)

    def _advance(self, arriving: _Arriving, count: int) -> None:
        if arriving.head:
            arriving.pace.arrived(count, time.monotonic())
        elif not self._read_head(arriving):
            return
        if len(arriving.data) >= arriving.need:
            self._dispatch(arriving, streamed=False)

    def _read_head(self, arriving: _Arriving) -> bool:
        """Whether the head is complete now (and what the request needs decided)."""
        data = arriving.data
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_HEAD:
                self._refuse(arriving, *TOO_LONG)
            return False
        arriving.head = end + 4
        try:
            request = Request(self.cfg, IterUnreader([bytes(data[:arriving.head])]), arriving.conn.client)
        except NoMoreData:
            arriving.head = 0
            return False
        except Exception:  # noqa: BLE001 - malformed: gunicorn answers it, in a thread, from these bytes
            self._dispatch(arriving, streamed=False)
            return False
        arriving.path = request.path or ""
        reader = request.body.reader
        length = reader.length if isinstance(reader, LengthReader) else None
        now = time.monotonic()
        arriving.pace = Pace(self.window, start=now)  # the body's pace starts with it
        arriving.pace.arrived(len(data) - arriving.head, now)
        if isinstance(reader, ChunkedReader) or (length is not None and length > BUFFERED):
            if self.streams >= self.max_streams:
                self._refuse(arriving, *BUSY, left=length)
            else:
                self._dispatch(arriving, streamed=True)
            return False
        need = arriving.head + (length or 0)
        if need > len(data):
            if self.held + need > BUDGET:
                self._refuse(arriving, *BUSY, left=length)
                return False
            arriving.reserved, self.held = need, self.held + need
            if request._expected_100_continue:
                self._send(arriving.conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        arriving.need = need
        return True

    # -- handing a request to a thread ---------------------------------------------------------

    def _dispatch(self, arriving: _Arriving, *, streamed: bool) -> None:
        self._forget(arriving)
        conn = arriving.conn
        source: Any = _Paced(conn.sock, arriving.pace) if streamed else conn.sock
        conn.parser = http.get_parser(self.cfg, source, conn.client)
        conn.parser.unreader.unread(bytes(arriving.data))
        conn.data_ready = True  # gthread's handle() then reads no more than the parser asks
        conn.escrow_streamed = streamed
        conn.escrow_pace = arriving.pace
        self.busy += 1
        self.streams += streamed
        if self.busy >= self.cfg.threads:
            super().set_accept_enabled(False)
        self.enqueue_req(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """A thread answered: close the connection in the loop (keep-alive is off)."""
        self.busy -= 1
        self.streams -= bool(getattr(conn, "escrow_streamed", False))
        message = getattr(conn.parser, "mesg", None)
        reader = getattr(getattr(message, "body", None), "reader", None)
        left = reader.length if isinstance(reader, LengthReader) else None
        # A streamed body keeps its pace; a complete request's client gets a window to close.
        streamed = getattr(conn, "escrow_streamed", False)
        self._linger(conn, conn.escrow_pace if streamed else Pace(self.window), left)

    # -- answering and closing in the loop -------------------------------------------------------

    def _refuse(self, arriving: _Arriving, status: int, reason: str, message: str, retry_after: int | None,
                *, left: int | None = None) -> None:
        self._forget(arriving)
        self._send(arriving.conn.sock, _answer(arriving.path, status, reason, message, retry_after))
        body = len(arriving.data) - arriving.head if arriving.head else 0
        self._linger(arriving.conn, arriving.pace, None if left is None else left - body)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        try:
            sock.setblocking(False)
            sock.send(data)  # a short answer fits the socket's buffer; what does not is dropped
        except OSError:
            pass

    def _linger(self, conn: TConn, pace: Pace, left: int | None) -> None:
        """Half-close, then read and discard what the client still sends, at the body's pace."""
        sock = conn.sock
        try:
            sock.setblocking(False)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        if left is not None and left <= 0:
            left = 0  # nothing more is due: wait only for the client's own close
        closing = _Closing(conn, pace, left)
        self.closing[sock] = closing
        self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, closing))

    def _drain(self, closing: _Closing, sock: socket.socket) -> None:
        try:
            data = sock.recv(READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if closing.left is not None:
            closing.left -= len(data)
        if not data or (closing.left is not None and closing.left < -READ):
            self._closed(closing)
            return
        closing.pace.arrived(len(data), time.monotonic())

    def _closed(self, closing: _Closing) -> None:
        sock = closing.conn.sock
        self.closing.pop(sock, None)
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        self._close(closing.conn)

    def _forget(self, arriving: _Arriving) -> None:
        sock = arriving.conn.sock
        if self.arriving.pop(sock, None) is not None:
            try:
                self.poller.unregister(sock)
            except (KeyError, ValueError, OSError):
                pass
        self.held -= arriving.reserved
        arriving.reserved = 0

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        try:
            conn.sock.close()
        except OSError:
            pass

    def murder_pending(self) -> None:
        """Every loop turn (at least once a second): requests and closes behind their pace end."""
        super().murder_pending()
        now = time.monotonic()
        for arriving in [a for a in self.arriving.values() if not self.alive or a.pace.late(now)]:
            if self.alive:
                self._refuse(arriving, *TOO_SLOW)
            else:  # stopping: nothing read yet is answered
                self._forget(arriving)
                self._close(arriving.conn)
        for closing in [c for c in self.closing.values() if not self.alive or c.pace.late(now)]:
            self._closed(closing)
