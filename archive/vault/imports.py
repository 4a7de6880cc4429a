"""Importing stories from JSON Lines: every line checked before anything is sealed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archive.accounts import users
from archive.accounts.users import User
from archive.errors import EscrowError, InvalidInput
from archive.vault import drafts, stories

MAX_DEPTH = 20  # a story is flat: an object of strings, booleans and one list of tags


def read_lines(path: Path, *, limit: int) -> list[str]:
    """A JSON Lines file's lines: UTF-8 (a leading BOM allowed), split on newlines only.

    Only `\n` ends a line (RFC 7464's JSON Lines; a U+2028 inside a string is text), and
    a `\r` before it is dropped.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a folder, not a file") from None
    except OSError as error:
        raise InvalidInput(f"{path}: cannot be read ({error.strerror})") from None
    if len(data) > limit:
        raise InvalidInput(f"{path}: larger than {limit // (1024 * 1024)} MB; split it into several files")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidInput(f"{path}:{line}: not UTF-8 text") from None
    return [line.removesuffix("\r") for line in text.split("\n")]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            # Never the key itself: an unknown key may be a piece of the story.
            raise InvalidInput("a field appears twice in one story")
        seen[key] = value
    return seen


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _decode(line: str) -> Any:
    try:
        data = json.loads(line, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        # The decoder's own message names a position, never the text.
        raise InvalidInput(f"not valid JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise InvalidInput(f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(data) > MAX_DEPTH:
        raise InvalidInput(f"nested deeper than {MAX_DEPTH} levels")
    return data


def parse_lines(session: Session, actor: User, lines: Iterable[str],
                source: str, folder: Path | None = None) -> list[stories.Submission]:
    """Validate every line; the first bad one raises `SOURCE:LINE: reason`. A line's recording
    is a path relative to `folder` (the file's), which must hold a file there."""
    owners: dict[str, User] = {}
    submissions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            submissions.append(_parse_line(session, actor, line, owners, folder))
        except EscrowError as error:
            raise InvalidInput(f"{source}:{number}: {error}") from None
    if not submissions:
        raise InvalidInput(f"{source}: no stories in the file")
    return submissions


def _parse_line(session: Session, actor: User, line: str,
                owners: dict[str, User], folder: Path | None) -> stories.Submission:
    data = _decode(line)
    if not isinstance(data, dict):
        raise InvalidInput("a line must be one JSON object")
    owner = actor
    if "owner" in data:
        email = data["owner"]
        if not isinstance(email, str):
            raise InvalidInput("owner must be an email address")
        if email not in owners:
            try:
                owners[email] = users.by_email(session, email)
            except EscrowError:
                raise InvalidInput("owner is not an account of this archive") from None
        owner = owners[email]
        if owner.id != actor.id and actor.role != "admin":
            raise InvalidInput("only an admin may import stories for another organizer")
    if owner.role not in stories.SUBMITTERS:
        raise InvalidInput(f"{owner.email} is a {owner.role} and cannot own stories")
    draft = drafts.parse(data, allow=drafts.OPTIONAL_EXTRA)
    return stories.Submission(draft, owner, _recording(data.get("recording"), folder))


def _recording(value: Any, folder: Path | None) -> Path | None:
    """The file a line names as its recording, relative to the JSON Lines file's folder."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 1000 or folder is None:
        raise InvalidInput("recording must be the path of an audio file, relative to the JSON Lines file")
    relative = Path(value)
    if relative.is_absolute():
        raise InvalidInput("recording must be a path relative to the JSON Lines file, not an absolute one")
    found = folder / relative
    # Inside the file's folder, and no link: a line cannot pull in another file the archive can
    # read. One message for every refusal, so a line cannot probe what exists elsewhere.
    if (found.is_symlink() or not found.resolve().is_relative_to(folder.resolve()) or not found.is_file()):
        raise InvalidInput("recording: there is no audio file at that path in the JSON Lines file's folder")
    return found

