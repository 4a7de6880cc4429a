"""Recordings in the vault: sealed as they arrive, checked as audio through the seal, never
plaintext on disk.

A recording is encrypted chunk by chunk while it is read (media.encrypt_stream) into a file
of the media folder under a random data key wrapped by the master key, like a story's; its
format is then read by libsndfile (soundfile) through a reader that decrypts the chunks it
asks for, so nothing decrypted ever reaches the disk, not even to check the upload. What is
not audio in a format the archive takes, or is larger than the limit, is refused and its
file removed. Withdrawal destroys the wrapped keys with the story's and removes the files.
"""

from __future__ import annotations

import errno
import io
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import soundfile
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive.errors import InvalidInput, NoRoom
from archive.messages import N_
from archive.storage.units import Unit
from archive.times import utcnow
from archive.vault import crypto, media
from archive.vault.keys import Keyring
from archive.vault.models import Recording, Story
from archive.vault.stories import new_id

# libsndfile's names for the containers the archive takes, and their media types. WAVEX is a
# WAV file with the extensible header that more than two channels or 16 bits need (archival
# masters are usually 24-bit), and the header the release gate writes on such a muted copy.
FORMATS = {"WAV": "audio/wav", "WAVEX": "audio/wav", "FLAC": "audio/flac", "OGG": "audio/ogg",
           "MP3": "audio/mpeg"}
SUFFIX = ".sealed"
PARTIAL = ".partial"
# How long a file no committed row accounts for may be something still on its way: an upload
# arriving (its .partial written as it comes), or a file registered in a sealing transaction
# that has not committed yet (an import of many recordings, a long publish-due).
STALE = timedelta(days=1)
NOT_AUDIO = N_("the file is not a recording in WAV, FLAC, Ogg (Vorbis, Opus) or MP3: nothing was kept")


def path(root: Path, recording: Recording) -> Path:
    """Where a recording's sealed file lives in the media folder."""
    return root / f"{recording.id}{SUFFIX}"


def _binding(recording: Recording) -> media.Binding:
    return media.Binding(recording.story_id, recording.id, recording.rendition)


def _limited(pieces: Iterable[bytes], limit: int | None) -> Iterator[bytes]:
    if limit is None:
        yield from pieces
        return
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise InvalidInput(N_("the recording is larger than the archive accepts (%(size)s MiB): nothing was kept",
                                  size=limit // 2**20))
        yield piece


@dataclass(frozen=True)
class Sound:
    """What libsndfile reports of a recording from its header: no sample, nothing said in it."""

    frames: int
    rate: int
    channels: int
    subtype: str

    @property
    def milliseconds(self) -> float:
        """The recording's length."""
        return self.frames * 1000 / self.rate


@dataclass
class Written:
    """A recording sealed into a hidden file of the media folder, checked as audio, whose data
    key is so far only in memory: `register` wraps it and adds the row, `discard` removes the
    file. Written outside any transaction, so a long upload holds no lock."""

    recording: Recording  # not yet in a session: no wrapped key
    key: bytes = field(repr=False)
    file: Path
    sound: Sound | None = None  # once checked as audio


def write(story_id: str, pieces: Iterable[bytes], root: Path, limit: int | None,
          rendition: str = "original", *, expected: int | None = None, keep_free: int = 0) -> Written:
    """Seal a recording of the story as it is read into a new hidden file and check it is audio.
    On any refusal or failure, nothing is kept.

    With `keep_free`, the media folder's disk must keep that many bytes free: the file's room
    for `expected` bytes (at most; None: unknown) is taken from the disk before a byte is read,
    so uploads at once cannot together pass the margin, and the margin is checked again as the
    recording arrives (NoRoom, and nothing kept, if the disk has less)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    recording = Recording(id=new_id(), story_id=story_id, rendition=rendition, media_type="", size=0,
                          dek_id=new_id())
    written = Written(recording, crypto.new_key(), root / f".{recording.id}{SUFFIX}{PARTIAL}")
    try:
        with _created(written.file) as out:
            if keep_free:
                _reserve(out.fileno(), root, expected if expected is None or limit is None else min(expected, limit),
                         keep_free)
                pieces = _watched(pieces, root, keep_free)
            sealed = media.encrypt_stream(written.key, _binding(recording), _limited(pieces, limit), out)
            out.truncate()  # the room taken ahead and not used
            out.flush()
            os.fsync(out.fileno())
        with written.file.open("rb") as source:
            recording.media_type, written.sound = _media_type(Reader(written.key, _binding(recording), source))
        recording.size = sealed.plaintext_length
    except BaseException:
        discard(written)
        raise
    return written


WATCH_EVERY = 16 * 2**20  # bytes between two looks at the disk's free space while a recording arrives


def free_space(root: Path) -> int:
    """Bytes free for the archive on the media folder's disk."""
    found = os.statvfs(root)
    return found.f_bavail * found.f_frsize


def _no_room(keep_free: int) -> NoRoom:
    return NoRoom(N_("the archive's disk has too little room for this recording (it keeps %(free)s MiB free for "
                     "its work): nothing was kept; tell an admin", free=keep_free // 2**20), field="recording")


def _reserve(fd: int, root: Path, expected: int | None, keep_free: int) -> None:
    """Take the file's room for `expected` plaintext bytes from the disk now (the disk then
    counts it for every other upload), and check the margin is still free."""
    if expected:
        try:
            os.posix_fallocate(fd, 0, media.sealed_size(expected))
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise _no_room(keep_free) from None
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
    if free_space(root) < keep_free:
        raise _no_room(keep_free)


def _watched(pieces: Iterable[bytes], root: Path, keep_free: int) -> Iterator[bytes]:
    """The pieces, with the disk's margin checked again every WATCH_EVERY bytes (others write too)."""
    since = 0
    for piece in pieces:
        since += len(piece)
        if since >= WATCH_EVERY:
            since = 0
            if free_space(root) < keep_free:
                raise _no_room(keep_free)
        yield piece


def register(unit: Unit, written: Written) -> Recording:
    """Wrap a written recording's key under the current master key, move its file into place and
    add its row (flushed, not committed: in the unit's sealing transaction). If that transaction,
    or the savepoint it is in, rolls back, the file goes too (unreadable for good anyway, its key
    only ever wrapped in a row that was not committed)."""
    keyring = unit.keyring
    recording, kek = written.recording, keyring.current_version
    recording.kek_version, recording.created_at = kek, utcnow()
    recording.wrapped_key = crypto.wrap(keyring.kek(kek), written.key,
                                        crypto.recording_wrap_aad(recording.id, recording.dek_id, kek))
    placed = path(written.file.parent, recording)
    try:
        os.replace(written.file, placed)
        unit.session.add(recording)
        unit.session.flush()
    except BaseException:
        discard(written)
        placed.unlink(missing_ok=True)
        raise
    unit.on_rollback(lambda: _remove_unless_kept(unit.session, recording.id, placed))
    return recording


def _remove_unless_kept(session: Session, recording_id: str, placed: Path) -> None:
    # Asked of the database, not assumed: a commit that failed as it was answered may have
    # committed, and removing that file would lose a recording. A session that cannot ask
    # leaves it to `recordings sweep`, which asks a day later.
    try:
        kept = session.scalar(select(Recording.id).where(Recording.id == recording_id)) is not None
    except SQLAlchemyError:
        return
    if not kept:
        placed.unlink(missing_ok=True)


def discard(written: Written) -> None:
    """Remove a written recording's file (its key was never wrapped: unreadable already)."""
    written.file.unlink(missing_ok=True)


def seal(unit: Unit, story: Story, pieces: Iterable[bytes], limit: int | None,
         rendition: str = "original") -> Recording:
    """`write` and `register` in the unit's sealing transaction."""
    return register(unit, write(story.id, pieces, unit.media_root, limit, rendition))


def _created(file: Path) -> BinaryIO:
    # A new file only readable by the archive's user; never over another.
    return os.fdopen(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _media_type(reader: Reader) -> tuple[str, Sound]:
    try:
        info = soundfile.info(reader)
    except (RuntimeError, soundfile.LibsndfileError, ValueError):
        raise InvalidInput(NOT_AUDIO) from None
    if info.format not in FORMATS or info.samplerate < 1 or info.channels < 1 or info.frames < 0:
        raise InvalidInput(NOT_AUDIO)
    return FORMATS[info.format], Sound(info.frames, info.samplerate, info.channels, info.subtype)


def data_key(keyring: Keyring, recording: Recording) -> bytes:
    """The recording's data key; KeyProblem if it is destroyed or the master key is wrong."""
    if recording.wrapped_key is None or recording.kek_version is None:
        raise InvalidInput(N_("this recording's key was destroyed when its story was withdrawn"))
    return crypto.unwrap(keyring.kek(recording.kek_version), recording.wrapped_key,
                         crypto.recording_wrap_aad(recording.id, recording.dek_id, recording.kek_version))


def of(session: Session, story: Story) -> list[Recording]:
    """A story's recordings, oldest first."""
    return list(session.scalars(select(Recording).where(Recording.story_id == story.id)
                                .order_by(Recording.created_at, Recording.id)))


def shred(session: Session, story: Story) -> list[Recording]:
    """Destroy every recording key of the story (with its own, at withdrawal); the files are
    removed by `remove` once that is committed. The recordings shredded."""
    found = of(session, story)
    for recording in found:
        recording.wrapped_key = None
        recording.kek_version = None
    return found


def remove(root: Path, recordings: Iterable[Recording]) -> None:
    """Delete sealed files whose keys are gone (unreadable already; this frees the space)."""
    for recording in recordings:
        path(root, recording).unlink(missing_ok=True)


@dataclass(frozen=True)
class Stray:
    """A file of the media folder that no recording accounts for (named by its random id only)."""

    path: Path
    why: str


def strays(session: Session, root: Path) -> list[Stray]:
    """Files of the media folder that no committed recording needs: sealed files no row refers
    to, files kept of recordings whose key was destroyed, and uploads interrupted more than a
    day ago. All are unreadable already (their keys are gone or were never wrapped in a
    committed row). A file no row refers to is only counted once it is a day old: it may have
    been registered in a transaction still open, or committed since the rows were read."""
    if not root.is_dir():
        return []
    # Withdrawal destroys a key by clearing its wrapped key and master key version together.
    rows = {recording_id: version is None
            for recording_id, version in session.execute(select(Recording.id, Recording.kek_version))}
    old = time.time() - STALE.total_seconds()
    found = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            continue
        name, aged = entry.name, entry.stat(follow_symlinks=False).st_mtime < old
        if name.startswith(".") and name.endswith(SUFFIX + PARTIAL):
            if aged:
                found.append(Stray(Path(entry.path), "an upload interrupted more than a day ago"))
        elif name.endswith(SUFFIX) and not name.startswith("."):
            destroyed = rows.get(name.removesuffix(SUFFIX))
            if destroyed is None and aged:
                found.append(Stray(Path(entry.path), "a sealed file that no recording refers to"))
            elif destroyed:
                found.append(Stray(Path(entry.path), "the file of a recording whose key was destroyed"))
    return found


class Reader(io.RawIOBase):
    """A sealed recording read as its plaintext, seekable, decrypting only the chunks asked for
    and keeping the last one (libsndfile reads in small blocks): what it reads to check or
    decode a recording."""

    def __init__(self, key: bytes, binding: media.Binding, source: BinaryIO) -> None:
        super().__init__()
        self._key, self._binding, self._source = key, binding, source
        self._length = media.plaintext_length(source)
        self._chunk = media.chunk_size(source)
        self._position = 0
        self._held: tuple[int, bytes] = (-1, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Fill the buffer from the position, up to the end (a short read only at the end:
        libsndfile takes a short read for the end of the file)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self._length:
            index = self._position // self._chunk
            if self._held[0] != index:
                start = index * self._chunk
                end = min(self._length, start + self._chunk)
                self._held = (index, b"".join(media.decrypt_range(self._key, self._binding, self._source, start, end)))
            offset = self._position - index * self._chunk
            piece = self._held[1][offset : offset + len(view) - filled]
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            self._position += len(piece)
        return filled
