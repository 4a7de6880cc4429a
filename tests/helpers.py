"""Plain helpers for tests: running the CLI, writing story files, hunting canaries."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from archive.cli import cli


def escrow(home: Path, *args: str, input: str | None = None,
           env: dict[str, str] | None = None) -> Result:
    """Run `escrow ARGS` in-process against an instance folder, as a user would."""
    environ = {"ARCHIVE_HOME": str(home), "DATABASE_URL": "", "ESCROW_MASTER_KEY": ""}
    if "DATABASE_URL" in os.environ and os.environ["DATABASE_URL"]:
        environ["DATABASE_URL"] = os.environ["DATABASE_URL"]
    environ.update(env or {})
    return CliRunner().invoke(cli, list(args), input=input, env=environ, catch_exceptions=False)


def story(**overrides: Any) -> dict[str, Any]:
    """A valid story line, with keyword overrides."""
    data: dict[str, Any] = {
        "title": "Night shift", "narrator": "Rosa Example",
        "transcript": "I worked at [[org:Harbor Hotel]] with [[person:Maria Lopez|the housekeeper]].",
        "summary": "A housekeeper on the night shift.", "interviewer": "J. Kim",
        "interview_date": "2019-05-01", "place": "New Haven", "language": "en",
        "tags": ["hotel", "strike"], "embargo_until": "2031-01-01T00:00:00Z",
        "redaction_level": "pseudonymized", "release_review": False,
    }
    data.update(overrides)
    return data


def write_lines(path: Path, *lines: dict[str, Any] | str) -> Path:
    """Write a JSON Lines file; strings are written as they are (for broken lines)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def canaries(n: int) -> list[str]:
    """Random words that appear nowhere else, to plant in sealed content."""
    return [f"canary{secrets.token_hex(6)}" for _ in range(n)]


def find_canaries(home: Path, *words: str) -> list[str]:
    """Every (file, word) where a word's bytes occur anywhere under the folder."""
    hits = []
    needles = [(w, w.encode()) for w in words] + [(w, w.encode("utf-16-le")) for w in words]
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path.name}: {word}" for word, needle in needles if needle in data]
    return hits


def assert_no_canary(home: Path, *words: str) -> None:
    """Fail if any canary word is readable anywhere under the instance folder."""
    hits = find_canaries(home, *words)
    assert not hits, f"sealed words found at rest: {hits}"
