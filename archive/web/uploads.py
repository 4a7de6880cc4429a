"""A multipart body read part by part from the request stream, so that a recording is sealed
as it arrives and never spooled: Werkzeug's `request.files` writes an upload to a temporary
file, which for a sealed story would put its voice on disk in the clear.

The organizer's pages use it for the submit form (its fields, then an optional file) and the
story page's upload form (the CSRF token, then the file). Every refusal is `Refused`, with the
message shown and the status; nothing of a refused body is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import current_app, request
from flask_babel import gettext
from flask_wtf.csrf import validate_csrf
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from wtforms.validators import ValidationError

from archive.services import recordings
from archive.web import worker

# The upload form's parts, in this order: the CSRF token, then the file.
TOKEN, FILE = "csrf_token", "recording"
MAX_PARTS = 4
MAX_TOKEN = 1024  # bytes of the token field; a real one is about 90
OVERHEAD = 64 * 1024  # the multipart framing around the file, allowed above the recording limit
MAX_FORM_PARTS = 64  # the submit form's fields, its buttons and the file, with room to spare
FORM_BYTES = 2 * 1024 * 1024  # the submit form's fields together, as the app's limit for any form


class Counted:
    """An upload's pieces, counting the bytes that arrived (to tell "too large" from "not audio")."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces, self.arrived = pieces, 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.arrived += len(piece)
            yield piece


class Refused(Exception):
    """An upload refused before anything was sealed: the message shown, and the status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def multipart_parts(max_parts: int = MAX_PARTS) -> Iterator[Field | File | Data]:
    """The multipart body's events, decoded from the request stream a block at a time."""
    boundary = request.mimetype_params.get("boundary", "") if request.mimetype == "multipart/form-data" else ""
    if not boundary:
        raise Refused(gettext("Choose a recording with the form on this page: nothing was kept."))
    stream = request.stream  # raises RequestEntityTooLarge now if the declared length is over the limit
    # The decoder's buffer holds at most one block and a boundary's worth: headers without end,
    # or more parts than the form has, are refused rather than buffered.
    decoder = MultipartDecoder(boundary.encode("latin-1"), max_form_memory_size=2 * recordings.READ,
                               max_parts=max_parts)
    return _events(decoder, stream)


def form_fields(parts: Iterator[Field | File | Data]) -> tuple[MultiDict[str, str], File | None]:
    """The form's fields (at most FORM_BYTES together) up to its file part, and that part if a
    file was chosen (its bytes are next in `parts`); with no file chosen, every field, those
    after the empty file part too (the button pressed, which a browser sends last), and None."""
    fields: MultiDict[str, str] = MultiDict()
    size = 0
    for part in parts:
        if isinstance(part, File):
            if part.name != FILE:
                raise Refused(gettext("The form could not be read: nothing was kept."))
            if part.filename:
                return fields, part
            for event in parts:  # no file chosen: its part holds nothing
                if not isinstance(event, Data) or event.data:
                    raise Refused(gettext("The form could not be read: nothing was kept."))
                if not event.more_data:
                    break
            continue
        if not isinstance(part, Field):
            raise Refused(gettext("The form could not be read: nothing was kept."))
        value = bytearray()
        for event in parts:
            if not isinstance(event, Data):
                raise Refused(gettext("The form could not be read: nothing was kept."))
            value += event.data
            size += len(event.data)
            if size > FORM_BYTES:
                raise Refused(gettext("The story's text is longer than the form accepts (2 MiB): nothing was kept."),
                               413)
            if not event.more_data:
                break
        try:
            fields.add(part.name, value.decode("utf-8"))
        except UnicodeDecodeError:
            raise Refused(gettext("The form could not be read (its text was not UTF-8): nothing was kept.")) from None
    return fields, None


def drain() -> None:
    """Read what is left of the request's body and throw it away, so the browser, still
    sending, gets the answer rather than a reset connection. Nothing of it is kept. Under
    `escrow serve` the server does it after the answer, in its event loop, at the body's pace
    (archive.web.worker), rather than a thread here for as long as the client takes."""
    if request.environ.get(worker.SERVER_DRAINS):
        return
    try:
        while request.stream.read(recordings.READ):
            pass
    except (RequestEntityTooLarge, BadRequest, OSError):
        pass  # past the limit or cut short: the connection closes after the answer anyway


def _events(decoder: MultipartDecoder, stream: Any) -> Iterator[Field | File | Data]:
    while True:
        event = decoder.next_event()
        if isinstance(event, NeedData):
            decoder.receive_data(stream.read(recordings.READ) or None)  # None: the body ended
        elif isinstance(event, Epilogue):
            return
        elif isinstance(event, Field | File | Data):
            yield event


def _check_token(parts: Iterator[Field | File | Data]) -> None:
    """The first part must be the CSRF token, valid for this session (else refused, nothing read further)."""
    first = next(parts, None)
    if not (isinstance(first, Field) and first.name == TOKEN):
        raise Refused(gettext("The form had expired or came from elsewhere (its token must come before the "
                               "file): nothing was kept. Reload the page and try again."))
    token = b""
    for event in parts:
        if not isinstance(event, Data):
            raise Refused(gettext("The form could not be read: nothing was kept."))
        token += event.data
        if len(token) > MAX_TOKEN:
            raise Refused(gettext("The form could not be read: nothing was kept."))
        if not event.more_data:
            break
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return  # as CSRFProtect does for every other form when it is switched off (the policy tests)
    try:
        validate_csrf(token.decode("ascii", "replace"))
    except ValidationError:
        raise Refused(gettext("The form had expired or came from elsewhere: nothing was kept. "
                               "Reload the page and try again.")) from None


def token_then_file(parts: Iterator[Field | File | Data]) -> Iterator[bytes]:
    """The file's bytes, once the part before it has proved to be this session's token."""
    _check_token(parts)
    yield from _file(parts)


def _file(parts: Iterator[Field | File | Data]) -> Iterator[bytes]:
    """The file part's bytes as they arrive; refused if the next part is not the file."""
    part = next(parts, None)
    if not (isinstance(part, File) and part.name == FILE):
        raise Refused(gettext("Choose a recording to attach: nothing was kept."))
    if not part.filename:
        raise Refused(gettext("Choose a recording to attach: no file was chosen, nothing was kept."))
    return file_bytes(parts)


def file_bytes(parts: Iterator[Field | File | Data]) -> Iterator[bytes]:
    for event in parts:
        if not isinstance(event, Data):
            raise ValueError("a part inside the file")
        if event.data:
            yield event.data
        if not event.more_data:
            return
