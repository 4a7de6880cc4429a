"""Recordings sealed at rest: attached through the command line, read and encrypted chunk by
chunk, checked as audio through the seal, re-wrapped by rotation, destroyed by withdrawal."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from archive import services
from archive.config import Config
from archive.errors import Conflict
from archive.services import Archive
from archive.services import recordings as recordings_service
from archive.vault import keys, media
from archive.vault.keys import Keyring
from archive.vault.models import Recording
from archive.vault.recordings import Reader, data_key
from tests.helpers import add_users, archive_app, connect, escrow, one, sql, story, write_lines
from tests.processes import finish, started

ORG, OTHER, ADMIN = "org@example.org", "other@example.org", "admin@example.org"
# The containers' four-byte signatures: random ciphertext of these sizes holds one by chance about
# once in 10^5 files (ID3's three bytes far more often, and no WAV or FLAC holds it anyway).
MAGIC = (b"RIFF", b"fLaC", b"OggS")


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (OTHER, "organizer"), (ADMIN, "admin"))


def _story(home: Path, tmp_path: Path, **fields: object) -> str:
    file = write_lines(tmp_path / f"s{len(list(tmp_path.glob('s*.jsonl')))}.jsonl", story(**fields))
    assert escrow(home, "stories", "import", str(file), "--as", ORG).exit_code == 0
    return str(one(home, "SELECT story_id FROM audit_log WHERE action = 'story.import' ORDER BY seq DESC LIMIT 1"))


def _tone(path: Path, kind: str, seconds: float = 2.0, rate: int = 16_000) -> bytes:
    """A 440 Hz tone with a little noise (so no two windows repeat), written as WAV or FLAC."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(7).normal(0, 0.01, t.size)
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 440 * t) + noise, rate, format=kind, subtype="PCM_16")
    return path.read_bytes()


def _sealed_files(home: Path) -> list[Path]:
    folder = home / "media"
    return sorted(folder.iterdir()) if folder.exists() else []


def _opened(home: Path, recording_id: str) -> bytes:
    """The recording decrypted through the archive's own reader, as libsndfile would read it."""
    config = Config.for_home(home, database_url=os.environ.get("DATABASE_URL") or None)
    with connect(home) as conn:
        row = conn.execute(Recording.__table__.select().where(Recording.id == recording_id)).one()
    recording = Recording(**row._mapping)
    ring = keys.load(config)
    with (home / "media" / f"{recording_id}.sealed").open("rb") as source:
        binding = media.Binding(recording.story_id, recording.id, recording.rendition)
        return Reader(data_key(ring, recording), binding, source).read()


@pytest.mark.parametrize("kind", ["WAV", "FLAC"])
def test_a_recording_is_sealed_as_it_is_read_and_opens_to_the_same_bytes(home: Path, tmp_path: Path,
                                                                          kind: str) -> None:
    story_id = _story(home, tmp_path)
    original = _tone(tmp_path / f"interview.{kind.lower()}", kind)
    spool = tmp_path / "spool"
    spool.mkdir()

    result = escrow(home, "stories", "attach", story_id, str(tmp_path / f"interview.{kind.lower()}"), "--as", ORG,
                    env={"TMPDIR": str(spool)})

    assert result.exit_code == 0, result.output
    [(recording_id, media_type, size)] = sql(home, "SELECT id, media_type, size FROM recordings")
    assert media_type == {"WAV": "audio/wav", "FLAC": "audio/flac"}[kind] and size == len(original)
    assert recording_id in result.output and "bytes" in result.output
    [sealed] = _sealed_files(home)
    assert sealed.name == f"{recording_id}.sealed" and oct(sealed.stat().st_mode & 0o777) == "0o600"
    stored = sealed.read_bytes()
    assert not any(magic in stored for magic in MAGIC)
    middle = len(original) // 2
    assert original[middle : middle + 32] not in stored  # no run of the recording's bytes
    assert list(spool.iterdir()) == []  # nothing spooled to a temporary file on the way
    assert _opened(home, recording_id) == original
    audited = sql(home, "SELECT actor, story_id FROM audit_log WHERE action = 'recording.attach'")
    assert audited == [(ORG, story_id)]


@pytest.mark.parametrize("content, message", [
    (b"I am a transcript, not a recording.\n" * 100, "not a recording in WAV, FLAC, Ogg (Vorbis, Opus) or MP3"),
    (b"", "not a recording"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "not a recording"),
])
def test_what_is_not_audio_is_refused_and_nothing_is_kept(home: Path, tmp_path: Path, content: bytes,
                                                         message: str) -> None:
    story_id = _story(home, tmp_path)
    file = tmp_path / "upload.wav"
    file.write_bytes(content)

    result = escrow(home, "stories", "attach", story_id, str(file), "--as", ORG)

    assert result.exit_code == 1 and message in result.output and "nothing was kept" in result.output
    assert result.output.count("\n") == 1
    assert _sealed_files(home) == [] or all(not p.is_file() for p in _sealed_files(home))
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    assert sql(home, "SELECT count(*) FROM audit_log WHERE action = 'recording.attach'") == [(0,)]


def test_a_recording_over_the_limit_is_refused_as_it_arrives(home: Path, tmp_path: Path) -> None:
    story_id = _story(home, tmp_path)
    _tone(tmp_path / "long.wav", "WAV", seconds=40)  # 1.28 MB at 16 kHz, 16 bits

    result = escrow(home, "stories", "attach", story_id, str(tmp_path / "long.wav"), "--as", ORG,
                    env={"ESCROW_MAX_RECORDING_MB": "1"})

    assert result.exit_code == 1 and "larger than the archive accepts (1 MiB)" in result.output
    assert [p for p in _sealed_files(home) if p.is_file()] == []
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    bad = escrow(home, "stories", "list", env={"ESCROW_MAX_RECORDING_MB": "two gigabytes"})
    assert bad.exit_code == 1 and "ESCROW_MAX_RECORDING_MB must be a whole number" in bad.output


def test_only_the_storys_organizer_or_an_admin_attaches_and_never_to_a_withdrawn_story(
        home: Path, tmp_path: Path) -> None:
    story_id = _story(home, tmp_path)
    _tone(tmp_path / "a.wav", "WAV", seconds=0.5)

    others = escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", OTHER)
    unknown = escrow(home, "stories", "attach", "nosuchstory", str(tmp_path / "a.wav"), "--as", ORG)
    admin = escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ADMIN)
    assert escrow(home, "stories", "withdraw", story_id, "--reason", "consent", "--as", ADMIN).exit_code == 0
    late = escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG)

    assert others.exit_code == unknown.exit_code == 1 and "no story" in others.output and "no story" in unknown.output
    assert admin.exit_code == 0, admin.output
    assert late.exit_code == 1 and "withdrawn" in late.output
    assert sql(home, "SELECT count(*) FROM recordings") == [(1,)]


def test_withdrawal_destroys_the_recordings_keys_and_removes_their_files(home: Path, tmp_path: Path) -> None:
    story_id, kept_id = _story(home, tmp_path), _story(home, tmp_path)
    _tone(tmp_path / "a.flac", "FLAC", seconds=0.5)
    for target in (story_id, kept_id):
        assert escrow(home, "stories", "attach", target, str(tmp_path / "a.flac"), "--as", ORG).exit_code == 0

    assert escrow(home, "stories", "withdraw", story_id, "--reason", "consent", "--as", ADMIN).exit_code == 0

    rows = dict(sql(home, "SELECT story_id, wrapped_key FROM recordings"))
    assert rows[story_id] is None and rows[kept_id] is not None
    [kept_file] = [p for p in _sealed_files(home) if p.is_file()]
    kept_recording = one(home, "SELECT id FROM recordings WHERE story_id = :s", s=kept_id)
    assert kept_file.name == f"{kept_recording}.sealed"
    assert one(home, "SELECT detail FROM audit_log WHERE action = 'story.withdraw'").count('"recordings": 1') == 1


def test_rotation_rewraps_recording_keys_and_the_old_master_key_leaves(home: Path, tmp_path: Path) -> None:
    story_id = _story(home, tmp_path)
    original = _tone(tmp_path / "a.wav", "WAV", seconds=0.5)
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    recording_id = str(one(home, "SELECT id FROM recordings"))

    rotated = escrow(home, "keys", "rotate")

    assert rotated.exit_code == 0, rotated.output
    assert one(home, "SELECT kek_version FROM recordings") == 2
    assert "kek1:" not in (home / "master.key").read_text() and "kek2:" in (home / "master.key").read_text()
    assert _opened(home, recording_id) == original


def test_a_flipped_bit_in_a_sealed_recording_refuses_to_open(home: Path, tmp_path: Path) -> None:
    story_id = _story(home, tmp_path)
    _tone(tmp_path / "a.wav", "WAV", seconds=0.5)
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    [sealed] = _sealed_files(home)
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x01
    sealed.write_bytes(bytes(data))

    with pytest.raises(media.RecordingTampered):
        _opened(home, str(one(home, "SELECT id FROM recordings")))


@given(data=st.binary(max_size=600), chunk=st.integers(1, 64),
       reads=st.lists(st.tuples(st.integers(0, 700), st.integers(0, 200)), max_size=12))
def test_the_reader_returns_what_any_seek_and_read_of_the_plaintext_would(
        data: bytes, chunk: int, reads: list[tuple[int, int]]) -> None:
    key, binding = bytes(32), media.Binding("story", "recording", "original")
    sealed = io.BytesIO()
    media.encrypt_stream(key, binding, [data], sealed, chunk_size=chunk)
    reader, plain = Reader(key, binding, sealed), io.BytesIO(data)

    for position, size in reads:
        reader.seek(position)
        plain.seek(position)
        assert reader.read(size) == plain.read(size)
    reader.seek(0)
    assert reader.read() == data


@pytest.mark.parametrize("level, choice, refused", [
    ("full", "full", None), ("full", "muted", None), ("redacted", "muted", None), ("summary", None, None),
    ("redacted", "full", "released in full only with a story released in full"),
    ("pseudonymized", "full", "released in full only"),
    ("summary", "muted", "a story released as a summary releases no recording"),
    ("full", "loud", "unknown recording_release: use none, muted, full"),
])
def test_what_of_a_recording_is_released_is_checked_against_the_level(
        home: Path, tmp_path: Path, level: str, choice: str | None, refused: str | None) -> None:
    fields: dict[str, object] = {"redaction_level": level, "summary": "A strike."}
    if choice is not None:
        fields["recording_release"] = choice
    file = write_lines(tmp_path / "s.jsonl", story(**fields))

    result = escrow(home, "stories", "import", str(file), "--as", ORG)

    if refused is None:
        assert result.exit_code == 0, result.output
        assert one(home, "SELECT recording_release FROM stories") == (choice or "none")
    else:
        assert result.exit_code == 1 and refused in result.output and "recording_release" in result.output
        assert sql(home, "SELECT count(*) FROM stories") == [(0,)]


def test_an_import_seals_each_lines_recording_from_a_path_beside_the_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    original = _tone(tmp_path / "audio" / "one.flac", "FLAC", seconds=0.5)
    lines = write_lines(tmp_path / "batch.jsonl", {**story(), "recording": "audio/one.flac"}, story())

    result = escrow(home, "stories", "import", str(lines), "--as", ORG)

    assert result.exit_code == 0, result.output
    [(recording_id, media_type)] = sql(home, "SELECT id, media_type FROM recordings")
    assert media_type == "audio/flac" and _opened(home, recording_id) == original
    assert sql(home, "SELECT count(*) FROM audit_log WHERE action = 'recording.attach'") == [(1,)]


@pytest.mark.parametrize("recording, message", [
    ("audio/missing.wav", "recording: there is no audio file at that path in the JSON Lines file's folder"),
    ("../outside.wav", "recording: there is no audio file at that path in the JSON Lines file's folder"),
    ("link.wav", "recording: there is no audio file at that path in the JSON Lines file's folder"),
    ("/etc/hostname", "a path relative to the JSON Lines file, not an absolute one"),
    (42, "recording must be the path of an audio file"),
    ("notes.txt", "the recording of story 2: the file is not a recording"),
])
def test_an_import_with_a_bad_recording_seals_nothing(home: Path, tmp_path: Path, recording: object,
                                                     message: str) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    _tone(batch / "good.wav", "WAV", seconds=0.2)
    _tone(tmp_path / "outside.wav", "WAV", seconds=0.2)  # real audio, but beside the folder, not in it
    (batch / "notes.txt").write_text("not audio at all, only words\n" * 50)
    (batch / "link.wav").symlink_to(tmp_path / "outside.wav")
    lines = write_lines(batch / "batch.jsonl", {**story(), "recording": "good.wav"},
                        {**story(), "recording": recording})

    result = escrow(home, "stories", "import", str(lines), "--as", ORG)

    assert result.exit_code == 1 and message in result.output
    assert sql(home, "SELECT count(*) FROM stories") == [(0,)]
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    assert [p for p in _sealed_files(home) if p.is_file()] == []


def test_a_withdrawal_committed_while_a_recording_arrives_leaves_no_live_recording(
        home: Path, tmp_path: Path) -> None:
    """The admin withdraws the story between two pieces of the upload: the withdrawal runs to its
    end (an upload holds no transaction or lock while it arrives; on PostgreSQL the withdrawal's
    VACUUM of the stories table would otherwise wait for it), and the recording is refused and
    its file removed, rather than kept with a live key on a story whose key is destroyed."""
    story_id = _story(home, tmp_path)
    wav = _tone(tmp_path / "a.wav", "WAV", seconds=1)
    withdrawn: list[tuple[int, str]] = []

    def arriving() -> Iterator[bytes]:
        yield wav[: len(wav) // 2]
        # Another process: the admin's command, run to its end while the upload is arriving.
        with started(home, "stories", "withdraw", story_id, "--reason", "consent", "--as", ADMIN) as admin:
            withdrawn.append(finish(admin))
        yield wav[len(wav) // 2 :]

    with archive_app(home) as app, app.test_request_context():
        archive = services.current()
        organizer = archive.user(ORG)
        with pytest.raises(Conflict, match="was withdrawn while the recording arrived"):
            recordings_service.attach(archive, organizer, story_id, arriving())

    [(code, said)] = withdrawn
    assert code == 0, said
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "withdrawn"
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    assert [p for p in _sealed_files(home) if p.is_file()] == []


@pytest.mark.parametrize("lost", ["before its commit", "as its commit was answered"])
def test_an_attach_that_fails_removes_the_file_only_if_its_recording_was_not_committed(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lost: str) -> None:
    """A commit can fail after the database committed (the connection lost as it answered): the
    file is removed only when the database says the row is not there, or the recording is lost."""
    story_id = _story(home, tmp_path)
    wav = _tone(tmp_path / "a.wav", "WAV", seconds=1)
    real = Archive.sealing

    @contextmanager
    def sealing(self: Archive) -> Iterator[Keyring]:
        with real(self) as ring:
            yield ring
            if lost == "before its commit":
                raise RuntimeError("the server went away")
        raise RuntimeError("the answer to the commit was lost")

    with (archive_app(home) as app, monkeypatch.context() as patched, app.test_request_context(),
          pytest.raises(RuntimeError)):
        patched.setattr(Archive, "sealing", sealing)
        archive = services.current()
        recordings_service.attach(archive, archive.user(ORG), story_id, iter([wav]))

    committed = [str(row[0]) for row in sql(home, "SELECT id FROM recordings")]
    files = [p.name for p in _sealed_files(home) if p.is_file()]
    if lost == "before its commit":
        assert committed == [] and files == []
    else:
        assert files == [f"{committed[0]}.sealed"] and _opened(home, committed[0]) == wav


def _aged(path: Path, data: bytes, days: float) -> Path:
    path.write_bytes(data)
    then = time.time() - days * 86400
    os.utime(path, (then, then))
    return path


def test_verify_reports_media_files_no_recording_needs_and_sweep_removes_them(home: Path, tmp_path: Path) -> None:
    kept_id = _story(home, tmp_path)
    withdrawn_id = _story(home, tmp_path)
    _tone(tmp_path / "a.wav", "WAV")
    for story_id in (kept_id, withdrawn_id):
        assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    kept, destroyed = (str(one(home, "SELECT id FROM recordings WHERE story_id = :s", s=s))
                       for s in (kept_id, withdrawn_id))
    folder = home / "media"
    # A withdrawal that stopped between its commit and removing the file: the key is gone, the file not.
    leftover = (folder / f"{destroyed}.sealed").read_bytes()
    assert escrow(home, "stories", "withdraw", withdrawn_id, "--reason", "consent", "--as", ADMIN).exit_code == 0
    (folder / f"{destroyed}.sealed").write_bytes(leftover)
    orphan = _aged(folder / "orphan0000000001.sealed", os.urandom(4096), days=2)  # a row never committed
    young = _aged(folder / "orphan0000000002.sealed", os.urandom(4096), days=0.5)  # maybe still committing
    interrupted = _aged(folder / ".upload000000001.sealed.partial", os.urandom(4096), days=2)
    arriving = _aged(folder / ".upload000000002.sealed.partial", os.urandom(4096), days=0)

    verified = escrow(home, "index", "verify")

    assert verified.exit_code == 1 and verified.output.count("\n") == 1
    assert f"{orphan.name} in {folder}: a sealed file that no recording refers to" in verified.output
    assert f"{destroyed}.sealed in {folder}: the file of a recording whose key was destroyed" in verified.output
    assert f"{interrupted.name} in {folder}: an upload interrupted more than a day ago" in verified.output
    assert young.name not in verified.output and arriving.name not in verified.output
    assert kept not in verified.output
    assert all(p.exists() for p in (orphan, young, interrupted, arriving))  # verify removes nothing

    swept = escrow(home, "recordings", "sweep")

    assert swept.exit_code == 0 and "swept 3 files" in swept.output, swept.output
    assert sorted(p.name for p in folder.iterdir()) == sorted([arriving.name, young.name, f"{kept}.sealed"])
    assert escrow(home, "index", "verify").exit_code == 0
    assert escrow(home, "recordings", "sweep").output.endswith("swept 0 files\n")
    assert np.array_equal(np.frombuffer(_opened(home, kept), np.uint8),
                          np.frombuffer((tmp_path / "a.wav").read_bytes(), np.uint8))

