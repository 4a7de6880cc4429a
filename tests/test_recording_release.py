"""What the release gate releases of a recording: nothing (the default), the original in full, or a
muted copy silent wherever a cue holds what the story's level hides; taken back with the story."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from archive import services
from archive.release import audio, muting
from archive.services import recordings as recordings_service
from archive.vault import embargo
from tests.helpers import add_users, database_url, escrow, one, sql, story, write_lines
from tests.processes import finish, started
from tests.test_recordings import _opened

ORG, ADMIN = "org@example.org", "admin@example.org"
PAST = "2020-01-01T00:00:00Z"
RATE = 16_000
CAPTIONS = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nThis is [[person:Rosa Canaryname7]] talking.\n\n"
            "00:00:03.000 --> 00:00:04.000\nWe struck in May.\n")


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (ADMIN, "admin"))


def _tone(path: Path, kind: str) -> np.ndarray:
    t = np.arange(5 * RATE) / RATE
    signal = 0.5 * np.sin(2 * np.pi * 440 * t) + np.random.default_rng(3).normal(0, 0.01, t.size)
    soundfile.write(path, signal, RATE, format=kind, subtype="PCM_16")
    return soundfile.read(path, dtype="int16")[0]


def _released(home: Path, tmp_path: Path, kind: str = "WAV", **fields: object) -> tuple[str, np.ndarray]:
    data = story(captions=CAPTIONS, embargo_until=PAST, summary="A strike.", **fields)
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    original = _tone(tmp_path / f"a.{kind.lower()}", kind)
    attached = escrow(home, "stories", "attach", story_id, str(tmp_path / f"a.{kind.lower()}"), "--as", ORG)
    assert attached.exit_code == 0, attached.output
    published = escrow(home, "publish-due")
    assert published.output.startswith("released 1,"), published.output
    return story_id, original


@pytest.mark.parametrize("kind", ["WAV", "FLAC"])
def test_a_muted_copy_is_silent_where_a_hidden_name_is_said_and_unchanged_elsewhere(
        home: Path, tmp_path: Path, kind: str) -> None:
    story_id, original = _released(home, tmp_path, kind, redaction_level="redacted", recording_release="muted")

    released = one(home, "SELECT recording_id FROM released_stories")
    assert one(home, "SELECT rendition FROM recordings WHERE id = :id", id=released) == "muted"
    muted, rate = soundfile.read(io.BytesIO(_opened(home, released)), dtype="int16")
    assert rate == RATE and len(muted) == len(original)
    inside = muted[1 * RATE : 2 * RATE].astype(float) / 32768
    assert np.sqrt(np.mean(inside**2)) < 10 ** (-60 / 20)  # below -60 dBFS (exactly silent)
    fade = int(0.05 * RATE)
    outside = np.r_[0 : RATE - fade, 2 * RATE + fade : len(original)]
    assert np.array_equal(muted[outside], original[outside])  # the plain cue and the rest, bit for bit
    assert "Canaryname7" not in one(home, "SELECT captions FROM released_stories")
    assert one(home, "SELECT count(*) FROM audit_log WHERE action = 'recording.release'") == 1
    assert escrow(home, "index", "verify").exit_code == 0


def _files(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "media").iterdir() if p.is_file())


@pytest.mark.parametrize("door", ["publish-due", "release"])
def test_a_release_that_fails_after_its_muted_copy_was_made_keeps_no_copy(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, door: str) -> None:
    """The copy's row is rolled back with the story's savepoint (or transaction); its file goes
    too, at once, not a day later with `recordings sweep`."""
    data = story(captions=CAPTIONS, embargo_until=PAST, summary="A strike.", redaction_level="redacted",
                 recording_release="muted", release_review=door == "release")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    if door == "release":
        assert escrow(home, "publish-due").exit_code == 0  # now due for review
    attached = _files(home)

    def broken(*args: object, **kwargs: object) -> None:  # after the copy is registered, before the commit
        raise RuntimeError("the release broke after the muted copy was made")

    release = ("publish-due",) if door == "publish-due" else ("stories", "release", story_id, "--as", ADMIN)
    with monkeypatch.context() as patched:
        patched.setattr(embargo, "end_requests", broken)
        failed = escrow(home, *release)

    assert failed.exit_code == 1, failed.output
    assert one(home, "SELECT status FROM stories") in ("sealed", "due_for_review")
    assert sql(home, "SELECT rendition FROM recordings") == [("original",)]
    assert _files(home) == attached and len(attached) == 1
    assert escrow(home, "recordings", "sweep").exit_code == 0 and _files(home) == attached

    again = escrow(home, *release)
    assert again.exit_code == 0, again.output
    assert sorted(r[0] for r in sql(home, "SELECT rendition FROM recordings")) == ["muted", "original"]
    assert len(_files(home)) == 2 and escrow(home, "index", "verify").exit_code == 0


def test_by_default_no_recording_is_released(home: Path, tmp_path: Path) -> None:
    _released(home, tmp_path, redaction_level="redacted")

    assert one(home, "SELECT recording_id FROM released_stories") is None
    assert sql(home, "SELECT rendition FROM recordings") == [("original",)]


def test_full_releases_the_original_itself(home: Path, tmp_path: Path) -> None:
    _, original = _released(home, tmp_path, redaction_level="full", recording_release="full")

    released = one(home, "SELECT recording_id FROM released_stories")
    assert one(home, "SELECT rendition FROM recordings WHERE id = :id", id=released) == "original"
    assert np.array_equal(soundfile.read(io.BytesIO(_opened(home, released)), dtype="int16")[0], original)


@pytest.mark.parametrize("command", ["takedown", "withdraw"])
def test_a_takedown_or_withdrawal_removes_the_muted_copy(home: Path, tmp_path: Path, command: str) -> None:
    story_id, _ = _released(home, tmp_path, redaction_level="pseudonymized", recording_release="muted")
    muted = str(one(home, "SELECT recording_id FROM released_stories"))
    assert (home / "media" / f"{muted}.sealed").is_file()

    assert escrow(home, "stories", command, story_id, "--reason", "asked", "--as", ADMIN).exit_code == 0

    assert sql(home, "SELECT rendition FROM recordings") == [("original",)]
    assert not (home / "media" / f"{muted}.sealed").exists()
    assert escrow(home, "index", "verify").exit_code == 0


def test_verify_reports_a_released_recording_whose_file_is_gone(home: Path, tmp_path: Path) -> None:
    story_id, _ = _released(home, tmp_path, redaction_level="redacted", recording_release="muted")
    muted = str(one(home, "SELECT recording_id FROM released_stories"))
    (home / "media" / f"{muted}.sealed").unlink()

    found = escrow(home, "index", "verify")

    assert found.exit_code == 1 and f"the released recording of story {story_id} is missing" in found.output


def test_a_name_split_by_a_cue_break_releases_neither_captions_nor_audio(home: Path, tmp_path: Path) -> None:
    """Scrubbed in the transcript, where the break is a line break, but not in either cue alone."""
    split = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nMy name is Li\n\n"
             "00:00:02.000 --> 00:00:03.000\nNa and I clean rooms.\n")
    data = story(captions=split, narrator="Li Na", redaction_level="pseudonymized", recording_release="muted",
                 embargo_until=PAST, summary="A strike.")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0

    assert escrow(home, "publish-due").output.startswith("released 1,")

    transcript, captions, recording = sql(home, "SELECT transcript, captions, recording_id FROM released_stories")[0]
    assert "Li\nNa" not in transcript and captions is None and recording is None
    assert sql(home, "SELECT rendition FROM recordings") == [("original",)]
    assert one(home, "SELECT detail FROM audit_log WHERE action = 'recording.release_refused'") == \
        '{"reason": "no_captions"}'


def test_a_story_with_two_recordings_releases_neither(home: Path, tmp_path: Path) -> None:
    data = story(captions=CAPTIONS, embargo_until=PAST, redaction_level="redacted", recording_release="muted")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")
    for _ in range(2):
        assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0

    assert escrow(home, "publish-due").output.startswith("released 1,")

    assert one(home, "SELECT recording_id FROM released_stories") is None
    assert one(home, "SELECT captions FROM released_stories") is not None  # the text is released, timed
    assert one(home, "SELECT detail FROM audit_log WHERE action = 'recording.release_refused'") == \
        '{"reason": "several_recordings"}'
    assert "more than one recording" in escrow(home, "publish-due", "--check").output


def _kept_sealed(home: Path, story_id: str, reason: str) -> None:
    """The story's text is out, nothing of its recording is, and an admin is told why."""
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=story_id) == "released"
    assert one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=story_id)
    assert one(home, "SELECT recording_id FROM released_stories WHERE id = :id", id=story_id) is None
    assert sql(home, "SELECT rendition FROM recordings") == [("original",)]
    assert len(list((home / "media").glob("*.sealed"))) == 1  # the original; no muted copy, no leftover
    assert not list((home / "media").glob(".*"))
    refused = sql(home, "SELECT story_id, detail FROM audit_log WHERE action = 'recording.release_refused'")
    assert refused == [(story_id, f'{{"reason": "{reason}"}}')]
    assert one(home, "SELECT count(*) FROM audit_log WHERE action = 'story.release_failed'") == 0
    check = escrow(home, "publish-due", "--check")
    assert check.exit_code == 0 and f"{story_id} is released but its recording stays sealed" in check.output
    assert escrow(home, "index", "verify").exit_code == 0


def test_a_muted_copy_too_long_for_a_wav_file_keeps_the_recording_sealed_and_releases_the_text(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 7-hour stereo MP3 decodes past 4 GiB; here the limit is lowered below a 5-second tone's."""
    story_id = _sealed_story(home, tmp_path, redaction_level="redacted", recording_release="muted")
    _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    monkeypatch.setattr(muting, "RIFF_LIMIT", 100_000)  # 5 s at 16 kHz, 16 bits: 160,000 bytes

    published = escrow(home, "publish-due")

    assert published.exit_code == 0 and published.output.startswith("released 1, ")
    assert "recordings kept sealed 1" in published.output and "4 GiB" in published.output
    _kept_sealed(home, story_id, "too_long")


def test_a_flac_with_corrupt_frames_keeps_the_recording_sealed_and_releases_the_text(
        home: Path, tmp_path: Path) -> None:
    story_id = _sealed_story(home, tmp_path, redaction_level="redacted", recording_release="muted")
    _tone(tmp_path / "a.flac", "FLAC")
    flac = bytearray((tmp_path / "a.flac").read_bytes())
    flac[len(flac) // 2 : len(flac) // 2 + 2000] = bytes(2000)  # the header is whole: attach takes it
    (tmp_path / "a.flac").write_bytes(flac)
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.flac"), "--as", ORG).exit_code == 0

    published = escrow(home, "publish-due")

    assert published.exit_code == 0 and "cannot be decoded" in published.output
    _kept_sealed(home, story_id, "unreadable")


def test_a_hidden_cue_past_the_recordings_end_keeps_it_sealed_rather_than_clamp_the_silence(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Captions timed for a longer edit: clamped, the name would be said, audibly, where it really is."""
    late = CAPTIONS + "\n00:00:04.500 --> 00:00:06.000\nAsk [[person:Rosa Canaryname7]] about it.\n"
    data = story(captions=late, embargo_until=PAST, summary="A strike.", redaction_level="redacted",
                 recording_release="muted")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")  # 5 s
    # As a recording attached before attach compared its length with the captions'.
    monkeypatch.setattr(audio, "refusal_to_attach", lambda draft, sound: None)
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0

    published = escrow(home, "publish-due")

    assert published.exit_code == 0 and "ends after the recording ends" in published.output
    _kept_sealed(home, story_id, "cue_past_end")


def _muted_without_captions(home: Path, tmp_path: Path) -> str:
    """A due story whose narrator chose a muted recording, with a recording and no timed transcript."""
    data = story(embargo_until=PAST, summary="A strike.", redaction_level="redacted", recording_release="muted")
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    return story_id


def test_muted_without_captions_keeps_the_recording_sealed_and_says_so(home: Path, tmp_path: Path) -> None:
    story_id = _muted_without_captions(home, tmp_path)

    assert escrow(home, "publish-due").exit_code == 0

    _kept_sealed(home, story_id, "no_captions")


def test_a_takedown_clears_a_refused_recording_from_the_check(home: Path, tmp_path: Path) -> None:
    story_id = _muted_without_captions(home, tmp_path)
    assert escrow(home, "publish-due").exit_code == 0

    assert escrow(home, "stories", "takedown", story_id, "--reason", "fix", "--as", ADMIN).exit_code == 0

    assert "recording stays sealed" not in escrow(home, "publish-due", "--check").output


def test_muted_and_too_long_for_a_wav_file_is_refused_when_attached(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = story(captions=CAPTIONS, summary="A strike.", redaction_level="redacted", recording_release="muted")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")
    monkeypatch.setattr(muting, "RIFF_LIMIT", 100_000)

    refused = escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG)

    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert "too long to release muted" in refused.output and "nothing was kept" in refused.output
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    assert not (home / "media").exists() or list((home / "media").iterdir()) == []


@pytest.mark.parametrize("via", ["attach", "import"])
def test_captions_that_end_after_the_recording_are_refused_when_both_are_there(
        home: Path, tmp_path: Path, via: str) -> None:
    late = CAPTIONS + "\n00:00:05.000 --> 00:01:06.000\nAnd that was it.\n"
    data = story(captions=late, summary="A strike.", redaction_level="redacted")
    del data["transcript"]
    _tone(tmp_path / "a.wav", "WAV")  # 5 s
    if via == "import":
        data["recording"] = "a.wav"
    imported = escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG)
    if via == "attach":
        assert imported.exit_code == 0
        story_id = str(one(home, "SELECT id FROM stories"))
        refused = escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG)
    else:
        refused = imported
        assert one(home, "SELECT count(*) FROM stories") == 0

    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    assert "last cue ends after the recording ends (it lasts 00:00:05.000)" in refused.output
    assert "00:01:06" not in refused.output  # the story's own timing is not told
    assert "Canaryname7" not in refused.output and "nothing was kept" in refused.output
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    assert not (home / "media").exists() or list((home / "media").iterdir()) == []
    # Attaching read the sealed story to find that out, so the refusal is audited; an import
    # refused the captions it was itself given, and read nothing sealed.
    expected = [(ORG, '{"reason": "cue_past_end"}')] if via == "attach" else []
    assert sql(home, "SELECT actor, detail FROM audit_log WHERE action = 'recording.attach_refused'") == expected


def test_an_admin_attaching_to_a_story_whose_captions_outrun_it_is_refused_and_audited(
        home: Path, tmp_path: Path) -> None:
    late = CAPTIONS + "\n00:00:05.000 --> 00:01:06.000\nAnd that was it.\n"
    data = story(captions=late, summary="A strike.", redaction_level="redacted")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    _tone(tmp_path / "a.wav", "WAV")

    refused = escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ADMIN)

    assert refused.exit_code == 1 and "nothing was kept" in refused.output and "00:01:06" not in refused.output
    assert sql(home, "SELECT actor, story_id, detail FROM audit_log WHERE action = 'recording.attach_refused'") == \
        [(ADMIN, story_id, '{"reason": "cue_past_end"}')]
    assert sql(home, "SELECT count(*) FROM recordings") == [(0,)]
    assert [p for p in home.joinpath("media").rglob("*") if p.is_file()] == []


LOSSY = [("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("MP3", "MPEG_LAYER_III", "mp3")]


def _lossy_tone(path: Path, kind: str, subtype: str) -> None:
    t = np.arange(5 * RATE) / RATE
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), RATE, format=kind, subtype=subtype)


def _dbfs(samples: np.ndarray) -> float:
    values = samples.astype(float) / 32768
    return float(20 * np.log10(max(np.sqrt(np.mean(values**2)), 1e-12)))


def _sealed_story(home: Path, tmp_path: Path, captions: str = CAPTIONS, **fields: object) -> str:
    data = story(captions=captions, embargo_until=PAST, summary="A strike.", **fields)
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    return str(one(home, "SELECT id FROM stories"))


@pytest.mark.parametrize("door", ["command", "service"])
@pytest.mark.parametrize("kind, subtype, suffix", LOSSY, ids=[s for _, _, s in LOSSY])
def test_ogg_vorbis_opus_and_mp3_are_attached_and_released_muted(
        home: Path, tmp_path: Path, app: Flask, kind: str, subtype: str, suffix: str, door: str) -> None:
    story_id = _sealed_story(home, tmp_path, redaction_level="redacted", recording_release="muted")
    file = tmp_path / f"interview.{suffix}"
    _lossy_tone(file, kind, subtype)
    if door == "command":
        attached = escrow(home, "stories", "attach", story_id, str(file), "--as", ORG)
        assert attached.exit_code == 0, attached.output
    else:
        with app.test_request_context():
            archive = services.current()
            recordings_service.attach(archive, archive.user(ORG), story_id, recordings_service.read_file(file))
    media_type = {"OGG": "audio/ogg", "MP3": "audio/mpeg"}[kind]
    assert sql(home, "SELECT rendition, media_type FROM recordings") == [("original", media_type)]

    assert escrow(home, "publish-due").output.startswith("released 1,")

    released = str(one(home, "SELECT recording_id FROM released_stories"))
    assert one(home, "SELECT rendition FROM recordings WHERE id = :id", id=released) == "muted"
    muted, rate = soundfile.read(io.BytesIO(_opened(home, released)), dtype="int16")
    assert rate == RATE and abs(len(muted) - 5 * RATE) < RATE // 10
    assert _dbfs(muted[1 * RATE : 2 * RATE]) < -60  # the cue that names Rosa
    assert _dbfs(muted[int(3.2 * RATE) : int(3.8 * RATE)]) > -20  # the plain cue is heard


def test_an_unmarked_mention_of_the_narrator_in_a_cue_is_silenced(home: Path, tmp_path: Path) -> None:
    """Muting follows what redaction hid in each cue's released text, not only the marked spans."""
    captions = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nWe struck in May.\n\n"
                "00:00:03.000 --> 00:00:04.000\nAsk Rosa Canaryname7 about the picket.\n")
    story_id = _sealed_story(home, tmp_path, captions, narrator="Rosa Canaryname7", redaction_level="pseudonymized",
                             recording_release="muted")
    original = _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0

    assert escrow(home, "publish-due").output.startswith("released 1,")

    transcript, captions_out, released = sql(home, "SELECT transcript, captions, recording_id FROM released_stories")[0]
    assert "Canaryname7" not in transcript and "Canaryname7" not in captions_out
    muted = soundfile.read(io.BytesIO(_opened(home, str(released))), dtype="int16")[0]
    assert _dbfs(muted[3 * RATE : 4 * RATE]) < -60
    fade = int(0.05 * RATE)
    kept = np.r_[0 : 3 * RATE - fade, 4 * RATE + fade : len(original)]
    assert np.array_equal(muted[kept], original[kept])  # the plain cue, May's, untouched


def test_a_sealed_muted_copy_holds_no_audio_signature_and_no_run_of_the_recording(
        home: Path, tmp_path: Path) -> None:
    story_id, original = _released(home, tmp_path, "WAV", redaction_level="redacted", recording_release="muted")
    muted = str(one(home, "SELECT recording_id FROM released_stories"))
    stored = (home / "media" / f"{muted}.sealed").read_bytes()
    plain = _opened(home, muted)

    assert plain[:4] == b"RIFF"  # what is sealed is a WAV file, every sample outside the cue as it was
    assert not any(magic in stored for magic in (b"RIFF", b"fLaC", b"OggS", b"WAVE", b"data"))
    assert re.search(rb"ID3[\x02-\x04]\x00", stored) is None  # an ID3 tag's header (3 bytes alone: chance)
    samples = original.astype("<i2").tobytes()
    for second in (0.2, 2.5, 4.5):  # outside the silenced cue: the same bytes in the muted copy
        run = samples[int(second * RATE) * 2 : int(second * RATE) * 2 + 32]
        assert run in plain and run not in stored
    assert story_id not in stored.decode("latin-1")


def test_a_takedown_of_a_recording_released_in_full_leaves_the_player_the_unknown_404(
        home: Path, tmp_path: Path, app: Flask) -> None:
    story_id, original = _released(home, tmp_path, "WAV", redaction_level="full", recording_release="full")
    client = app.test_client()
    with client.get(f"/stories/{story_id}/recording") as playing:
        assert playing.status_code == 200 and playing.get_data()[:4] == b"RIFF"

    assert escrow(home, "stories", "takedown", story_id, "--reason", "asked", "--as", ADMIN).exit_code == 0

    with client.get(f"/stories/{story_id}/recording") as gone, client.get("/stories/nosuchstory/recording") as unknown:
        assert gone.status_code == unknown.status_code == 404
        assert gone.get_data() == unknown.get_data() and gone.headers["Content-Type"] == unknown.headers["Content-Type"]
    with client.get(f"/stories/{story_id}/captions.vtt") as captions:
        assert captions.status_code == 404
    assert one(home, "SELECT count(*) FROM released_stories") == 0
    assert sql(home, "SELECT rendition FROM recordings") == [("original",)]  # sealed, as attached
    assert escrow(home, "index", "verify").exit_code == 0


def _row_free(home: Path, story_id: str) -> bool:
    """Whether another connection can lock the story's row for writing at once (within 0.2 s)."""
    url = database_url(home)
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 0.2} if sqlite else {})
    try:
        with engine.connect() as conn:
            if not sqlite:
                conn.exec_driver_sql("SET lock_timeout = '200ms'")
            conn.execute(text("UPDATE stories SET updated_at = updated_at WHERE id = :id"), {"id": story_id})
            conn.rollback()
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def test_the_muted_copy_is_made_while_no_transaction_holds_its_story(home: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A muted copy takes seconds for an hour of audio: the gate makes it before its batch's
    transaction claims the stories (on PostgreSQL, their rows; on SQLite, the write lock)."""
    story_id = _sealed_story(home, tmp_path, redaction_level="redacted", recording_release="muted")
    _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    real, free = muting.mute, []

    def watched(*args: Any, **kwargs: Any) -> muting.Muted:
        free.append(_row_free(home, story_id))
        return real(*args, **kwargs)

    monkeypatch.setattr(muting, "mute", watched)
    published = escrow(home, "publish-due")

    assert published.output.startswith("released 1,"), published.output
    assert free == [True]  # made once, ahead, and registered by the batch
    released = one(home, "SELECT recording_id FROM released_stories")
    assert one(home, "SELECT rendition FROM recordings WHERE id = :id", id=released) == "muted"
    assert escrow(home, "index", "verify").exit_code == 0
    assert not list(home.glob("media/.*.partial"))


def test_an_embargo_extended_while_muted_copies_are_made_holds(home: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The copies are made before the batch claims its stories, which may take minutes: an
    organizer's extension committed meanwhile (by another process) takes effect at once."""
    story_id = _sealed_story(home, tmp_path, redaction_level="redacted", recording_release="muted")
    _tone(tmp_path / "a.wav", "WAV")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    real, extended = muting.mute, []

    def extend_meanwhile(*args: Any, **kwargs: Any) -> muting.Muted:
        with started(home, "embargo", "extend", story_id, "--until", "2099-01-01", "--reason", "not yet",
                     "--as", ORG, database_url=os.environ.get("DATABASE_URL") or None) as proc:
            extended.append(finish(proc))
        return real(*args, **kwargs)

    monkeypatch.setattr(muting, "mute", extend_meanwhile)
    published = escrow(home, "publish-due")

    assert [status for status, _ in extended] == [0], extended
    assert published.exit_code == 0 and published.output.startswith("released 0,"), published.output
    assert one(home, "SELECT status FROM stories") == "sealed"
    assert str(one(home, "SELECT embargo_until FROM stories")).startswith("2099-01-01")
    assert one(home, "SELECT count(*) FROM released_stories") == 0
    assert one(home, "SELECT count(*) FROM recordings WHERE rendition = 'muted'") == 0
    assert not list(home.glob("media/.*.partial"))  # the copy made ahead was not kept


HIGH_RESOLUTION = [("WAV", "PCM_24", 2, "wav"), ("WAV", "FLOAT", 2, "wav"), ("FLAC", "PCM_24", 2, "flac"),
                   ("WAV", "PCM_16", 6, "wav"), ("WAV", "PCM_32", 1, "wav")]


@pytest.mark.parametrize("kind, subtype, channels, suffix", HIGH_RESOLUTION,
                         ids=[f"{k}-{s}-{c}ch" for k, s, c, _ in HIGH_RESOLUTION])
def test_archival_masters_of_any_depth_and_channel_count_are_released_muted(
        home: Path, tmp_path: Path, kind: str, subtype: str, channels: int, suffix: str) -> None:
    """24-bit, 32-bit and float masters, and more than two channels, are muted into a WAV with the
    extensible header (WAVEX), which the vault takes like any WAV: the muted copy is released, and
    the story's text with it. (The vault refused its own muted copy's header, and the story's
    text stayed sealed past its date on every run.)"""
    story_id = _sealed_story(home, tmp_path, redaction_level="redacted", recording_release="muted")
    t = np.arange(5 * RATE) / RATE
    signal = np.stack([0.5 * np.sin(2 * np.pi * (440 + 110 * c) * t) for c in range(channels)], axis=1)
    soundfile.write(tmp_path / f"master.{suffix}", signal, RATE, format=kind, subtype=subtype)
    attached = escrow(home, "stories", "attach", story_id, str(tmp_path / f"master.{suffix}"), "--as", ORG)
    assert attached.exit_code == 0, attached.output

    published = escrow(home, "publish-due")

    assert published.exit_code == 0 and published.output.startswith("released 1,"), published.output
    assert "Canaryname7" not in one(home, "SELECT transcript FROM released_stories")
    released = str(one(home, "SELECT recording_id FROM released_stories"))
    assert one(home, "SELECT rendition FROM recordings WHERE id = :id", id=released) == "muted"
    data = _opened(home, released)
    info = soundfile.info(io.BytesIO(data))
    assert (info.channels, info.subtype) == (channels, "PCM_16" if subtype == "PCM_16" else "PCM_24")
    muted = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)[0]
    for channel in range(channels):
        assert _dbfs(muted[1 * RATE : 2 * RATE, channel]) < -60  # the cue that names Rosa, every channel
        assert _dbfs(muted[int(3.2 * RATE) : int(3.8 * RATE), channel]) > -20  # the plain cue is heard
    assert sql(home, "SELECT count(*) FROM audit_log WHERE action = 'recording.release_refused'") == [(0,)]
    assert escrow(home, "index", "verify").exit_code == 0
