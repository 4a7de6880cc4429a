"""Serving a recording over HTTP with byte ranges: one piece of code for every door that plays
one (the organizer's own sealed recording, the reading room's released rendition)."""

from __future__ import annotations

import re

from flask import Response, request
from werkzeug.http import is_byte_range_valid

from archive.services.recordings import Opened

# `bytes=-0`: a suffix of no bytes, which no recording can satisfy (RFC 9110, 14.1.2). Werkzeug
# reads it as malformed, which would serve the whole recording instead of the 416 it is.
_EMPTY_SUFFIX = re.compile(r"\s*bytes\s*=\s*-\s*0+\s*", re.IGNORECASE)


def ranged(opened: Opened) -> Response:
    """The recording, decrypted chunk by chunk for the range asked.

    One range: 206 with its Content-Range (a suffix longer than the recording is all of it,
    as RFC 9110 says); outside the recording, or the empty suffix `-0`: 416 with
    `bytes */LENGTH`. No Range, a malformed one (numbers too long to read among them), an
    If-Range (there is no validator it could match), another unit, or several ranges: the
    whole recording, 200 (RFC 9110 lets a server ignore Range; a player asks for one).
    """
    length = opened.length
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": "inline"}
    if_range = "If-Range" in request.headers
    if not if_range and _EMPTY_SUFFIX.fullmatch(request.headers.get("Range", "")):
        return Response(status=416, headers={**headers, "Content-Range": f"bytes */{length}"})
    wanted = request.range if not if_range else None
    start, end, status = 0, length, 200
    if wanted is not None and wanted.units == "bytes" and len(wanted.ranges) == 1:
        first, last = wanted.ranges[0]
        if last is None:  # `a-`, or the suffix `-n` (longer than the recording: all of it)
            first, last = (max(0, length + first) if first < 0 else first), length
        start, end, status = first, min(last, length), 206
        if not is_byte_range_valid(start, end, length):
            return Response(status=416, headers={**headers, "Content-Range": f"bytes */{length}"})
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{length}"
    headers["Content-Length"] = str(end - start)
    body = iter(()) if request.method == "HEAD" else opened.read(start, end)  # HEAD serves no bytes
    return Response(body, status=status, headers=headers, content_type=opened.media_type,
                    direct_passthrough=True)
