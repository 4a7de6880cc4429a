"""After an upgrade whose redaction hides more, `escrow redact-again` replaces the released copies
that come out different: in the table, in search (the old text purged from the index files),
for harvesters (stamped now), each audited; `--dry-run` only names them.

The older version is played by the tokeniser an earlier one replaced, which ran letters and
digits together, and by a matcher that hid only whole words: a narrator's name glued to a number
(an account name) was released as written.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from archive import services
from archive.reading_room.models import ReleasedStory
from archive.release import redact_again
from archive.services import releases
from archive.transcripts import names
from tests.helpers import add_users, archive_app, assert_no_canary, canaries, escrow, one, sql, story, write_lines
from tests.processes import finish, started
from tests.test_recordings import _opened

ORG, ADMIN = "org@example.org", "admin@example.org"
RATE = 16_000
OLD_TOKEN = re.compile(rf"[{names._UNSPACED}]|[^\W_{names._UNSPACED}]+|\x00")


def _play_the_older_version(older: pytest.MonkeyPatch) -> None:
    older.setattr(names, "_TOKEN", OLD_TOKEN)
    older.setattr(names, "_SPLIT", re.compile(f"({OLD_TOKEN.pattern})"))
    older.setattr(names.Matcher, "_inside", lambda self, tokens: iter(()))


@pytest.fixture
def home(archive_home: Path) -> Path:
    return add_users(archive_home, (ORG, "organizer"), (ADMIN, "admin"))


def _released_by_the_older_version(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   name: str, label: str = "one") -> tuple[str, str]:
    """A story about its narrator, released with the older tokeniser; and one that no version
    changes. Their ids."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    stories = (story(narrator=f"{name} Example", title=f"Handles {label}", embargo_until="2020-01-01",
                     redaction_level="redacted", transcript=f"Write to {name}2019 about the strike."),
               story(title=f"Unchanged {label}", embargo_until="2020-01-01", redaction_level="redacted",
                     transcript="Nothing glued to a name here."))
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", *stories)),
                  "--as", ORG).exit_code == 0
    with monkeypatch.context() as older:
        _play_the_older_version(older)
        assert escrow(home, "publish-due").output.startswith("released 2,")
    leaked = str(one(home, "SELECT id FROM released_stories WHERE title = :t", t=f"Handles {label}"))
    kept = str(one(home, "SELECT id FROM released_stories WHERE title = :t", t=f"Unchanged {label}"))
    assert f"{name}2019" in one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=leaked)
    return leaked, kept


def test_a_copy_the_new_rules_redact_differently_is_replaced_everywhere(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [name] = canaries(1)
    leaked, kept = _released_by_the_older_version(home, tmp_path, monkeypatch, name)
    stamps = dict(sql(home, "SELECT story_id, datestamp FROM room_records"))
    kept_hash = one(home, "SELECT content_hash FROM released_stories WHERE id = :id", id=kept)
    first_released = one(home, "SELECT released_at FROM released_stories WHERE id = :id", id=leaked)

    looked = escrow(home, "redact-again", "--dry-run")
    assert looked.exit_code == 0, looked.output
    assert looked.output.splitlines() == [leaked, "would replace 1 of 2 released copies (dry run, nothing changed)"]
    assert dict(sql(home, "SELECT story_id, datestamp FROM room_records")) == stamps

    done = escrow(home, "redact-again")

    assert done.exit_code == 0 and done.output.strip() == "replaced 1 of 2 released copies", done.output
    transcript = one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=leaked)
    assert name not in transcript and "[redacted]2019" in transcript
    assert escrow(home, "search", "strike", "--json").output.count(leaked) == 1
    assert_no_canary(home, name)  # not in the table, the index files or the database's free pages
    after = dict(sql(home, "SELECT story_id, datestamp FROM room_records"))
    assert after[kept] == stamps[kept] and after[leaked] > stamps[leaked]  # harvesters fetch it again
    # ...but it was released when it was: the citation's date stays.
    assert one(home, "SELECT released_at FROM released_stories WHERE id = :id", id=leaked) == first_released
    assert one(home, "SELECT content_hash FROM released_stories WHERE id = :id", id=kept) == kept_hash
    assert sql(home, "SELECT story_id FROM audit_log WHERE action = 'story.redact_again'") == [(leaked,)]
    assert one(home, "SELECT detail FROM audit_log WHERE action = 'room.redact_again' ORDER BY seq DESC") == \
        '{"changed": 1, "checked": 2, "dry_run": false, "replaced": 1}'
    assert escrow(home, "index", "verify").exit_code == 0
    assert escrow(home, "redact-again").output.strip() == "replaced 0 of 2 released copies"
    # A partner's bag "since" the first release holds the replaced copy, not the unchanged one.
    latest = max(datetime.fromisoformat(str(stamp)) for stamp in stamps.values())
    since = (latest + timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    bagged = escrow(home, "export", "bag", str(tmp_path / "bag"), "--since", since)
    assert bagged.exit_code == 0, bagged.output
    assert sorted(p.stem for p in (tmp_path / "bag" / "data" / "stories").iterdir()) == [leaked]


def test_a_story_taken_down_is_not_redacted_again(home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    [name] = canaries(1)
    leaked, _ = _released_by_the_older_version(home, tmp_path, monkeypatch, name)
    assert escrow(home, "stories", "takedown", leaked, "--reason", "asked", "--as", ADMIN).exit_code == 0

    done = escrow(home, "redact-again")

    assert done.output.strip() == "replaced 0 of 1 released copies"
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=leaked) == "sealed"
    assert one(home, "SELECT count(*) FROM released_stories WHERE id = :id", id=leaked) == 0


def test_a_muted_recording_is_made_again_silent_where_the_new_rules_hide_more(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The older version left the cue that says the narrator's handle audible; made again, the
    copy is silent there too, and the old copy's file is gone."""
    [name] = canaries(1)
    captions = (f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nWrite to {name}2019.\n\n"
                "00:00:03.000 --> 00:00:04.000\nWe struck in May.\n")
    data = story(narrator=f"{name} Example", captions=captions, summary="A strike.", embargo_until="2020-01-01",
                 redaction_level="redacted", recording_release="muted")
    del data["transcript"]
    assert escrow(home, "stories", "import", str(write_lines(tmp_path / "s.jsonl", data)), "--as", ORG).exit_code == 0
    story_id = str(one(home, "SELECT id FROM stories"))
    t = np.arange(5 * RATE) / RATE
    soundfile.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), RATE, format="WAV", subtype="PCM_16")
    assert escrow(home, "stories", "attach", story_id, str(tmp_path / "a.wav"), "--as", ORG).exit_code == 0
    with monkeypatch.context() as older:
        _play_the_older_version(older)
        assert escrow(home, "publish-due").output.startswith("released 1,")
    before = str(one(home, "SELECT recording_id FROM released_stories"))
    assert _rms(home, before, 1, 2) > 0.1  # the handle is heard

    assert escrow(home, "redact-again").output.strip() == "replaced 1 of 1 released copies"

    after = str(one(home, "SELECT recording_id FROM released_stories"))
    assert after != before and not (home / "media" / f"{before}.sealed").exists()
    assert sql(home, "SELECT rendition FROM recordings WHERE id = :id", id=after) == [("muted",)]
    assert _rms(home, after, 1, 2) == 0 and _rms(home, after, 2.1, 4.9) > 0.1
    assert name not in one(home, "SELECT captions FROM released_stories")
    assert escrow(home, "index", "verify").exit_code == 0


def _rms(home: Path, recording_id: str, start: float, end: float) -> float:
    samples, rate = soundfile.read(io.BytesIO(_opened(home, recording_id)), dtype="float64")
    window = samples[int(start * rate) : int(end * rate)]
    return float(np.sqrt(np.mean(window**2)))


def test_a_story_that_cannot_be_redacted_again_keeps_its_copy_and_stops_no_other(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names_ = canaries(2)
    first, _ = _released_by_the_older_version(home, tmp_path / "a", monkeypatch, names_[0], "one")
    second, _ = _released_by_the_older_version(home, tmp_path / "b", monkeypatch, names_[1], "two")
    real = redact_again.redact

    def broken(draft: Any) -> Any:
        if names_[0] in draft.narrator:
            raise ValueError(f"redaction broke on {draft.narrator}")
        return real(draft)

    with monkeypatch.context() as patched:
        patched.setattr(redact_again, "redact", broken)
        done = escrow(home, "redact-again")

    assert done.exit_code == 1
    assert done.output.startswith("replaced 1 of 4 released copies"), done.output
    assert f"{first} keeps its released copy: redacting it again failed (ValueError)" in done.output
    assert names_[0] not in done.output  # only the error's class
    assert names_[0] in one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=first)
    assert names_[1] not in one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=second)
    assert one(home, "SELECT detail FROM audit_log WHERE action = 'room.redact_again'") == \
        '{"changed": 1, "checked": 4, "dry_run": false, "replaced": 1}'  # (whether the failed one changes is not known)
    assert escrow(home, "index", "verify").exit_code == 0  # the replaced copy's old text purged


def test_a_new_copy_that_would_show_a_word_the_old_one_hid_is_not_written(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever rule changed, a replacement may only hide more: here a version that no longer
    hides a name's parts on their own would show the narrator's surname."""
    [name] = canaries(1)
    leaked, _ = _released_by_the_older_version(home, tmp_path, monkeypatch, name)
    before = one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=leaked)
    file = write_lines(tmp_path / "more.jsonl", story(narrator=f"Ann {name}", title="More", redaction_level="redacted",
                                                     embargo_until="2020-01-01", transcript=f"{name} was there."))
    assert escrow(home, "stories", "import", str(file), "--as", ORG).exit_code == 0
    assert escrow(home, "publish-due").output.startswith("released 1,")
    more = str(one(home, "SELECT id FROM released_stories WHERE title = 'More'"))

    with monkeypatch.context() as patched:
        patched.setattr(names, "MIN_PART", 100)  # a careless version: no part of a name hidden alone
        looked = escrow(home, "redact-again", "--dry-run")
        done = escrow(home, "redact-again")

    assert f"{more} keeps its released copy: its new copy would show a word its released copy hides" in looked.output
    assert done.exit_code == 1 and more in done.output
    assert name not in one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=more)
    assert one(home, "SELECT transcript FROM released_stories WHERE id = :id", id=leaked) == before
    assert sql(home, "SELECT count(*) FROM audit_log WHERE action = 'story.redact_again' AND story_id = :id",
               id=more) == [(0,)]


@pytest.mark.parametrize("old, new, hides", [
    ("[redacted] told me", "Bo Li told me", False),  # short words are not the redaction's own
    ("We were [redacted] then", "We were 1199 then", False),  # nor numbers where the old copy had none
    ("[redacted] fired us. The hotel in the harbor.", "Harbor Hotel fired us. The hotel in the harbor.", False),
    ("Ann Lee2019 said", "[redacted]2019 said", True),
    ("Rosa and Maria met", "Person A and Person B met", True),  # stand-ins with their ordinals
    ("Write to lopez2019", "Write to Employer 3", True),
    ("A long story about us", "A long story", True),  # only removed
])
def test_a_replacement_may_only_hide_more(old: str, new: str, hides: bool) -> None:
    def copy(transcript: str) -> ReleasedStory:
        return ReleasedStory(id="s", title="t", narrator="n", transcript=transcript, summary="", interviewer="",
                             interview_date="", place="", language="en", tags="[]", redaction_level="redacted")

    assert redact_again.hides_at_least_as_much(copy(old), copy(new)) is hides


def test_a_takedown_waits_for_a_batch_of_replacements_not_for_the_run(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A takedown, run by another process while the run checks its second batch, goes through
    at once (the publisher lock is held only while a batch is replaced), and the run then
    leaves the story it took down alone."""
    first, second = canaries(2)
    leaked, _ = _released_by_the_older_version(home, tmp_path / "a", monkeypatch, first, "one")
    down, _ = _released_by_the_older_version(home, tmp_path / "b", monkeypatch, second, "two")
    ids = sorted(str(row[0]) for row in sql(home, "SELECT id FROM released_stories"))
    taken: list[tuple[int, str]] = []
    real = redact_again._changed

    def checking(unit: Any, batch: Any, done: Any) -> Any:
        if batch[0] == ids[1]:  # the second batch: one replacement is behind the run already
            with started(home, "stories", "takedown", down, "--reason", "asked", "--as", ADMIN) as admin:
                taken.append(finish(admin))
        return real(unit, batch, done)

    with archive_app(home) as app, monkeypatch.context() as patched, app.app_context():
        patched.setattr(redact_again, "BATCH", 1)
        patched.setattr(redact_again, "_changed", checking)
        done = releases.redact_again(services.current(), apply=True)

    [(code, said)] = taken
    assert code == 0, said
    assert one(home, "SELECT status FROM stories WHERE id = :id", id=down) == "sealed"
    assert one(home, "SELECT count(*) FROM released_stories WHERE id = :id", id=down) == 0
    assert second not in escrow(home, "search", "strike", "--json").output
    assert done.replaced == 1 + (ids.index(down) == 0)  # replaced before its takedown, if it came first
    assert escrow(home, "index", "verify").exit_code == 0
