"""The organizer's door for recordings: an upload sealed as its body arrives (never parsed into
`request.files`, which spools to temporary files), and their own sealed recording played back
range by range, each read audited (one entry a minute)."""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

import archive.audit
import archive.services.recordings
from archive import audit, times
from archive.storage import database
from archive.vault.models import Recording
from tests.web.conftest import World, sign_in, tiny_wav

MAGIC = (b"RIFF", b"fLaC", b"OggS")
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NOT_AUDIO = b"I am a transcript, not a recording.\n" * 2000


def _tone(kind: str, seconds: float, rate: int = 16_000) -> bytes:
    """A 440 Hz tone with a little noise (so no two windows repeat), as WAV or FLAC bytes."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(7).normal(0, 0.01, t.size)
    out = io.BytesIO()
    soundfile.write(out, 0.5 * np.sin(2 * np.pi * 440 * t) + noise, rate, format=kind, subtype="PCM_16")
    return out.getvalue()


def _multipart(*parts: tuple[str, bytes, str | None]) -> tuple[bytes, str]:
    """A multipart/form-data body with its parts in exactly this order: (name, value, filename)."""
    boundary = "----escrow-test-boundary-7MA4YWxkTrZu0gW"
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        kind = "Content-Type: application/octet-stream\r\n" if filename is not None else ""
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{kind}\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _token(client: FlaskClient, story_id: str) -> str:
    page = client.get(f"/my/stories/{story_id}").get_data(as_text=True)
    match = TOKEN.search(page)
    assert match is not None
    return match.group(1)


def _post(client: FlaskClient, story_id: str, *parts: tuple[str, bytes, str | None]) -> Any:
    body, content_type = _multipart(*parts)
    return client.post(f"/my/stories/{story_id}/recording", data=body, content_type=content_type)


WORLD_RECORDINGS = 3  # the world's sealed story's, its released story's and that one's muted copy


def _media(app: Flask) -> dict[str, bytes]:
    folder = app.config["ESCROW_CONFIG"].media_root
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def _recordings(app: Flask) -> int:
    with app.app_context():
        count = database.db.session.scalar(select(func.count(Recording.id))) or 0
        database.db.session.remove()
    return count


def _opens(app: Flask) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        found = [(e.actor, e.story_id, e.detail) for e in audit.entries(database.db.session())
                 if e.action == "recording.open"]
        database.db.session.remove()
    return found


def _token_free(body: bytes) -> bytes:
    """A page with its CSRF token values blanked (signed with the current second)."""
    return re.sub(rb'(csrf_token" type="hidden" value=")[^"]+"', rb'\1"', body)


@dataclasses.dataclass
class Spool:
    """The temporary folder of the test, and every temporary file anything asked for."""

    folder: Path
    made: list[str]


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spool:
    """TMPDIR and tempfile's folder pointed at an empty folder, and tempfile's makers watched:
    Werkzeug's spooled uploads unlink their file at once, so an empty folder alone proves little."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    made: list[str] = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
        real = getattr(tempfile, name)

        def watched(*args: Any, _real: Callable[..., Any] = real, _name: str = name, **kwargs: Any) -> Any:
            made.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, watched)
    return Spool(folder, made)


@pytest.fixture
def organizer(client: FlaskClient, world: World) -> FlaskClient:
    sign_in(client, world.user_ids["organizer"])
    return client


def _download(client: FlaskClient, story_id: str, recording_id: str, **headers: str) -> Any:
    return client.get(f"/my/stories/{story_id}/recordings/{recording_id}", headers=headers)


# -- upload -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["WAV", "FLAC"])
def test_an_upload_is_sealed_as_it_arrives_and_no_plaintext_reaches_the_disk(
        web_app: Flask, organizer: FlaskClient, world: World, spool: Spool, kind: str) -> None:
    original = _tone(kind, seconds=80 if kind == "WAV" else 20)  # the WAV: 2.5 MB, past the app's 2 MB
    before = _media(web_app)

    # The body is built here, in memory: the test client's own encoder spools a large one to a
    # temporary file of its own, on the sending side.
    response = _post(organizer, world.sealed_id, ("csrf_token", _token(organizer, world.sealed_id).encode(), None),
                     ("recording", original, f"interview.{kind.lower()}"))

    assert response.status_code == 302 and response.headers["Location"].endswith(f"/my/stories/{world.sealed_id}")
    assert list(spool.folder.iterdir()) == [] and spool.made == []  # nothing spooled on the way
    [name] = set(_media(web_app)) - set(before)
    stored = _media(web_app)[name]
    assert not any(magic in stored for magic in MAGIC)
    for at in range(0, len(original) - 32, len(original) // 7):
        assert original[at : at + 32] not in stored  # no run of the recording
    recording_id = name.removesuffix(".sealed")
    page = organizer.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    assert f"Recording {recording_id} (audio/{kind.lower()}, {len(original):,} bytes) is sealed" in page
    assert (f'<audio controls preload="none" src="/my/stories/{world.sealed_id}/recordings/{recording_id}">'
            in page)
    assert _download(organizer, world.sealed_id, recording_id).get_data() == original


def test_a_form_encoded_as_a_browser_does_is_sealed(web_app: Flask, organizer: FlaskClient, world: World,
                                                    spool: Spool) -> None:
    # Werkzeug's test client, like a browser, sends the form's fields in order: the token first.
    flac = _tone("FLAC", 1)

    response = organizer.post(f"/my/stories/{world.sealed_id}/recording",
                              data={"csrf_token": _token(organizer, world.sealed_id),
                                    "recording": (io.BytesIO(flac), "interview.flac", "audio/flac")})

    assert response.status_code == 302 and _recordings(web_app) == WORLD_RECORDINGS + 1
    assert list(spool.folder.iterdir()) == [] and spool.made == []


def test_the_spool_watch_would_catch_an_upload_parsed_into_request_files(spool: Spool) -> None:
    body, content_type = _multipart(("csrf_token", b"t", None), ("recording", _tone("WAV", 20), "a.wav"))
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()

    stream, _, files = parse_form_data(environ)
    files["recording"].close()
    stream.close()

    assert spool.made != []  # what the view must never do


def test_the_upload_form_sends_the_token_before_the_file_and_works_without_javascript(
        organizer: FlaskClient, world: World) -> None:
    page = organizer.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    form = page[page.index(f'action="/my/stories/{world.sealed_id}/recording"') - 60:]
    form = form[: form.index("</form>")]

    assert 'enctype="multipart/form-data"' in form and 'method="post"' in form and "onsubmit" not in form
    assert form.index('name="csrf_token"') < form.index('<input type="file" id="recording" name="recording" '
                                                         'accept="audio/*"')


def test_the_story_page_lets_its_players_load_media_from_the_archive_only(organizer: FlaskClient,
                                                                          world: World) -> None:
    response = organizer.get(f"/my/stories/{world.sealed_id}")

    policy = response.headers["Content-Security-Policy"]
    assert "media-src 'self'" in policy and "default-src 'none'" in policy
    assert (f'<audio controls preload="none" src="/my/stories/{world.sealed_id}/recordings/{world.recording_id}">'
            in response.get_data(as_text=True))


def _refused(web_app: Flask, response: Any, before: dict[str, bytes], status: int, message: str) -> None:
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert _media(web_app) == before and _recordings(web_app) == WORLD_RECORDINGS  # the world's own recordings only


def test_what_is_not_audio_is_refused_and_nothing_is_kept(web_app: Flask, organizer: FlaskClient,
                                                         world: World, spool: Spool) -> None:
    before = _media(web_app)

    response = _post(organizer, world.sealed_id, ("csrf_token", _token(organizer, world.sealed_id).encode(), None),
                     ("recording", NOT_AUDIO, "notes.wav"))

    _refused(web_app, response, before, 400,
             "not a recording in WAV, FLAC, Ogg (Vorbis, Opus) or MP3: nothing was kept")
    assert list(spool.folder.iterdir()) == [] and spool.made == []


def test_no_file_chosen_is_refused(web_app: Flask, organizer: FlaskClient, world: World) -> None:
    before = _media(web_app)

    response = _post(organizer, world.sealed_id, ("csrf_token", _token(organizer, world.sealed_id).encode(), None),
                     ("recording", b"", ""))

    _refused(web_app, response, before, 400, "Choose a recording to attach")


@pytest.fixture
def small_limit(web_app: Flask) -> int:
    """The app's Config with a 64 KiB recording limit (the app reads it per request)."""
    config = web_app.config["ESCROW_CONFIG"]
    web_app.config["ESCROW_CONFIG"] = dataclasses.replace(config, max_recording=64 * 1024)
    return 64 * 1024


@pytest.mark.parametrize("seconds", [3, 30], ids=["over-the-limit-as-it-arrives", "declared-too-long"])
def test_a_recording_over_the_limit_is_refused_and_nothing_is_kept(
        web_app: Flask, organizer: FlaskClient, world: World, small_limit: int, spool: Spool,
        seconds: int) -> None:
    # 3 s: 96 KB, past the limit but within the framing allowance, refused by the service as it
    # arrives; 30 s: 960 KB, refused from the declared length before a byte is read.
    wav = _tone("WAV", seconds)
    assert len(wav) > small_limit
    before = _media(web_app)

    response = _post(organizer, world.sealed_id, ("csrf_token", _token(organizer, world.sealed_id).encode(), None),
                     ("recording", wav, "long.wav"))

    _refused(web_app, response, before, 413, "The recording is larger than the archive accepts")
    assert "nothing was kept" in response.get_data(as_text=True)
    assert list(spool.folder.iterdir()) == [] and spool.made == []


@pytest.mark.parametrize("parts", [
    lambda token, wav: [("recording", wav, "a.wav")],
    lambda token, wav: [("csrf_token", b"not-the-token", None), ("recording", wav, "a.wav")],
    lambda token, wav: [("recording", wav, "a.wav"), ("csrf_token", token, None)],
    lambda token, wav: [("notes", b"x", None), ("csrf_token", token, None), ("recording", wav, "a.wav")],
], ids=["missing", "forged", "after-the-file", "not-first"])
def test_an_upload_without_a_valid_token_before_the_file_is_refused_and_nothing_is_kept(
        web_app: Flask, organizer: FlaskClient, world: World, parts: Callable[[bytes, bytes], list[Any]]) -> None:
    token = _token(organizer, world.sealed_id).encode()
    before = _media(web_app)

    response = _post(organizer, world.sealed_id, *parts(token, tiny_wav()))

    _refused(web_app, response, before, 400, "The form had expired or came from elsewhere")


def test_a_token_of_another_session_is_refused(web_app: Flask, client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["other_organizer"])
    theirs = client.get("/submit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', theirs)
    assert token is not None
    sign_in(client, world.user_ids["organizer"])
    with client.session_transaction() as session:
        session.pop("csrf_token", None)  # a fresh session: the other one's token is not for it
    before = _media(web_app)

    response = _post(client, world.sealed_id, ("csrf_token", token.group(1).encode(), None),
                     ("recording", tiny_wav(), "a.wav"))

    _refused(web_app, response, before, 400, "The form had expired or came from elsewhere")


def test_an_upload_to_a_withdrawn_story_is_refused_and_nothing_is_kept(web_app: Flask, client: FlaskClient,
                                                                       world: World) -> None:
    _withdraw(client, world)
    sign_in(client, world.user_ids["organizer"])
    match = TOKEN.search(client.get("/submit").get_data(as_text=True))  # the story page has no form now
    assert match is not None
    token = match.group(1).encode()
    before = _media(web_app)

    response = _post(client, world.sealed_id, ("csrf_token", token, None), ("recording", tiny_wav(), "a.wav"))

    assert response.status_code == 400 and "The story is withdrawn" in response.get_data(as_text=True)
    # The sealed story's recording went with its key; the released story's stays.
    assert _media(web_app) == before and len(before) == WORLD_RECORDINGS - 1
    assert _recordings(web_app) == WORLD_RECORDINGS  # its row stays, keyless, as withdrawal leaves it


@pytest.mark.parametrize("visitor", ["other_organizer", "admin"])
def test_an_upload_to_someone_elses_story_is_the_unknown_id_404(web_app: Flask, client: FlaskClient,
                                                                world: World, visitor: str) -> None:
    sign_in(client, world.user_ids[visitor])
    web_app.config["WTF_CSRF_ENABLED"] = False  # so that only whose story it is can refuse it
    before = _media(web_app)

    theirs = _post(client, world.sealed_id, ("csrf_token", b"", None), ("recording", tiny_wav(), "a.wav"))
    unknown = _post(client, "no-such-story", ("csrf_token", b"", None), ("recording", tiny_wav(), "a.wav"))

    assert theirs.status_code == unknown.status_code == 404
    assert _token_free(theirs.get_data()) == _token_free(unknown.get_data())
    assert _media(web_app) == before and _recordings(web_app) == WORLD_RECORDINGS


# -- listening ----------------------------------------------------------------------------------

def test_the_organizer_hears_their_recording_whole_with_the_right_headers(organizer: FlaskClient,
                                                                          world: World) -> None:
    response = _download(organizer, world.sealed_id, world.recording_id)

    assert response.is_streamed  # a generator, chunk by chunk, never the whole file at once
    assert response.status_code == 200 and response.get_data() == tiny_wav()
    assert response.headers["Content-Type"] == "audio/wav"
    assert response.headers["Content-Length"] == str(len(tiny_wav()))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Accel-Buffering"] == "no"  # no proxy spools it to disk in the clear
    assert response.headers["Content-Disposition"] == "inline"
    assert "Content-Range" not in response.headers


LENGTH = len(tiny_wav())


@pytest.mark.parametrize("header, status, start, end", [
    ("bytes=0-0", 206, 0, 1),
    ("bytes=10-99", 206, 10, 100),
    ("bytes=100-", 206, 100, LENGTH),
    ("bytes=-10", 206, LENGTH - 10, LENGTH),
    ("bytes=-100000", 206, 0, LENGTH),  # a suffix longer than the recording is all of it (RFC 9110)
    ("bytes=10-100000", 206, 10, LENGTH),  # an end past the last byte is the last byte
    (f"bytes={LENGTH - 1}-", 206, LENGTH - 1, LENGTH),
    (f"bytes={LENGTH}-", 416, 0, 0),
    (f"bytes={LENGTH}-{LENGTH + 5}", 416, 0, 0),
    ("bytes=0-1,5-9", 200, 0, LENGTH),  # several ranges: the whole recording
    ("bytes=0-1,4-5", 200, 0, LENGTH),
    ("bytes=-0,0-5", 200, 0, LENGTH),
    ("bytes=9-5", 200, 0, LENGTH),  # malformed: ignored
    ("bytes=-0", 416, 0, 0),  # a suffix of no bytes: unsatisfiable (RFC 9110), not the whole file
    ("bytes=-000", 416, 0, 0),
    ("Bytes = -0", 416, 0, 0),  # the unit is case-insensitive
    ("pages=1-2", 200, 0, LENGTH),  # another unit: ignored
    (f"bytes={10**30}-", 416, 0, 0),  # huge numbers: a clean answer, never a 500
    (f"bytes={10**30}-{10**31}", 416, 0, 0),
    (f"bytes=0-{10**30}", 206, 0, LENGTH),
    (f"bytes=-{10**30}", 206, 0, LENGTH),
    ("bytes=0-" + "9" * 5000, 200, 0, LENGTH),  # past Python's digits for int(): malformed, ignored
    ("bytes=-" + "9" * 5000, 200, 0, LENGTH),
])
def test_a_range_is_served_as_the_same_slice_of_the_whole(organizer: FlaskClient, world: World, header: str,
                                                          status: int, start: int, end: int) -> None:
    response = _download(organizer, world.sealed_id, world.recording_id, Range=header)

    assert response.status_code == status
    if status == 416:
        assert response.headers["Content-Range"] == f"bytes */{LENGTH}" and response.get_data() == b""
        return
    assert response.get_data() == tiny_wav()[start:end]
    assert response.headers["Content-Length"] == str(end - start)
    assert response.headers.get("Content-Range") == (f"bytes {start}-{end - 1}/{LENGTH}" if status == 206 else None)


def test_an_if_range_is_answered_with_the_whole_recording(organizer: FlaskClient, world: World) -> None:
    response = _download(organizer, world.sealed_id, world.recording_id, Range="bytes=0-9", **{"If-Range": '"x"'})

    assert response.status_code == 200 and response.get_data() == tiny_wav()


def _expected(kind: str, a: int, b: int, length: int) -> tuple[int, int, int]:
    """What RFC 9110 (as Werkzeug parses it) asks for: status, and the slice."""
    if kind == "closed":
        if a > b:
            return 200, 0, length  # malformed, ignored
        return (416, 0, 0) if a >= length else (206, a, min(b + 1, length))
    if kind == "open":
        return (416, 0, 0) if a >= length else (206, a, length)
    if a == 0 or length == 0:
        return 416, 0, 0  # `-0`, or any suffix of nothing: unsatisfiable
    return 206, max(0, length - a), length


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["closed", "open", "suffix"]), a=st.integers(0, LENGTH + 40),
       b=st.integers(0, LENGTH + 40))
def test_every_range_is_the_same_bytes_as_that_slice_of_the_whole(organizer: FlaskClient, world: World,
                                                                  kind: str, a: int, b: int) -> None:
    header = {"closed": f"bytes={a}-{b}", "open": f"bytes={a}-", "suffix": f"bytes=-{a}"}[kind]
    status, start, end = _expected(kind, a, b, LENGTH)

    response = _download(organizer, world.sealed_id, world.recording_id, Range=header)

    assert response.status_code == status, header
    if status == 416:
        assert response.headers["Content-Range"] == f"bytes */{LENGTH}"
    else:
        assert response.get_data() == tiny_wav()[start:end], header
        assert response.headers["Content-Length"] == str(end - start)


def test_ranges_across_chunks_of_a_large_recording_are_slices_of_the_whole(
        web_app: Flask, organizer: FlaskClient, world: World) -> None:
    original = _tone("WAV", 80)  # 2.5 MB: three 1 MiB chunks
    _post(organizer, world.sealed_id, ("csrf_token", _token(organizer, world.sealed_id).encode(), None),
          ("recording", original, "long.wav"))
    with web_app.app_context():
        recording_id = database.db.session.scalar(select(Recording.id).where(Recording.size == len(original)))
        database.db.session.remove()
    assert recording_id is not None
    whole = _download(organizer, world.sealed_id, recording_id).get_data()
    mib = 1 << 20

    assert whole == original
    for header, start, end in [(f"bytes={mib - 5}-{mib + 4}", mib - 5, mib + 5), (f"bytes={mib}-", mib, len(original)),
                               ("bytes=-70000", len(original) - 70000, len(original)),
                               (f"bytes=1-{2 * mib + 1}", 1, 2 * mib + 2)]:
        response = _download(organizer, world.sealed_id, recording_id, Range=header)
        assert response.status_code == 206 and response.get_data() == whole[start:end], header


def _withdraw(client: FlaskClient, world: World) -> None:
    sign_in(client, world.user_ids["admin"])
    page = client.get(f"/admin/stories/{world.sealed_id}").get_data(as_text=True)
    tokens = dict(re.findall(r'name="((?:[\w]+-)?csrf_token)" type="hidden" value="([^"]+)"', page))
    response = client.post(f"/admin/stories/{world.sealed_id}/withdraw",
                           data={"withdraw-csrf_token": tokens["withdraw-csrf_token"],
                                 "withdraw-reason": "consent withdrawn"}, follow_redirects=True)
    assert response.status_code == 200 and "withdrawn" in response.get_data(as_text=True)  # the flash read


def test_every_recording_but_ones_own_is_the_same_404_as_an_unknown_id(web_app: Flask, client: FlaskClient,
                                                                       world: World) -> None:
    sign_in(client, world.user_ids["organizer"])
    unknown = _download(client, world.sealed_id, "no-such-recording")
    of_another_story = _download(client, world.released_id, world.recording_id)
    unknown_story = _download(client, "no-such-story", world.recording_id)
    sign_in(client, world.user_ids["other_organizer"])
    theirs_unknown = _download(client, world.sealed_id, "no-such-recording")
    not_theirs = _download(client, world.sealed_id, world.recording_id)
    sign_in(client, world.user_ids["admin"])
    admin_unknown = _download(client, world.sealed_id, "no-such-recording")
    not_the_admins = _download(client, world.sealed_id, world.recording_id)
    _withdraw(client, world)
    sign_in(client, world.user_ids["organizer"])
    withdrawn = _download(client, world.sealed_id, world.recording_id)

    assert {r.status_code for r in (unknown, of_another_story, unknown_story, withdrawn, theirs_unknown,
                                    not_theirs, admin_unknown, not_the_admins)} == {404}
    mine = _token_free(unknown.get_data())
    assert _token_free(of_another_story.get_data()) == _token_free(unknown_story.get_data()) == mine
    assert _token_free(withdrawn.get_data()) == mine
    assert _token_free(not_theirs.get_data()) == _token_free(theirs_unknown.get_data())
    assert _token_free(not_the_admins.get_data()) == _token_free(admin_unknown.get_data())
    assert _opens(web_app) == []  # no bytes served, nothing audited
    page = client.get(f"/my/stories/{world.sealed_id}").get_data(as_text=True)
    assert "<audio" not in page and 'enctype="multipart/form-data"' not in page


def test_a_recording_being_heard_when_its_story_is_withdrawn_stops_there(web_app: Flask, client: FlaskClient,
                                                                        world: World) -> None:
    """The answer had opened the file; the withdrawal removes it: no chunk after that is sent."""
    sign_in(client, world.user_ids["organizer"])
    audio = _tone("WAV", 100.0)  # 3.2 MB: four chunks of 1 MiB
    token = _token(client, world.sealed_id).encode()
    assert _post(client, world.sealed_id, ("csrf_token", token, None), ("recording", audio, "a.wav")).status_code == 302
    with web_app.app_context():
        recording_id = database.db.session.scalars(select(Recording.id).where(
            Recording.story_id == world.sealed_id, Recording.size == len(audio))).one()
        database.db.session.remove()
    listening = client.get(f"/my/stories/{world.sealed_id}/recordings/{recording_id}", buffered=False)
    pieces = iter(listening.response)
    first = next(pieces)

    _withdraw(web_app.test_client(), world)
    rest = b"".join(pieces)
    listening.close()

    assert listening.status_code == 200 and first == audio[: len(first)] and len(first) <= 1 << 20
    assert rest == b""


def test_a_tampered_recording_is_refused_before_a_byte_is_sent(web_app: Flask, organizer: FlaskClient,
                                                               world: World) -> None:
    file = web_app.config["ESCROW_CONFIG"].media_root / f"{world.recording_id}.sealed"
    data = bytearray(file.read_bytes())
    data[200] ^= 1
    file.write_bytes(bytes(data))

    response = _download(organizer, world.sealed_id, world.recording_id)

    assert response.status_code == 503 and b"RIFF" not in response.get_data()
    assert _opens(web_app) == []


# -- audit --------------------------------------------------------------------------------------

def test_reads_are_audited_once_a_minute_per_account_and_recording(web_app: Flask, organizer: FlaskClient,
                                                                    world: World,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first = _download(organizer, world.sealed_id, world.recording_id, Range="bytes=0-99")
    second = _download(organizer, world.sealed_id, world.recording_id, Range="bytes=100-")
    unsatisfiable = _download(organizer, world.sealed_id, world.recording_id, Range=f"bytes={LENGTH}-")
    head = organizer.head(f"/my/stories/{world.sealed_id}/recordings/{world.recording_id}")

    assert (first.status_code, second.status_code, unsatisfiable.status_code, head.status_code) == (206, 206, 416, 200)
    assert head.headers["Content-Length"] == str(LENGTH)
    [(actor, story_id, detail)] = _opens(web_app)
    assert actor == "org@example.org" and story_id == world.sealed_id
    assert detail == f'{{"range": "0-99", "recording": "{world.recording_id}"}}'

    later = times.utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(archive.services.recordings, "utcnow", lambda: later)
    monkeypatch.setattr(archive.audit, "utcnow", lambda: later)
    _download(organizer, world.sealed_id, world.recording_id).close()

    [_, (_, _, detail)] = _opens(web_app)
    assert detail == f'{{"range": "0-{LENGTH - 1}", "recording": "{world.recording_id}"}}'


# -- the reading room ----------------------------------------------------------------------------

def test_the_reading_room_plays_the_released_recording_with_ranges_and_its_captions(client: FlaskClient,
                                                                                    world: World) -> None:
    with client.get(f"/stories/{world.released_id}") as page:
        html = page.get_data(as_text=True)
    with client.get(f"/stories/{world.released_id}/recording") as whole:
        body = whole.get_data()
    with client.get(f"/stories/{world.released_id}/recording", headers={"Range": "bytes=10-99"}) as part:
        piece = part.get_data()
    with client.get(f"/stories/{world.released_id}/captions.vtt") as captions:
        vtt = captions.get_data(as_text=True)

    assert f'src="/stories/{world.released_id}/recording"' in html and "<track kind=\"captions\"" in html
    assert "media-src 'self'" in page.headers["Content-Security-Policy"]
    assert whole.status_code == 200 and whole.headers["Cache-Control"] == "no-store"
    assert body[:4] == b"RIFF" and len(body) == len(tiny_wav())  # the muted copy: the same frames as WAV
    assert part.status_code == 206 and piece == body[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(body)}"
    assert captions.mimetype == "text/vtt" and "with the housekeeper." in vtt and "Maria" not in vtt


def test_a_story_that_releases_no_recording_is_the_same_404_as_an_unknown_one(client: FlaskClient,
                                                                               world: World) -> None:
    def answer(path: str) -> tuple[int, bytes]:
        with client.get(path) as response:
            return response.status_code, response.get_data()

    unknown = answer("/stories/nosuchstory/recording")

    assert answer(f"/stories/{world.sealed_id}/recording") == unknown
    assert answer(f"/stories/{world.sealed_id}/captions.vtt") == unknown
    assert answer("/stories/nosuchstory/captions.vtt") == unknown and unknown[0] == 404
